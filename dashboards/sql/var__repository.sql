-- Repositories the organisation's sessions worked in (Claude Code's vcs.* attributes with
-- OTEL_METRICS_INCLUDE_REPOSITORY=true, or the hook bridge's git remote), e.g. github.com/acme/api.
SELECT DISTINCT repository
FROM llm_sessions FINAL
WHERE org_id = ${org:singlequote} AND repository != '' AND is_deleted = 0
  AND (org_id, session_id) NOT IN (SELECT org_id, session_id FROM deleted_sessions)
ORDER BY repository

-- Open sessions whose last activity is older than the idle window: they are due to close
-- as 'timeout', which no new event will trigger.
SELECT org_id, session_id
FROM llm_sessions FINAL
WHERE close_reason = 'open' AND last_activity_at < {before:DateTime64(6)}

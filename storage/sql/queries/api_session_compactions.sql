-- Query API: compaction history of one session (GET .../llm_sessions/{id}/compactions).
--   org String, session String
SELECT session_id, compaction_key, timestamp, trigger, success, pre_tokens, post_tokens,
       duration_ms, error, prompt_id, evidence
FROM compactions FINAL
WHERE org_id = {org:String} AND session_id = {session:String} AND is_deleted = 0
ORDER BY timestamp, compaction_key

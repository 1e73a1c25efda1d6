-- Query API: compactions of every session of one thread, in time order.
--   org String, thread String
SELECT session_id, compaction_key, timestamp, trigger, success, pre_tokens, post_tokens,
       duration_ms, error, prompt_id, evidence
FROM compactions FINAL
WHERE org_id = {org:String}
  AND is_deleted = 0
  AND session_id IN (
      SELECT session_id FROM llm_sessions FINAL
      WHERE org_id = {org:String} AND thread_id = {thread:String} AND is_deleted = 0
  )
ORDER BY timestamp, session_id, compaction_key

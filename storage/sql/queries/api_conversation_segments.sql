-- Query API: the segments (startup/resume/continue/fork/clear/compact starts) of every
-- session of one thread, in time order (conversation timeline).
--   org String, thread String
SELECT session_id, segment_index, source, started_at, ended_at, cli_run_id, event_count, evidence
FROM session_segments FINAL
WHERE org_id = {org:String}
  AND is_deleted = 0
  AND session_id IN (
      SELECT session_id FROM llm_sessions FINAL
      WHERE org_id = {org:String} AND thread_id = {thread:String} AND is_deleted = 0
  )
ORDER BY started_at, session_id, segment_index

-- Management: live sessions that must be re-derived after a delete: the rest of the
-- deleted sessions' threads, and the sessions of threads forked from them.
--   org String, sessions Array(String), threads Array(String)
SELECT DISTINCT session_id
FROM llm_sessions FINAL
WHERE org_id = {org:String} AND is_deleted = 0
  AND session_id NOT IN {sessions:Array(String)}
  AND (thread_id IN {threads:Array(String)} OR parent_thread_id IN {threads:Array(String)})

-- Management: live sessions that must be re-derived after a delete: the rest of the
-- deleted sessions' threads, and the sessions of threads forked from those threads.
-- Runs before the derived rows get their delete markers.
--   org String, sessions Array(String), threads Array(String) (whole conversations deleted)
WITH touched AS
(
    SELECT thread_id FROM llm_sessions FINAL
    WHERE org_id = {org:String} AND session_id IN {sessions:Array(String)} AND is_deleted = 0
    UNION DISTINCT
    SELECT arrayJoin({threads:Array(String)})
)
SELECT DISTINCT session_id
FROM llm_sessions FINAL
WHERE org_id = {org:String} AND is_deleted = 0
  AND session_id NOT IN {sessions:Array(String)}
  AND (thread_id IN (SELECT thread_id FROM touched) OR parent_thread_id IN (SELECT thread_id FROM touched))

-- Query API: links into or out of the sessions of one thread (forks, /clear breaks,
-- resumes under a new id), in time order.
--   org String, thread String
WITH members AS (
    SELECT session_id FROM llm_sessions FINAL
    WHERE org_id = {org:String} AND thread_id = {thread:String} AND is_deleted = 0
)
SELECT l.from_session_id, l.to_session_id, l.link_type, l.created_at, l.evidence,
       ifNull(f.thread_id, '') AS from_thread_id, ifNull(t.thread_id, '') AS to_thread_id
FROM
(
    SELECT from_session_id, to_session_id, link_type, created_at, evidence
    FROM session_links FINAL
    WHERE org_id = {org:String}
      AND is_deleted = 0
      AND (from_session_id IN members OR to_session_id IN members)
) AS l
LEFT JOIN
(
    SELECT session_id, thread_id FROM llm_sessions FINAL WHERE org_id = {org:String} AND is_deleted = 0
) AS f ON f.session_id = l.from_session_id
LEFT JOIN
(
    SELECT session_id, thread_id FROM llm_sessions FINAL WHERE org_id = {org:String} AND is_deleted = 0
) AS t ON t.session_id = l.to_session_id
ORDER BY l.created_at, l.from_session_id, l.to_session_id, l.link_type
SETTINGS join_use_nulls = 1

-- Management: one live session's thread and how many live sessions that thread has.
--   org String, session String
SELECT
    s.thread_id AS thread_id,
    (SELECT count() FROM llm_sessions FINAL
     WHERE org_id = {org:String} AND thread_id = s.thread_id AND is_deleted = 0) AS thread_sessions
FROM (SELECT thread_id FROM llm_sessions FINAL
      WHERE org_id = {org:String} AND session_id = {session:String} AND is_deleted = 0) AS s
LIMIT 1

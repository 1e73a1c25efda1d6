-- Management: the live sessions of one conversation (thread), for delete.
--   org String, thread String
SELECT session_id
FROM llm_sessions FINAL
WHERE org_id = {org:String} AND thread_id = {thread:String} AND is_deleted = 0
UNION DISTINCT
SELECT arrayJoin(session_ids)
FROM threads FINAL
WHERE org_id = {org:String} AND thread_id = {thread:String} AND is_deleted = 0

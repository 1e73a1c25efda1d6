-- Query API: does this session exist in this org (derived yet or only as raw events)?
--   org String, session String
SELECT
    (SELECT count() FROM llm_sessions FINAL
     WHERE org_id = {org:String} AND session_id = {session:String} AND is_deleted = 0)
  + (SELECT count() FROM (SELECT 1 FROM events
     WHERE OrgId = {org:String} AND SessionId = {session:String}
       AND SessionId NOT IN (SELECT session_id FROM deleted_sessions WHERE org_id = {org:String}) LIMIT 1)) AS known

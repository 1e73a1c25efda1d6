-- Management: (org, session) pairs of deleted sessions that still have rows in one table
-- (records that arrived after the delete), for the maintenance loop's purge.
--   table Identifier
SELECT DISTINCT OrgId, SessionId
FROM {table:Identifier}
WHERE (OrgId, SessionId) IN (SELECT org_id, session_id FROM deleted_sessions)
LIMIT 10000

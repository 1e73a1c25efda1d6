-- Management: remove the raw and typed rows of deleted sessions from one table (lightweight
-- DELETE: masked for readers at once, bytes gone when the part is rewritten; docs/api.md).
--   table Identifier (one of storage.management.PURGE_TABLES), org String, sessions Array(String)
DELETE FROM {table:Identifier}
WHERE OrgId = {org:String} AND SessionId IN {sessions:Array(String)}

-- Management: remove the raw and typed rows of deleted sessions from one table (lightweight
-- DELETE: masked for readers at once, bytes gone when the part is rewritten; docs/api.md).
--   {table:Identifier}: replaced by the mutation target (storage.management._on_target:
--   the table, or on a cluster `<table>_local ON CLUSTER ...`); org String, sessions Array(String)
DELETE FROM {table:Identifier}
WHERE OrgId = {org:String} AND SessionId IN {sessions:Array(String)}

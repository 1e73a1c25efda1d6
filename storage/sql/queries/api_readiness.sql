-- Query API /readyz: how many of the tables the API reads exist in the database.
--   db String, names Array(String)
SELECT count() AS present
FROM system.tables
WHERE database = {db:String} AND name IN {names:Array(String)}

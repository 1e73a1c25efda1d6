-- Which of {tokens} (request dedup tokens) name requests whose raw rows are stored
-- (stored_requests, migration 0013). Token is the table's sort key: a point look-up.
SELECT DISTINCT Token FROM stored_requests WHERE Token IN {tokens:Array(String)}

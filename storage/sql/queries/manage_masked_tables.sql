-- Management: which of the given tables hold parts with rows masked by lightweight DELETE.
--   tables Array(String)
SELECT DISTINCT table
FROM system.parts
WHERE database = currentDatabase() AND active AND has_lightweight_delete AND table IN {tables:Array(String)}

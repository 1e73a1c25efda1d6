-- The newest management mark (0005 rederive_marks: a session of the same conversation was
-- deleted) of some sessions, in ms of the storage clock; raises the version of their rows.
--   org String, sessions Array(String)
SELECT session_id, toUnixTimestamp64Milli(max(marked_at)) AS marked_ms
FROM rederive_marks
WHERE org_id = {org:String} AND session_id IN {sessions:Array(String)}
GROUP BY session_id

-- The newest management mark (0005 rederive_marks: a session of the same conversation was
-- deleted) of some (org, session) pairs, in ms of the storage clock; raises the version of
-- their rows.
SELECT org_id, session_id, toUnixTimestamp64Milli(max(marked_at)) AS marked_ms
FROM rederive_marks
WHERE org_id IN {orgs:Array(String)} AND (org_id, session_id) IN {keys:Array(Tuple(String, String))}
GROUP BY org_id, session_id

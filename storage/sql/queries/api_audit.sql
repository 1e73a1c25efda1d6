-- Query API: the management audit log of one org, newest first (GET /api/v1/{org}/audit).
--   org String, has_cursor UInt8, after_us Int64, after_id String (keyset), limit UInt32
SELECT at, toUnixTimestamp64Micro(at) AS at_us, audit_id, actor, action, target_kind, target_id, details
FROM audit_log
WHERE org_id = {org:String}
  AND ({has_cursor:UInt8} = 0 OR (toUnixTimestamp64Micro(at), audit_id) < ({after_us:Int64}, {after_id:String}))
ORDER BY at DESC, audit_id DESC
LIMIT {limit:UInt32}

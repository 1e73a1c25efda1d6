-- Query API: the organizations that have conversations (GET /api/v1/orgs). The route
-- keeps only the orgs the caller's token may read.
SELECT org_id, count() AS thread_count, max(last_activity_at) AS last_activity_at
FROM threads FINAL
WHERE is_deleted = 0
GROUP BY org_id
ORDER BY org_id
LIMIT 10000

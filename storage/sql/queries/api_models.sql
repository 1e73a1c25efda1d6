-- Query API: the models an org's sessions used (GET /api/v1/{org}/models), for the
-- explorer's model filter.   org String
SELECT model, count() AS session_count, max(last_activity_at) AS last_active_at
FROM llm_sessions FINAL
ARRAY JOIN models AS model
WHERE org_id = {org:String} AND is_deleted = 0 AND model != ''
GROUP BY model
ORDER BY session_count DESC, model
LIMIT 1000

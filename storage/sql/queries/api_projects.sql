-- Query API: the projects of an org with their totals (GET /api/v1/{org}/projects), most
-- recently active first. The explorer's "By project" view.
--   org String, from_us Int64, to_us Int64 (sessions active in [from, to)), limit UInt32
SELECT
    project_id,
    argMax(project_name, last_activity_at) AS project_name,
    count() AS session_count,
    uniqExact(thread_id) AS thread_count,
    uniqExact(user_id) AS user_count,
    sum(cost_micros) / 1000000 AS cost_usd,
    sum(input_tokens + output_tokens + cache_read_tokens + cache_creation_tokens) AS total_tokens,
    countIf(closed_at IS NULL) AS active_session_count,
    max(last_activity_at) AS last_active_at
FROM llm_sessions FINAL
WHERE org_id = {org:String}
  AND is_deleted = 0
  AND last_activity_at >= fromUnixTimestamp64Micro({from_us:Int64}, 'UTC')
  AND started_at < fromUnixTimestamp64Micro({to_us:Int64}, 'UTC')
GROUP BY project_id
ORDER BY last_active_at DESC, project_id
LIMIT {limit:UInt32}

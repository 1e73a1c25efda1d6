-- Query API: the users of an org with their totals (GET /api/v1/{org}/users), most
-- recently active first. The explorer's "By user" view and the drill-down's first pane.
--   org String, from_us Int64, to_us Int64 (sessions active in [from, to)), limit UInt32
SELECT
    user_id,
    argMax(user_email, last_activity_at) AS user_email,
    count() AS session_count,
    uniqExact(thread_id) AS thread_count,
    sum(cost_micros) / 1000000 AS cost_usd,
    sum(input_tokens + output_tokens + cache_read_tokens + cache_creation_tokens) AS total_tokens,
    sum(user_prompt_count) AS user_prompt_count,
    sum(tool_call_count) AS tool_call_count,
    countIf(closed_at IS NULL) AS active_session_count,
    max(last_activity_at) AS last_active_at
FROM llm_sessions FINAL
WHERE org_id = {org:String}
  AND is_deleted = 0
  AND last_activity_at >= fromUnixTimestamp64Micro({from_us:Int64}, 'UTC')
  AND started_at < fromUnixTimestamp64Micro({to_us:Int64}, 'UTC')
GROUP BY user_id
ORDER BY last_active_at DESC, user_id
LIMIT {limit:UInt32}

-- Query API: an org's totals since an instant, e.g. the viewer's midnight (the live
-- page's "today").   org String, since_us Int64
SELECT
    count() AS api_request_count,
    uniqExact(SessionId) AS session_count,
    uniqExact(UserId) AS user_count,
    sum(CostMicros) / 1000000 AS cost_usd,
    sum(InputTokens + OutputTokens + CacheReadTokens + CacheCreationTokens) AS total_tokens,
    sum(CacheReadTokens) AS cache_read_tokens,
    sum(CacheCreationTokens) AS cache_creation_tokens
FROM events FINAL
WHERE OrgId = {org:String}
  AND EventName = 'api_request'
  AND Timestamp >= fromUnixTimestamp64Micro({since_us:Int64}, 'UTC')

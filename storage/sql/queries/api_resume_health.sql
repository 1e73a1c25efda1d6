-- Query API and dashboards: resume health per thread or for the whole org
-- (GET /api/v1/{org}/resume_health; the "Resume health" panel).
--   org String; from_us, to_us Int64 (resume time, [from, to))
--   g_thread UInt8: 1 = one row per thread, 0 = one row for the org
--   thread, repository String: filters, '' = any
--   limit UInt32
-- Cold-cache resumes are the ones Claude Code flagged prompt_cache_likely_expired; their
-- cost is Claude Code's own estimated_cache_write_usd (the re-write of the cached context).
-- Model switches come from the hook bridge's Pre/PostModelSwitch records (post only, so a
-- switch counts once), under the same filters; a thread (or org) with switches and no
-- resume still has its row.
SELECT
    coalesce(r.k_thread, m.k_thread, '') AS thread_id,
    ifNull(r.resume_count, 0) AS resume_count, ifNull(r.continue_count, 0) AS continue_count,
    ifNull(r.fork_count, 0) AS fork_count,
    r.idle_before_avg_seconds, r.idle_before_p50_seconds, r.idle_before_max_seconds,
    ifNull(r.cold_cache_resume_count, 0) AS cold_cache_resume_count,
    ifNull(r.cold_cache_write_usd, 0) AS cold_cache_write_usd,
    ifNull(r.estimated_cache_write_usd, 0) AS estimated_cache_write_usd,
    ifNull(r.cache_write_tokens, 0) AS cache_write_tokens,
    ifNull(r.failed_resume_count, 0) AS failed_resume_count, r.failures AS failures,
    r.session_age_avg_seconds, r.session_age_max_seconds,
    ifNull(m.model_switch_count, 0) AS model_switch_count,
    ifNull(m.model_switch_cache_write_usd, 0) AS model_switch_cache_write_usd
FROM
(
    SELECT
        if({g_thread:UInt8} = 1, s.thread_id, '') AS k_thread,
        countIf(g.source = 'resume') AS resume_count,
        countIf(g.source = 'continue') AS continue_count,
        countIf(g.source = 'fork') AS fork_count,
        avgOrNull(g.idle_before_seconds) AS idle_before_avg_seconds,
        quantileOrNull(0.5)(g.idle_before_seconds) AS idle_before_p50_seconds,
        maxOrNull(g.idle_before_seconds) AS idle_before_max_seconds,
        countIf(g.cache_likely_expired = 1) AS cold_cache_resume_count,
        sumIf(ifNull(g.estimated_cache_write_usd, 0), g.cache_likely_expired = 1) AS cold_cache_write_usd,
        sum(ifNull(g.estimated_cache_write_usd, 0)) AS estimated_cache_write_usd,
        sum(g.cache_write_tokens) AS cache_write_tokens,
        countIf(g.failed = 1) AS failed_resume_count,
        groupUniqArrayIf(toString(g.failure), g.failure != '') AS failures,
        avgOrNullIf(g.session_age_seconds, g.source != 'fork') AS session_age_avg_seconds,
        maxOrNullIf(g.session_age_seconds, g.source != 'fork') AS session_age_max_seconds
    FROM
    (
        SELECT * FROM session_segments FINAL
        WHERE org_id = {org:String} AND is_deleted = 0 AND source IN ('resume', 'continue', 'fork')
          AND started_at >= fromUnixTimestamp64Micro({from_us:Int64}, 'UTC')
          AND started_at < fromUnixTimestamp64Micro({to_us:Int64}, 'UTC')
    ) AS g
    INNER JOIN
    (
        SELECT session_id, thread_id, repository FROM llm_sessions FINAL
        WHERE org_id = {org:String} AND is_deleted = 0
    ) AS s ON s.session_id = g.session_id
    WHERE ({thread:String} = '' OR s.thread_id = {thread:String})
      AND ({repository:String} = '' OR s.repository = {repository:String}
           OR endsWith(s.repository, concat('/', {repository:String})))
    GROUP BY k_thread
) AS r
FULL OUTER JOIN
(
    SELECT
        if({g_thread:UInt8} = 1, s.thread_id, '') AS k_thread,
        count() AS model_switch_count,
        sum(ifNull(toFloat64OrNull(e.Attributes['estimated_cache_write_usd']), 0)) AS model_switch_cache_write_usd
    FROM
    (
        SELECT SessionId, Attributes FROM events FINAL
        WHERE OrgId = {org:String} AND EventName = 'loomline.post_model_switch'
          AND Timestamp >= fromUnixTimestamp64Micro({from_us:Int64}, 'UTC')
          AND Timestamp < fromUnixTimestamp64Micro({to_us:Int64}, 'UTC')
    ) AS e
    INNER JOIN
    (
        SELECT session_id, thread_id, repository FROM llm_sessions FINAL
        WHERE org_id = {org:String} AND is_deleted = 0
    ) AS s ON s.session_id = e.SessionId
    WHERE ({thread:String} = '' OR s.thread_id = {thread:String})
      AND ({repository:String} = '' OR s.repository = {repository:String}
           OR endsWith(s.repository, concat('/', {repository:String})))
    GROUP BY k_thread
) AS m ON m.k_thread = r.k_thread
ORDER BY thread_id
LIMIT {limit:UInt32}
SETTINGS join_use_nulls = 1

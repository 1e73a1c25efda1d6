-- Query API: one page of an org's resumes, continues and forks with their health
-- (GET /api/v1/{org}/resumes). Same rows as the v_resumes view, for one tenant.
--   org String; from_us, to_us Int64 (resume time, [from, to))
--   thread, session, user, repository String: filters, '' = any
--   failed_only, cold_only UInt8: only failed resumes / only cold-cache ones
--   has_cursor UInt8, after_us Int64, after_session String, after_index UInt32: keyset
--   limit UInt32
SELECT
    g.session_id AS session_id, s.thread_id AS thread_id, g.segment_index AS segment_index,
    g.source AS source, g.started_at AS resumed_at, toUnixTimestamp64Micro(g.started_at) AS resumed_us,
    g.cli_run_id AS cli_run_id, g.idle_before_seconds AS idle_before_seconds,
    g.session_age_seconds AS session_age_seconds, g.cache_likely_expired AS cache_likely_expired,
    g.estimated_cache_write_usd AS estimated_cache_write_usd, g.context_tokens AS context_tokens,
    g.cache_write_tokens AS cache_write_tokens, g.failed AS failed, g.failure AS failure,
    g.evidence AS evidence, s.user_id AS user_id, s.repository AS repository, s.git_branch AS git_branch
FROM
(
    SELECT * FROM session_segments FINAL
    WHERE org_id = {org:String} AND is_deleted = 0 AND source IN ('resume', 'continue', 'fork')
      AND started_at >= fromUnixTimestamp64Micro({from_us:Int64}, 'UTC')
      AND started_at < fromUnixTimestamp64Micro({to_us:Int64}, 'UTC')
      AND ({session:String} = '' OR session_id = {session:String})
) AS g
INNER JOIN
(
    SELECT session_id, thread_id, user_id, user_email, repository, git_branch
    FROM llm_sessions FINAL
    WHERE org_id = {org:String} AND is_deleted = 0
) AS s ON s.session_id = g.session_id
WHERE ({thread:String} = '' OR s.thread_id = {thread:String})
  AND ({user:String} = '' OR s.user_id = {user:String} OR s.user_email = {user:String})
  AND ({repository:String} = '' OR s.repository = {repository:String}
       OR endsWith(s.repository, concat('/', {repository:String})))
  AND ({failed_only:UInt8} = 0 OR g.failed = 1)
  AND ({cold_only:UInt8} = 0 OR g.cache_likely_expired = 1)
  AND ({has_cursor:UInt8} = 0
       OR (resumed_us, g.session_id, g.segment_index) > ({after_us:Int64}, {after_session:String}, {after_index:UInt32}))
ORDER BY resumed_us, session_id, segment_index
LIMIT {limit:UInt32}

-- Query API: cost and tokens of api_request events grouped by any of thread, session,
-- user, project, model and a day or hour bucket (GET /api/v1/{org}/usage). The same
-- figure as the dashboards' usage panels.
--
-- Grouping is static SQL: a dimension that is not asked for collapses to '' (or the epoch
-- for the time bucket), so GROUP BY always names all six.
--   org String, from_us Int64, to_us Int64 (event time, [from, to))
--   g_thread, g_session, g_user, g_project, g_model, g_repository, g_branch UInt8: group by
--   that dimension (repository and branch come from the derived session)
--   bucket String: 'day' | 'hour' | '' (no time bucket)
--   user, project, model, thread, session, repository, branch String: filters, '' = any
--   has_cursor UInt8, after_period Int64 (s), after_thread, after_session, after_user,
--   after_project, after_model, after_repository, after_branch String: keyset, rows
--   strictly after; limit UInt32
-- Sessions not derived yet still count: user falls back to the event's own user id.
-- Stored values outside the per-request bounds of enrich/bounds.py (inf, NaN, 1.7e308,
-- negative costs, over $100,000; token counts over 1e10: docs/limits.md) count as 0, as they do in the derived tables, so
-- a sum never overflows to a value JSON cannot carry.
SELECT
    k_period AS period, k_period_s AS period_s, k_thread AS thread_id, k_session AS session_id,
    k_user AS user_id, user_email, k_project AS project_id, project_name, k_model AS model,
    k_repository AS repository, k_branch AS git_branch,
    api_request_count, session_count, input_tokens, output_tokens, cache_read_tokens,
    cache_creation_tokens, cost_usd, cost_micros
FROM
(
    SELECT
        multiIf(
            {bucket:String} = 'day', toDateTime(toStartOfDay(e.Timestamp), 'UTC'),
            {bucket:String} = 'hour', toDateTime(toStartOfHour(e.Timestamp), 'UTC'),
            toDateTime(0, 'UTC')
        ) AS k_period,
        toInt64(toUnixTimestamp(k_period)) AS k_period_s,
        if({g_thread:UInt8} = 1, if(s.thread_id != '', s.thread_id, e.SessionId), '') AS k_thread,
        if({g_session:UInt8} = 1, e.SessionId, '') AS k_session,
        if({g_user:UInt8} = 1, if(s.user_id != '', s.user_id, e.UserId), '') AS k_user,
        if({g_project:UInt8} = 1, if(s.project_id != '', s.project_id, e.ProjectId), '') AS k_project,
        if({g_model:UInt8} = 1, toString(e.Model), '') AS k_model,
        if({g_repository:UInt8} = 1, s.repository, '') AS k_repository,
        if({g_branch:UInt8} = 1, if(s.git_branch != '', s.git_branch, e.GitBranch), '') AS k_branch,
        anyIf(if(s.user_email != '', s.user_email, e.UserEmail), {g_user:UInt8} = 1) AS user_email,
        anyIf(s.project_name, {g_project:UInt8} = 1) AS project_name,
        count() AS api_request_count,
        uniqExact(e.SessionId) AS session_count,
        sum(if(e.InputTokens <= 10000000000, e.InputTokens, 0)) AS input_tokens,
        sum(if(e.OutputTokens <= 10000000000, e.OutputTokens, 0)) AS output_tokens,
        sum(if(e.CacheReadTokens <= 10000000000, e.CacheReadTokens, 0)) AS cache_read_tokens,
        sum(if(e.CacheCreationTokens <= 10000000000, e.CacheCreationTokens, 0)) AS cache_creation_tokens,
        sum(if(e.CostMicros BETWEEN 0 AND 100000000000, e.CostMicros, 0)) / 1000000 AS cost_usd,
        sum(if(e.CostMicros BETWEEN 0 AND 100000000000, e.CostMicros, 0)) AS cost_micros
    FROM events AS e FINAL
    LEFT JOIN
    (
        SELECT session_id, thread_id, user_id, user_email, project_id, project_name, repository, git_branch
        FROM llm_sessions FINAL
        WHERE org_id = {org:String} AND is_deleted = 0
    ) AS s ON s.session_id = e.SessionId
    WHERE e.OrgId = {org:String}
      AND e.EventName = 'api_request'
      AND e.SessionId NOT IN (SELECT session_id FROM deleted_sessions WHERE org_id = {org:String})
      AND e.Timestamp >= fromUnixTimestamp64Micro({from_us:Int64}, 'UTC')
      AND e.Timestamp < fromUnixTimestamp64Micro({to_us:Int64}, 'UTC')
      AND ({user:String} = '' OR s.user_id = {user:String} OR s.user_email = {user:String}
           OR e.UserId = {user:String} OR e.UserEmail = {user:String})
      AND ({project:String} = '' OR s.project_id = {project:String} OR s.project_name = {project:String})
      AND ({model:String} = '' OR e.Model = {model:String})
      AND ({thread:String} = '' OR s.thread_id = {thread:String})
      AND ({session:String} = '' OR e.SessionId = {session:String})
      AND ({repository:String} = '' OR s.repository = {repository:String}
           OR endsWith(s.repository, concat('/', {repository:String})))
      AND ({branch:String} = '' OR s.git_branch = {branch:String})
    GROUP BY k_period, k_thread, k_session, k_user, k_project, k_model, k_repository, k_branch
)
WHERE {has_cursor:UInt8} = 0
   OR (k_period_s, k_thread, k_session, k_user, k_project, k_model, k_repository, k_branch)
      > ({after_period:Int64}, {after_thread:String}, {after_session:String},
         {after_user:String}, {after_project:String}, {after_model:String},
         {after_repository:String}, {after_branch:String})
ORDER BY k_period_s, k_thread, k_session, k_user, k_project, k_model, k_repository, k_branch
LIMIT {limit:UInt32}

-- Query API: one page of an org's conversation threads (GET /api/v1/{org}/conversations).
-- Also the "conversations" table of the dashboards.
--
-- Filters are static SQL: an empty string (or 0) switches a filter off.
--   org        String   tenant
--   from_us    Int64    keep threads active at or after this instant (µs since epoch, UTC)
--   to_us      Int64    keep threads that started before this instant
--   user       String   user_id or user_email, '' = any
--   project    String   project_id or project_name, '' = any
--   agent      String   agent_name, '' = any
--   model      String   one of the thread's models, '' = any
--   status     String   'active' / 'closed', '' = any
--   repository String   repository id, or its last part (the name), '' = any
--   branch     String   git branch, '' = any
--   min_cost   Float64  reported cost at least this (USD)
--   q          String   words the title contains (case-insensitive), '' = any
--   sort       String   last_activity | cost | tokens | sessions | compactions
--   desc       UInt8    1: largest first
--   include_archived UInt8  1: archived threads too (0: hidden, the default)
--   has_cursor UInt8, after_key Float64, after_id String: keyset, rows strictly after
--   limit      UInt32
-- sort_key is the sort value, negated for descending order, so every page is
-- "(sort_key, thread_id) greater than the last row's" whatever the direction.
-- Float64 holds µs timestamps and token sums exactly (< 2^53).
SELECT
    thread_id, title, auto_title, title_source, archived, parent_thread_id IN (
        SELECT thread_id FROM deleted_threads WHERE org_id = {org:String}) AS parent_deleted, user_id, user_email, project_id, project_name, agent_name,
    status, close_reason, parent_thread_id, root_session_id, models,
    session_count, compaction_count, failed_compaction_count,
    cost_micros / 1000000 AS cost_usd, round(computed_cost_usd, 6) AS computed_cost_usd,
    input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens,
    api_request_count, api_error_count, user_prompt_count, tool_call_count,
    injected_prompt_count, unpriced_request_count, unpriced_reasons, repository, git_branch,
    first_activity_at, last_activity_at, closed_at,
    sort_key
FROM
(
    SELECT
        *,
        multiIf(user_title != '', user_title, model_title != '', model_title, auto_title) AS title,
        multiIf(user_title != '', 'user', model_title != '', 'model', 'auto') AS title_source,
        user_archived AS archived,
        multiIf(
            {sort:String} = 'cost', toFloat64(cost_micros),
            {sort:String} = 'tokens', toFloat64(input_tokens + output_tokens + cache_read_tokens + cache_creation_tokens),
            {sort:String} = 'sessions', toFloat64(session_count),
            {sort:String} = 'compactions', toFloat64(compaction_count),
            toFloat64(toUnixTimestamp64Micro(last_activity_at))
        ) AS sort_value,
        if({desc:UInt8} = 1, -sort_value, sort_value) AS sort_key
    FROM
    (
        SELECT * FROM
        (
            SELECT * EXCEPT (title), title AS auto_title FROM threads FINAL
            WHERE org_id = {org:String} AND is_deleted = 0
        ) AS t
        LEFT JOIN
        (
            SELECT target_id, title AS user_title, archived AS user_archived FROM management_overrides FINAL
            WHERE org_id = {org:String} AND kind = 'thread'
        ) AS o ON o.target_id = t.thread_id
        LEFT JOIN
        (
            SELECT thread_id AS model_thread_id, title AS model_title FROM generated_titles FINAL
            WHERE org_id = {org:String}
        ) AS g ON g.model_thread_id = t.thread_id
    )
    WHERE ({include_archived:UInt8} = 1 OR user_archived = 0)
      AND last_activity_at >= fromUnixTimestamp64Micro({from_us:Int64}, 'UTC')
      AND first_activity_at < fromUnixTimestamp64Micro({to_us:Int64}, 'UTC')
      AND ({user:String} = '' OR user_id = {user:String} OR user_email = {user:String})
      AND ({project:String} = '' OR project_id = {project:String} OR project_name = {project:String})
      AND ({agent:String} = '' OR agent_name = {agent:String})
      AND ({model:String} = '' OR has(models, {model:String}))
      AND ({status:String} = '' OR status = {status:String})
      AND cost_micros / 1000000 >= {min_cost:Float64}
      AND ({repository:String} = '' OR repository = {repository:String}
           OR endsWith(repository, concat('/', {repository:String})))
      AND ({branch:String} = '' OR git_branch = {branch:String})
      AND ({q:String} = '' OR positionCaseInsensitiveUTF8(title, {q:String}) > 0)
)
WHERE {has_cursor:UInt8} = 0 OR (sort_key, thread_id) > ({after_key:Float64}, {after_id:String})
ORDER BY sort_key, thread_id
LIMIT {limit:UInt32}

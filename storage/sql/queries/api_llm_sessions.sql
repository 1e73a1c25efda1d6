-- Query API: one page of an org's llm sessions (GET /api/v1/{org}/llm_sessions).
-- Also the "sessions" table of the dashboards.
--
-- Parameters as api_conversations.sql, except:
--   status     'active' (not closed yet) / 'closed', '' = any
--   sort       last_activity | started_at | cost | tokens | compactions
--   after_id   the last row's session_id
--   include_archived UInt8  1: also sessions archived themselves or in an archived thread
SELECT
    session_id, otel_session_id, thread_id, parent_thread_id, thread_position,
    title, auto_title, title_source, archived,
    parent_thread_id IN (SELECT thread_id FROM deleted_threads WHERE org_id = {org:String}) AS parent_deleted,
    user_id, user_email, project_id, project_name, agent_name, models,
    start_source, is_resumed, close_reason, status,
    compaction_count, last_compacted_at,
    cost_micros / 1000000 AS cost_usd, round(computed_cost_usd, 6) AS computed_cost_usd,
    input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens,
    api_request_count, api_error_count, user_prompt_count, tool_call_count,
    injected_prompt_count, unpriced_request_count, unpriced_reasons, repository, git_branch,
    subagent_count, subagent_request_count, subagent_cost_usd,
    started_at, last_activity_at, closed_at,
    sort_key
FROM
(
    SELECT
        *,
        if(user_title != '', user_title, auto_title) AS title,
        if(user_title != '', 'user', 'auto') AS title_source,
        user_archived = 1 OR thread_archived = 1 AS archived,
        session_id AS otel_session_id,
        resume_count > 0 OR start_source IN ('resume', 'continue') OR thread_position > 0 AS is_resumed,
        if(closed_at IS NULL, 'active', 'closed') AS status,
        multiIf(
            {sort:String} = 'cost', toFloat64(cost_micros),
            {sort:String} = 'tokens', toFloat64(input_tokens + output_tokens + cache_read_tokens + cache_creation_tokens),
            {sort:String} = 'compactions', toFloat64(compaction_count),
            {sort:String} = 'started_at', toFloat64(toUnixTimestamp64Micro(started_at)),
            toFloat64(toUnixTimestamp64Micro(last_activity_at))
        ) AS sort_value,
        if({desc:UInt8} = 1, -sort_value, sort_value) AS sort_key
    FROM
    (
        SELECT * FROM
        (
            SELECT * EXCEPT (title), title AS auto_title FROM llm_sessions FINAL
            WHERE org_id = {org:String} AND is_deleted = 0
        ) AS s
        LEFT JOIN
        (
            SELECT target_id, title AS user_title, archived AS user_archived FROM management_overrides FINAL
            WHERE org_id = {org:String} AND kind = 'session'
        ) AS o ON o.target_id = s.session_id
        LEFT JOIN
        (
            SELECT target_id AS thread_target_id, archived AS thread_archived FROM management_overrides FINAL
            WHERE org_id = {org:String} AND kind = 'thread'
        ) AS ot ON ot.thread_target_id = s.thread_id
    )
    WHERE ({include_archived:UInt8} = 1 OR NOT archived)
      AND last_activity_at >= fromUnixTimestamp64Micro({from_us:Int64}, 'UTC')
      AND started_at < fromUnixTimestamp64Micro({to_us:Int64}, 'UTC')
      AND ({user:String} = '' OR user_id = {user:String} OR user_email = {user:String})
      AND ({project:String} = '' OR project_id = {project:String} OR project_name = {project:String})
      AND ({agent:String} = '' OR agent_name = {agent:String})
      AND ({model:String} = '' OR has(models, {model:String}))
      AND ({status:String} = '' OR status = {status:String})
      AND cost_micros / 1000000 >= {min_cost:Float64}
      AND ({repository:String} = '' OR repository = {repository:String}
           OR endsWith(repository, concat('/', {repository:String})))
      AND ({branch:String} = '' OR git_branch = {branch:String})
)
WHERE {has_cursor:UInt8} = 0 OR (sort_key, session_id) > ({after_key:Float64}, {after_id:String})
ORDER BY sort_key, session_id
LIMIT {limit:UInt32}

-- Views for analysts and dashboards: stable names and columns over the derived tables
-- (0003) and the typed events (0002). Column meanings: docs/sql.md.
--
-- Why views:
--   * The derived tables are ReplacingMergeTree(version, is_deleted): a correct read needs
--     FINAL and is_deleted = 0. Every view does that once, so nobody forgets.
--   * Column names here are a contract (dashboards, docs/sql.md, saved queries of users):
--     the tables underneath may grow or be reorganised without breaking them.
--   * CREATE OR REPLACE keeps the migration idempotent and lets a later migration
--     redefine a view in place.
-- Cache hit ratio everywhere: cache_read / (input + cache_read), NULL when both are 0.
-- Costs: cost_usd is what Claude Code reported; computed_cost_usd is tokens x prices.

CREATE OR REPLACE VIEW v_llm_sessions AS
SELECT
    org_id,
    session_id,
    thread_id,
    parent_thread_id,
    thread_position,
    user_id,
    user_email,
    account_uuid,
    organization_id,
    project_id,
    project_name,
    cwd,
    git_branch,
    agent_name,
    first_model,
    models,
    terminal_type,
    app_version,
    started_at,
    last_activity_at,
    closed_at,
    close_reason,
    close_evidence,
    start_source,
    start_evidence,
    close_reason = 'open' AS is_open,
    segment_count,
    resume_count,
    cli_run_count,
    compaction_count,
    failed_compaction_count,
    last_compacted_at,
    input_tokens,
    output_tokens,
    cache_read_tokens,
    cache_creation_tokens,
    cache_creation_5m_tokens,
    cache_creation_1h_tokens,
    input_tokens + output_tokens + cache_read_tokens + cache_creation_tokens AS total_tokens,
    cache_read_tokens / nullIf(input_tokens + cache_read_tokens, 0) AS cache_hit_ratio,
    cost_usd,
    cost_micros,
    computed_cost_usd,
    computed_cost_usd - cost_usd AS cost_difference_usd,
    unpriced_request_count,
    api_request_count,
    api_error_count,
    user_prompt_count,
    tool_call_count,
    tool_error_count,
    active_time_seconds,
    dateDiff('second', started_at, last_activity_at) AS duration_seconds,
    first_prompt,
    event_count,
    has_hook_evidence
FROM llm_sessions FINAL
WHERE is_deleted = 0;

CREATE OR REPLACE VIEW v_conversations AS
SELECT
    org_id,
    thread_id,
    title,
    root_session_id,
    parent_thread_id,
    session_ids,
    status,
    close_reason,
    user_id,
    user_email,
    project_id,
    project_name,
    agent_name,
    models,
    session_count,
    compaction_count,
    failed_compaction_count,
    input_tokens,
    output_tokens,
    cache_read_tokens,
    cache_creation_tokens,
    cache_creation_5m_tokens,
    cache_creation_1h_tokens,
    input_tokens + output_tokens + cache_read_tokens + cache_creation_tokens AS total_tokens,
    cache_read_tokens / nullIf(input_tokens + cache_read_tokens, 0) AS cache_hit_ratio,
    cost_usd,
    cost_micros,
    computed_cost_usd,
    computed_cost_usd - cost_usd AS cost_difference_usd,
    api_request_count,
    api_error_count,
    user_prompt_count,
    tool_call_count,
    first_activity_at,
    last_activity_at,
    closed_at,
    dateDiff('second', first_activity_at, last_activity_at) AS duration_seconds
FROM threads FINAL
WHERE is_deleted = 0;

CREATE OR REPLACE VIEW v_session_segments AS
SELECT
    org_id,
    session_id,
    segment_index,
    source,
    started_at,
    ended_at,
    dateDiff('second', started_at, ended_at) AS duration_seconds,
    cli_run_id,
    first_sequence,
    last_sequence,
    event_count,
    evidence
FROM session_segments FINAL
WHERE is_deleted = 0;

CREATE OR REPLACE VIEW v_session_links AS
SELECT
    org_id,
    from_session_id,
    to_session_id,
    link_type,
    created_at,
    evidence
FROM session_links FINAL
WHERE is_deleted = 0;

CREATE OR REPLACE VIEW v_cli_runs AS
SELECT
    org_id,
    cli_run_id,
    started_at,
    ended_at,
    dateDiff('second', started_at, ended_at) AS duration_seconds,
    session_ids,
    length(session_ids) AS session_count,
    host,
    app_version,
    evidence
FROM cli_runs FINAL
WHERE is_deleted = 0;

CREATE OR REPLACE VIEW v_compactions AS
SELECT
    c.org_id AS org_id,
    c.session_id AS session_id,
    c.compaction_key AS compaction_key,
    c.thread_id AS thread_id,
    c.timestamp AS timestamp,
    c.trigger AS trigger,
    c.success AS success,
    c.pre_tokens AS pre_tokens,
    c.post_tokens AS post_tokens,
    if(c.success = 1 AND c.pre_tokens >= c.post_tokens, c.pre_tokens - c.post_tokens, 0) AS tokens_saved,
    c.duration_ms AS duration_ms,
    c.error AS error,
    c.prompt_id AS prompt_id,
    c.evidence AS evidence,
    s.user_id AS user_id,
    s.user_email AS user_email,
    s.project_id AS project_id,
    s.project_name AS project_name
FROM (SELECT * FROM compactions FINAL WHERE is_deleted = 0) AS c
LEFT JOIN
(
    SELECT org_id, session_id, user_id, user_email, project_id, project_name
    FROM llm_sessions FINAL
    WHERE is_deleted = 0
) AS s ON c.org_id = s.org_id AND c.session_id = s.session_id;

CREATE OR REPLACE VIEW v_events AS
SELECT
    OrgId AS org_id,
    SessionId AS session_id,
    EventKey AS event_key,
    EventName AS event_name,
    Timestamp AS timestamp,
    Sequence AS sequence,
    PromptId AS prompt_id,
    Model AS model,
    QuerySource AS query_source,
    CostUsd AS cost_usd,
    CostMicros AS cost_micros,
    InputTokens AS input_tokens,
    OutputTokens AS output_tokens,
    CacheReadTokens AS cache_read_tokens,
    CacheCreationTokens AS cache_creation_tokens,
    DurationMs AS duration_ms,
    ToolName AS tool_name,
    ToolUseId AS tool_use_id,
    Decision AS decision,
    Success AS success,
    StatusCode AS status_code,
    Attempt AS attempt,
    Error AS error,
    CommandName AS command_name,
    HookName AS hook_name,
    CompactionTrigger AS compaction_trigger,
    PreTokens AS pre_tokens,
    PostTokens AS post_tokens,
    Source AS source,
    Reason AS reason,
    CliRunId AS cli_run_id,
    UserId AS user_id,
    UserEmail AS user_email,
    OrganizationId AS organization_id,
    TerminalType AS terminal_type,
    AppVersion AS app_version,
    Prompt AS prompt,
    Attributes AS attributes,
    ResourceAttributes AS resource_attributes
FROM events FINAL;

-- One row per api_request, with the thread and project its session belongs to.
CREATE OR REPLACE VIEW v_api_requests AS
SELECT
    e.OrgId AS org_id,
    e.SessionId AS session_id,
    s.thread_id AS thread_id,
    e.Timestamp AS timestamp,
    e.PromptId AS prompt_id,
    e.Model AS model,
    e.QuerySource AS query_source,
    e.UserId AS user_id,
    e.UserEmail AS user_email,
    s.project_id AS project_id,
    s.project_name AS project_name,
    e.InputTokens AS input_tokens,
    e.OutputTokens AS output_tokens,
    e.CacheReadTokens AS cache_read_tokens,
    e.CacheCreationTokens AS cache_creation_tokens,
    e.InputTokens + e.OutputTokens + e.CacheReadTokens + e.CacheCreationTokens AS total_tokens,
    e.CostUsd AS cost_usd,
    e.CostMicros AS cost_micros,
    e.DurationMs AS duration_ms
FROM (SELECT * FROM events FINAL WHERE EventName = 'api_request') AS e
LEFT JOIN
(
    SELECT org_id, session_id, thread_id, project_id, project_name
    FROM llm_sessions FINAL
    WHERE is_deleted = 0
) AS s ON e.OrgId = s.org_id AND e.SessionId = s.session_id;

-- One row per api_error (failed request attempt that Claude Code reported).
CREATE OR REPLACE VIEW v_api_errors AS
SELECT
    e.OrgId AS org_id,
    e.SessionId AS session_id,
    s.thread_id AS thread_id,
    e.Timestamp AS timestamp,
    e.PromptId AS prompt_id,
    e.Model AS model,
    e.UserId AS user_id,
    e.UserEmail AS user_email,
    s.project_id AS project_id,
    s.project_name AS project_name,
    e.StatusCode AS status_code,
    e.Attempt AS attempt,
    e.Error AS error,
    e.DurationMs AS duration_ms
FROM (SELECT * FROM events FINAL WHERE EventName = 'api_error') AS e
LEFT JOIN
(
    SELECT org_id, session_id, thread_id, project_id, project_name
    FROM llm_sessions FINAL
    WHERE is_deleted = 0
) AS s ON e.OrgId = s.org_id AND e.SessionId = s.session_id;

-- Cost and tokens per UTC day, organisation, user, project and model.
CREATE OR REPLACE VIEW v_usage_daily AS
SELECT
    toDate(timestamp) AS day,
    org_id,
    user_id,
    any(user_email) AS user_email,
    project_id,
    any(project_name) AS project_name,
    model,
    count() AS api_request_count,
    uniqExact(session_id) AS session_count,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cache_read_tokens) AS cache_read_tokens,
    sum(cache_creation_tokens) AS cache_creation_tokens,
    sum(total_tokens) AS total_tokens,
    cache_read_tokens / nullIf(input_tokens + cache_read_tokens, 0) AS cache_hit_ratio,
    sum(cost_usd) AS cost_usd,
    sum(cost_micros) AS cost_micros
FROM v_api_requests
GROUP BY day, org_id, user_id, project_id, model;

-- The context each session last sent to the model, against the context window of the model.
-- Context size = input + cache read + cache creation tokens of the latest
-- api_request of the session (what the model saw; compaction requests excluded); the window is 1,000,000 for 1M-context model ids
-- (suffix [1m]) and 200,000 otherwise.
CREATE OR REPLACE VIEW v_session_context AS
SELECT
    org_id,
    session_id,
    last_request_at,
    model,
    context_tokens,
    context_window,
    context_tokens / context_window AS context_ratio
FROM
(
    SELECT
        OrgId AS org_id,
        SessionId AS session_id,
        max(Timestamp) AS last_request_at,
        argMax(Model, Timestamp) AS model,
        argMax(InputTokens + CacheReadTokens + CacheCreationTokens, Timestamp) AS context_tokens,
        if(positionCaseInsensitive(argMax(Model, Timestamp), '[1m]') > 0, 1000000, 200000) AS context_window
    FROM events FINAL
    WHERE EventName = 'api_request' AND QuerySource != 'compact'
    GROUP BY OrgId, SessionId
);

-- Management (issue 14): titles, archive, delete, audit. Docs: docs/api.md (Management),
-- docs/sql.md (what the views hide).
--
-- Why these tables, and why readers consult them instead of enrichment writing the answer:
--   * A user's title and the archived flag live beside the derived tables, never in them:
--     enrichment rewrites every derived row on each pass (0003), so anything stored there
--     would be overwritten. Readers join management_overrides; a user's title always wins
--     over a model title (generated_titles), which wins over the automatic one (threads.title,
--     llm_sessions.title, made by enrichment).
--   * Delete is at once and for good:
--       - deleted_sessions is the tombstone every reader and enrichment consults: events of a
--         deleted session id are never derived again and never shown, even when telemetry
--         or hook records for it arrive later (they are purged again by the maintenance loop);
--       - the derived rows get is_deleted = 1 at the highest possible version
--         (DELETE_VERSION = 2^64 - 1 in storage/management.py), which no derivation can
--         outrank, so FINAL readers stop seeing them immediately and forever;
--       - the raw and typed rows are removed with lightweight DELETE (masked at once, the
--         bytes leave disk when the masked parts are rewritten: see docs/api.md).
--   * deleted_threads remembers deleted conversations so a fork child can say
--     "parent deleted" (parent_deleted in the API and the views).
--   * audit_log: every change, who (a token fingerprint or 'local'), what, when.
--   * All ReplacingMergeTree tables here are tiny (one row per managed item).

CREATE TABLE IF NOT EXISTS management_overrides
(
    org_id      LowCardinality(String),
    kind        LowCardinality(String),   -- 'thread' or 'session'
    target_id   String,
    title       String,                   -- '' = no user title (the automatic one shows)
    archived    UInt8,
    updated_at  DateTime64(6, 'UTC'),
    updated_by  String
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (org_id, kind, target_id);

CREATE TABLE IF NOT EXISTS deleted_sessions
(
    org_id      LowCardinality(String),
    session_id  String,
    thread_id   String,
    deleted_at  DateTime64(6, 'UTC'),
    deleted_by  String,
    audit_id    String
)
ENGINE = ReplacingMergeTree(deleted_at)
ORDER BY (org_id, session_id);

CREATE TABLE IF NOT EXISTS deleted_threads
(
    org_id      LowCardinality(String),
    thread_id   String,
    deleted_at  DateTime64(6, 'UTC'),
    deleted_by  String,
    audit_id    String
)
ENGINE = ReplacingMergeTree(deleted_at)
ORDER BY (org_id, thread_id);

-- Sessions that must be derived again because a session they shared a conversation with
-- (or forked from) was deleted. Enrichment raises the version of their rows to at least
-- (marked_at in ms) << 22, so the re-derivation, which sees fewer events than the one
-- before the delete, still replaces the older rows (see 0003 on versions). marked_at is the
-- storage server's clock, like events.IngestedAt.
CREATE TABLE IF NOT EXISTS rederive_marks
(
    org_id      LowCardinality(String),
    session_id  String,
    marked_at   DateTime64(3, 'UTC') DEFAULT now64(3),
    audit_id    String
)
ENGINE = MergeTree
ORDER BY (org_id, session_id);

CREATE TABLE IF NOT EXISTS generated_titles
(
    org_id        LowCardinality(String),
    thread_id     String,
    title         String,
    basis         String,                 -- the automatic title it was generated beside
    model         LowCardinality(String),
    generated_at  DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(generated_at)
ORDER BY (org_id, thread_id);

CREATE TABLE IF NOT EXISTS audit_log
(
    org_id       LowCardinality(String),
    at           DateTime64(6, 'UTC'),
    audit_id     String,
    actor        String,                  -- 'token:<sha256 prefix>' or 'local'
    action       LowCardinality(String),  -- rename, archive, unarchive, delete
    target_kind  LowCardinality(String),  -- conversation or llm_session
    target_id    String,
    details      String CODEC(ZSTD(3))    -- JSON: old and new values, sessions deleted
)
ENGINE = MergeTree
ORDER BY (org_id, at, audit_id);

-- The automatic title of one session (enrichment writes it; the thread's is threads.title).
ALTER TABLE llm_sessions ADD COLUMN IF NOT EXISTS title String DEFAULT '' CODEC(ZSTD(3)) AFTER first_prompt;

-- The views of 0004 again, now hiding deleted sessions' events and showing the effective
-- title, the archived flag and parent_deleted. Lists that should hide archived items
-- filter on archived = 0 (the dashboards do).

CREATE OR REPLACE VIEW v_llm_sessions AS
SELECT
    s.org_id AS org_id,
    s.session_id AS session_id,
    s.thread_id AS thread_id,
    s.parent_thread_id AS parent_thread_id,
    s.thread_position AS thread_position,
    s.user_id AS user_id,
    s.user_email AS user_email,
    s.account_uuid AS account_uuid,
    s.organization_id AS organization_id,
    s.project_id AS project_id,
    s.project_name AS project_name,
    s.cwd AS cwd,
    s.git_branch AS git_branch,
    s.agent_name AS agent_name,
    s.first_model AS first_model,
    s.models AS models,
    s.terminal_type AS terminal_type,
    s.app_version AS app_version,
    s.started_at AS started_at,
    s.last_activity_at AS last_activity_at,
    s.closed_at AS closed_at,
    s.close_reason AS close_reason,
    s.close_evidence AS close_evidence,
    s.start_source AS start_source,
    s.start_evidence AS start_evidence,
    s.close_reason = 'open' AS is_open,
    s.segment_count AS segment_count,
    s.resume_count AS resume_count,
    s.cli_run_count AS cli_run_count,
    s.compaction_count AS compaction_count,
    s.failed_compaction_count AS failed_compaction_count,
    s.last_compacted_at AS last_compacted_at,
    s.input_tokens AS input_tokens,
    s.output_tokens AS output_tokens,
    s.cache_read_tokens AS cache_read_tokens,
    s.cache_creation_tokens AS cache_creation_tokens,
    s.cache_creation_5m_tokens AS cache_creation_5m_tokens,
    s.cache_creation_1h_tokens AS cache_creation_1h_tokens,
    s.input_tokens + s.output_tokens + s.cache_read_tokens + s.cache_creation_tokens AS total_tokens,
    s.cache_read_tokens / nullIf(s.input_tokens + s.cache_read_tokens, 0) AS cache_hit_ratio,
    s.cost_usd AS cost_usd,
    s.cost_micros AS cost_micros,
    s.computed_cost_usd AS computed_cost_usd,
    s.computed_cost_usd - s.cost_usd AS cost_difference_usd,
    s.unpriced_request_count AS unpriced_request_count,
    s.api_request_count AS api_request_count,
    s.api_error_count AS api_error_count,
    s.user_prompt_count AS user_prompt_count,
    s.tool_call_count AS tool_call_count,
    s.tool_error_count AS tool_error_count,
    s.active_time_seconds AS active_time_seconds,
    dateDiff('second', s.started_at, s.last_activity_at) AS duration_seconds,
    s.first_prompt AS first_prompt,
    s.event_count AS event_count,
    s.has_hook_evidence AS has_hook_evidence,
    if(o.title != '', o.title, s.title) AS title,
    s.title AS auto_title,
    if(o.title != '', 'user', 'auto') AS title_source,
    o.archived = 1 AS archived,
    (s.org_id, s.parent_thread_id) IN (SELECT org_id, thread_id FROM deleted_threads) AS parent_deleted
FROM (SELECT * FROM llm_sessions FINAL WHERE is_deleted = 0) AS s
LEFT JOIN
(
    SELECT org_id, target_id, title, archived FROM management_overrides FINAL WHERE kind = 'session'
) AS o ON o.org_id = s.org_id AND o.target_id = s.session_id;

CREATE OR REPLACE VIEW v_conversations AS
SELECT
    t.org_id AS org_id,
    t.thread_id AS thread_id,
    multiIf(o.title != '', o.title, g.title != '', g.title, t.title) AS title,
    t.root_session_id AS root_session_id,
    t.parent_thread_id AS parent_thread_id,
    t.session_ids AS session_ids,
    t.status AS status,
    t.close_reason AS close_reason,
    t.user_id AS user_id,
    t.user_email AS user_email,
    t.project_id AS project_id,
    t.project_name AS project_name,
    t.agent_name AS agent_name,
    t.models AS models,
    t.session_count AS session_count,
    t.compaction_count AS compaction_count,
    t.failed_compaction_count AS failed_compaction_count,
    t.input_tokens AS input_tokens,
    t.output_tokens AS output_tokens,
    t.cache_read_tokens AS cache_read_tokens,
    t.cache_creation_tokens AS cache_creation_tokens,
    t.cache_creation_5m_tokens AS cache_creation_5m_tokens,
    t.cache_creation_1h_tokens AS cache_creation_1h_tokens,
    t.input_tokens + t.output_tokens + t.cache_read_tokens + t.cache_creation_tokens AS total_tokens,
    t.cache_read_tokens / nullIf(t.input_tokens + t.cache_read_tokens, 0) AS cache_hit_ratio,
    t.cost_usd AS cost_usd,
    t.cost_micros AS cost_micros,
    t.computed_cost_usd AS computed_cost_usd,
    t.computed_cost_usd - t.cost_usd AS cost_difference_usd,
    t.api_request_count AS api_request_count,
    t.api_error_count AS api_error_count,
    t.user_prompt_count AS user_prompt_count,
    t.tool_call_count AS tool_call_count,
    t.first_activity_at AS first_activity_at,
    t.last_activity_at AS last_activity_at,
    t.closed_at AS closed_at,
    dateDiff('second', t.first_activity_at, t.last_activity_at) AS duration_seconds,
    t.title AS auto_title,
    multiIf(o.title != '', 'user', g.title != '', 'model', 'auto') AS title_source,
    o.archived = 1 AS archived,
    (t.org_id, t.parent_thread_id) IN (SELECT org_id, thread_id FROM deleted_threads) AS parent_deleted
FROM (SELECT * FROM threads FINAL WHERE is_deleted = 0) AS t
LEFT JOIN
(
    SELECT org_id, target_id, title, archived FROM management_overrides FINAL WHERE kind = 'thread'
) AS o ON o.org_id = t.org_id AND o.target_id = t.thread_id
LEFT JOIN (SELECT org_id, thread_id, title FROM generated_titles FINAL) AS g
    ON g.org_id = t.org_id AND g.thread_id = t.thread_id;

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
FROM events FINAL
WHERE (OrgId, SessionId) NOT IN (SELECT org_id, session_id FROM deleted_sessions);

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
FROM (SELECT * FROM events FINAL WHERE EventName = 'api_request'
      AND (OrgId, SessionId) NOT IN (SELECT org_id, session_id FROM deleted_sessions)) AS e
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
FROM (SELECT * FROM events FINAL WHERE EventName = 'api_error'
      AND (OrgId, SessionId) NOT IN (SELECT org_id, session_id FROM deleted_sessions)) AS e
LEFT JOIN
(
    SELECT org_id, session_id, thread_id, project_id, project_name
    FROM llm_sessions FINAL
    WHERE is_deleted = 0
) AS s ON e.OrgId = s.org_id AND e.SessionId = s.session_id;

-- Cost and tokens per UTC day, organisation, user, project and model.
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
      AND (OrgId, SessionId) NOT IN (SELECT org_id, session_id FROM deleted_sessions)
    GROUP BY OrgId, SessionId
);

-- Accounting that holds under real use (issue 17): injected prompts, service tiers,
-- resume health, subagents, repositories, span usage. Semantics: docs/enrichment.md.
--
-- New derived columns are filled by enrichment (enrich/service.py rows_for); rows derived
-- before this migration read the defaults until they are derived again (reconcile, or the
-- session's next event).

-- llm_sessions: user_prompt_count now counts what the person typed; the prompts Claude Code
-- injected (<task-notification>, ...) are counted apart. unpriced_reasons: reason → number
-- of requests without a computed cost (unknown_model, speed:<speed>, error).
ALTER TABLE llm_sessions ADD COLUMN IF NOT EXISTS injected_prompt_count UInt32 DEFAULT 0;
ALTER TABLE llm_sessions ADD COLUMN IF NOT EXISTS unpriced_reasons Map(LowCardinality(String), UInt32);
ALTER TABLE llm_sessions ADD COLUMN IF NOT EXISTS repository String DEFAULT '';
ALTER TABLE llm_sessions ADD COLUMN IF NOT EXISTS repository_provider LowCardinality(String) DEFAULT '';
ALTER TABLE llm_sessions ADD COLUMN IF NOT EXISTS subagent_count UInt32 DEFAULT 0;
ALTER TABLE llm_sessions ADD COLUMN IF NOT EXISTS subagent_request_count UInt32 DEFAULT 0;
ALTER TABLE llm_sessions ADD COLUMN IF NOT EXISTS subagent_cost_usd Float64 DEFAULT 0;

ALTER TABLE threads ADD COLUMN IF NOT EXISTS unpriced_request_count UInt32 DEFAULT 0;
ALTER TABLE threads ADD COLUMN IF NOT EXISTS unpriced_reasons Map(LowCardinality(String), UInt32);
ALTER TABLE threads ADD COLUMN IF NOT EXISTS injected_prompt_count UInt32 DEFAULT 0;
ALTER TABLE threads ADD COLUMN IF NOT EXISTS repository String DEFAULT '';
ALTER TABLE threads ADD COLUMN IF NOT EXISTS git_branch String DEFAULT '';

-- session_segments: resume health of resume / continue / fork segments (enrich/resumes.py).
ALTER TABLE session_segments ADD COLUMN IF NOT EXISTS idle_before_seconds Nullable(Float64);
ALTER TABLE session_segments ADD COLUMN IF NOT EXISTS session_age_seconds Nullable(Float64);
ALTER TABLE session_segments ADD COLUMN IF NOT EXISTS cache_likely_expired Nullable(UInt8);
ALTER TABLE session_segments ADD COLUMN IF NOT EXISTS estimated_cache_write_usd Nullable(Float64);
ALTER TABLE session_segments ADD COLUMN IF NOT EXISTS context_tokens Nullable(UInt64);
ALTER TABLE session_segments ADD COLUMN IF NOT EXISTS cache_write_tokens UInt64 DEFAULT 0;
ALTER TABLE session_segments ADD COLUMN IF NOT EXISTS failed UInt8 DEFAULT 0;
ALTER TABLE session_segments ADD COLUMN IF NOT EXISTS failure LowCardinality(String) DEFAULT '';

-- One row per resume, continue or fork, with the session's thread, user and repository.
CREATE OR REPLACE VIEW v_resumes AS
SELECT
    g.org_id AS org_id,
    g.session_id AS session_id,
    s.thread_id AS thread_id,
    g.segment_index AS segment_index,
    g.source AS source,
    g.started_at AS resumed_at,
    g.cli_run_id AS cli_run_id,
    g.idle_before_seconds AS idle_before_seconds,
    g.session_age_seconds AS session_age_seconds,
    g.cache_likely_expired AS cache_likely_expired,
    g.estimated_cache_write_usd AS estimated_cache_write_usd,
    g.context_tokens AS context_tokens,
    g.cache_write_tokens AS cache_write_tokens,
    g.failed AS failed,
    g.failure AS failure,
    g.evidence AS evidence,
    s.user_id AS user_id,
    s.project_id AS project_id,
    s.repository AS repository,
    s.git_branch AS git_branch
FROM (SELECT * FROM session_segments FINAL WHERE is_deleted = 0 AND source IN ('resume', 'continue', 'fork')) AS g
LEFT JOIN
(
    SELECT org_id, session_id, thread_id, user_id, project_id, repository, git_branch
    FROM llm_sessions FINAL
    WHERE is_deleted = 0
) AS s ON s.org_id = g.org_id AND s.session_id = g.session_id;

-- Model switches reported by the hook bridge (Claude Code's PreModelSwitch /
-- PostModelSwitch hooks, 2.1.251+). No capture holds one yet, so the payload keys are read
-- tolerantly: the first non-empty of the names Claude Code's docs and changelog use.
CREATE OR REPLACE VIEW v_model_switches AS
SELECT
    OrgId AS org_id,
    SessionId AS session_id,
    Timestamp AS timestamp,
    if(EventName = 'loomline.pre_model_switch', 'pre', 'post') AS phase,
    coalesce(nullIf(Attributes['from_model'], ''), nullIf(Attributes['previous_model'], ''),
             nullIf(Attributes['old_model'], ''), nullIf(Attributes['from'], ''), '') AS from_model,
    coalesce(nullIf(Attributes['to_model'], ''), nullIf(Attributes['new_model'], ''),
             nullIf(Attributes['to'], ''), nullIf(Attributes['model'], ''), '') AS to_model,
    coalesce(nullIf(Attributes['trigger'], ''), nullIf(Attributes['source'], ''),
             nullIf(Attributes['requested_by'], ''), nullIf(Attributes['reason'], ''), '') AS initiator,
    toFloat64OrNull(Attributes['estimated_cache_write_usd']) AS estimated_cache_write_usd,
    toUInt64OrNull(Attributes['context_tokens']) AS context_tokens,
    multiIf(Attributes['prompt_cache_warm'] IN ('true', '1'), 1, Attributes['prompt_cache_warm'] IN ('false', '0'), 0,
            NULL) AS prompt_cache_warm
FROM events FINAL
WHERE EventName IN ('loomline.pre_model_switch', 'loomline.post_model_switch');

-- A session's spend and activity by agent: the main agent ('') and each subagent id
-- (Claude Code's agent_id on api_request / tool events; agent.name its type).
CREATE OR REPLACE VIEW v_agent_usage AS
SELECT
    OrgId AS org_id,
    SessionId AS session_id,
    Attributes['agent_id'] AS agent_id,
    if(Attributes['agent_id'] = '', 'main', 'subagent') AS agent_kind,
    anyIf(Attributes['agent.name'], Attributes['agent.name'] != '') AS agent_name,
    groupUniqArrayIf(toString(QuerySource), EventName = 'api_request') AS query_sources,
    countIf(EventName = 'api_request') AS api_request_count,
    countIf(EventName = 'api_error') AS api_error_count,
    countIf(EventName = 'tool_result') AS tool_call_count,
    sumIf(InputTokens, EventName = 'api_request') AS input_tokens,
    sumIf(OutputTokens, EventName = 'api_request') AS output_tokens,
    sumIf(CacheReadTokens, EventName = 'api_request') AS cache_read_tokens,
    sumIf(CacheCreationTokens, EventName = 'api_request') AS cache_creation_tokens,
    sumIf(CostUsd, EventName = 'api_request') AS cost_usd,
    sumIf(CostMicros, EventName = 'api_request') AS cost_micros,
    min(Timestamp) AS first_at,
    max(Timestamp) AS last_at
FROM events FINAL
WHERE EventName IN ('api_request', 'api_error', 'tool_result', 'assistant_response', 'subagent_completed')
GROUP BY org_id, session_id, agent_id, agent_kind;

-- LLM request spans with token usage that never double-counts the cache. Claude Code's
-- own input_tokens is uncached input (the Anthropic API's meaning). Newer traces also carry
-- OpenTelemetry's gen_ai.usage.input_tokens, which includes cache reads and writes (2500
-- where input_tokens is 1500): when only that is present, the cache tokens are subtracted.
CREATE OR REPLACE VIEW v_llm_request_spans AS
SELECT
    OrgId AS org_id,
    SessionId AS session_id,
    TraceId AS trace_id,
    SpanId AS span_id,
    Timestamp AS timestamp,
    Duration AS duration_ns,
    coalesce(nullIf(SpanAttributes['model'], ''), SpanAttributes['gen_ai.request.model']) AS model,
    SpanAttributes['speed'] AS speed,
    SpanAttributes['agent_id'] AS agent_id,
    coalesce(toUInt64OrNull(SpanAttributes['cache_read_tokens']),
             toUInt64OrNull(SpanAttributes['gen_ai.usage.cache_read.input_tokens']), 0) AS cache_read_tokens,
    coalesce(toUInt64OrNull(SpanAttributes['cache_creation_tokens']),
             toUInt64OrNull(SpanAttributes['gen_ai.usage.cache_write.input_tokens']), 0) AS cache_creation_tokens,
    coalesce(
        toUInt64OrNull(SpanAttributes['input_tokens']),
        toUInt64OrNull(SpanAttributes['gen_ai.usage.input_tokens'])
            - least(toUInt64OrNull(SpanAttributes['gen_ai.usage.input_tokens']),
                    if(mapContains(SpanAttributes, 'gen_ai.usage.cache_read.input_tokens')
                       OR mapContains(SpanAttributes, 'gen_ai.usage.cache_write.input_tokens'),
                       cache_read_tokens + cache_creation_tokens, 0)),
        0) AS input_tokens,
    coalesce(toUInt64OrNull(SpanAttributes['output_tokens']),
             toUInt64OrNull(SpanAttributes['gen_ai.usage.output_tokens']), 0) AS output_tokens,
    StatusCode AS status_code
FROM otel_traces
WHERE SpanName = 'claude_code.llm_request' OR SpanAttributes['span.type'] = 'llm_request';

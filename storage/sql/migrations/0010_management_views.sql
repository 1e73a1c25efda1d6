-- Management (issue 14), second part: the views 0006 added over events and raw spans hide
-- deleted sessions too, like the views 0005 redefined (see 0005_management.sql). Only the
-- WHERE of each view changes; columns are those of 0006.

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
WHERE EventName IN ('loomline.pre_model_switch', 'loomline.post_model_switch')
  AND (OrgId, SessionId) NOT IN (SELECT org_id, session_id FROM deleted_sessions);

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
  AND (OrgId, SessionId) NOT IN (SELECT org_id, session_id FROM deleted_sessions)
GROUP BY org_id, session_id, agent_id, agent_kind;

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
WHERE (SpanName = 'claude_code.llm_request' OR SpanAttributes['span.type'] = 'llm_request')
  AND (OrgId, SessionId) NOT IN (SELECT org_id, session_id FROM deleted_sessions);

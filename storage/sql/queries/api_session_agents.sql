-- Query API: one session's spend and activity split by agent
-- (GET /api/v1/{org}/llm_sessions/{id}/agents). The main agent is agent_id ''; each
-- subagent (Task / Agent tool run) is its Claude Code agent_id, on its api_request,
-- assistant_response and subagent_completed events, and on the hook bridge's SubagentStop.
-- Subagent requests stay in their parent session (no session or thread of their own).
--   org String, session String
SELECT
    agent_id,
    if(agent_id = '', 'main', 'subagent') AS agent_kind,
    anyIf(agent_name, agent_name != '') AS agent_name,
    arraySort(groupUniqArrayIf(query_source, query_source != '')) AS query_sources,
    countIf(EventName = 'api_request') AS api_request_count,
    countIf(EventName = 'api_error') AS api_error_count,
    countIf(EventName = 'tool_result') AS tool_call_count,
    sumIf(InputTokens, EventName = 'api_request') AS input_tokens,
    sumIf(OutputTokens, EventName = 'api_request') AS output_tokens,
    sumIf(CacheReadTokens, EventName = 'api_request') AS cache_read_tokens,
    sumIf(CacheCreationTokens, EventName = 'api_request') AS cache_creation_tokens,
    sumIf(CostUsd, EventName = 'api_request') AS cost_usd,
    sumIf(CostMicros, EventName = 'api_request') AS cost_micros,
    maxIf(toUInt8(Attributes['is_async'] IN ('true', 'True', '1')), EventName = 'subagent_completed') AS is_async,
    maxIf(toUInt64OrZero(Attributes['total_tokens']), EventName = 'subagent_completed') AS reported_total_tokens,
    countIf(EventName IN ('subagent_completed', 'loomline.subagent_stop')) > 0 AS finished,
    min(Timestamp) AS first_at,
    max(Timestamp) AS last_at
FROM
(
    SELECT
        EventName, Attributes, InputTokens, OutputTokens, CacheReadTokens, CacheCreationTokens,
        CostUsd, CostMicros, Timestamp, toString(QuerySource) AS query_source,
        Attributes['agent_id'] AS agent_id,
        multiIf(Attributes['agent.name'] != '', Attributes['agent.name'],
                Attributes['agent_type'] != '', Attributes['agent_type'], '') AS agent_name
    FROM events FINAL
    WHERE OrgId = {org:String} AND SessionId = {session:String}
      AND SessionId NOT IN (SELECT session_id FROM deleted_sessions WHERE org_id = {org:String})
      AND EventName IN ('api_request', 'api_error', 'tool_result', 'assistant_response',
                        'subagent_completed', 'loomline.subagent_stop')
)
GROUP BY agent_id
ORDER BY agent_id = '' DESC, first_at, agent_id

-- The events of the thread (or of the selected session) in time order: prompts, api
-- requests and errors, tool decisions and results, compactions, lifecycle records.
SELECT
    e.timestamp AS timestamp,
    e.session_id AS session_id,
    e.sequence AS sequence,
    e.event_name AS event_name,
    e.model AS model,
    e.tool_name AS tool_name,
    e.success AS success,
    e.status_code AS status_code,
    e.cost_usd AS cost_usd,
    e.input_tokens + e.output_tokens + e.cache_read_tokens + e.cache_creation_tokens AS tokens,
    e.duration_ms AS duration_ms,
    multiIf(
        e.event_name = 'user_prompt', if(e.command_name != '', concat('/', e.command_name), e.prompt),
        e.event_name IN ('api_error', 'tool_result') AND e.error != '', e.error,
        e.event_name = 'compaction', concat(e.compaction_trigger, ': ', toString(e.pre_tokens), ' -> ', toString(e.post_tokens)),
        e.event_name = 'tool_decision', e.decision,
        e.source != '', e.source,
        e.reason
    ) AS detail
FROM v_events AS e
WHERE e.org_id = ${org:singlequote}
  AND e.session_id IN (
      SELECT session_id FROM v_llm_sessions
      WHERE org_id = ${org:singlequote} AND thread_id = ${thread:singlequote}
  )
  AND $__conditionalAll(e.session_id IN (${session:singlequote}), $session)
ORDER BY e.timestamp, e.session_id, e.sequence
LIMIT 2000

-- Reported and computed cost per session of the thread.
SELECT
    concat(toString(thread_position), '. ', left(session_id, 8)) AS session,
    cost_usd,
    computed_cost_usd
FROM v_llm_sessions
WHERE org_id = ${org:singlequote} AND thread_id = ${thread:singlequote}
ORDER BY thread_position, started_at

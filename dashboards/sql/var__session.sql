-- Sessions of the selected thread, in thread order.
SELECT session_id, concat(toString(thread_position), '. ', session_id, ' (', start_source, ')') AS label
FROM v_llm_sessions
WHERE org_id = ${org:singlequote} AND thread_id = ${thread:singlequote}
ORDER BY thread_position, started_at

-- Context size of each open session over the range (input + cache tokens per request).
SELECT
    $__timeInterval(r.timestamp) AS time,
    left(r.session_id, 8) AS session,
    max(r.input_tokens + r.cache_read_tokens + r.cache_creation_tokens) AS context_tokens
FROM v_api_requests AS r
WHERE r.org_id = ${org:singlequote}
  AND $__timeFilter(r.timestamp)
  AND r.query_source != 'compact'
  AND r.session_id IN (SELECT session_id FROM v_llm_sessions WHERE org_id = ${org:singlequote} AND is_open)
  AND $__conditionalAll(r.user_id IN (${user:singlequote}), $user)
  AND $__conditionalAll(r.project_id IN (${project:singlequote}), $project)
GROUP BY time, session
ORDER BY time, session

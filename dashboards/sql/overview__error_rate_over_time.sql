SELECT time, sum(errors) / nullIf(sum(errors) + sum(requests), 0) AS api_error_rate
FROM
(
    SELECT $__timeInterval(timestamp) AS time, 1 AS errors, 0 AS requests
    FROM v_api_errors
    WHERE org_id = ${org:singlequote}
      AND $__timeFilter(timestamp)
      AND $__conditionalAll(user_id IN (${user:singlequote}), $user)
      AND $__conditionalAll(project_id IN (${project:singlequote}), $project)
      AND $__conditionalAll(session_id IN (SELECT session_id FROM llm_sessions FINAL WHERE org_id = ${org:singlequote} AND repository IN (${repository:singlequote})), $repository)
      AND $__conditionalAll(model IN (${model:singlequote}), $model)
    UNION ALL
    SELECT $__timeInterval(timestamp) AS time, 0 AS errors, 1 AS requests
    FROM v_api_requests
    WHERE org_id = ${org:singlequote}
      AND $__timeFilter(timestamp)
      AND $__conditionalAll(user_id IN (${user:singlequote}), $user)
      AND $__conditionalAll(project_id IN (${project:singlequote}), $project)
      AND $__conditionalAll(session_id IN (SELECT session_id FROM llm_sessions FINAL WHERE org_id = ${org:singlequote} AND repository IN (${repository:singlequote})), $repository)
      AND $__conditionalAll(model IN (${model:singlequote}), $model)
)
GROUP BY time
ORDER BY time

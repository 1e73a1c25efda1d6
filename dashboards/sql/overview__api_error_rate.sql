-- Failed attempts (api_error) over all attempts (api_error + api_request).
SELECT
    (SELECT count() FROM v_api_errors
     WHERE org_id = ${org:singlequote}
      AND $__timeFilter(timestamp)
      AND $__conditionalAll(user_id IN (${user:singlequote}), $user)
      AND $__conditionalAll(project_id IN (${project:singlequote}), $project)
      AND $__conditionalAll(session_id IN (SELECT session_id FROM llm_sessions FINAL WHERE org_id = ${org:singlequote} AND repository IN (${repository:singlequote})), $repository)
      AND $__conditionalAll(model IN (${model:singlequote}), $model)) AS api_errors,
    (SELECT count() FROM v_api_requests
     WHERE org_id = ${org:singlequote}
      AND $__timeFilter(timestamp)
      AND $__conditionalAll(user_id IN (${user:singlequote}), $user)
      AND $__conditionalAll(project_id IN (${project:singlequote}), $project)
      AND $__conditionalAll(session_id IN (SELECT session_id FROM llm_sessions FINAL WHERE org_id = ${org:singlequote} AND repository IN (${repository:singlequote})), $repository)
      AND $__conditionalAll(model IN (${model:singlequote}), $model)) AS api_requests,
    api_errors / nullIf(api_errors + api_requests, 0) AS api_error_rate

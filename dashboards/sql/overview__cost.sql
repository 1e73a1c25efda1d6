-- Reported cost: the sum of api_request cost_usd, what Claude Code itself charged.
SELECT sum(cost_usd) AS cost_usd, count() AS api_requests
FROM v_api_requests
WHERE org_id = ${org:singlequote}
  AND $__timeFilter(timestamp)
  AND $__conditionalAll(user_id IN (${user:singlequote}), $user)
  AND $__conditionalAll(project_id IN (${project:singlequote}), $project)
  AND $__conditionalAll(session_id IN (SELECT session_id FROM llm_sessions FINAL WHERE org_id = ${org:singlequote} AND repository IN (${repository:singlequote})), $repository)
  AND $__conditionalAll(model IN (${model:singlequote}), $model)

-- cache read / (input + cache read)
SELECT sum(cache_read_tokens) / nullIf(sum(input_tokens) + sum(cache_read_tokens), 0) AS cache_hit_ratio
FROM v_api_requests
WHERE org_id = ${org:singlequote}
  AND $__timeFilter(timestamp)
  AND $__conditionalAll(user_id IN (${user:singlequote}), $user)
  AND $__conditionalAll(project_id IN (${project:singlequote}), $project)
  AND $__conditionalAll(session_id IN (SELECT session_id FROM llm_sessions FINAL WHERE org_id = ${org:singlequote} AND repository IN (${repository:singlequote})), $repository)
  AND $__conditionalAll(model IN (${model:singlequote}), $model)

-- Sessions open now (no close seen and not idle past the timeout), whatever the time range.
SELECT count() AS active_sessions
FROM v_llm_sessions
WHERE org_id = ${org:singlequote}
  AND is_open
  AND $__conditionalAll(user_id IN (${user:singlequote}), $user)
  AND $__conditionalAll(project_id IN (${project:singlequote}), $project)
  AND $__conditionalAll(session_id IN (SELECT session_id FROM llm_sessions FINAL WHERE org_id = ${org:singlequote} AND repository IN (${repository:singlequote})), $repository)
  AND $__conditionalAll(hasAny(models, [${model:singlequote}]), $model)

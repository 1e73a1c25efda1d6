SELECT count() AS active_sessions, uniqExact(user_id) AS active_users
FROM v_llm_sessions
WHERE org_id = ${org:singlequote} AND is_open
  AND $__conditionalAll(user_id IN (${user:singlequote}), $user)
  AND $__conditionalAll(project_id IN (${project:singlequote}), $project)

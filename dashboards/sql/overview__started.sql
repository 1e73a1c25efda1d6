SELECT
    (SELECT count() FROM v_llm_sessions
     WHERE org_id = ${org:singlequote} AND $__timeFilter(started_at)
      AND $__conditionalAll(user_id IN (${user:singlequote}), $user)
      AND $__conditionalAll(project_id IN (${project:singlequote}), $project)
      AND $__conditionalAll(session_id IN (SELECT session_id FROM llm_sessions FINAL WHERE org_id = ${org:singlequote} AND repository IN (${repository:singlequote})), $repository)
      AND $__conditionalAll(hasAny(models, [${model:singlequote}]), $model)) AS sessions_started,
    (SELECT count() FROM v_conversations
     WHERE org_id = ${org:singlequote} AND $__timeFilter(first_activity_at)
      AND $__conditionalAll(user_id IN (${user:singlequote}), $user)
      AND $__conditionalAll(project_id IN (${project:singlequote}), $project)
      AND $__conditionalAll(thread_id IN (SELECT thread_id FROM threads FINAL WHERE org_id = ${org:singlequote} AND repository IN (${repository:singlequote})), $repository)
      AND $__conditionalAll(hasAny(models, [${model:singlequote}]), $model)) AS threads_started

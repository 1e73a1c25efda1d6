SELECT
    (SELECT count() FROM v_llm_sessions
     WHERE org_id = ${org:singlequote} AND $__timeFilter(started_at)
      AND $__conditionalAll(user_id IN (${user:singlequote}), $user)
      AND $__conditionalAll(project_id IN (${project:singlequote}), $project)
      AND $__conditionalAll(hasAny(models, [${model:singlequote}]), $model)) AS sessions_started,
    (SELECT count() FROM v_conversations
     WHERE org_id = ${org:singlequote} AND $__timeFilter(first_activity_at)
      AND $__conditionalAll(user_id IN (${user:singlequote}), $user)
      AND $__conditionalAll(project_id IN (${project:singlequote}), $project)
      AND $__conditionalAll(hasAny(models, [${model:singlequote}]), $model)) AS threads_started

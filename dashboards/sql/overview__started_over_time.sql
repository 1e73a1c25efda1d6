SELECT time, kind, count() AS started
FROM
(
    SELECT $__timeInterval(started_at) AS time, 'sessions' AS kind
    FROM v_llm_sessions
    WHERE org_id = ${org:singlequote} AND $__timeFilter(started_at)
      AND $__conditionalAll(user_id IN (${user:singlequote}), $user)
      AND $__conditionalAll(project_id IN (${project:singlequote}), $project)
      AND $__conditionalAll(session_id IN (SELECT session_id FROM llm_sessions FINAL WHERE org_id = ${org:singlequote} AND repository IN (${repository:singlequote})), $repository)
      AND $__conditionalAll(hasAny(models, [${model:singlequote}]), $model)
    UNION ALL
    SELECT $__timeInterval(first_activity_at) AS time, 'threads' AS kind
    FROM v_conversations
    WHERE org_id = ${org:singlequote} AND $__timeFilter(first_activity_at)
      AND $__conditionalAll(user_id IN (${user:singlequote}), $user)
      AND $__conditionalAll(project_id IN (${project:singlequote}), $project)
      AND $__conditionalAll(thread_id IN (SELECT thread_id FROM threads FINAL WHERE org_id = ${org:singlequote} AND repository IN (${repository:singlequote})), $repository)
      AND $__conditionalAll(hasAny(models, [${model:singlequote}]), $model)
)
GROUP BY time, kind
ORDER BY time, kind

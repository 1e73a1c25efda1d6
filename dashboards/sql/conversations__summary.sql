SELECT
    count() AS threads,
    countIf(status = 'active') AS active_threads,
    sum(session_count) AS sessions,
    sum(compaction_count) AS compactions,
    sum(cost_usd) AS cost_usd
FROM v_conversations
WHERE org_id = ${org:singlequote}
  AND last_activity_at >= $__fromTime AND first_activity_at <= $__toTime
  AND $__conditionalAll(user_id IN (${user:singlequote}), $user)
  AND $__conditionalAll(project_id IN (${project:singlequote}), $project)
  AND $__conditionalAll(thread_id IN (SELECT thread_id FROM threads FINAL WHERE org_id = ${org:singlequote} AND repository IN (${repository:singlequote})), $repository)
  AND $__conditionalAll(hasAny(models, [${model:singlequote}]), $model)

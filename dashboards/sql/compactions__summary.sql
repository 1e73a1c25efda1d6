SELECT
    count() AS compactions,
    countIf(success = 1) / nullIf(count(), 0) AS success_rate,
    sum(tokens_saved) AS tokens_saved,
    avgIf(pre_tokens, success = 1) AS avg_tokens_before,
    avgIf(post_tokens, success = 1) AS avg_tokens_after
FROM v_compactions
WHERE org_id = ${org:singlequote}
  AND $__timeFilter(timestamp)
  AND $__conditionalAll(user_id IN (${user:singlequote}), $user)
  AND $__conditionalAll(project_id IN (${project:singlequote}), $project)

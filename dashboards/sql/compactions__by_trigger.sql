SELECT
    trigger,
    count() AS compactions,
    countIf(success = 1) AS succeeded,
    countIf(success = 0) AS failed
FROM v_compactions
WHERE org_id = ${org:singlequote}
  AND $__timeFilter(timestamp)
  AND $__conditionalAll(user_id IN (${user:singlequote}), $user)
  AND $__conditionalAll(project_id IN (${project:singlequote}), $project)
GROUP BY trigger
ORDER BY compactions DESC, trigger

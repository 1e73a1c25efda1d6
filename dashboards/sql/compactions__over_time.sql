SELECT $__timeInterval(timestamp) AS time, concat(trigger, if(success = 1, '', ' failed')) AS kind, count() AS compactions
FROM v_compactions
WHERE org_id = ${org:singlequote}
  AND $__timeFilter(timestamp)
  AND $__conditionalAll(user_id IN (${user:singlequote}), $user)
  AND $__conditionalAll(project_id IN (${project:singlequote}), $project)
GROUP BY time, kind
ORDER BY time, kind

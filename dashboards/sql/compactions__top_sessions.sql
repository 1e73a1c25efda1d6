-- Sessions with the most compactions in the range.
SELECT
    session_id,
    any(thread_id) AS thread_id,
    any(if(user_email != '', user_email, user_id)) AS user,
    any(if(project_name != '', project_name, project_id)) AS project,
    count() AS compactions,
    countIf(success = 0) AS failed,
    sum(tokens_saved) AS tokens_saved,
    max(timestamp) AS last_compacted_at
FROM v_compactions
WHERE org_id = ${org:singlequote}
  AND $__timeFilter(timestamp)
  AND $__conditionalAll(user_id IN (${user:singlequote}), $user)
  AND $__conditionalAll(project_id IN (${project:singlequote}), $project)
GROUP BY session_id
ORDER BY compactions DESC, session_id
LIMIT 50

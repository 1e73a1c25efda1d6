-- API errors in the range (the Live dashboard defaults to the last hour), newest first.
SELECT
    timestamp,
    session_id,
    thread_id,
    if(user_email != '', user_email, user_id) AS user,
    model,
    status_code,
    attempt,
    error
FROM v_api_errors
WHERE org_id = ${org:singlequote}
  AND $__timeFilter(timestamp)
  AND $__conditionalAll(user_id IN (${user:singlequote}), $user)
  AND $__conditionalAll(project_id IN (${project:singlequote}), $project)
ORDER BY timestamp DESC
LIMIT 100

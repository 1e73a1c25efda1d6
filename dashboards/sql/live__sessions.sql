-- Open sessions with the model they use now and how full its context window is.
-- context_pct is in percent; the panel colours it at 80 / 90 / 95.
SELECT
    s.session_id AS session_id,
    s.thread_id AS thread_id,
    if(s.user_email != '', s.user_email, s.user_id) AS user,
    if(s.project_name != '', s.project_name, s.project_id) AS project,
    if(c.model != '', c.model, s.first_model) AS current_model,
    c.context_tokens AS context_tokens,
    c.context_window AS context_window,
    round(100 * c.context_ratio, 1) AS context_pct,
    s.compaction_count AS compactions,
    s.cost_usd AS cost_usd,
    s.last_activity_at AS last_activity_at
FROM v_llm_sessions AS s
LEFT JOIN v_session_context AS c ON c.org_id = s.org_id AND c.session_id = s.session_id
WHERE s.org_id = ${org:singlequote} AND s.is_open AND NOT s.archived
  AND $__conditionalAll(s.user_id IN (${user:singlequote}), $user)
  AND $__conditionalAll(s.project_id IN (${project:singlequote}), $project)
ORDER BY context_pct DESC, s.last_activity_at DESC
LIMIT 500

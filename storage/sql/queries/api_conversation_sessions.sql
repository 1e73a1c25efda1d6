-- Query API: the sessions of one thread, in thread order (conversation detail).
--   org String, thread String
SELECT
    session_id, thread_position, start_source, close_reason, close_evidence,
    resume_count > 0 OR start_source IN ('resume', 'continue') OR thread_position > 0 AS is_resumed,
    segment_count, compaction_count, failed_compaction_count, models,
    cost_micros / 1000000 AS cost_usd, round(computed_cost_usd, 6) AS computed_cost_usd,
    input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens,
    api_request_count, api_error_count, user_prompt_count, tool_call_count,
    started_at, last_activity_at, closed_at, first_prompt,
    if(user_title != '', user_title, auto_title) AS title, auto_title,
    if(user_title != '', 'user', 'auto') AS title_source, user_archived AS archived
FROM
(
    SELECT * EXCEPT (title), title AS auto_title FROM llm_sessions FINAL
    WHERE org_id = {org:String} AND thread_id = {thread:String} AND is_deleted = 0
) AS s
LEFT JOIN
(
    SELECT target_id, title AS user_title, archived AS user_archived FROM management_overrides FINAL
    WHERE org_id = {org:String} AND kind = 'session'
) AS o ON o.target_id = s.session_id
ORDER BY thread_position, started_at, session_id

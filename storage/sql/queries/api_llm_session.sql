-- Query API: one llm session with its thread's totals (GET /api/v1/{org}/llm_sessions/{id}).
--   org String, session String
SELECT
    s.session_id, s.thread_id AS thread_id, s.parent_thread_id, s.thread_position, s.agent_name,
    s.start_source, s.resume_count > 0 OR s.start_source IN ('resume', 'continue') OR s.thread_position > 0 AS is_resumed,
    s.close_reason, s.close_evidence, s.compaction_count AS compaction_count, s.failed_compaction_count,
    s.last_compacted_at, s.started_at, s.last_activity_at, s.closed_at, s.models,
    s.input_tokens, s.output_tokens, s.cache_read_tokens, s.cache_creation_tokens,
    s.cost_micros / 1000000 AS cost_usd, round(s.computed_cost_usd, 6) AS computed_cost_usd, s.user_prompt_count, s.api_request_count,
    s.tool_call_count, s.api_error_count,
    s.injected_prompt_count, s.unpriced_request_count, s.unpriced_reasons, s.repository,
    s.repository_provider, s.subagent_count, s.subagent_request_count, s.subagent_cost_usd,
    s.project_id, s.project_name, s.user_id, s.user_email, s.git_branch, s.cwd,
    if(ifNull(o.user_title, '') != '', o.user_title, s.auto_title) AS title, s.auto_title AS auto_title,
    if(ifNull(o.user_title, '') != '', 'user', 'auto') AS title_source,
    ifNull(o.user_archived, 0) = 1 OR ifNull(t.thread_archived, 0) = 1 AS archived,
    s.parent_thread_id IN (SELECT thread_id FROM deleted_threads WHERE org_id = {org:String}) AS parent_deleted,
    ifNull(t.session_count, 0) AS total_in_thread,
    ifNull(t.compaction_count, 0) AS total_compactions_in_thread
FROM
(
    SELECT * EXCEPT (title), title AS auto_title FROM llm_sessions FINAL
    WHERE org_id = {org:String} AND session_id = {session:String} AND is_deleted = 0
) AS s
LEFT JOIN
(
    SELECT target_id, title AS user_title, archived AS user_archived FROM management_overrides FINAL
    WHERE org_id = {org:String} AND kind = 'session' AND target_id = {session:String}
) AS o ON o.target_id = s.session_id
LEFT JOIN
(
    SELECT th.thread_id AS thread_id, session_count, compaction_count, ot.archived AS thread_archived
    FROM (SELECT thread_id, session_count, compaction_count FROM threads FINAL
          WHERE org_id = {org:String} AND is_deleted = 0) AS th
    LEFT JOIN (SELECT target_id, archived FROM management_overrides FINAL
               WHERE org_id = {org:String} AND kind = 'thread') AS ot ON ot.target_id = th.thread_id
) AS t ON t.thread_id = s.thread_id
LIMIT 1
SETTINGS join_use_nulls = 1

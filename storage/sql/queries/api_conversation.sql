-- Query API: one conversation thread (GET /api/v1/{org}/conversations/{thread_id}).
--   org String, thread String
-- title: the user's (PATCH), else the model's (--title-model), else the automatic one.
SELECT
    thread_id,
    multiIf(user_title != '', user_title, model_title != '', model_title, auto_title) AS title,
    auto_title,
    multiIf(user_title != '', 'user', model_title != '', 'model', 'auto') AS title_source,
    user_archived AS archived,
    parent_thread_id IN (SELECT thread_id FROM deleted_threads WHERE org_id = {org:String}) AS parent_deleted,
    user_id, user_email, project_id, project_name, agent_name,
    status, close_reason, parent_thread_id, root_session_id, models, session_ids,
    session_count, compaction_count, failed_compaction_count,
    cost_micros / 1000000 AS cost_usd, round(computed_cost_usd, 6) AS computed_cost_usd,
    input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens,
    api_request_count, api_error_count, user_prompt_count, tool_call_count,
    injected_prompt_count, unpriced_request_count, unpriced_reasons, repository, git_branch,
    first_activity_at, last_activity_at, closed_at
FROM
(
    SELECT * EXCEPT (title), title AS auto_title FROM threads FINAL
    WHERE org_id = {org:String} AND thread_id = {thread:String} AND is_deleted = 0
) AS t
LEFT JOIN
(
    SELECT target_id, title AS user_title, archived AS user_archived FROM management_overrides FINAL
    WHERE org_id = {org:String} AND kind = 'thread' AND target_id = {thread:String}
) AS o ON o.target_id = t.thread_id
LEFT JOIN
(
    SELECT thread_id AS model_thread_id, title AS model_title FROM generated_titles FINAL
    WHERE org_id = {org:String} AND thread_id = {thread:String}
) AS g ON g.model_thread_id = t.thread_id
LIMIT 1

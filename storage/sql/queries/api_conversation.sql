-- Query API: one conversation thread (GET /api/v1/{org}/conversations/{thread_id}).
--   org String, thread String
SELECT
    thread_id, title, user_id, user_email, project_id, project_name, agent_name,
    status, close_reason, parent_thread_id, root_session_id, models, session_ids,
    session_count, compaction_count, failed_compaction_count,
    cost_micros / 1000000 AS cost_usd, round(computed_cost_usd, 6) AS computed_cost_usd,
    input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens,
    api_request_count, api_error_count, user_prompt_count, tool_call_count,
    first_activity_at, last_activity_at, closed_at
FROM threads FINAL
WHERE org_id = {org:String} AND thread_id = {thread:String} AND is_deleted = 0
LIMIT 1

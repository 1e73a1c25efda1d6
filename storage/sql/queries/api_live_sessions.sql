-- Query API: sessions with telemetry since an instant (GET /api/v1/{org}/live): their
-- newest event, model and context, joined to the derived session where enrichment has
-- run already (a brand-new session shows before its first enrichment pass). The route
-- drops sessions that closed after their last event and names the state.
--   org String, since_us Int64, limit UInt32
SELECT
    e.session_id AS session_id,
    e.first_seen_at AS first_seen_at,
    e.last_event_at AS last_event_at,
    e.last_event AS last_event,
    e.last_notification AS last_notification,
    e.model AS model,
    e.context_tokens AS context_tokens,
    e.recent_prompts AS recent_prompts,
    e.recent_requests AS recent_requests,
    e.user_id AS event_user_id,
    e.user_email AS event_user_email,
    s.thread_id AS thread_id,
    s.user_id AS user_id,
    s.user_email AS user_email,
    s.project_name AS project_name,
    s.agent_name AS agent_name,
    s.closed_at AS closed_at,
    s.user_prompt_count AS user_prompt_count,
    s.api_request_count AS api_request_count,
    s.cost_usd AS cost_usd
FROM
(
    SELECT
        SessionId AS session_id,
        min(Timestamp) AS first_seen_at,
        max(Timestamp) AS last_event_at,
        argMax(EventName, (Timestamp, EventKey)) AS last_event,
        argMax(Attributes['notification_type'], (Timestamp, EventKey)) AS last_notification,
        argMaxIf(Model, (Timestamp, EventKey), EventName = 'api_request') AS model,
        argMaxIf(InputTokens + CacheReadTokens + CacheCreationTokens, (Timestamp, EventKey),
                 EventName = 'api_request' AND QuerySource IN ('main', 'repl_main_thread', 'sdk', '')) AS context_tokens,
        countIf(EventName = 'user_prompt') AS recent_prompts,
        countIf(EventName = 'api_request') AS recent_requests,
        argMax(UserId, Timestamp) AS user_id,
        argMax(UserEmail, Timestamp) AS user_email
    FROM events
    WHERE OrgId = {org:String}
      AND Timestamp >= fromUnixTimestamp64Micro({since_us:Int64}, 'UTC')
      AND SessionId != ''
    GROUP BY SessionId
) AS e
LEFT JOIN
(
    SELECT session_id, thread_id, user_id, user_email, project_name, agent_name, closed_at,
           user_prompt_count, api_request_count, cost_usd
    FROM llm_sessions FINAL
    WHERE org_id = {org:String} AND is_deleted = 0
      AND last_activity_at >= fromUnixTimestamp64Micro({since_us:Int64}, 'UTC')
) AS s ON s.session_id = e.session_id
ORDER BY e.last_event_at DESC, e.session_id
LIMIT {limit:UInt32}
SETTINGS join_use_nulls = 1

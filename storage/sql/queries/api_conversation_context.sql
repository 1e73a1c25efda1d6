-- Query API: the context-fill series of one thread (GET .../conversations/{id}/context):
-- every api_request of the thread's sessions in time order with the context it sent
-- (input + cache read + cache write tokens). main = 1 for the conversation's own line of
-- requests (not subagents, compaction or auxiliary calls), which the curve plots.
--   org String, thread String, limit UInt32
SELECT
    EventKey AS event_key, SessionId AS session_id, Timestamp AS timestamp,
    Model AS model, QuerySource AS query_source,
    QuerySource IN ('main', 'repl_main_thread', 'sdk', '') AS main,
    InputTokens + CacheReadTokens + CacheCreationTokens AS context_tokens,
    InputTokens AS input_tokens, OutputTokens AS output_tokens,
    CacheReadTokens AS cache_read_tokens, CacheCreationTokens AS cache_creation_tokens,
    CostUsd AS cost_usd, PromptId AS prompt_id
FROM events FINAL
WHERE OrgId = {org:String}
  AND SessionId IN (
      SELECT session_id FROM llm_sessions FINAL
      WHERE org_id = {org:String} AND thread_id = {thread:String} AND is_deleted = 0
  )
  AND EventName = 'api_request'
ORDER BY Timestamp, EventKey
LIMIT {limit:UInt32}

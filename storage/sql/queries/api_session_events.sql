-- Query API: one page of a session's events in order (GET .../llm_sessions/{id}/events):
-- prompts, api requests and errors, tool decisions and results, compactions, hooks.
--   org String, session String
--   types        Array(String)  event names to keep, [] = all
--   prompt_id    String         '' = any
--   tool_use_id  String         '' = any
--   has_cursor UInt8, after_ts Int64 (µs), after_seq Int64, after_key UInt64: keyset
--   limit UInt32
SELECT
    EventKey AS event_key, EventName AS type, Timestamp AS timestamp,
    toUnixTimestamp64Micro(Timestamp) AS ts_us, ifNull(Sequence, -1) AS seq, Sequence AS sequence,
    PromptId AS prompt_id, Model AS model, QuerySource AS query_source,
    CostMicros / 1000000 AS cost_usd, InputTokens AS input_tokens, OutputTokens AS output_tokens,
    CacheReadTokens AS cache_read_tokens, CacheCreationTokens AS cache_creation_tokens,
    DurationMs AS duration_ms, ToolName AS tool_name, ToolUseId AS tool_use_id,
    Decision AS decision, Success AS success, StatusCode AS status_code, Attempt AS attempt,
    Error AS error, CommandName AS command_name, HookName AS hook_name,
    CompactionTrigger AS compaction_trigger, PreTokens AS pre_tokens, PostTokens AS post_tokens,
    Source AS source, Reason AS reason, Prompt AS prompt, Attributes AS attributes
FROM events FINAL
WHERE OrgId = {org:String}
  AND SessionId = {session:String}
  AND SessionId NOT IN (SELECT session_id FROM deleted_sessions WHERE org_id = {org:String})
  AND (empty({types:Array(String)}) OR has({types:Array(String)}, EventName))
  AND ({prompt_id:String} = '' OR PromptId = {prompt_id:String})
  AND ({tool_use_id:String} = '' OR ToolUseId = {tool_use_id:String})
  AND ({has_cursor:UInt8} = 0
       OR (toUnixTimestamp64Micro(Timestamp), ifNull(Sequence, -1), EventKey)
          > ({after_ts:Int64}, {after_seq:Int64}, {after_key:UInt64}))
ORDER BY Timestamp, seq, EventKey
LIMIT {limit:UInt32}

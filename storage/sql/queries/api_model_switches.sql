-- Query API: model switches of one session (GET /api/v1/{org}/llm_sessions/{id}/model_switches),
-- from the hook bridge's PreModelSwitch / PostModelSwitch records (v_model_switches,
-- 0011_model_switch_fields.sql: the keys Claude Code sends).
--   org String, session String
SELECT
    event_key, timestamp, phase, from_model, to_model, requested_model, initiator,
    estimated_cache_write_usd, pricing, context_tokens, prompt_cache_warm, cache_ttl
FROM v_model_switches
WHERE org_id = {org:String} AND session_id = {session:String}
ORDER BY timestamp, event_key
LIMIT 10000

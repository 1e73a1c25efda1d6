-- Query API: model switches of one session (GET /api/v1/{org}/llm_sessions/{id}/model_switches),
-- from the hook bridge's PreModelSwitch / PostModelSwitch records. Keys as v_model_switches
-- (0006_accounting.sql): read tolerantly, no capture holds a model switch yet.
--   org String, session String
SELECT
    EventKey AS event_key,
    Timestamp AS timestamp,
    if(EventName = 'loomline.pre_model_switch', 'pre', 'post') AS phase,
    coalesce(nullIf(Attributes['from_model'], ''), nullIf(Attributes['previous_model'], ''),
             nullIf(Attributes['old_model'], ''), nullIf(Attributes['from'], ''), '') AS from_model,
    coalesce(nullIf(Attributes['to_model'], ''), nullIf(Attributes['new_model'], ''),
             nullIf(Attributes['to'], ''), nullIf(Attributes['model'], ''), '') AS to_model,
    coalesce(nullIf(Attributes['trigger'], ''), nullIf(Attributes['source'], ''),
             nullIf(Attributes['requested_by'], ''), nullIf(Attributes['reason'], ''), '') AS initiator,
    toFloat64OrNull(Attributes['estimated_cache_write_usd']) AS estimated_cache_write_usd,
    toUInt64OrNull(Attributes['context_tokens']) AS context_tokens
FROM events FINAL
WHERE OrgId = {org:String} AND SessionId = {session:String}
      AND SessionId NOT IN (SELECT session_id FROM deleted_sessions WHERE org_id = {org:String})
  AND EventName IN ('loomline.pre_model_switch', 'loomline.post_model_switch')
ORDER BY Timestamp, EventKey
LIMIT 10000

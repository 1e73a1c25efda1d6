-- Model switches with the payload keys Claude Code really sends (PreModelSwitch /
-- PostModelSwitch, read off 2.1.328 and 2.1.332 and captured in
-- tests/captures/claude-code-2.1.332/model_switch): from_model, to_model, requested_model,
-- source (command, picker, sdk; PostModelSwitch also auto, resume), context_tokens,
-- prompt_cache_warm, cache_ttl, estimated_cache_write_usd, pricing (configured, catalog,
-- default). The hook bridge copies every payload key into its record's attributes.
-- `initiator` keeps its name (the API's field since 0006): it is `source`. `event_key` lets
-- the query API page over this view instead of repeating it.

CREATE OR REPLACE VIEW v_model_switches AS
SELECT
    OrgId AS org_id,
    SessionId AS session_id,
    EventKey AS event_key,
    Timestamp AS timestamp,
    if(EventName = 'loomline.pre_model_switch', 'pre', 'post') AS phase,
    Attributes['from_model'] AS from_model,
    Attributes['to_model'] AS to_model,
    Attributes['requested_model'] AS requested_model,
    Attributes['source'] AS initiator,
    toFloat64OrNull(Attributes['estimated_cache_write_usd']) AS estimated_cache_write_usd,
    Attributes['pricing'] AS pricing,
    toUInt64OrNull(Attributes['context_tokens']) AS context_tokens,
    multiIf(Attributes['prompt_cache_warm'] IN ('true', '1'), 1, Attributes['prompt_cache_warm'] IN ('false', '0'), 0,
            NULL) AS prompt_cache_warm,
    Attributes['cache_ttl'] AS cache_ttl
FROM events FINAL
WHERE EventName IN ('loomline.pre_model_switch', 'loomline.post_model_switch')
  AND (OrgId, SessionId) NOT IN (SELECT org_id, session_id FROM deleted_sessions);

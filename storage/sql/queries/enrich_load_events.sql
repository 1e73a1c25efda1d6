-- Every event of some sessions of one tenant, as enrichment reads them (enrich/model.py
-- event_from_row). FINAL collapses a record stored twice (exporter retry) to one row.
SELECT
    OrgId, SessionId, EventKey, EventName,
    toUnixTimestamp64Micro(Timestamp) AS timestamp_us,
    Sequence, PromptId, Model, QuerySource, CostUsd, CostMicros,
    InputTokens, OutputTokens, CacheReadTokens, CacheCreationTokens,
    CacheCreation5mTokens, CacheCreation1hTokens, DurationMs, ToolName,
    Success, StatusCode, Attempt, Error, CommandName, HookName, CompactionTrigger,
    PreTokens, PostTokens, Source, Reason, CliRunId, ParentSessionId, Cwd,
    if(ProjectId != '', ProjectId, ResourceAttributes['project.id']) AS ProjectId,
    if(Attributes['loomline.project.name'] != '', Attributes['loomline.project.name'],
       ResourceAttributes['project.name']) AS project_name,
    GitBranch, AgentName, UserId, UserEmail, AccountUuid, OrganizationId,
    TerminalType, AppVersion, ServiceName, Prompt,
    ResourceAttributes['host.name'] AS host,
    -- raw attributes enrichment reads as text (enrich/model.py ATTRIBUTE_FIELDS)
    Attributes['speed'] AS attr_speed,
    Attributes['agent_id'] AS attr_agent_id,
    if(Attributes['vcs.repository.url.full'] != '', Attributes['vcs.repository.url.full'],
       ResourceAttributes['vcs.repository.url.full']) AS attr_vcs_url,
    if(Attributes['vcs.owner.name'] != '', Attributes['vcs.owner.name'],
       ResourceAttributes['vcs.owner.name']) AS attr_vcs_owner,
    if(Attributes['vcs.repository.name'] != '', Attributes['vcs.repository.name'],
       ResourceAttributes['vcs.repository.name']) AS attr_vcs_repository,
    if(Attributes['vcs.provider.name'] != '', Attributes['vcs.provider.name'],
       ResourceAttributes['vcs.provider.name']) AS attr_vcs_provider,
    Attributes['seconds_since_last_response'] AS attr_seconds_since_last_response,
    Attributes['context_tokens'] AS attr_context_tokens,
    Attributes['prompt_cache_likely_expired'] AS attr_cache_likely_expired,
    Attributes['estimated_cache_write_usd'] AS attr_estimated_cache_write_usd,
    Attributes['is_async'] AS attr_is_async,
    Attributes['loomline.evidence'] AS attr_evidence,
    toUnixTimestamp64Milli(IngestedAt) AS ingested_ms
FROM events FINAL
WHERE OrgId = {org:String} AND SessionId IN {sessions:Array(String)}
  -- a deleted session is never derived again, whatever arrives for it later (0005)
  AND SessionId NOT IN (SELECT session_id FROM deleted_sessions WHERE org_id = {org:String})
ORDER BY SessionId, Timestamp, EventKey

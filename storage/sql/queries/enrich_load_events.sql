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
    toUnixTimestamp64Milli(IngestedAt) AS ingested_ms
FROM events FINAL
WHERE OrgId = {org:String} AND SessionId IN {sessions:Array(String)}
  -- a deleted session is never derived again, whatever arrives for it later (0005)
  AND SessionId NOT IN (SELECT session_id FROM deleted_sessions WHERE org_id = {org:String})
ORDER BY SessionId, Timestamp, EventKey

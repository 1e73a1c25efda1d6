-- Every event of some sessions, as enrichment reads them: {keys} are (org, session) pairs,
-- so one read serves several tenants, each session named with its own org ({orgs}: the
-- pairs' orgs, for the primary key). The columns are
-- enrich/model.py LOAD_COLUMN_ORDER: Event's typed fields in order (events_from_columns
-- builds the Events from the columns by position: no dict per row), the raw attributes as
-- text (attr_<field>, ATTRIBUTE_FIELDS), then ingested_at.
-- No FINAL: a record stored twice (exporter retry, before a merge) comes back twice and
-- the Enricher keeps one copy per EventKey, the later stored (what FINAL keeps); FINAL
-- here cost more CPU than the rest of an incremental read.
-- toLowCardinality on the strings a session repeats (its id, prompt, user, place, run): the
-- result carries each distinct value once and clickhouse-connect makes one str of it that
-- every row shares, so a cached Event holds ~705 bytes instead of ~970 (same values).
-- {since:DateTime64(3)}: only rows stored at or after this (the Enricher's per-session cache
-- holds the older ones); the epoch for all.
SELECT
    OrgId AS org_id, toLowCardinality(SessionId) AS session_id, EventKey AS event_key, EventName AS event_name,
    toUnixTimestamp64Micro(Timestamp) AS timestamp,
    Sequence AS sequence, toLowCardinality(PromptId) AS prompt_id, Model AS model, QuerySource AS query_source,
    CostUsd AS cost_usd, CostMicros AS cost_micros,
    InputTokens AS input_tokens, OutputTokens AS output_tokens, CacheReadTokens AS cache_read_tokens,
    CacheCreationTokens AS cache_creation_tokens, CacheCreation5mTokens AS cache_creation_5m_tokens,
    CacheCreation1hTokens AS cache_creation_1h_tokens, DurationMs AS duration_ms, ToolName AS tool_name,
    Success AS success, StatusCode AS status_code, Attempt AS attempt, Error AS error,
    CommandName AS command_name, HookName AS hook_name, CompactionTrigger AS compaction_trigger,
    PreTokens AS pre_tokens, PostTokens AS post_tokens, Source AS source, Reason AS reason,
    toLowCardinality(CliRunId) AS cli_run_id, toLowCardinality(ParentSessionId) AS parent_session_id, toLowCardinality(Cwd) AS cwd,
    toLowCardinality(if(ProjectId != '', ProjectId, AttrProjectId)) AS project_id, toLowCardinality(AttrProjectName) AS project_name,
    toLowCardinality(GitBranch) AS git_branch, AgentName AS agent_name, toLowCardinality(UserId) AS user_id, toLowCardinality(UserEmail) AS user_email,
    toLowCardinality(AccountUuid) AS account_uuid, toLowCardinality(OrganizationId) AS organization_id, TerminalType AS terminal_type,
    AppVersion AS app_version, ServiceName AS service_name, toLowCardinality(AttrHost) AS host, Prompt AS prompt,
    -- raw attributes enrichment reads as text (enrich/model.py ATTRIBUTE_FIELDS), picked
    -- from the maps when the row was stored (0012_events_enrichment_columns.sql)
    toLowCardinality(AttrSpeed) AS attr_speed, toLowCardinality(AttrAgentId) AS attr_agent_id, toLowCardinality(AttrVcsUrl) AS attr_vcs_url,
    toLowCardinality(AttrVcsOwner) AS attr_vcs_owner, toLowCardinality(AttrVcsRepository) AS attr_vcs_repository,
    toLowCardinality(AttrVcsProvider) AS attr_vcs_provider, AttrSecondsSinceLastResponse AS attr_seconds_since_last_response,
    AttrContextTokens AS attr_context_tokens, AttrCacheLikelyExpired AS attr_cache_likely_expired,
    AttrEstimatedCacheWriteUsd AS attr_estimated_cache_write_usd, AttrIsAsync AS attr_is_async,
    AttrEvidence AS attr_evidence,
    toUnixTimestamp64Milli(IngestedAt) AS ingested_at
FROM events
WHERE OrgId IN {orgs:Array(String)} AND (OrgId, SessionId) IN {keys:Array(Tuple(String, String))}
  AND IngestedAt >= {since:DateTime64(3)}
  -- a deleted session is never derived again, whatever arrives for it later (0005)
  AND (OrgId, SessionId) NOT IN (SELECT org_id, session_id FROM deleted_sessions WHERE org_id IN {orgs:Array(String)})
ORDER BY OrgId, SessionId, Timestamp, EventKey

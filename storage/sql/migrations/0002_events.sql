-- Typed Claude Code events: one row per event log record (claude_code.* from Claude Code
-- itself, loomline.* from the hook bridge), filled from the same batches as otel_logs.
-- Typed columns hold what enrichment and the API read; Attributes keeps every raw value as
-- it arrived (Claude Code sends some numbers as strings, and that changes between versions).
--
-- Idempotency: EventKey is a 64-bit hash of the log record's deterministic protobuf
-- encoding, so an exporter retry (even re-batched differently) yields the same key.
-- ReplacingMergeTree collapses rows with an equal sort key on merge; readers use FINAL (or
-- GROUP BY EventKey) to count each event once before merges catch up.
-- ORDER BY (OrgId, SessionId, Timestamp, EventKey): every read is "one tenant, one or a few
-- sessions, in time order", which this makes a range scan.
-- IngestedAt drives incremental enrichment (what arrived since the last pass).

CREATE TABLE IF NOT EXISTS events
(
    OrgId                 LowCardinality(String),
    SessionId             String,
    EventKey              UInt64,
    EventName             LowCardinality(String),
    Timestamp             DateTime64(6, 'UTC') CODEC(Delta(8), ZSTD(1)),
    Sequence              Nullable(Int64),
    PromptId              String CODEC(ZSTD(1)),
    Model                 LowCardinality(String),
    QuerySource           LowCardinality(String),
    CostUsd               Float64,
    CostMicros            Int64,
    InputTokens           UInt64,
    OutputTokens          UInt64,
    CacheReadTokens       UInt64,
    CacheCreationTokens   UInt64,
    CacheCreation5mTokens UInt64,
    CacheCreation1hTokens UInt64,
    DurationMs            Nullable(Float64),
    ToolName              LowCardinality(String),
    ToolUseId             String CODEC(ZSTD(1)),
    Decision              LowCardinality(String),
    Success               Nullable(Bool),
    StatusCode            Nullable(Int32),
    Attempt               Nullable(Int32),
    Error                 String CODEC(ZSTD(1)),
    CommandName           LowCardinality(String),
    HookName              LowCardinality(String),
    CompactionTrigger     LowCardinality(String),
    PreTokens             Nullable(UInt64),
    PostTokens            Nullable(UInt64),
    -- hook bridge (loomline.*) lifecycle fields
    Source                LowCardinality(String),
    Reason                LowCardinality(String),
    CliRunId              String CODEC(ZSTD(1)),
    ParentSessionId       String CODEC(ZSTD(1)),
    Cwd                   String CODEC(ZSTD(1)),
    ProjectId             String CODEC(ZSTD(1)),
    GitBranch             String CODEC(ZSTD(1)),
    AgentName             LowCardinality(String),
    -- who and where
    UserId                String CODEC(ZSTD(1)),
    UserEmail             String CODEC(ZSTD(1)),
    AccountUuid           String CODEC(ZSTD(1)),
    OrganizationId        String CODEC(ZSTD(1)),
    TerminalType          LowCardinality(String),
    AppVersion            LowCardinality(String),
    ServiceName           LowCardinality(String),
    Prompt                String CODEC(ZSTD(3)),
    Attributes            Map(LowCardinality(String), String) CODEC(ZSTD(3)),
    ResourceAttributes    Map(LowCardinality(String), String) CODEC(ZSTD(3)),
    IngestedAt            DateTime64(3, 'UTC') DEFAULT now64(3),
    INDEX idx_ingested IngestedAt TYPE minmax GRANULARITY 1,
    INDEX idx_prompt PromptId TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(Timestamp)
ORDER BY (OrgId, SessionId, Timestamp, EventKey)
SETTINGS index_granularity = 8192;

-- Derived tables: what enrichment (enrich/) computes from the typed events table.
-- Vocabulary and thread rules: docs/design.md. Semantics of each column: docs/enrichment.md.
--
-- How rows are kept current, and why:
--   * Every table is ReplacingMergeTree(version, is_deleted) ordered by (org_id, <its id>).
--     Enrichment re-derives a whole group of linked sessions at a time and writes every
--     row again, so the newest derivation replaces the older rows on merge. Readers
--     use FINAL, which also hides rows whose newest version has is_deleted = 1.
--   * version is a deterministic function of the stored events the derivation read:
--     (max IngestedAt of the group in ms) shifted left 22 bits, plus the number of
--     events (saturating at 2^22 - 1). A derivation that saw a superset of events
--     never gets a lower version, so a stale computation cannot replace a fresher one,
--     and two processes that read the same events write identical rows with equal
--     versions (ReplacingMergeTree then keeps the last inserted, which is the same row).
--     Only an idle timeout changes without new events, at an equal version (last wins).
--   * is_deleted: rows can vanish when data arrives late. A late link re-roots a
--     thread (the old thread row must go), a native CLI run id changes when an earlier
--     event of the run shows up, a native cleared_from guess is replaced by the hook
--     bridge evidence. Enrichment writes a tombstone (is_deleted = 1, newer version)
--     for every row it wrote before and no longer derives.
--   * Timestamps are DateTime64(6, 'UTC') like events.Timestamp.
--   * Costs: cost_usd is the reported cost (sum of api_request cost_usd, Float64),
--     cost_micros the same sum in exact integer micro-dollars (sum of events.CostMicros),
--     computed_cost_usd the price-table cost (genai-prices). Never mixed.
--   * Links always point forward in time: from_session_id is the earlier (parent)
--     session, to_session_id the later (child) one; link_type names how the child came
--     from the parent (resumed_as, forked_from, cleared_from).

CREATE TABLE IF NOT EXISTS llm_sessions
(
    org_id                   LowCardinality(String),
    session_id               String,
    thread_id                String,
    parent_thread_id         String,
    thread_position          UInt32,
    user_id                  String,
    user_email               String,
    account_uuid             String,
    organization_id          String,
    project_id               String,
    project_name             String,
    cwd                      String,
    git_branch               String,
    agent_name               LowCardinality(String),
    first_model              LowCardinality(String),
    models                   Array(String),
    terminal_type            LowCardinality(String),
    app_version              LowCardinality(String),
    started_at               DateTime64(6, 'UTC'),
    last_activity_at         DateTime64(6, 'UTC'),
    closed_at                Nullable(DateTime64(6, 'UTC')),
    close_reason             LowCardinality(String),
    close_evidence           LowCardinality(String),
    start_source             LowCardinality(String),
    start_evidence           LowCardinality(String),
    segment_count            UInt32,
    resume_count             UInt32,
    cli_run_count            UInt32,
    compaction_count         UInt32,
    failed_compaction_count  UInt32,
    last_compacted_at        Nullable(DateTime64(6, 'UTC')),
    input_tokens             UInt64,
    output_tokens            UInt64,
    cache_read_tokens        UInt64,
    cache_creation_tokens    UInt64,
    cache_creation_5m_tokens UInt64,
    cache_creation_1h_tokens UInt64,
    cost_usd                 Float64,
    cost_micros              Int64,
    computed_cost_usd        Float64,
    unpriced_request_count   UInt32,
    api_request_count        UInt32,
    api_error_count          UInt32,
    user_prompt_count        UInt32,
    tool_call_count          UInt32,
    tool_error_count         UInt32,
    active_time_seconds      Float64,
    first_prompt             String CODEC(ZSTD(3)),
    event_count              UInt64,
    has_hook_evidence        UInt8,
    version                  UInt64,
    is_deleted               UInt8 DEFAULT 0,
    derived_at               DateTime64(3, 'UTC') DEFAULT now64(3),
    INDEX idx_thread thread_id TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_last_activity last_activity_at TYPE minmax GRANULARITY 1
)
ENGINE = ReplacingMergeTree(version, is_deleted)
ORDER BY (org_id, session_id);

CREATE TABLE IF NOT EXISTS session_segments
(
    org_id          LowCardinality(String),
    session_id      String,
    segment_index   UInt32,
    source          LowCardinality(String),
    started_at      DateTime64(6, 'UTC'),
    ended_at        DateTime64(6, 'UTC'),
    cli_run_id      String,
    first_sequence  Nullable(Int64),
    last_sequence   Nullable(Int64),
    event_count     UInt64,
    evidence        LowCardinality(String),
    version         UInt64,
    is_deleted      UInt8 DEFAULT 0,
    derived_at      DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version, is_deleted)
ORDER BY (org_id, session_id, segment_index);

CREATE TABLE IF NOT EXISTS session_links
(
    org_id           LowCardinality(String),
    from_session_id  String,
    to_session_id    String,
    link_type        LowCardinality(String),
    created_at       DateTime64(6, 'UTC'),
    evidence         LowCardinality(String),
    version          UInt64,
    is_deleted       UInt8 DEFAULT 0,
    derived_at       DateTime64(3, 'UTC') DEFAULT now64(3),
    INDEX idx_to to_session_id TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = ReplacingMergeTree(version, is_deleted)
ORDER BY (org_id, from_session_id, to_session_id, link_type);

CREATE TABLE IF NOT EXISTS compactions
(
    org_id          LowCardinality(String),
    session_id      String,
    compaction_key  String,
    thread_id       String,
    timestamp       DateTime64(6, 'UTC'),
    trigger         LowCardinality(String),
    success         UInt8,
    pre_tokens      Nullable(UInt64),
    post_tokens     Nullable(UInt64),
    duration_ms     Nullable(Float64),
    error           String,
    prompt_id       String,
    evidence        LowCardinality(String),
    version         UInt64,
    is_deleted      UInt8 DEFAULT 0,
    derived_at      DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version, is_deleted)
ORDER BY (org_id, session_id, compaction_key);

CREATE TABLE IF NOT EXISTS cli_runs
(
    org_id          LowCardinality(String),
    cli_run_id      String,
    started_at      DateTime64(6, 'UTC'),
    ended_at        DateTime64(6, 'UTC'),
    session_ids     Array(String),
    host            String,
    app_version     LowCardinality(String),
    evidence        LowCardinality(String),
    version         UInt64,
    is_deleted      UInt8 DEFAULT 0,
    derived_at      DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version, is_deleted)
ORDER BY (org_id, cli_run_id);

CREATE TABLE IF NOT EXISTS threads
(
    org_id                   LowCardinality(String),
    thread_id                String,
    root_session_id          String,
    parent_thread_id         String,
    session_ids              Array(String),
    session_count            UInt32,
    compaction_count         UInt32,
    failed_compaction_count  UInt32,
    input_tokens             UInt64,
    output_tokens            UInt64,
    cache_read_tokens        UInt64,
    cache_creation_tokens    UInt64,
    cache_creation_5m_tokens UInt64,
    cache_creation_1h_tokens UInt64,
    cost_usd                 Float64,
    cost_micros              Int64,
    computed_cost_usd        Float64,
    api_request_count        UInt32,
    api_error_count          UInt32,
    user_prompt_count        UInt32,
    tool_call_count          UInt32,
    first_activity_at        DateTime64(6, 'UTC'),
    last_activity_at         DateTime64(6, 'UTC'),
    closed_at                Nullable(DateTime64(6, 'UTC')),
    close_reason             LowCardinality(String),
    status                   LowCardinality(String),
    title                    String CODEC(ZSTD(3)),
    user_id                  String,
    user_email               String,
    project_id               String,
    project_name             String,
    agent_name               LowCardinality(String),
    models                   Array(String),
    version                  UInt64,
    is_deleted               UInt8 DEFAULT 0,
    derived_at               DateTime64(3, 'UTC') DEFAULT now64(3),
    INDEX idx_last_activity last_activity_at TYPE minmax GRANULARITY 1
)
ENGINE = ReplacingMergeTree(version, is_deleted)
ORDER BY (org_id, thread_id);

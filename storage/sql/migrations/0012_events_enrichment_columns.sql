-- The attributes enrichment reads from every event, computed once when the row is stored
-- instead of at every read (issue 19). A look-up such as Attributes['speed'] reads the
-- whole Attributes map (keys and values, ~20 entries for an api_request) of every row in
-- the granules read; these columns are small and mostly empty, so enrich_load_events.sql
-- reads a fraction of the bytes (figures: docs/benchmarks.md).
--
-- MATERIALIZED: no writer names them (inserts list their columns). Parts stored before this
-- migration compute them from the maps when read, and write them when merged.
-- Each is exactly the expression enrich_load_events.sql used to compute.
ALTER TABLE events ADD COLUMN IF NOT EXISTS AttrProjectId String MATERIALIZED ResourceAttributes['project.id'];
ALTER TABLE events ADD COLUMN IF NOT EXISTS AttrProjectName String MATERIALIZED
    if(Attributes['loomline.project.name'] != '', Attributes['loomline.project.name'], ResourceAttributes['project.name']);
ALTER TABLE events ADD COLUMN IF NOT EXISTS AttrHost String MATERIALIZED ResourceAttributes['host.name'];
ALTER TABLE events ADD COLUMN IF NOT EXISTS AttrSpeed String MATERIALIZED Attributes['speed'];
ALTER TABLE events ADD COLUMN IF NOT EXISTS AttrAgentId String MATERIALIZED Attributes['agent_id'];
ALTER TABLE events ADD COLUMN IF NOT EXISTS AttrVcsUrl String MATERIALIZED
    if(Attributes['vcs.repository.url.full'] != '', Attributes['vcs.repository.url.full'], ResourceAttributes['vcs.repository.url.full']);
ALTER TABLE events ADD COLUMN IF NOT EXISTS AttrVcsOwner String MATERIALIZED
    if(Attributes['vcs.owner.name'] != '', Attributes['vcs.owner.name'], ResourceAttributes['vcs.owner.name']);
ALTER TABLE events ADD COLUMN IF NOT EXISTS AttrVcsRepository String MATERIALIZED
    if(Attributes['vcs.repository.name'] != '', Attributes['vcs.repository.name'], ResourceAttributes['vcs.repository.name']);
ALTER TABLE events ADD COLUMN IF NOT EXISTS AttrVcsProvider String MATERIALIZED
    if(Attributes['vcs.provider.name'] != '', Attributes['vcs.provider.name'], ResourceAttributes['vcs.provider.name']);
ALTER TABLE events ADD COLUMN IF NOT EXISTS AttrSecondsSinceLastResponse String MATERIALIZED Attributes['seconds_since_last_response'];
ALTER TABLE events ADD COLUMN IF NOT EXISTS AttrContextTokens String MATERIALIZED Attributes['context_tokens'];
ALTER TABLE events ADD COLUMN IF NOT EXISTS AttrCacheLikelyExpired String MATERIALIZED Attributes['prompt_cache_likely_expired'];
ALTER TABLE events ADD COLUMN IF NOT EXISTS AttrEstimatedCacheWriteUsd String MATERIALIZED Attributes['estimated_cache_write_usd'];
ALTER TABLE events ADD COLUMN IF NOT EXISTS AttrIsAsync String MATERIALIZED Attributes['is_async'];
ALTER TABLE events ADD COLUMN IF NOT EXISTS AttrEvidence String MATERIALIZED Attributes['loomline.evidence'];

-- Skip indexes for enrich_related_sessions.sql (issue 19). Finding the sessions that name
-- the sessions of a group as parent or share their CLI run id scanned ParentSessionId and
-- CliRunId of every event of the orgs, on every expansion round of every pass: a cost that
-- grew with the table (x1.8 for x9 the rows). With a bloom filter per granule the query
-- reads only granules that may hold one of the ids (the same rows: 16.5 -> 10.5 ms a call
-- on 600k events; docs/benchmarks.md). Nearly every event has neither id, so the filters
-- are small and cheap to build at insert.
--
-- Parts stored before this migration have no index until a merge rewrites them (no
-- MATERIALIZE INDEX: on a large table that is a mutation rewriting every part); the query
-- reads those whole, as before, with the same answer.
ALTER TABLE events ADD INDEX IF NOT EXISTS idx_parent_session ParentSessionId TYPE bloom_filter(0.01) GRANULARITY 1;
ALTER TABLE events ADD INDEX IF NOT EXISTS idx_cli_run CliRunId TYPE bloom_filter(0.01) GRANULARITY 1;

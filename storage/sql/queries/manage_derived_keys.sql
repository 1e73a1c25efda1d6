-- Management: every live derived row of some sessions (and of some whole threads), for the
-- delete tombstones. kind / key parts per table, as enrich_existing_keys.sql, plus the
-- member sessions of runs and threads (a run goes only when all its sessions go).
--   org String, sessions Array(String), threads Array(String)
SELECT 'llm_sessions' AS kind, session_id AS k1, '' AS k2, '' AS k3, 0 AS idx, [] AS members
FROM llm_sessions FINAL WHERE org_id = {org:String} AND session_id IN {sessions:Array(String)} AND is_deleted = 0
UNION ALL
SELECT 'threads', thread_id, '', '', 0, session_ids
FROM threads FINAL WHERE org_id = {org:String} AND is_deleted = 0
  AND (thread_id IN {threads:Array(String)} OR hasAny(session_ids, {sessions:Array(String)}))
UNION ALL
SELECT 'session_segments', session_id, '', '', segment_index, []
FROM session_segments FINAL WHERE org_id = {org:String} AND session_id IN {sessions:Array(String)} AND is_deleted = 0
UNION ALL
SELECT 'session_links', from_session_id, to_session_id, toString(link_type), 0, [from_session_id, to_session_id]
FROM session_links FINAL
WHERE org_id = {org:String} AND is_deleted = 0
  AND (from_session_id IN {sessions:Array(String)} OR to_session_id IN {sessions:Array(String)})
UNION ALL
SELECT 'compactions', session_id, compaction_key, '', 0, []
FROM compactions FINAL WHERE org_id = {org:String} AND session_id IN {sessions:Array(String)} AND is_deleted = 0
UNION ALL
SELECT 'cli_runs', cli_run_id, '', '', 0, session_ids
FROM cli_runs FINAL WHERE org_id = {org:String} AND is_deleted = 0 AND hasAny(session_ids, {sessions:Array(String)})

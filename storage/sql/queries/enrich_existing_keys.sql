-- What the last derivation wrote for some sessions: every key, so that rows the new
-- derivation no longer produces get a tombstone. kind / key parts per table.
SELECT 'llm_sessions' AS kind, session_id AS k1, '' AS k2, '' AS k3, 0 AS idx
FROM llm_sessions FINAL WHERE org_id = {org:String} AND session_id IN {sessions:Array(String)}
UNION ALL
SELECT 'threads', thread_id, '', '', 0
FROM llm_sessions FINAL WHERE org_id = {org:String} AND session_id IN {sessions:Array(String)}
UNION ALL
SELECT 'threads', thread_id, '', '', 0
FROM threads FINAL WHERE org_id = {org:String} AND hasAny(session_ids, {sessions:Array(String)})
UNION ALL
SELECT 'session_segments', session_id, '', '', segment_index
FROM session_segments FINAL WHERE org_id = {org:String} AND session_id IN {sessions:Array(String)}
UNION ALL
SELECT 'session_links', from_session_id, to_session_id, toString(link_type), 0
FROM session_links FINAL
WHERE org_id = {org:String} AND (from_session_id IN {sessions:Array(String)} OR to_session_id IN {sessions:Array(String)})
UNION ALL
SELECT 'compactions', session_id, compaction_key, '', 0
FROM compactions FINAL WHERE org_id = {org:String} AND session_id IN {sessions:Array(String)}
UNION ALL
SELECT 'cli_runs', cli_run_id, '', '', 0
FROM cli_runs FINAL WHERE org_id = {org:String} AND hasAny(session_ids, {sessions:Array(String)})

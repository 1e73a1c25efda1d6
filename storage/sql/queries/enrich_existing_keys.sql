-- What the last derivation wrote for some (org, session) pairs: every key, so that rows
-- the new derivation no longer produces get a tombstone. org / kind / key parts per table.
SELECT org_id, 'llm_sessions' AS kind, session_id AS k1, '' AS k2, '' AS k3, 0 AS idx
FROM llm_sessions FINAL WHERE org_id IN {orgs:Array(String)} AND (org_id, session_id) IN {keys:Array(Tuple(String, String))}
UNION ALL
SELECT org_id, 'threads', thread_id, '', '', 0
FROM llm_sessions FINAL WHERE org_id IN {orgs:Array(String)} AND (org_id, session_id) IN {keys:Array(Tuple(String, String))}
UNION ALL
SELECT org_id, 'threads', thread_id, '', '', 0
FROM threads FINAL WHERE org_id IN {orgs:Array(String)} AND hasAny(arrayMap(s -> (org_id, s), session_ids), {keys:Array(Tuple(String, String))})
UNION ALL
SELECT org_id, 'session_segments', session_id, '', '', segment_index
FROM session_segments FINAL WHERE org_id IN {orgs:Array(String)} AND (org_id, session_id) IN {keys:Array(Tuple(String, String))}
UNION ALL
SELECT org_id, 'session_links', from_session_id, to_session_id, toString(link_type), 0
FROM session_links FINAL
WHERE org_id IN {orgs:Array(String)} AND ((org_id, from_session_id) IN {keys:Array(Tuple(String, String))} OR (org_id, to_session_id) IN {keys:Array(Tuple(String, String))})
UNION ALL
SELECT org_id, 'compactions', session_id, compaction_key, '', 0
FROM compactions FINAL WHERE org_id IN {orgs:Array(String)} AND (org_id, session_id) IN {keys:Array(Tuple(String, String))}
UNION ALL
SELECT org_id, 'cli_runs', cli_run_id, '', '', 0
FROM cli_runs FINAL WHERE org_id IN {orgs:Array(String)} AND hasAny(arrayMap(s -> (org_id, s), session_ids), {keys:Array(Tuple(String, String))})

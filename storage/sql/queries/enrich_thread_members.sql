-- The sessions that shared a thread with the given (org, session) pairs in the last
-- derivation, so a thread is always re-derived whole (and a re-rooted thread gets its
-- tombstone).
SELECT DISTINCT org_id, session_id
FROM llm_sessions FINAL
WHERE org_id IN {orgs:Array(String)}
  AND (org_id, thread_id) IN (
      SELECT org_id, thread_id FROM llm_sessions FINAL
      WHERE org_id IN {orgs:Array(String)} AND (org_id, session_id) IN {keys:Array(Tuple(String, String))}
  )

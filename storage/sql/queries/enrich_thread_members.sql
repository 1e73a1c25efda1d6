-- The sessions that shared a thread with the given ones in the last derivation, so a
-- thread is always re-derived whole (and a re-rooted thread gets its tombstone).
SELECT DISTINCT session_id
FROM llm_sessions FINAL
WHERE org_id = {org:String}
  AND thread_id IN (
      SELECT thread_id FROM llm_sessions FINAL
      WHERE org_id = {org:String} AND session_id IN {sessions:Array(String)}
  )

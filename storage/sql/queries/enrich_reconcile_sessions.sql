-- Sessions a reconcile pass re-derives: every session with events in the look-back
-- window, every session still open (its idle timeout may have passed), and every session
-- a delete marked for re-derivation in the window (0005 rederive_marks).
SELECT DISTINCT OrgId AS org_id, SessionId AS session_id
FROM events
WHERE Timestamp > {since:DateTime64(6)}
UNION DISTINCT
SELECT org_id, session_id
FROM llm_sessions FINAL
WHERE close_reason = 'open'
UNION DISTINCT
SELECT org_id, session_id
FROM rederive_marks
WHERE marked_at > {since:DateTime64(6)}

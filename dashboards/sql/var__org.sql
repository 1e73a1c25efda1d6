-- Organisations that have sessions.
SELECT DISTINCT org_id FROM v_llm_sessions ORDER BY org_id

-- Models used in the organisation.
SELECT DISTINCT arrayJoin(models) AS model
FROM v_llm_sessions
WHERE org_id = ${org:singlequote}
ORDER BY model

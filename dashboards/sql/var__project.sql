-- Projects of the organisation: value project_id, text the project name when known.
SELECT project_id, any(if(project_name != '', project_name, project_id)) AS label
FROM v_llm_sessions
WHERE org_id = ${org:singlequote} AND project_id != ''
GROUP BY project_id
ORDER BY label

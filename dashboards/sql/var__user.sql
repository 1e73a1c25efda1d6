-- Users of the organisation: value user_id, text the e-mail when known.
SELECT user_id, any(if(user_email != '', user_email, user_id)) AS label
FROM v_llm_sessions
WHERE org_id = ${org:singlequote} AND user_id != ''
GROUP BY user_id
ORDER BY label

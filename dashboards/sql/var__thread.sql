-- Threads active in the time range, newest first: value thread_id, text its title.
SELECT thread_id, concat(formatDateTime(last_activity_at, '%Y-%m-%d %H:%i'), '  ', if(title != '', left(title, 60), thread_id)) AS label
FROM v_conversations
WHERE org_id = ${org:singlequote} AND $__timeFilter(last_activity_at) AND NOT archived
ORDER BY last_activity_at DESC
LIMIT 1000

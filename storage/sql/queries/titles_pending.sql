-- Model titles: conversations whose first prompt is known, the user has not renamed, and
-- whose model title is missing or was made beside another automatic title.
--   limit UInt32
SELECT t.org_id AS org_id, t.thread_id AS thread_id, t.title AS auto_title, s.prompt AS first_prompt
FROM (SELECT org_id, thread_id, title, root_session_id, session_ids FROM threads FINAL WHERE is_deleted = 0) AS t
INNER JOIN
(
    -- the thread's first prompt: of its first session that has a real one
    SELECT org_id, thread_id, argMin(first_prompt, (thread_position, started_at)) AS prompt
    FROM llm_sessions FINAL
    WHERE is_deleted = 0 AND first_prompt != '' AND NOT match(first_prompt, '^[\\s<\\[(]*(?i:redacted)[\\s>\\])]*$')
    GROUP BY org_id, thread_id
) AS s ON s.org_id = t.org_id AND s.thread_id = t.thread_id
LEFT JOIN (SELECT org_id, target_id, title FROM management_overrides FINAL WHERE kind = 'thread') AS o
    ON o.org_id = t.org_id AND o.target_id = t.thread_id
LEFT JOIN (SELECT org_id, thread_id, basis FROM generated_titles FINAL) AS g
    ON g.org_id = t.org_id AND g.thread_id = t.thread_id
WHERE o.title = '' AND g.basis != t.title
ORDER BY t.org_id, t.thread_id
LIMIT {limit:UInt32}

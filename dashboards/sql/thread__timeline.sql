-- Everything that starts, breaks or ends a piece of the thread, in time order: segment
-- starts (startup, resume, continue, fork, clear, compact), compactions (tokens before ->
-- after), links to other sessions (clear and fork breaks, resumes under a new id) and
-- session closes.
SELECT time, session_id, kind, detail
FROM
(
    SELECT g.started_at AS time, g.session_id AS session_id, concat('start: ', g.source) AS kind,
           concat('segment ', toString(g.segment_index), ', ', toString(g.event_count), ' events, ', g.evidence) AS detail
    FROM v_session_segments AS g
    WHERE g.org_id = ${org:singlequote}
      AND g.session_id IN (SELECT session_id FROM v_llm_sessions WHERE org_id = ${org:singlequote} AND thread_id = ${thread:singlequote})
    UNION ALL
    SELECT c.timestamp, c.session_id, concat('compaction: ', c.trigger, if(c.success = 1, '', ' (failed)')),
           concat(ifNull(toString(c.pre_tokens), '?'), ' -> ', ifNull(toString(c.post_tokens), '?'), ' tokens', if(c.error != '', concat(', ', c.error), ''))
    FROM v_compactions AS c
    WHERE c.org_id = ${org:singlequote} AND c.thread_id = ${thread:singlequote}
    UNION ALL
    SELECT l.created_at, l.to_session_id, concat('link: ', l.link_type),
           concat(l.from_session_id, ' -> ', l.to_session_id, ' (', l.evidence, ')')
    FROM v_session_links AS l
    WHERE l.org_id = ${org:singlequote}
      AND (l.from_session_id IN (SELECT session_id FROM v_llm_sessions WHERE org_id = ${org:singlequote} AND thread_id = ${thread:singlequote})
           OR l.to_session_id IN (SELECT session_id FROM v_llm_sessions WHERE org_id = ${org:singlequote} AND thread_id = ${thread:singlequote}))
    UNION ALL
    SELECT assumeNotNull(s.closed_at), s.session_id, concat('close: ', s.close_reason), s.close_evidence
    FROM v_llm_sessions AS s
    WHERE s.org_id = ${org:singlequote} AND s.thread_id = ${thread:singlequote} AND s.closed_at IS NOT NULL
)
WHERE $__conditionalAll(session_id IN (${session:singlequote}), $session)
ORDER BY time, session_id, kind

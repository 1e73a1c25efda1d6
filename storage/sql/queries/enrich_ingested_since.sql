-- Sessions with events stored after a point in time (by any receiver process): the
-- incremental enrichment pass's watermark query. Sessions marked for re-derivation by a
-- delete (0005 rederive_marks, storage clock like IngestedAt) count as new too, so an API
-- process of its own gets the rest of a conversation re-derived by the enrichers.
SELECT org_id, session_id, max(ingested_ms) AS ingested_ms
FROM
(
    SELECT OrgId AS org_id, SessionId AS session_id, toUnixTimestamp64Milli(max(IngestedAt)) AS ingested_ms
    FROM events
    WHERE IngestedAt > {since:DateTime64(3)}
    GROUP BY OrgId, SessionId
    UNION ALL
    SELECT org_id, session_id, toUnixTimestamp64Milli(max(marked_at)) AS ingested_ms
    FROM rederive_marks
    WHERE marked_at > {since:DateTime64(3)}
    GROUP BY org_id, session_id
)
GROUP BY org_id, session_id

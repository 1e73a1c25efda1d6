-- Sessions with events stored after a point in time (by any receiver process): the
-- incremental enrichment pass's watermark query.
SELECT OrgId AS org_id, SessionId AS session_id, toUnixTimestamp64Milli(max(IngestedAt)) AS ingested_ms
FROM events
WHERE IngestedAt > {since:DateTime64(3)}
GROUP BY OrgId, SessionId

-- The incremental enrichment pass's watermark query: what was stored (by any receiver
-- process) since the last pass, reading each new row's ids once, plus a cheap check of the
-- overlap behind the watermark for commits that arrived out of order.
--   watermark DateTime64(3): the newest IngestedAt the last pass saw
--   since     DateTime64(3): watermark minus the overlap (WATERMARK_OVERLAP_MS)
-- kind 'new':   rows stored after the watermark, per session and IngestedAt ms (row count);
-- kind 'block': the overlap, counted per IngestedAt ms (reads IngestedAt alone); the
--               Enricher compares each count with the 'new' rows it saw at that ms, and
--               reads the sessions of a ms whose count changed (enrich_ingested_late.sql);
-- kind 'mark':  sessions marked for re-derivation by a delete (0005 rederive_marks, storage
--               clock like IngestedAt) in the overlap or later, so an API process of its own
--               gets the rest of a conversation re-derived by the enrichers.
SELECT 'new' AS kind, OrgId AS org_id, SessionId AS session_id, toUnixTimestamp64Milli(IngestedAt) AS ingested_ms, count() AS row_count
FROM events
WHERE IngestedAt > {watermark:DateTime64(3)}
GROUP BY OrgId, SessionId, IngestedAt
UNION ALL
SELECT 'block', '', '', toUnixTimestamp64Milli(IngestedAt), count()
FROM events
WHERE IngestedAt > {since:DateTime64(3)} AND IngestedAt <= {watermark:DateTime64(3)}
GROUP BY IngestedAt
UNION ALL
SELECT 'mark', org_id, session_id, toUnixTimestamp64Milli(max(marked_at)), 0
FROM rederive_marks
WHERE marked_at > {since:DateTime64(3)}
GROUP BY org_id, session_id

-- The sessions of some IngestedAt milliseconds inside the watermark's overlap whose rows
-- changed since the Enricher last saw them (a commit that arrived out of order, or rows
-- merged or deleted away): per session and ms, row count (enrich_ingested_since.sql).
--   low, high DateTime64(3): the range of the ms; ms Array(Int64): the ms themselves
SELECT OrgId AS org_id, SessionId AS session_id, toUnixTimestamp64Milli(IngestedAt) AS ingested_ms, count() AS row_count
FROM events
WHERE IngestedAt >= {low:DateTime64(3)} AND IngestedAt <= {high:DateTime64(3)}
  AND toUnixTimestamp64Milli(IngestedAt) IN {ms:Array(Int64)}
GROUP BY OrgId, SessionId, IngestedAt

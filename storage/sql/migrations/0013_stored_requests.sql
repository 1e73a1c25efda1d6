-- The requests whose raw rows (otel_* tables) are stored, by their dedup token
-- (receiver/batch.py request_token: the signal and a hash of the request body).
--
-- Why: the writer inserts the raw rows of every request waiting for it as one block per
-- table (receiver/pipeline.py). The cost in ClickHouse is mostly per insert and per part (each
-- part is files to create, then merges to rewrite it): per row, an insert of 2,048 rows costs
-- about 40 % of what inserts of 512 do (docs/benchmarks.md). The deduplication of ClickHouse itself
-- names one inserted block, so it cannot tell that a retry of one request of a merged block is
-- already stored; this table can. The writer reads it before each write and adds the
-- tokens of the written requests right after their raw rows, before they are acknowledged.
-- An exporter retries within minutes: a token is kept for a day.
CREATE TABLE IF NOT EXISTS stored_requests
(
    Token     String,
    StoredAt  DateTime DEFAULT now()
)
ENGINE = MergeTree
PARTITION BY toDate(StoredAt)
ORDER BY Token
TTL StoredAt + INTERVAL 1 DAY
SETTINGS ttl_only_drop_parts = 1;

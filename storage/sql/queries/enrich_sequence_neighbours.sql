-- Candidate events continuing (or preceding) a process boundary of the given sessions
-- ({keys}: (org, session) pairs): other sessions' events with one of the probed (org,
-- sequence number, user) triples inside the overall time range. The triples are one set:
-- separate `Sequence IN` and `UserId IN` lists matched the small sequence numbers of every
-- process of the same users (~2 rows per event). enrich/service.py matches each row
-- against its probe's exact window (org, seq, user, [low, high]) with a dictionary:
-- matching in SQL with arrayExists over every probe was O(rows x probes), quadratic for a
-- session with many fragments.
SELECT OrgId, SessionId, assumeNotNull(Sequence) AS seq, UserId, toUnixTimestamp64Micro(Timestamp) AS ts
FROM events
WHERE OrgId IN {orgs:Array(String)}
  AND (OrgId, SessionId) NOT IN {keys:Array(Tuple(String, String))}
  AND Timestamp BETWEEN {low:DateTime64(6)} AND {high:DateTime64(6)}
  AND (OrgId, assumeNotNull(Sequence), UserId) IN {probes:Array(Tuple(String, Int64, String))}
  AND Sequence IS NOT NULL

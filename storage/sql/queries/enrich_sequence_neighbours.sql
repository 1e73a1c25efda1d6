-- Candidate events continuing (or preceding) a process boundary of the given sessions:
-- other sessions' events with one of the probed (sequence number, user) pairs inside the
-- overall time range. The pairs are one set: separate `Sequence IN` and `UserId IN` lists
-- matched the small sequence numbers of every process of the same users (~2 rows per
-- event). enrich/service.py matches each row against its probe's exact window
-- (seq, user, [low, high]) with a dictionary: matching in SQL with arrayExists over every
-- probe was O(rows x probes), quadratic for a session with many fragments.
SELECT SessionId, assumeNotNull(Sequence) AS seq, UserId, toUnixTimestamp64Micro(Timestamp) AS ts
FROM events
WHERE OrgId = {org:String}
  AND SessionId NOT IN {sessions:Array(String)}
  AND Timestamp BETWEEN {low:DateTime64(6)} AND {high:DateTime64(6)}
  AND (assumeNotNull(Sequence), UserId) IN {pairs:Array(Tuple(Int64, String))}
  AND Sequence IS NOT NULL

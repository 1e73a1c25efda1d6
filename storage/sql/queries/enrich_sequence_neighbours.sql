-- Candidate events continuing (or preceding) a process boundary of the given sessions:
-- other sessions' events of the same users with one of the probed sequence numbers inside
-- the overall time range. enrich/service.py matches each row against its probe's exact
-- window (seq, user, [low, high]) with a dictionary: matching in SQL with arrayExists over
-- every probe was O(rows x probes), quadratic for a session with many fragments.
SELECT SessionId, assumeNotNull(Sequence) AS seq, UserId, toUnixTimestamp64Micro(Timestamp) AS ts
FROM events
WHERE OrgId = {org:String}
  AND SessionId NOT IN {sessions:Array(String)}
  AND Timestamp BETWEEN {low:DateTime64(6)} AND {high:DateTime64(6)}
  AND Sequence IN {seqs:Array(Int64)}
  AND UserId IN {users:Array(String)}

-- Sessions with an event that continues (or precedes) a process boundary of the given
-- sessions: same user, the given sequence number, inside the given time window. One probe
-- per array position: seqs[i], users[i], window [lows[i], highs[i]].
-- The outer time range only narrows the scan; arrayExists applies the exact windows.
SELECT DISTINCT SessionId
FROM events
WHERE OrgId = {org:String}
  AND SessionId NOT IN {sessions:Array(String)}
  AND Timestamp BETWEEN {low:DateTime64(6)} AND {high:DateTime64(6)}
  AND Sequence IN {seqs:Array(Int64)}
  AND arrayExists(
        (s, u, a, b) -> assumeNotNull(Sequence) = s AND UserId = u AND Timestamp >= a AND Timestamp <= b,
        {seqs:Array(Int64)}, {users:Array(String)}, {lows:Array(DateTime64(6))}, {highs:Array(DateTime64(6))})

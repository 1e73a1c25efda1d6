-- Sessions that may have to be derived together with the given ones: they name one of
-- them as parent (hook bridge fork / resume records), or share a hook-bridge CLI run id.
-- {keys}: the (org, session) pairs of the groups, {runs}: their (org, CLI run id) pairs;
-- a match is always within the pair's org. {parent_ids} / {run_ids} are the same ids
-- without their orgs: the engine checks them first on the two columns alone (PREWHERE)
-- and reads the rest only for the few rows that pass (a tuple IN read every column it
-- names for every row of the orgs: x0.5-0.6 a call; docs/benchmarks.md, "query scale").
SELECT DISTINCT OrgId, SessionId
FROM events
WHERE OrgId IN {orgs:Array(String)}
  AND (ParentSessionId IN {parent_ids:Array(String)} OR CliRunId IN {run_ids:Array(String)})
  AND (OrgId, SessionId) NOT IN {keys:Array(Tuple(String, String))}
  AND ((OrgId, ParentSessionId) IN {keys:Array(Tuple(String, String))}
       OR (CliRunId != '' AND (OrgId, CliRunId) IN {runs:Array(Tuple(String, String))}))

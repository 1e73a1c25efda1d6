-- Sessions that may have to be derived together with the given ones: they name one of
-- them as parent (hook bridge fork / resume records), or share a hook-bridge CLI run id.
SELECT DISTINCT SessionId
FROM events
WHERE OrgId = {org:String}
  AND SessionId NOT IN {sessions:Array(String)}
  AND (ParentSessionId IN {sessions:Array(String)} OR (CliRunId != '' AND CliRunId IN {runs:Array(String)}))

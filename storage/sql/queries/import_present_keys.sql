-- Which of some import records storage already holds (loomline import, direct mode): the
-- same EventKey in the same session of the same tenant is the same record.
SELECT DISTINCT EventKey
FROM events
WHERE OrgId = {org:String}
  AND SessionId IN {sessions:Array(String)}
  AND EventKey IN {keys:Array(UInt64)}

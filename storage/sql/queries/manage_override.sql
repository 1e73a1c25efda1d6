-- Management: the user's current title / archived flag of one conversation or session.
--   org String, kind String ('thread' | 'session'), target String
SELECT title, archived, updated_at
FROM management_overrides FINAL
WHERE org_id = {org:String} AND kind = {kind:String} AND target_id = {target:String}
LIMIT 1

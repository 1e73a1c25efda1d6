-- The enrichers seen since {since}: who shares the work, and since when.
SELECT member, joined_at
FROM enricher_members FINAL
WHERE is_deleted = 0 AND seen_at >= {since:DateTime64(3, 'UTC')}
ORDER BY member

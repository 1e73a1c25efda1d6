-- Enrichers sharing one database (loomline serve --role enricher, several of them) split the
-- groups of sessions between them. Each one records itself here every pass; the members seen
-- within the membership TTL are the live ones, and a group belongs to one live member by
-- rendezvous hashing (enrich/membership.py). A member that stops writes a tombstone
-- (is_deleted = 1); one that dies just stops being seen, and its share moves to the others.
CREATE TABLE IF NOT EXISTS enricher_members
(
    member      String,
    joined_at   DateTime64(3, 'UTC'),
    seen_at     DateTime64(3, 'UTC'),
    is_deleted  UInt8 DEFAULT 0
)
ENGINE = ReplacingMergeTree(seen_at, is_deleted)
ORDER BY member;

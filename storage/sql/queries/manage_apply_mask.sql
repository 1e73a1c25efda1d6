-- Management: rewrite the parts holding rows masked by lightweight DELETE so their bytes
-- leave disk (an asynchronous mutation; old parts go after old_parts_lifetime).
--   {table:Identifier}: replaced by the mutation target (storage.management._on_target)
ALTER TABLE {table:Identifier} APPLY DELETED MASK

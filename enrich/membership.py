"""Several enrichers over one database split the work between them, coordinating through
the database alone (``enricher_members``, migration 0009).

Every pass a member records itself (``beat``) and reads who else was seen within the TTL. A
group of sessions (named by its org and its smallest session id, the same whichever of its
sessions a pass started from) belongs to exactly one *active* member: the one with the
highest hash of (member, group), rendezvous hashing, so a member joining or leaving moves
only its own share. A new member becomes active once it has been seen for one TTL (the
others have noticed it by then), unless nobody is active yet. A member that stops writes a
tombstone and its share moves at once; one that dies stops being seen, and after the TTL
the survivors see the change, rewind their watermark past what the dead member may have
read but not derived, and take its share. Derivation is deterministic and versioned, so
even the short overlap while members disagree writes identical rows.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from storage.client import Storage
from storage.sql_files import load_query


def _dt(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


class Membership:
    """This process's place among the enrichers of one database."""

    def __init__(self, storage: Storage, member: str | None = None, ttl_seconds: float = 15.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.storage = storage
        self.member = member or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.ttl = ttl_seconds
        self.clock = clock
        self.joined_at: float | None = None
        self.active: tuple[str, ...] = ()

    def beat(self) -> bool:
        """Record this member as alive and read the active members; True when they changed
        since the last beat (the caller then re-reads what a departed member may have left)."""
        now = self.clock()
        if self.joined_at is None:
            self.joined_at = now
        self._write(now, deleted=False)
        live = self.storage.query_rows(load_query("enrich_members_live"), {"since": _dt(now - self.ttl)})
        settled = tuple(m for m, joined in live if joined.replace(tzinfo=UTC).timestamp() <= now - self.ttl)
        active = settled or tuple(m for m, _ in live)
        changed = active != self.active
        self.active = active
        return changed

    def leave(self) -> None:
        """Stop sharing: the others take this member's share at their next beat."""
        if self.joined_at is not None:
            self._write(self.clock(), deleted=True)
        self.active = ()

    def owns(self, org: str, group: set[str]) -> bool:
        """Whether this member derives the group (every member answers the same for the
        same active set)."""
        if not self.active:
            return False
        key = f"{org}\x00{min(group)}".encode()
        owner = max(self.active, key=lambda m: hashlib.blake2b(m.encode() + b"\x00" + key, digest_size=8).digest())
        return owner == self.member

    def _write(self, now: float, deleted: bool) -> None:
        assert self.joined_at is not None
        self.storage.insert_columns("enricher_members", {
            "member": [self.member],
            "joined_at": [_dt(self.joined_at)],
            "seen_at": [_dt(now)],
            "is_deleted": [1 if deleted else 0],
        })

"""What a decoded export request becomes: column-oriented rows per table, plus counts."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from receiver.attributes import LimitCounters
from receiver.auth import OPEN_GRANT, Grant


@dataclass
class DecodeContext:
    """Facts about the request that are not in its body: who sent it, what it may write."""

    default_org: str = "default"  # org of the receiver token that sent it, else 'default'
    grant: Grant | None = None  # None: the token's home org only (or, without auth, any org)
    overridden: int = 0  # records whose organization.id the token may not write
    refused_orgs: dict[str, None] = field(default_factory=dict)  # those claims, first seen first
    _permitted: dict[str, str] = field(default_factory=dict, repr=False)  # claim -> org ('' refused)

    def __post_init__(self) -> None:
        if self.grant is None:
            self.grant = OPEN_GRANT if self.default_org == "default" else Grant(home=self.default_org)
        self.default_org = self.grant.home

    def org_for(self, claimed: str) -> str:
        """The org a record is stored under: its claimed ``organization.id`` when the token
        may write it, else the token's home org (counted for the partial-success message)."""
        if not claimed:
            return self.default_org
        org = self._permitted.get(claimed)
        if org is None:
            assert self.grant is not None
            org = claimed if self.grant.permits(claimed) else ""
            if len(self._permitted) < 1024:
                self._permitted[claimed] = org
        if org:
            return org
        self.overridden += 1
        if len(self.refused_orgs) < 3:
            self.refused_orgs[claimed[:64]] = None
        return self.default_org

    def org_warning(self) -> str:
        """Partial-success text for overridden org claims ('' when there were none)."""
        if not self.overridden:
            return ""
        claims = ", ".join(repr(o) for o in self.refused_orgs)
        return (
            f"{self.overridden} records named an organization.id this token may not write ({claims}):"
            f" stored under the token's org {self.default_org!r}"
        )


@dataclass
class DecodedBatch:
    """One export request, decoded. ``tables`` maps table → column → values."""

    signal: str
    tables: dict[str, dict[str, list[Any]]] = field(default_factory=dict)
    accepted: int = 0  # records (log records, spans, data points) that will be stored
    rejected: int = 0  # records that could not be taken at all
    warnings: list[str] = field(default_factory=list)
    limits: LimitCounters = field(default_factory=LimitCounters)
    sessions: set[tuple[str, str]] = field(default_factory=set)  # (org, session id) touched
    dedup_token: str = ""  # identifies the request body, for insert deduplication

    def table(self, name: str, columns: tuple[str, ...]) -> dict[str, list[Any]]:
        existing = self.tables.get(name)
        if existing is None:
            existing = {column: [] for column in columns}
            self.tables[name] = existing
        return existing

    def row_count(self, table: str) -> int:
        columns = self.tables.get(table)
        if not columns:
            return 0
        return len(next(iter(columns.values())))

    def error_message(self) -> str:
        """Partial-success message: what was rejected, truncated or dropped, and why."""
        parts = list(dict.fromkeys(self.warnings))
        if self.limits.dropped_attributes:
            parts.append(f"{self.limits.dropped_attributes} attributes dropped (over the per-record limit)")
        if self.limits.truncated_values:
            parts.append(f"{self.limits.truncated_values} attribute values truncated (over the length limit)")
        if self.limits.long_keys:
            parts.append(f"{self.limits.long_keys} attributes dropped (key over the key-length limit)")
        if self.limits.out_of_range:
            parts.append(
                f"{self.limits.out_of_range} numeric values out of range (tokens, cost, duration) left out of"
                " typed columns (kept in the raw attributes)"
            )
        return "; ".join(parts)


MAX_NS = 2**63 - 1  # DateTime64(9) is a signed 64-bit count of nanoseconds


def clamp_ns(value: int) -> int:
    """OTLP times are uint64; ClickHouse's DateTime64 is int64. Clamp rather than fail the
    insert (which would make the exporter retry a poison request forever)."""
    return value if value <= MAX_NS else MAX_NS


def request_token(signal: str, body: bytes) -> str:
    """A stable id for a request body: retries of it dedup at insert."""
    return signal + ":" + hashlib.blake2b(body, digest_size=16).hexdigest()


def record_key(serialized: bytes) -> int:
    """64-bit key of one record's deterministic encoding (the events table's EventKey)."""
    return int.from_bytes(hashlib.blake2b(serialized, digest_size=8).digest(), "little")

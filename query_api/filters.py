"""Query parameters shared by the list endpoints, validated once, turned into the bound
parameters of the ``api_*.sql`` queries (every filter is always bound; '' or 0 means
"no filter", so the SQL text never changes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import Query

from query_api.errors import invalid

# DateTime64(6) holds 1900..2299; data is never before 1970.
MIN_US = 0
MAX_US = 10_413_791_999_000_000  # 2299-12-31T23:59:59Z

Format = Literal["json", "csv", "parquet"]
Order = Literal["asc", "desc"]
Status = Literal["active", "closed"]

TEXT = {"max_length": 512}

FromParam = Annotated[datetime | None, Query(
    alias="from", description="start of the time range (ISO 8601; no zone means UTC), inclusive")]
ToParam = Annotated[datetime | None, Query(
    description="end of the time range (ISO 8601; no zone means UTC), exclusive")]
UserParam = Annotated[str, Query(description="user id or email", **TEXT)]
ProjectParam = Annotated[str, Query(description="project id or name", **TEXT)]
AgentParam = Annotated[str, Query(description="agent name", **TEXT)]
ModelParam = Annotated[str, Query(description="model name (e.g. claude-sonnet-4-5)", **TEXT)]
RepositoryParam = Annotated[str, Query(
    description="repository id (github.com/acme/api), or its last part (api)", **TEXT)]
BranchParam = Annotated[str, Query(description="git branch", **TEXT)]
StatusParam = Annotated[Status | None, Query(description="active or closed")]
MinCostParam = Annotated[float, Query(ge=0, le=1e12, allow_inf_nan=False,
                                      description="reported cost at least this (USD)")]
OrderParam = Annotated[Order, Query(description="desc (largest / newest first, default) or asc")]
LimitParam = Annotated[int, Query(ge=1, le=10_000, description="rows per page (1..10000)")]
CursorParam = Annotated[str | None, Query(
    max_length=2048, description="next_cursor of the previous page (opaque)")]
IncludeArchivedParam = Annotated[bool, Query(description="also list archived items (default: hidden)")]
FormatParam = Annotated[Format, Query(
    description="json (default), csv or parquet; exports carry the next cursor in X-Next-Cursor")]


def to_micros(value: datetime | None, default: int) -> int:
    if value is None:
        return default
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - datetime(1970, 1, 1, tzinfo=UTC)
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return min(max(micros, MIN_US), MAX_US)


@dataclass(frozen=True)
class TimeRange:
    from_us: int
    to_us: int

    @classmethod
    def parse(cls, start: datetime | None, end: datetime | None) -> TimeRange:
        from_us, to_us = to_micros(start, MIN_US), to_micros(end, MAX_US)
        if start is not None and end is not None and from_us >= to_us:
            raise invalid("to", "must be after 'from'")
        return cls(from_us, to_us)

    def params(self) -> dict[str, Any]:
        return {"from_us": self.from_us, "to_us": self.to_us}


@dataclass(frozen=True)
class ListFilters:
    """The filters of /conversations and /llm_sessions."""

    time: TimeRange
    user: str
    project: str
    agent: str
    model: str
    status: str
    min_cost: float
    repository: str = ""
    branch: str = ""

    def params(self) -> dict[str, Any]:
        return {
            "repository": self.repository,
            "branch": self.branch,
            **self.time.params(),
            "user": self.user,
            "project": self.project,
            "agent": self.agent,
            "model": self.model,
            "status": self.status,
            "min_cost": float(self.min_cost),
        }

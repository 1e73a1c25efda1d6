"""GET /api/v1/{org_id}/usage: cost and tokens grouped by any of thread, session, user,
project, model and a day or hour bucket."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from query_api import exports, filters, pagination
from query_api.auth import Org
from query_api.errors import invalid
from query_api.exports import utc
from query_api.queries import run

router = APIRouter(tags=["usage"])

DIMENSIONS = ("thread", "session", "user", "project", "model", "repository", "branch", "day", "hour")
Dimension = Literal["thread", "session", "user", "project", "model", "repository", "branch", "day", "hour"]
GROUPS = ("thread", "session", "user", "project", "model", "repository", "branch")

# Columns each dimension adds to a row, in output order.
DIMENSION_COLUMNS: dict[str, exports.Columns] = {
    "period": {"period": "datetime"},
    "thread": {"thread_id": "str"},
    "session": {"session_id": "str"},
    "user": {"user_id": "str", "user_email": "str"},
    "project": {"project_id": "str", "project_name": "str"},
    "model": {"model": "str"},
    "repository": {"repository": "str"},
    "branch": {"git_branch": "str"},
}
METRIC_COLUMNS: exports.Columns = {
    "api_request_count": "int",
    "session_count": "int",
    "input_tokens": "int",
    "output_tokens": "int",
    "cache_read_tokens": "int",
    "cache_creation_tokens": "int",
    "total_tokens": "int",
    "estimated_cost_usd": "float",
    "cost_micros": "int",
}
ALL_COLUMNS: exports.Columns = {
    **{name: kind + "?" for spec in DIMENSION_COLUMNS.values() for name, kind in spec.items()},
    **METRIC_COLUMNS,
}
UsageRow = exports.item_model("UsageRow", ALL_COLUMNS)
UsagePage = exports.page_model("UsagePage", UsageRow)


def parse_group_by(values: list[str] | None) -> list[str]:
    """``group_by=thread,model`` or repeated ``group_by``; order does not matter."""
    chosen: list[str] = []
    for value in values or []:
        for part in value.split(","):
            name = part.strip()
            if not name:
                continue
            if name not in DIMENSIONS:
                raise invalid("group_by", f"unknown dimension {name[:50]!r}; expected any of {', '.join(DIMENSIONS)}")
            if name not in chosen:
                chosen.append(name)
    if "day" in chosen and "hour" in chosen:
        raise invalid("group_by", "choose day or hour, not both")
    return chosen


def columns_for(group_by: list[str]) -> exports.Columns:
    columns: dict[str, str] = {}
    if "day" in group_by or "hour" in group_by:
        columns.update(DIMENSION_COLUMNS["period"])
    for name in GROUPS:
        if name in group_by:
            columns.update(DIMENSION_COLUMNS[name])
    columns.update(METRIC_COLUMNS)
    return columns


def usage_item(row: dict[str, Any], columns: exports.Columns) -> dict[str, Any]:
    full = {
        "period": utc(row["period"]),
        "thread_id": row["thread_id"],
        "session_id": row["session_id"],
        "user_id": row["user_id"],
        "user_email": row["user_email"],
        "project_id": row["project_id"],
        "project_name": row["project_name"],
        "model": row["model"],
        "repository": row["repository"],
        "git_branch": row["git_branch"],
        "api_request_count": row["api_request_count"],
        "session_count": row["session_count"],
        "input_tokens": row["input_tokens"],
        "output_tokens": row["output_tokens"],
        "cache_read_tokens": row["cache_read_tokens"],
        "cache_creation_tokens": row["cache_creation_tokens"],
        "total_tokens": row["input_tokens"] + row["output_tokens"] + row["cache_read_tokens"] + row["cache_creation_tokens"],
        "estimated_cost_usd": float(row["cost_usd"]),
        "cost_micros": row["cost_micros"],
    }
    return {name: full[name] for name in columns}


@router.get(
    "/api/v1/{org_id}/usage",
    response_model=UsagePage,
    responses=exports.EXPORT_RESPONSES,
    summary="Cost and tokens grouped by thread, session, user, project, model, day or hour",
)
def usage(
    request: Request,
    org: Org,
    group_by: Annotated[list[str] | None, Query(
        description="dimensions, comma-separated or repeated: thread, session, user, project, model, "
                    "repository, branch, day or hour. None: one total row.")] = None,
    start: filters.FromParam = None,
    to: filters.ToParam = None,
    user: filters.UserParam = "",
    project: filters.ProjectParam = "",
    model: filters.ModelParam = "",
    thread: Annotated[str, Query(max_length=512, description="only this thread")] = "",
    session: Annotated[str, Query(max_length=512, description="only this session")] = "",
    repository: filters.RepositoryParam = "",
    branch: filters.BranchParam = "",
    limit: filters.LimitParam = 1000,
    cursor: filters.CursorParam = None,
    format: filters.FormatParam = "json",
) -> Response:
    """Sums over the org's ``api_request`` events in [from, to): request count, tokens
    by type, reported (estimated) cost. A row appears only for groups with requests.
    Rows come ordered by their group key; page with ``cursor`` like the lists."""
    dims = parse_group_by(group_by)
    time = filters.TimeRange.parse(start, to)
    params: dict[str, Any] = {
        "org": org, **time.params(),
        "bucket": "day" if "day" in dims else "hour" if "hour" in dims else "",
        **{f"g_{name}": int(name in dims) for name in GROUPS},
        "user": user, "project": project, "model": model, "thread": thread, "session": session,
        "repository": repository, "branch": branch,
    }
    fhash = pagination.filters_hash("usage", params)
    after: list[Any] = [0, "", "", "", "", "", "", ""]
    if cursor:
        after = pagination.decode_cursor(cursor, fhash, (int, str, str, str, str, str, str, str))
        if not -(2**63) <= after[0] < 2**63:
            raise invalid("cursor", "malformed: key out of range")
    rows = run(request.app.state.storage, "api_usage", {
        **params, "has_cursor": int(bool(cursor)), "after_period": after[0], "after_thread": after[1],
        "after_session": after[2], "after_user": after[3], "after_project": after[4], "after_model": after[5],
        "after_repository": after[6], "after_branch": after[7], "limit": limit + 1,
    })
    key = ("period_s", "thread_id", "session_id", "user_id", "project_id", "model", "repository", "git_branch")
    rows, next_cursor = pagination.page(rows, limit, lambda r: [r[k] for k in key], fhash)
    columns = columns_for(dims)
    items = [usage_item(row, columns) for row in rows]
    return exports.respond(items, columns, format, limit, next_cursor, "usage")

"""Unknown query parameters answer 422.

FastAPI ignores query parameters a route does not declare, so ``?limt=5`` or ``?bogus=1``
would silently return unfiltered data. A careful client would rather hear that its filter
was not understood; this dependency, on every data route, names the unknown parameters
and the ones the route accepts.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from query_api.errors import ApiError

_ACCEPTED: dict[int, frozenset[str]] = {}  # id(route) -> its query parameter names


def _query_names(dependant: Any) -> set[str]:
    """The query parameter names of a route's dependency tree (its own and its dependencies')."""
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def _accepted(route: Any) -> frozenset[str]:
    key = id(route)
    if key not in _ACCEPTED:
        _ACCEPTED[key] = frozenset(_query_names(route.dependant))
    return _ACCEPTED[key]


def reject_unknown_query_params(request: Request) -> None:
    """Dependency: 422 ``invalid_parameter`` naming every query parameter the route lacks."""
    route = request.scope.get("route")
    if route is None or not hasattr(route, "dependant"):
        return
    accepted = _accepted(route)
    unknown = sorted({name for name in request.query_params if name not in accepted})
    if unknown:
        known = ", ".join(sorted(accepted)) or "none"
        raise ApiError(
            422,
            f"unknown query parameter{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)} (this endpoint takes: {known})",
            details=[{"param": name, "message": "unknown parameter"} for name in unknown],
        )

"""Bearer tokens and tenancy.

Every token is allowed a set of org ids (``*``: all). Answers: 401 without a valid token,
403 for an org the token may not read. Writes (rename, archive, delete) need a token whose
org is writable (``TOKEN=ORG:rw`` in --api-tokens); a read-only token gets 403. With no
tokens configured (the embedded single-user default, loopback only) every org is readable
and writable without a token, and the audit log says "local". Ids that do
not exist in the org then answer 404 in the routes: another org's ids look exactly like
ids that do not exist.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from query_api.errors import ApiError
from storage.management import actor_of

bearer = HTTPBearer(auto_error=False, description="an API token from --api-tokens")

ORG_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"


def allowed_orgs(token: str, tokens: Mapping[str, frozenset[str]]) -> frozenset[str] | None:
    """The orgs ``token`` may read, or None for an unknown token. Compares every
    configured token in constant time, so timing does not tell how close a guess was."""
    found: frozenset[str] | None = None
    given = token.encode()
    for known, orgs in tokens.items():
        if hmac.compare_digest(known.encode(), given):
            found = orgs
    return found


def require_org(
    request: Request,
    org_id: Annotated[str, Path(description="organization id (an org of the token)", pattern=ORG_PATTERN)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    """Dependency of every org-scoped route: the org id, once the caller may read it."""
    tokens: Mapping[str, frozenset[str]] = request.app.state.settings.api_tokens
    if not tokens:
        return org_id
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise ApiError(401, "missing bearer token: send 'Authorization: Bearer <token>'", headers=challenge)
    orgs = allowed_orgs(credentials.credentials, tokens)
    if orgs is None:
        raise ApiError(401, "invalid bearer token", headers=challenge)
    if "*" not in orgs and org_id not in orgs:
        raise ApiError(403, f"this token may not read organization {org_id!r}")
    return org_id


Org = Annotated[str, Depends(require_org)]


def readable_orgs(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> frozenset[str] | None:
    """Dependency of the routes that span orgs (``GET /api/v1/orgs``): the orgs the caller
    may read, None for every org (no tokens configured, or a ``*`` token). 401 as above."""
    tokens: Mapping[str, frozenset[str]] = request.app.state.settings.api_tokens
    if not tokens:
        return None
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise ApiError(401, "missing bearer token: send 'Authorization: Bearer <token>'", headers=challenge)
    orgs = allowed_orgs(credentials.credentials, tokens)
    if orgs is None:
        raise ApiError(401, "invalid bearer token", headers=challenge)
    return None if "*" in orgs else orgs


ReadableOrgs = Annotated[frozenset[str] | None, Depends(readable_orgs)]

class Writer:
    """The org a write goes to, and who writes (``token:<fingerprint>`` or ``local``)."""

    def __init__(self, org: str, actor: str) -> None:
        self.org = org
        self.actor = actor


def require_writer(
    request: Request,
    org_id: Annotated[str, Path(description="organization id (a writable org of the token)", pattern=ORG_PATTERN)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Writer:
    """Dependency of every write route: the org once the caller may write it."""
    org = require_org(request, org_id, credentials)
    tokens: Mapping[str, frozenset[str]] = request.app.state.settings.api_tokens
    if not tokens:
        return Writer(org, actor_of(None))
    assert credentials is not None  # require_org answered 401 otherwise
    orgs = allowed_orgs(credentials.credentials, tokens)
    writable: frozenset[str] = getattr(orgs, "writable", frozenset())
    if "*" not in writable and org not in writable:
        raise ApiError(403, f"this token may read but not change organization {org!r} (needs ORG:rw in --api-tokens)")
    return Writer(org, actor_of(credentials.credentials))


Write = Annotated[Writer, Depends(require_writer)]

"""Receiver bearer tokens: each token maps to an organization."""

from __future__ import annotations

import hmac
from collections.abc import Mapping


class Unauthenticated(PermissionError):
    pass


def org_for_authorization(header: str | None, tokens: Mapping[str, str], default_org: str = "default") -> str:
    """The org a request belongs to. With no tokens configured every request is accepted
    (org 'default'); with tokens, a valid ``Bearer <token>`` is required."""
    if not tokens:
        return default_org
    if not header:
        raise Unauthenticated("missing Authorization: Bearer <token>")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Authorization must be 'Bearer <token>'")
    token = token.strip()
    for known, org in tokens.items():
        if hmac.compare_digest(known.encode(), token.encode()):
            return org
    raise Unauthenticated("unknown bearer token")

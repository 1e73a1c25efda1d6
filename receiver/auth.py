"""Receiver bearer tokens: each token names the orgs it may write.

A token's org is authoritative. ``--receiver-tokens rtA=orgA`` stores everything ``rtA``
sends under ``orgA``, whatever ``organization.id`` the records claim; ``rtG=orgA|orgB``
honours a record's ``organization.id`` when it is ``orgA`` or ``orgB``; ``rtG=*`` (a trusted
gateway) honours any. A record claiming an org its token may not write is stored under the
token's home org (its first org) and counted in the partial-success message. With no tokens
configured (auth off, loopback default) records keep the org they claim, else ``default``.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass

ANY_ORG = "*"


class Unauthenticated(PermissionError):
    pass


@dataclass(frozen=True)
class Grant:
    """What an authenticated request may write: its home org and the orgs it may name."""

    home: str = "default"
    orgs: frozenset[str] = frozenset()
    any_org: bool = False

    def permits(self, org: str) -> bool:
        return self.any_org or org == self.home or org in self.orgs


OPEN_GRANT = Grant(any_org=True)  # auth off: the trusted-loopback default


def parse_orgs(orgs: str | tuple[str, ...] | list[str] | frozenset[str]) -> Grant:
    """A token's org list (``"a|b"``, ``("a", "b")``, ``"*"``) as a Grant; the first org is home."""
    items = [o.strip() for o in (orgs.split("|") if isinstance(orgs, str) else list(orgs)) if o.strip()]
    named = [o for o in items if o != ANY_ORG]
    return Grant(home=named[0] if named else "default", orgs=frozenset(named), any_org=ANY_ORG in items)


def grants_for(tokens: Mapping[str, object]) -> dict[str, Grant]:
    """{token: Grant} from settings' {token: orgs}."""
    return {token: orgs if isinstance(orgs, Grant) else parse_orgs(orgs) for token, orgs in tokens.items()}  # type: ignore[arg-type]


def grant_for_authorization(header: str | None, grants: Mapping[str, Grant]) -> Grant:
    """The Grant of a request. With no tokens configured every request is accepted
    (OPEN_GRANT); with tokens, a valid ``Bearer <token>`` is required."""
    if not grants:
        return OPEN_GRANT
    if not header:
        raise Unauthenticated("missing Authorization: Bearer <token>")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Authorization must be 'Bearer <token>'")
    given = token.strip().encode()
    found: Grant | None = None
    for known, grant in grants.items():
        # Compare against every token (no early exit) so timing says nothing about which matched.
        if hmac.compare_digest(known.encode(), given):
            found = grant
    if found is None:
        raise Unauthenticated("unknown bearer token")
    return found


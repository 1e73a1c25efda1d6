"""Opaque keyset cursors.

A cursor is base64url (no padding) JSON ``{"v": 1, "k": [last row's sort key...],
"f": hash of the query's filters}``. The filters hash ties a cursor to the query that
produced it: reusing it with other filters or another sort is a 422, not a silently
wrong page.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from query_api.errors import invalid

VERSION = 1
MAX_CURSOR_LENGTH = 2048


def filters_hash(scope: str, filters: Mapping[str, Any]) -> str:
    canonical = json.dumps([scope, sorted(filters.items())], default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def encode_cursor(key: Sequence[Any], fhash: str) -> str:
    text = json.dumps({"v": VERSION, "k": list(key), "f": fhash}, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, fhash: str, types: Sequence[type[Any]]) -> list[Any]:
    """The sort key a cursor carries, checked against the expected filters and types.
    Raises a 422 ApiError on anything else."""
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise invalid("cursor", "too long")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError):
        raise invalid("cursor", "malformed: pass the next_cursor of a previous page unchanged") from None
    if not isinstance(data, dict) or data.get("v") != VERSION or not isinstance(data.get("k"), list):
        raise invalid("cursor", "malformed: pass the next_cursor of a previous page unchanged")
    if data.get("f") != fhash:
        raise invalid("cursor", "was made for other filters or another sort order; start again without a cursor")
    key = data["k"]
    if len(key) != len(types):
        raise invalid("cursor", "malformed: wrong key length")
    values: list[Any] = []
    for item, expected in zip(key, types, strict=True):
        value: Any = item
        if isinstance(value, bool):
            raise invalid("cursor", "malformed: wrong key type")
        if isinstance(value, int) and not -(2**63) <= value < 2**64:
            # Before float(): a 400-digit key would raise OverflowError (a 500), not a 422.
            raise invalid("cursor", "malformed: key out of range")
        if expected is float and isinstance(value, int):
            value = float(value)
        if not isinstance(value, expected):
            raise invalid("cursor", "malformed: wrong key type")
        if expected is int and not -(2**63) <= value < 2**64:
            raise invalid("cursor", "malformed: key out of range")
        if expected is float and (value != value or abs(value) == float("inf")):
            raise invalid("cursor", "malformed: key out of range")
        values.append(value)
    return values


def page(rows: list[dict[str, Any]], limit: int, key_of: Any, fhash: str) -> tuple[list[dict[str, Any]], str | None]:
    """Split a query result fetched with ``limit + 1`` rows into the page and the cursor
    of the next one (None on the last page)."""
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor(key_of(rows[-1]), fhash)

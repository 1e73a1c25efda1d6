"""Real capture telemetry replayed as if it happened now: for the live page's tests.

A capture's log records are moved in time so its newest record lands at ``now`` (the
``timeUnixNano`` and the ``event.timestamp`` attribute Claude Code also sends), under
fresh session ids; ``with_context`` makes one api_request carry a large cache read, as a
long conversation's request does."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from tests.fixtures import otlp_requests
from tests.test_api_endpoints import scoped


def _records(request: Any) -> list[Any]:
    return [record for resource in request.resource_logs for scope in resource.scope_logs for record in scope.log_records]


def _attr(record: Any, key: str) -> Any:
    for kv in record.attributes:
        if kv.key == key:
            return kv
    return None


def shifted_logs(scenario: str, prefix: str, org: str | None = None, now_ns: int | None = None) -> list[Any]:
    """The scenario's log export requests, session ids prefixed, newest record at now."""
    requests = [scoped(r, org, prefix) for signal, r in otlp_requests(scenario) if signal == "logs"]
    newest = max(record.time_unix_nano for r in requests for record in _records(r))
    offset = (now_ns or time.time_ns()) - newest
    for request in requests:
        for record in _records(request):
            record.time_unix_nano += offset
            if record.observed_time_unix_nano:
                record.observed_time_unix_nano += offset
            _stamp(record)
    return requests


def _stamp(record: Any) -> None:
    stamp = _attr(record, "event.timestamp")
    if stamp is not None:
        at = datetime.fromtimestamp(record.time_unix_nano / 1e9, UTC)
        stamp.value.string_value = at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def api_requests_of(requests: list[Any]) -> list[Any]:
    return [record for r in requests for record in _records(r)
            if (_attr(record, "event.name") or _attr(record, "x")) is not None
            and _attr(record, "event.name").value.string_value == "api_request"]


def set_cache_read(record: Any, tokens: int, later_ns: int = 1_000_000_000) -> None:
    """Make an api_request record report ``tokens`` cache-read tokens, ``later_ns`` after
    the original (a new, newer request rather than a twin of the old one)."""
    record.time_unix_nano += later_ns
    _stamp(record)
    kv = _attr(record, "cache_read_tokens")
    if kv.value.HasField("int_value"):
        kv.value.int_value = tokens
    else:
        kv.value.string_value = str(tokens)

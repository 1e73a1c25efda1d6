"""Replay the Claude Code captures as enrichment sees them, with or without the hook bridge.

The captures' hooks.jsonl lines are the exact payloads Claude Code gave its hooks, but
carry no time. Each is timed like the hook run it was: Claude Code's own
``hook_execution_start`` event for that hook (``SessionStart:<source>``, ``Stop``, ...);
hooks Claude Code does not log a start for (SessionEnd, PreCompact, PostCompact) run just
after the last event before the next timed hook. Records are built by the real bridge
(``bridge.record.build_record``) with the fixture's transcripts for fork parents and
compaction tokens.
Other enrichment tests import this module.
"""

from __future__ import annotations

import functools
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from bridge.context import fork_parent, last_compaction
from bridge.record import HookContext, build_record, to_export_request
from enrich.model import Event, event_from_row
from receiver.attributes import Limits
from receiver.batch import DecodeContext, DecodedBatch
from receiver.decode import decode_request
from tests.fixtures import SCENARIOS, hook_payloads, otlp_requests, scenario_dir

HOST = "devbox"
NEW_PROCESS_SOURCES = {"startup", "resume", "fork", "continue"}


def batch_rows(batch: DecodedBatch) -> list[dict[str, Any]]:
    table = batch.tables.get("events")
    if not table:
        return []
    names = list(table)
    return [dict(zip(names, values, strict=True)) for values in zip(*(table[n] for n in names), strict=True)]


@functools.cache
def native_batches(scenario: str) -> tuple[DecodedBatch, ...]:
    return tuple(decode_request(signal, request, Limits(), DecodeContext()) for signal, request in otlp_requests(scenario))


def native_rows(scenario: str) -> list[dict[str, Any]]:
    return [row for batch in native_batches(scenario) for row in batch_rows(batch)]


@functools.cache
def hook_requests(scenario: str) -> tuple[ExportLogsServiceRequest, ...]:
    """One bridge export request per hook invocation of the scenario, in order."""
    rows = sorted(native_rows(scenario), key=lambda r: (r["Timestamp"], r["Sequence"] or 0))
    anchors = [r for r in rows if r["EventName"] == "hook_execution_start"]
    used: set[int] = set()
    payloads = hook_payloads(scenario)

    def anchor_for(payload: dict[str, Any], after: int) -> dict[str, Any] | None:
        event = payload["hook_event_name"]
        names = {event}
        if "source" in payload:
            names = {f"{event}:{payload['source']}"}
        if payload.get("tool_name"):
            names.add(f"{event}:{payload['tool_name']}")
        for row in anchors:
            if row["EventKey"] not in used and row["HookName"] in names and row["Timestamp"] >= after:
                return row
        return None

    times: list[int | None] = []
    previous = 0
    for payload in payloads:
        row = anchor_for(payload, previous)
        if row is not None:
            used.add(row["EventKey"])
            previous = row["Timestamp"]
        times.append(row["Timestamp"] if row else None)
    # Untimed hooks: just after the last event of their session before the next timed hook.
    previous = 0
    for i, payload in enumerate(payloads):
        if times[i] is not None:
            previous = times[i]  # type: ignore[assignment]
            continue
        upper = next((t for t in times[i + 1:] if t is not None), 2**62)
        # ... and before the next process starts (sequence 0).
        upper = min([upper, *(r["Timestamp"] for r in rows if r["Sequence"] == 0 and r["Timestamp"] > previous)])
        own = [r["Timestamp"] for r in rows if r["SessionId"] == payload["session_id"] and previous <= r["Timestamp"] < upper]
        times[i] = previous = max([previous, *own]) + 1000

    requests = []
    run = 0
    process_start: dict[int, str | int | float] = {}
    transcripts = scenario_dir(scenario) / "transcripts"
    for payload, ts in zip(payloads, times, strict=True):
        assert ts is not None
        event = payload["hook_event_name"]
        if event == "SessionStart" and payload.get("source") in NEW_PROCESS_SOURCES:
            run += 1
        transcript = str(transcripts / f"{payload['session_id']}.jsonl")
        parent = ""
        if event == "SessionStart" and payload.get("source") == "fork":
            parent = fork_parent(transcript, payload["session_id"])
        compaction: dict[str, int] = {}
        if event == "PostCompact" or (event == "SessionStart" and payload.get("source") == "compact"):
            compaction = last_compaction(transcript)
        context = HookContext(
            host=HOST, time_unix_nano=ts * 1000, cli_run_pid=4000 + run,
            cli_run_started_ms=ts // 1000 if run else None,
            project_id=payload["cwd"], project_name=payload["cwd"].rstrip("/").rsplit("/", 1)[-1],
            parent_session_id=parent, compaction=compaction,
        )
        record = build_record(payload, context)
        if event == "SessionStart" and payload.get("source") in NEW_PROCESS_SOURCES:
            process_start[run] = record.attributes["loomline.cli_run.id"]
        # One CLI run id per process: the first record of the run fixes it.
        record.attributes["loomline.cli_run.id"] = process_start.get(run, record.attributes["loomline.cli_run.id"])
        requests.append(to_export_request([record]))
    return tuple(requests)


@functools.cache
def hook_batches(scenario: str) -> tuple[DecodedBatch, ...]:
    return tuple(decode_request("logs", request, Limits(), DecodeContext()) for request in hook_requests(scenario))


def scenario_events(scenario: str, with_hooks: bool) -> list[Event]:
    """The scenario's events as enrichment reads them."""
    rows = native_rows(scenario)
    if with_hooks:
        rows = rows + [row for batch in hook_batches(scenario) for row in batch_rows(batch)]
    return [event_from_row(row) for row in rows]


def scenario_batches(scenario: str, with_hooks: bool) -> list[DecodedBatch]:
    return list(native_batches(scenario)) + (list(hook_batches(scenario)) if with_hooks else [])


# -- the replay itself ---------------------------------------------------------------------

def test_every_hook_becomes_one_bridge_event() -> None:
    for scenario in SCENARIOS:
        events = [e for e in scenario_events(scenario, with_hooks=True) if e.is_bridge]
        assert len(events) == len(hook_payloads(scenario)), scenario
        assert all(e.timestamp > 0 for e in events)


def test_hooks_are_timed_in_order() -> None:
    for scenario in SCENARIOS:
        times = [e.timestamp for e in (event_from_row(r) for b in hook_batches(scenario) for r in batch_rows(b))]
        assert times == sorted(times), scenario

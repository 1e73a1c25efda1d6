"""Raw spool entries: what the shell hook (bridge/loomline-hook.sh) writes instead of a
record, and how a sender turns one into the record the Python hook would have built.

An entry is ``<spool>/<time ns, 20 digits>-<pid>-raw.raw``: NUL-separated fields, all
captured at hook time, then the payload bytes as Claude Code wrote them::

    loomline-raw-hook 1 \\0 <time ns> \\0 <parent pid> \\0 <4 x /proc/PID/stat of the parent
    and its ancestors> \\0 <the variables in RAW_ENV, "" when unset> \\0 <argc> \\0 <args>...
    \\0 <payload>

(no field but the payload can hold a NUL: they are command-line arguments, environment
values and /proc text). The record's time is the hook's arrival time and its CLI run is
resolved from the captured process chain, so building later gives the record the hook
would have built then. The git project, the fork parent and the compaction tokens are
read when the record is built, moments later (the transcript can only have grown).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge.context import find_cli_run, gather_context, parse_proc_stat
from bridge.log import log, state_home
from bridge.options import HookOptions, load_options, parse_hook_args
from bridge.record import EVENT_NAMES, HookRecord, build_record, event_name_for

MAGIC = b"loomline-raw-hook 1"
# The variables the bridge reads, captured by the shell hook in this order.
RAW_ENV = ("LOOMLINE_HOOK_ORG", "LOOMLINE_HOOK_CONFIG", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "HOME")
ANCESTORS = 4  # /proc stat lines captured: the parent and up to 3 of its ancestors


@dataclass(frozen=True)
class RawHook:
    """One raw spool entry, parsed."""

    time_unix_nano: int
    parent_pid: int
    stats: dict[int, str]  # pid -> /proc/PID/stat text, as read at hook time
    env: dict[str, str]  # the RAW_ENV variables that were set (and not empty)
    args: tuple[str, ...]  # the hook's command-line flags
    payload: bytes


def parse_raw(data: bytes) -> RawHook:
    """Parse a raw spool entry; ValueError when it is not one."""
    fixed = 3 + ANCESTORS + len(RAW_ENV) + 1
    parts = data.split(b"\0", fixed)
    if len(parts) <= fixed or parts[0] != MAGIC:
        raise ValueError("not a raw hook entry")
    time_ns, parent_pid = int(parts[1]), int(parts[2])
    stats: dict[int, str] = {}
    for raw in parts[3:3 + ANCESTORS]:
        text = os.fsdecode(raw)
        pid = text.split(" ", 1)[0]
        if pid.isdigit() and parse_proc_stat(text) is not None:
            stats[int(pid)] = text
    values = parts[3 + ANCESTORS:3 + ANCESTORS + len(RAW_ENV)]
    env = {name: os.fsdecode(value) for name, value in zip(RAW_ENV, values, strict=True) if value}
    argc = int(parts[fixed - 1])
    rest = parts[fixed].split(b"\0", argc) if argc else [parts[fixed]]
    if len(rest) != argc + 1:
        raise ValueError("truncated raw hook entry")
    return RawHook(time_ns, parent_pid, stats, env, tuple(os.fsdecode(a) for a in rest[:argc]), rest[argc])


def read_payload(raw: bytes) -> dict[str, Any]:
    """Parse the hook's stdin. Raises ValueError unless it is a JSON object naming a hook."""
    if not raw.strip():
        raise ValueError("empty stdin")
    payload = json.loads(raw)
    if not isinstance(payload, dict):
        raise ValueError(f"expected a JSON object, got {type(payload).__name__}")
    if not isinstance(payload.get("hook_event_name"), str) or not payload["hook_event_name"]:
        raise ValueError("no hook_event_name")
    return payload


def usable_payload(raw: bytes, log_file: Path) -> dict[str, Any] | None:
    """The hook's payload, or None (logged) when it is unusable; an unknown hook event is
    logged and kept (it is sent under a derived name)."""
    try:
        payload = read_payload(raw)
    except ValueError as exc:
        log(log_file, f"ERROR unusable hook input ({exc}): {raw[:200]!r}")
        return None
    if payload["hook_event_name"] not in EVENT_NAMES:
        log(log_file, f"INFO unknown hook event {payload['hook_event_name']!r}: sent as "
                      f"{event_name_for(payload['hook_event_name'])}")
    return payload


def options_for(args: Sequence[str], env: Mapping[str, str]) -> HookOptions | None:
    """The options the hook ran with (its flags, its variables, the config file they name);
    the defaults (logged) when they are bad, None (logged) when the flags do not parse."""
    fallback_log = state_home(env) / "hook.log"
    parsed = parse_hook_args(args, fallback_log)
    if parsed is None:
        return None
    try:
        return load_options(parsed, env)
    except Exception as exc:  # noqa: BLE001 - as the Python hook: log, use the defaults
        log(fallback_log, f"ERROR bad options, using defaults: {exc}")
        return HookOptions(spool_dir=state_home(env) / "spool", log_file=fallback_log)


def record_from_raw(data: bytes, log_file: Path) -> HookRecord | None:
    """The record for one raw spool entry, as the Python hook would have built it at hook
    time; None (logged, to the hook's log or else ``log_file``) when there is none to send:
    an unreadable entry, bad flags or an unusable payload, as the Python hook drops them."""
    try:
        raw = parse_raw(data)
    except ValueError as exc:
        log(log_file, f"ERROR unreadable raw spool entry dropped: {exc}")
        return None
    options = options_for(raw.args, raw.env)
    if options is None:
        return None
    payload = usable_payload(raw.payload, options.log_file)
    if payload is None:
        return None
    cli_run = find_cli_run(raw.parent_pid, raw.stats)
    return build_record(payload, gather_context(payload, options, raw.time_unix_nano, cli_run))


__all__ = ["RawHook", "options_for", "parse_raw", "read_payload", "record_from_raw", "usable_payload"]

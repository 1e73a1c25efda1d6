"""One bridge record: ``HookRecord``, ``build_record(payload, context)`` (pure: no I/O, no
clock) and the OTLP export request the SDK exporters send for it (docs/hook-records.md)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bridge import __version__

SERVICE_NAME = "loomline-hook"
SCOPE_NAME = "loomline.hook"

# Payload fields that may hold what the user typed or the model wrote: sent only with
# --include-prompts.
SENSITIVE_FIELDS = frozenset(
    {"prompt", "compact_summary", "last_assistant_message", "custom_instructions", "message"}
)
# Payload fields renamed to the names Claude Code's own telemetry uses.
RENAMED_FIELDS = {"session_id": "session.id", "prompt_id": "prompt.id"}
# Hook names whose event name is not the mechanical snake_case of the hook name.
EVENT_NAMES = {
    "SessionStart": "loomline.session_start",
    "SessionEnd": "loomline.session_end",
    "PreCompact": "loomline.pre_compact",
    "PostCompact": "loomline.post_compact",
    "Stop": "loomline.stop",
    "SubagentStop": "loomline.subagent_stop",
    "UserPromptSubmit": "loomline.user_prompt_submit",
    "PreToolUse": "loomline.pre_tool_use",
    "PostToolUse": "loomline.post_tool_use",
    "Notification": "loomline.notification",
    "PreModelSwitch": "loomline.pre_model_switch",
    "PostModelSwitch": "loomline.post_model_switch",
}



@dataclass(frozen=True)
class HookRecord:
    """One bridge record, frozen at creation so a resend is byte-identical."""

    time_unix_nano: int
    body: str
    attributes: dict[str, str | int | float]
    resource: dict[str, str]
    # What the sender must still fill in before the first send (never exported), e.g.
    # {"compaction": {...}} while this compaction's boundary is not in the transcript yet.
    pending: dict[str, Any] = field(default_factory=dict)

    @property
    def event_name(self) -> str:
        return self.body

    def to_json(self) -> str:
        """Compact JSON (the spool format); ``from_json`` gives back an equal record."""
        data: dict[str, Any] = {"v": 1, "time_unix_nano": self.time_unix_nano, "body": self.body,
                                "attributes": self.attributes, "resource": self.resource}
        if self.pending:
            data["pending"] = self.pending
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> HookRecord:
        data = json.loads(text)
        pending = data.get("pending") or {}
        return cls(int(data["time_unix_nano"]), str(data["body"]), dict(data["attributes"]),
                   dict(data["resource"]), dict(pending) if isinstance(pending, dict) else {})

    def completed(self, extra: Mapping[str, str | int | float]) -> HookRecord:
        """This record with ``extra`` attributes added and nothing pending (built once, before
        the first send, so resends stay byte-identical)."""
        return HookRecord(self.time_unix_nano, self.body, {**self.attributes, **extra},
                          dict(self.resource))

    def to_readable(self) -> Any:
        """The SDK's ``ReadableLogRecord`` for this record (imports the SDK)."""
        from opentelemetry._logs import LogRecord
        from opentelemetry.sdk._logs import ReadableLogRecord
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope

        return ReadableLogRecord(
            log_record=LogRecord(
                timestamp=self.time_unix_nano,
                observed_timestamp=self.time_unix_nano,
                body=self.body,
                attributes=dict(self.attributes),
                event_name=self.body,
            ),
            resource=Resource(dict(self.resource)),
            instrumentation_scope=InstrumentationScope(SCOPE_NAME, __version__),
        )

    def to_export_request(self) -> Any:
        """The ``ExportLogsServiceRequest`` protobuf the exporter sends for this record alone."""
        return to_export_request([self])


def to_export_request(records: Sequence[HookRecord]) -> Any:
    """The ``ExportLogsServiceRequest`` the OTLP exporters send for ``records``, in order.

    Lets tests and replay tools feed bridge records to the receiver's decoder without a
    network."""
    from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs

    return encode_logs([r.to_readable() for r in records])


@dataclass(frozen=True)
class HookContext:
    """Everything ``build_record`` needs besides the payload: what the local machine knows.

    ``gather_context`` fills it from /proc, git and the transcript; tests and replays build
    it directly."""

    host: str = "localhost"
    time_unix_nano: int = 0
    include_prompts: bool = False
    cli_run_pid: int | None = None
    cli_run_started_ms: int | None = None  # Claude Code's start time, ms since the epoch
    project_id: str = ""
    project_name: str = ""
    git_branch: str = ""
    parent_session_id: str = ""
    compaction: Mapping[str, int] = field(default_factory=dict)  # pre_tokens, post_tokens, duration_ms
    org_id: str = ""  # --org: sent as organization.id
    # This compaction's boundary is not in the transcript yet: what the sender needs to find
    # it later (transcript, prompt id, boundaries already there, until when to wait).
    pending_compaction: Mapping[str, Any] = field(default_factory=dict)


def event_name_for(hook_event_name: str) -> str:
    """``SessionStart`` → ``loomline.session_start``; unknown ``FooBar`` → ``loomline.foo_bar``."""
    if hook_event_name in EVENT_NAMES:
        return EVENT_NAMES[hook_event_name]
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", hook_event_name)
    snake = re.sub(r"[^0-9a-zA-Z]+", "_", snake).strip("_").lower()
    return "loomline." + (snake or "unknown")


def cli_run_id(host: str, pid: int | None, started_ms: int | None) -> str:
    """``<host>:<pid>:<start ms>``: one Claude Code process lifetime (pids get reused)."""
    if pid is None:
        return ""
    return f"{host}:{pid}:{started_ms if started_ms is not None else 'unknown'}"


def _iso(time_unix_nano: int) -> str:
    moment = datetime.fromtimestamp(time_unix_nano / 1e9, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """``text`` with lone surrogates (valid in JSON's ``\\udXXX`` escapes, not in UTF-8)
    replaced by U+FFFD, so the record can be written to the spool and encoded as protobuf."""
    return _LONE_SURROGATE.sub("\ufffd", text)


def _attribute_value(value: Any) -> str | int | float | None:
    """OTLP attribute value per the contract: ints stay ints, floats doubles, bools and
    strings strings; containers and null are not sent."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, int | float):
        return value
    return None


def build_record(payload: Mapping[str, Any], context: HookContext) -> HookRecord:
    """Turn one hook payload into the bridge record. Pure: no I/O, no clock.

    ``payload`` is the JSON Claude Code wrote to the hook's stdin; ``context.time_unix_nano``
    is the record's time (``0`` means 'now' is the caller's business: pass a real time)."""
    hook_event_name = clean_text(str(payload.get("hook_event_name") or ""))
    name = event_name_for(hook_event_name)
    attributes: dict[str, str | int | float] = {
        "event.name": name,
        "event.timestamp": _iso(context.time_unix_nano),
        "session.id": clean_text(str(payload.get("session_id") or "")),
    }
    for key, raw in payload.items():
        if key == "session_id" or (key in SENSITIVE_FIELDS and not context.include_prompts):
            continue
        value = _attribute_value(raw)
        if value is None:
            continue
        attributes[clean_text(RENAMED_FIELDS.get(key, key))] = value
    if context.org_id:
        attributes["organization.id"] = context.org_id
    if context.cli_run_pid is not None:
        attributes["loomline.cli_run.id"] = cli_run_id(
            context.host, context.cli_run_pid, context.cli_run_started_ms
        )
        attributes["loomline.cli_run.pid"] = context.cli_run_pid
        if context.cli_run_started_ms is not None:
            attributes["loomline.cli_run.started_at"] = _iso(context.cli_run_started_ms * 1_000_000)
    if context.project_id:
        attributes["loomline.project.id"] = context.project_id
    if context.project_name:
        attributes["loomline.project.name"] = context.project_name
    if context.git_branch:
        attributes["git.branch"] = context.git_branch
    if context.parent_session_id:
        attributes["loomline.parent_session_id"] = context.parent_session_id
    for key in ("pre_tokens", "post_tokens", "duration_ms"):
        if key in context.compaction:
            attributes[key] = int(context.compaction[key])
    resource = {"service.name": SERVICE_NAME, "service.version": __version__,
                "host.name": clean_text(context.host)}
    pending = {"compaction": dict(context.pending_compaction)} if context.pending_compaction else {}
    return HookRecord(context.time_unix_nano, name, attributes, resource, pending)


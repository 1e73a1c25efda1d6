"""One Claude Code transcript, line by line → log records. Pure (no I/O) and streaming: the
state kept per file is bounded whatever the file's size.

What the captures show (tests/captures, Claude Code 2.1.328 and 2.1.332) and what each line
becomes (docs/import.md has the full table):

* ``type: user`` with the person's text (or a slash command ``<command-name>/x``) →
  ``user_prompt`` (``prompt.id`` = the line's ``promptId``, which is the telemetry's
  ``prompt.id``; ``message.uuid`` = the line's ``uuid``, which is the telemetry's
  ``message.uuid``). Injected prompts (a background task's ``<task-notification>``, hook
  output) carry ``origin.kind`` ≠ ``human`` and ``loomline.prompt.injected=true``. Meta lines,
  compact summaries, local command output and subagent (sidechain) prompts are not prompts
  (telemetry emits no ``user_prompt`` for them).
* ``type: assistant`` with ``message.usage`` → ``api_request`` with the usage (input,
  output, cache read, cache creation and its 5m / 1h split). One API response is written
  as several lines (one per content block) repeating the same usage: counted once per
  request (``requestId``, else ``requestRef``, else ``message.id``). The synthetic
  assistant line of a failed request (``isApiErrorMessage``) → ``api_error``.
* ``tool_result`` blocks of a ``user`` line → ``tool_result`` (tool name from the
  assistant's ``tool_use`` block of the same id).
* ``system`` / ``compact_boundary`` → ``compaction`` (trigger, pre/post tokens, duration).
* ``cost-state`` (the session's running totals per model) → an ``api_request`` for usage no
  assistant line shows, only across a compaction: the compaction's own API calls are in
  the running totals but not in the transcript (``query_source=compact``).
* A fork's transcript starts with lines copied from its parent (same ``uuid``, older
  ``timestamp``, ``requestSessionId`` / ``forkedFrom`` naming the parent): they name the
  parent and are not counted again.

Every record carries ``loomline.evidence=transcript``. Records are a deterministic function
of the line (and of the bounded state before it), so importing a file twice gives the same
records and the receiver's EventKey dedup drops the second copy.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

EVIDENCE = "transcript"
CLAUDE_PREFIX = "claude_code."
# Lines jumping back in time by more than this are copies of older lines (a fork's prefix);
# Claude Code's own lines are out of order by 200 ms at most in the captures.
COPIED_SKEW_MS = 500
MAX_REMEMBERED = 4096
MAX_MS = 2**63 // 1_000_000 - 1  # OTLP times are nanoseconds in 64 bits  # request ids, tool names and query sources kept per file
# Types Claude Code writes that carry nothing loomline uses (known, so not "unknown").
IGNORED_TYPES = frozenset({
    "attachment", "api-request-shape", "api-request-blob", "tools-used", "last-prompt",
    "atis-latch", "queue-operation", "mode", "permission-mode", "file-history-snapshot",
    "summary", "custom-title", "agent-name", "tag", "pr-link", "worktree-state",
    "content-replacement",
})
FAST_SKIP_TYPES = IGNORED_TYPES - {"attachment", "queue-operation"}
HANDLED_TYPES = frozenset({"user", "assistant", "system", "cost-state", "api-request"})
NOT_PROMPT_PREFIXES = ("<local-command-stdout>", "<local-command-stderr>", "<local-command-caveat>")
_COMMAND = re.compile(r"<command-name>/?([^<\s]+)</command-name>")
_API_ERROR_PREFIX = re.compile(r"^API Error:\s*(\d{3})?\s*")


@dataclass
class Record:
    """One log record to send: a Claude Code event (``claude_code.<name>``) or a bridge
    lifecycle record (``loomline.<name>``). ``attributes`` keep insertion order (the record's
    encoding, and so its identity, depends on it)."""

    time_unix_nano: int
    event_name: str
    attributes: dict[str, str]
    session_id: str
    version: str = ""

    @property
    def body(self) -> str:
        return self.event_name if self.event_name.startswith("loomline.") else CLAUDE_PREFIX + self.event_name


@dataclass
class SessionInfo:
    """What the files say about one session (kept for every session of an import: small)."""

    session_id: str
    directory: str
    first_ms: int = 0
    last_ms: int = 0
    cwd: str = ""
    git_branch: str = ""
    version: str = ""
    parent_session_id: str = ""  # fork parent
    first_command: str = ""  # slash command of the first prompt ('clear' after /clear)
    first_prompt_seen: bool = False
    clear_ms: int = 0  # time of the /clear that started this session
    clear_uuid: str = ""

    def touch(self, ms: int) -> None:
        if not self.first_ms or ms < self.first_ms:
            self.first_ms = ms
        self.last_ms = max(self.last_ms, ms)


@dataclass
class Skips:
    """Lines not turned into records, by reason (the import's summary)."""

    reasons: dict[str, int] = field(default_factory=dict)

    def add(self, reason: str, count: int = 1) -> None:
        self.reasons[reason] = self.reasons.get(reason, 0) + count


def parse_ms(text: Any) -> int | None:
    """``2026-11-21T19:01:00.431Z`` → ms since the epoch, or None."""
    if not isinstance(text, str) or not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return int(parsed.timestamp() * 1000)
    except (OverflowError, ValueError, OSError):
        return None


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _int(value: Any) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value if 0 <= value < 2**63 else 0
    if isinstance(value, float) and value == value and 0 <= value < 9e18:
        return int(value)
    return 0


def _text_of(content: Any) -> str:
    """The text of a user message's content (a string, or a list of text blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str))
    return ""


def _origin_kind(line: dict[str, Any], text: str) -> str:
    origin = line.get("origin")
    if isinstance(origin, dict) and isinstance(origin.get("kind"), str) and origin["kind"]:
        return str(origin["kind"])
    if line.get("turnOrigin") == "task_notification" or text.startswith("<task-notification>"):
        return "task-notification"
    if text.startswith("<user-prompt-submit-hook>"):
        return "hook"
    if line.get("promptSource") == "system":
        return "system"
    return "human"


class _Bounded(OrderedDict[str, str]):
    def remember(self, key: str, value: str) -> None:
        self[key] = value
        self.move_to_end(key)
        if len(self) > MAX_REMEMBERED:
            self.popitem(last=False)


class TranscriptState:
    """Reads one transcript file's lines in order (``feed``) and yields records.

    ``agent_file``: a subagent side file (``agent-*.jsonl``): its lines belong to the parent
    session (their ``sessionId``) and carry ``agentId``; its prompts are the subagent's,
    not the person's, so they are not ``user_prompt`` records.
    """

    def __init__(self, path_session: str, directory: str, agent_file: bool = False,
                 user_id: str = "", include_prompts: bool = False,
                 sessions: dict[str, SessionInfo] | None = None, skips: Skips | None = None) -> None:
        self.path_session = path_session
        self.directory = directory
        self.agent_file = agent_file
        self.user_id = user_id
        self.include_prompts = include_prompts
        self.sessions = sessions if sessions is not None else {}
        self.skips = skips if skips is not None else Skips()
        self.prompt_id = ""
        self.max_ms = 0
        self.last_ms = 0
        self.model = ""
        self.version = ""
        self._requests = _Bounded()  # request key -> '' (seen)
        self._query_sources = _Bounded()  # api-request id -> querySource
        self._request_models = _Bounded()
        self._tool_names = _Bounded()
        self._pending_prompt: Record | None = None
        self._pending_prompt_key = ""
        self._pending_compactions: list[Record] = []
        # cost-state windows: per model cumulative totals at the last cost-state, usage the
        # assistant lines showed since, and whether a compaction happened in between.
        self._cost_base: dict[str, tuple[int, int, int, int, int, int]] | None = None
        self._window_seen: dict[str, list[int]] = {}
        self._window_compacted = False

    # -- public ------------------------------------------------------------------------
    def feed(self, raw: bytes) -> list[Record]:
        """Records for one line (bytes without the newline). Never raises on bad input."""
        # Most bytes of a transcript are lines that yield nothing (request shapes and blobs,
        # attachments with system prompts and tool listings): recognise them without
        # parsing. A quote cannot appear unescaped inside a JSON string, so these byte
        # patterns can only be the line's own keys.
        if raw.startswith(b'{"type":"'):
            end = raw.find(b'"', 9, 64)
            if end > 0 and raw[9:end].decode("ascii", "replace") in FAST_SKIP_TYPES:
                return []
        elif raw.startswith(b'{"parentUuid":') and b',"attachment":{' in raw[:300]:
            return []
        try:
            line = json.loads(raw.decode("utf-8", "replace"))
        except (ValueError, RecursionError):
            self.skips.add("malformed JSON line")
            return []
        if not isinstance(line, dict):
            self.skips.add("line is not a JSON object")
            return []
        kind = line.get("type")
        if kind in IGNORED_TYPES:
            # Their times count for telling a fork's copied lines (older) from its own.
            ms = self._observe_time(line)
            if ms is not None:
                self.max_ms = max(self.max_ms, ms)
            return []
        if kind not in HANDLED_TYPES:
            self.skips.add(f"unknown line type {str(kind)[:40]!r}")
            self._observe_time(line)
            return []
        try:
            return self._handle(kind, line)
        except Exception as exc:  # a surprising shape must not stop the import
            self.skips.add(f"unreadable {kind} line ({type(exc).__name__})")
            return []

    def finish(self) -> list[Record]:
        """Records held back waiting for a later line (end of file, or the file went idle)."""
        out: list[Record] = []
        if self._pending_prompt is not None:
            out.append(self._pending_prompt)
            self._pending_prompt = None
            self._pending_prompt_key = ""
        for record in self._pending_compactions:
            out.append(record)
        self._pending_compactions = []
        return out

    # -- helpers -----------------------------------------------------------------------
    def _observe_time(self, line: dict[str, Any]) -> int | None:
        ms = parse_ms(line.get("timestamp"))
        if ms is not None:
            self.last_ms = ms
        return ms

    def _session_of(self, line: dict[str, Any]) -> str:
        session = line.get("sessionId")
        return session if isinstance(session, str) and session else self.path_session

    def _info(self, session_id: str) -> SessionInfo:
        info = self.sessions.get(session_id)
        if info is None:
            info = SessionInfo(session_id, self.directory)
            self.sessions[session_id] = info
        return info

    def _record(self, ms: int, name: str, session_id: str, attrs: dict[str, str]) -> Record:
        base = {"session.id": session_id, "event.name": name, "event.timestamp": iso(ms)}
        base.update(attrs)
        if self.user_id:
            base["user.id"] = self.user_id
        base["loomline.evidence"] = EVIDENCE
        return Record(ms * 1_000_000, name, base, session_id, self.version)

    def _parent_named(self, line: dict[str, Any], session_id: str) -> str:
        forked = line.get("forkedFrom")
        if isinstance(forked, dict) and isinstance(forked.get("sessionId"), str) and forked["sessionId"] != session_id:
            return str(forked["sessionId"])
        other = line.get("requestSessionId")
        if isinstance(other, str) and other and other != session_id:
            return other
        return ""

    def _handle(self, kind: str, line: dict[str, Any]) -> list[Record]:
        ms = self._observe_time(line)
        session_id = self._session_of(line)
        if kind == "api-request":
            request_id = line.get("id")
            if isinstance(request_id, str):
                source = line.get("querySource")
                self._query_sources.remember(request_id, source if isinstance(source, str) else "")
                params = line.get("params")
                if isinstance(params, dict) and isinstance(params.get("model"), str):
                    self._request_models.remember(request_id, params["model"])
                    self.model = params["model"]
            return []
        if kind == "cost-state":
            return self._cost_state(line, session_id)
        if ms is None:
            self.skips.add(f"{kind} line without a timestamp")
            return []
        if not 0 < ms < MAX_MS:
            self.skips.add(f"{kind} line with an impossible timestamp")
            return []
        parent = self._parent_named(line, session_id)
        copied = bool(parent) or bool(self.max_ms and ms < self.max_ms - COPIED_SKEW_MS)
        info = None if self.agent_file else self._info(session_id)
        if parent and info is not None and not info.parent_session_id:
            info.parent_session_id = parent
        version = line.get("version")
        if isinstance(version, str) and version:
            self.version = version
        if copied:
            self._copied_line(line, kind)
            return []
        self.max_ms = max(self.max_ms, ms)
        if info is not None:
            info.touch(ms)
            if isinstance(line.get("cwd"), str) and line["cwd"]:
                info.cwd = line["cwd"]
            if isinstance(line.get("gitBranch"), str) and line["gitBranch"]:
                info.git_branch = line["gitBranch"]
            if self.version:
                info.version = self.version
        prompt_id = line.get("promptId")
        out: list[Record] = []
        if isinstance(prompt_id, str) and prompt_id:
            if prompt_id != self.prompt_id and self._pending_prompt is not None and self._pending_prompt_key != prompt_id:
                out.append(self._pending_prompt)
                self._pending_prompt = None
            self.prompt_id = prompt_id
            for record in self._pending_compactions:
                record.attributes["prompt.id"] = prompt_id
                out.append(record)
            self._pending_compactions = []
        if kind == "user":
            out.extend(self._user(line, ms, session_id, info))
        elif kind == "assistant":
            out.extend(self._assistant(line, ms, session_id))
        elif kind == "system":
            out.extend(self._system(line, ms, session_id))
        return out

    def _copied_line(self, line: dict[str, Any], kind: str) -> None:
        """A fork's copy of a parent line: remember its tool names and request ids so the
        fork's own lines that refer to them resolve, count nothing."""
        message = line.get("message")
        if kind == "assistant" and isinstance(message, dict):
            key = self._request_key(line, message)
            if key:
                self._requests.remember(key, "")
            self._remember_tools(message)

    def _remember_tools(self, message: dict[str, Any]) -> None:
        content = message.get("content")
        if isinstance(content, list):
            for block in content:
                if isinstance(block, dict) and block.get("type") == "tool_use" and isinstance(block.get("id"), str):
                    self._tool_names.remember(block["id"], str(block.get("name", "")))

    @staticmethod
    def _request_key(line: dict[str, Any], message: dict[str, Any]) -> str:
        for value in (line.get("requestId"), line.get("requestRef"), message.get("id")):
            if isinstance(value, str) and value:
                return value
        return ""

    # -- user lines ----------------------------------------------------------------------
    def _user(self, line: dict[str, Any], ms: int, session_id: str, info: SessionInfo | None) -> list[Record]:
        message = line.get("message")
        if not isinstance(message, dict):
            return []
        content = message.get("content")
        out: list[Record] = []
        if isinstance(content, list):
            for block in content:
                if isinstance(block, dict) and block.get("type") == "tool_result":
                    out.append(self._tool_result(block, line, ms, session_id))
        if out:
            return out
        if (self.agent_file or line.get("isSidechain") or line.get("isMeta") or line.get("isCompactSummary")
                or line.get("isVisibleInTranscriptOnly")):
            return []
        text = _text_of(content)
        if not text or text.startswith(NOT_PROMPT_PREFIXES):
            return []
        command = ""
        match = _COMMAND.search(text[:2000]) if text.startswith("<command-") or "<command-name>" in text[:200] else None
        if match:
            command = match.group(1).lstrip("/")
            shown = "/" + command
        else:
            shown = text
        kind = _origin_kind(line, text)
        attrs: dict[str, str] = {}
        prompt_id = line.get("promptId") if isinstance(line.get("promptId"), str) else ""
        if prompt_id:
            attrs["prompt.id"] = str(prompt_id)
        attrs["prompt_length"] = str(len(shown))
        if self.include_prompts:
            attrs["prompt"] = shown
        elif kind != "human" and shown.startswith("<") and 0 < shown.find(">") < 64:
            # Claude Code's own text, not the person's: its leading tag is what tells an
            # injected prompt apart (enrich/prompts.py reads the prompt text).
            attrs["prompt"] = shown[: shown.find(">") + 1]
        if isinstance(line.get("uuid"), str):
            attrs["message.uuid"] = line["uuid"]
        if command:
            attrs["command_name"] = command
        attrs["origin.kind"] = kind
        attrs["loomline.prompt.injected"] = "false" if kind == "human" else "true"
        if isinstance(line.get("cwd"), str) and line["cwd"]:
            attrs["cwd"] = line["cwd"]
        if isinstance(line.get("gitBranch"), str) and line["gitBranch"]:
            attrs["git.branch"] = line["gitBranch"]
        if info is not None and not info.first_prompt_seen:
            info.first_prompt_seen = True
            info.first_command = command
            if command == "clear":
                # Claude Code writes the /clear into the new session's transcript; its
                # telemetry (and loomline) count it as the last prompt of the cleared one.
                info.clear_ms, info.clear_uuid = ms, str(attrs.get("message.uuid", ""))
                return []
        record = self._record(ms, "user_prompt", session_id, attrs)
        if not prompt_id:
            return [record]
        # A fork copies its parent's prompt lines under the fork's new prompt id, before
        # the fork's own prompt: the last typed line of one prompt id is the prompt.
        out = []
        if self._pending_prompt is not None and self._pending_prompt_key != prompt_id:
            out.append(self._pending_prompt)
        self._pending_prompt, self._pending_prompt_key = record, str(prompt_id)
        return out

    def _tool_result(self, block: dict[str, Any], line: dict[str, Any], ms: int, session_id: str) -> Record:
        tool_use_id = block.get("tool_use_id") if isinstance(block.get("tool_use_id"), str) else ""
        attrs: dict[str, str] = {}
        if self.prompt_id:
            attrs["prompt.id"] = self.prompt_id
        attrs["tool_name"] = self._tool_names.get(str(tool_use_id), "")
        attrs["tool_use_id"] = str(tool_use_id)
        attrs["success"] = "false" if block.get("is_error") is True else "true"
        if isinstance(line.get("uuid"), str):
            attrs["message.uuid"] = line["uuid"]
        self._agent_attrs(line, attrs)
        return self._record(ms, "tool_result", session_id, attrs)

    def _agent_attrs(self, line: dict[str, Any], attrs: dict[str, str]) -> None:
        agent_id = line.get("agentId")
        if isinstance(agent_id, str) and agent_id:
            attrs["agent_id"] = agent_id
        agent = line.get("attributionAgent")
        if isinstance(agent, str) and agent:
            attrs["agent.name"] = agent

    # -- assistant lines -------------------------------------------------------------------
    def _assistant(self, line: dict[str, Any], ms: int, session_id: str) -> list[Record]:
        message = line.get("message")
        if not isinstance(message, dict):
            return []
        self._remember_tools(message)
        if line.get("isApiErrorMessage") is True:
            return [self._api_error(line, message, ms, session_id)]
        usage = message.get("usage")
        model = message.get("model") if isinstance(message.get("model"), str) else ""
        if not isinstance(usage, dict) or model == "<synthetic>":
            return []
        key = self._request_key(line, message)
        if key:
            if key in self._requests:
                return []
            self._requests.remember(key, "")
        raw_creation = usage.get("cache_creation")
        creation: dict[str, Any] = raw_creation if isinstance(raw_creation, dict) else {}
        figures = (
            _int(usage.get("input_tokens")), _int(usage.get("output_tokens")),
            _int(usage.get("cache_read_input_tokens")), _int(usage.get("cache_creation_input_tokens")),
            _int(creation.get("ephemeral_5m_input_tokens")), _int(creation.get("ephemeral_1h_input_tokens")),
        )
        seen = self._window_seen.setdefault(str(model), [0] * 6)
        for i, value in enumerate(figures):
            seen[i] += value
        request_ref = line.get("requestRef") if isinstance(line.get("requestRef"), str) else ""
        query_source = self._query_sources.get(str(request_ref), "") if request_ref else ""
        if not query_source and line.get("isSidechain") and isinstance(line.get("attributionAgent"), str):
            query_source = f"agent:{line['attributionAgent']}"
        attrs: dict[str, str] = {}
        if self.prompt_id:
            attrs["prompt.id"] = self.prompt_id
        attrs["model"] = str(model)
        for name, value in zip(("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens",
                                "cache_creation_5m_tokens", "cache_creation_1h_tokens"), figures, strict=True):
            attrs[name] = str(value)
        if query_source:
            attrs["query_source"] = query_source
        if key:
            attrs["request_id"] = key
        if isinstance(line.get("uuid"), str):
            attrs["message.uuid"] = line["uuid"]
        self._agent_attrs(line, attrs)
        attrs["loomline.cost"] = "computed"  # no reported cost in a transcript
        self.model = str(model)
        return [self._record(ms, "api_request", session_id, attrs)]

    def _api_error(self, line: dict[str, Any], message: dict[str, Any], ms: int, session_id: str) -> Record:
        text = _text_of(message.get("content"))
        match = _API_ERROR_PREFIX.match(text)
        status = line.get("apiErrorStatus")
        if not isinstance(status, int) and match and match.group(1):
            status = int(match.group(1))
        attrs: dict[str, str] = {}
        if self.prompt_id:
            attrs["prompt.id"] = self.prompt_id
        requested = line.get("requestedModel")
        attrs["model"] = requested if isinstance(requested, str) and requested else self.model
        attrs["error"] = text[match.end():] if match else text
        if isinstance(status, int):
            attrs["status_code"] = str(status)
        if isinstance(line.get("uuid"), str):
            attrs["message.uuid"] = line["uuid"]
        return self._record(ms, "api_error", session_id, attrs)

    # -- system lines ----------------------------------------------------------------------
    def _system(self, line: dict[str, Any], ms: int, session_id: str) -> list[Record]:
        if line.get("subtype") != "compact_boundary":
            return []
        raw_meta = line.get("compactMetadata")
        meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
        attrs: dict[str, str] = {"prompt.id": self.prompt_id}
        trigger = meta.get("trigger")
        if isinstance(trigger, str):
            attrs["trigger"] = trigger
        attrs["success"] = "true"
        for source, name in (("preTokens", "pre_tokens"), ("postTokens", "post_tokens"), ("durationMs", "duration_ms")):
            if isinstance(meta.get(source), int | float) and not isinstance(meta.get(source), bool):
                attrs[name] = str(_int(meta[source]))
        if isinstance(line.get("uuid"), str):
            attrs["message.uuid"] = line["uuid"]
        self._window_compacted = True
        # The compaction's prompt is the /compact command (or the prompt being answered)
        # written just after the boundary: hold the record until a line names it.
        self._pending_compactions.append(self._record(ms, "compaction", session_id, attrs))
        return []

    def _cost_state(self, line: dict[str, Any], session_id: str) -> list[Record]:
        usage = line.get("modelUsage")
        if not isinstance(usage, dict):
            return []
        totals: dict[str, tuple[int, int, int, int, int, int]] = {}
        for model, figures in usage.items():
            if isinstance(figures, dict):
                totals[str(model)] = (
                    _int(figures.get("inputTokens")), _int(figures.get("outputTokens")),
                    _int(figures.get("cacheReadInputTokens")), _int(figures.get("cacheCreationInputTokens")),
                    _int(figures.get("cacheCreationEphemeral5mInputTokens")),
                    _int(figures.get("cacheCreationEphemeral1hInputTokens")),
                )
        out: list[Record] = []
        if self._cost_base is not None and self._window_compacted and not self.agent_file and self.last_ms:
            for model in sorted(totals):
                base = self._cost_base.get(model, (0,) * 6)
                seen = self._window_seen.get(model, [0] * 6)
                unseen = [max(t - b - s, 0) for t, b, s in zip(totals[model], base, seen, strict=True)]
                if not any(unseen[:4]):
                    continue
                attrs: dict[str, str] = {}
                if self.prompt_id:
                    attrs["prompt.id"] = self.prompt_id
                attrs["model"] = model
                for name, value in zip(("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens",
                                        "cache_creation_5m_tokens", "cache_creation_1h_tokens"), unseen, strict=True):
                    attrs[name] = str(value)
                attrs["query_source"] = "compact"
                attrs["loomline.usage.evidence"] = "cost-state"
                attrs["loomline.cost"] = "computed"
                out.append(self._record(self.last_ms, "api_request", session_id, attrs))
        self._cost_base = totals
        self._window_seen = {}
        self._window_compacted = False
        return out


def lifecycle_records(sessions: dict[str, SessionInfo], user_id: str = "",
                      clear_window_ms: int = 10 * 60 * 1000) -> Iterator[Record]:
    """The bridge-shaped lifecycle records of the imported sessions: one
    ``loomline.session_start`` each (source ``startup``, ``fork`` with the parent named by
    the copied lines, or ``clear`` when the session's first prompt is ``/clear``), and for
    ``/clear`` a ``loomline.session_end`` (reason ``clear``) of the session it cleared: the
    latest session of the same project folder that was last active before it, shortly
    before (Claude Code writes the /clear into the new session's transcript only)."""
    by_directory: dict[str, list[SessionInfo]] = {}
    for info in sessions.values():
        if info.first_ms:
            by_directory.setdefault(info.directory, []).append(info)
    for session_id in sorted(sessions):
        info = sessions[session_id]
        if not info.first_ms:
            continue
        source, parent = "startup", ""
        if info.parent_session_id:
            source, parent = "fork", info.parent_session_id
        elif info.first_command == "clear":
            source = "clear"
            before = [
                other for other in by_directory.get(info.directory, [])
                if other.session_id != session_id and other.last_ms <= info.first_ms
                and info.first_ms - other.last_ms <= clear_window_ms
            ]
            if before:
                cleared = max(before, key=lambda o: (o.last_ms, o.session_id))
                parent = cleared.session_id
                when = info.clear_ms or info.first_ms
                prompt = {"session.id": cleared.session_id, "event.name": "user_prompt",
                          "event.timestamp": iso(when), "prompt_length": "6", "message.uuid": info.clear_uuid,
                          "command_name": "clear", "origin.kind": "human", "loomline.prompt.injected": "false"}
                if user_id:
                    prompt["user.id"] = user_id
                prompt["loomline.evidence"] = EVIDENCE
                yield Record(when * 1_000_000, "user_prompt", prompt, cleared.session_id, cleared.version)
                end = {"session.id": cleared.session_id, "event.name": "loomline.session_end",
                       "event.timestamp": iso(info.first_ms), "reason": "clear"}
                if user_id:
                    end["user.id"] = user_id
                end["loomline.evidence"] = EVIDENCE
                yield Record(info.first_ms * 1_000_000, "loomline.session_end", end, cleared.session_id, cleared.version)
        attrs = {"session.id": session_id, "event.name": "loomline.session_start",
                 "event.timestamp": iso(info.first_ms), "source": source}
        if parent:
            attrs["loomline.parent_session_id"] = parent
        if info.cwd:
            attrs["cwd"] = info.cwd
        if info.git_branch:
            attrs["git.branch"] = info.git_branch
        if user_id:
            attrs["user.id"] = user_id
        attrs["loomline.evidence"] = EVIDENCE
        yield Record(info.first_ms * 1_000_000, "loomline.session_start", attrs, session_id, info.version)

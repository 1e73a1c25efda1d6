"""A deterministic fleet of synthetic Claude Code telemetry, as OTLP protobuf export requests.

The records copy what the real captures in ``tests/captures`` show, attribute by
attribute: names, value types (several numbers arrive as **strings**), resource and scope,
bodies ``claude_code.<event>``, ``event.sequence`` restarting at each CLI process and
continuing across ``/clear``, ``--continue`` starting under a throw-away session id, the
``claude_code.*`` delta sums, and the spans. On top of the captures it adds what an
OAuth-authenticated fleet carries (``organization.id``, ``user.email``,
``user.account_uuid``), project resource attributes (as set with
``OTEL_RESOURCE_ATTRIBUTES``), and, for a share of users, the ``loomline hook`` bridge's
records (docs/hook-records.md).

Everything random comes from ``random.Random`` seeded with strings, so one seed gives the
same bytes on every machine and Python version. Requests are yielded process by process
(each CLI process's records in time order), not globally sorted by time.

    fleet = Fleet(FleetSpec(seed=7, sessions=50))
    for signal, request in fleet.requests():   # ("logs" | "traces" | "metrics", request)
        ...
    fleet.ground_truth                          # what was generated: sessions, threads, cost
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import uuid
from collections import Counter, defaultdict
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import (
    AnyValue,
    ArrayValue,
    InstrumentationScope,
    KeyValue,
)
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    AggregationTemporality,
    Metric,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

__all__ = [
    "DEFAULT_START",
    "PRICES_PER_MTOK",
    "Fleet",
    "FleetSpec",
    "GroundTruth",
    "SessionTruth",
    "generate",
    "ground_truth",
    "record_count",
]

DEFAULT_START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday

# USD per million tokens: input, output, cache read, cache write 5m, cache write 1h.
PRICES_PER_MTOK: dict[str, tuple[float, float, float, float, float]] = {
    "claude-opus-4-5-20251101": (5.0, 25.0, 0.50, 6.25, 10.0),
    "claude-sonnet-4-5-20250929": (3.0, 15.0, 0.30, 3.75, 6.0),
    "claude-haiku-4-5-20251001": (1.0, 5.0, 0.10, 1.25, 2.0),
    "claude-opus-4-1-20250805": (15.0, 75.0, 1.50, 18.75, 30.0),
}
# A user's main model, weighted.
_MAIN_MODELS = (
    ("claude-sonnet-4-5-20250929", 50),
    ("claude-opus-4-5-20251101", 35),
    ("claude-haiku-4-5-20251001", 10),
    ("claude-opus-4-1-20250805", 5),
)
_CLI_VERSIONS = (("2.1.328", 70), ("2.1.327", 20), ("2.1.320", 10))
_TERMINALS = (("vscode", 30), ("iTerm.app", 20), ("xterm", 15), ("tmux", 15), ("cursor", 10), ("Apple_Terminal", 10))
_OSES = (("linux", "6.8.0-48-generic", "amd64", 45), ("darwin", "24.6.0", "arm64", 50), ("linux", "6.18.44", "arm64", 5))
_REPOS = (
    "payments-api", "web-frontend", "mobile-app", "data-pipeline", "infra", "auth-service",
    "search", "billing", "docs-site", "ml-platform", "notifications", "gateway", "admin-console",
    "analytics", "design-system", "checkout", "inventory", "cli-tools", "sdk-python", "sdk-js",
)
_TEAMS = ("platform", "product", "data", "infra", "mobile", "growth", "security")
_FIRST = ("ana", "ben", "chen", "dara", "eli", "fatima", "gus", "hana", "ivan", "jo", "kai", "lea",
          "mo", "nia", "omar", "pia", "quinn", "raj", "sara", "tom", "uma", "vic", "wen", "yuki", "zoe")
_LAST = ("silva", "novak", "kim", "okafor", "berg", "haddad", "lopez", "tanaka", "meyer", "roux",
         "costa", "ivanova", "singh", "walsh", "moreau", "sato", "ali", "park", "jensen", "weiss")
_PROMPTS = (
    "fix the failing test in {f}", "add a retry with backoff to {f}", "why is {f} slow?",
    "refactor {f} to use dependency injection", "write unit tests for {f}",
    "explain what {f} does", "rename the config option in {f} and update callers",
    "the CI job fails with a timeout, can you look at {f}", "add logging around the error path in {f}",
    "review my changes to {f}", "update the README for {f}", "make {f} handle empty input",
)
_FILES = ("src/handlers.py", "app/models.ts", "lib/client.go", "api/routes.py", "core/cache.rs",
          "pkg/server/main.go", "components/Table.tsx", "scripts/deploy.sh", "db/migrations.sql")
_TOOLS = (("Read", 30), ("Bash", 22), ("Edit", 18), ("Grep", 10), ("Glob", 6), ("Write", 5),
          ("TodoWrite", 5), ("WebFetch", 2), ("Task", 2))
_BASH = (("git status", "git", "read_only"), ("pytest -q", "pytest", "test"), ("npm test", "npm", "test"),
         ("ls -la", "ls", "read_only"), ("make build", "make", "build"), ("echo hi", "echo", "shell_builtin"))
_API_ERRORS = (  # status, message, error_class
    (529, "Overloaded", "server_error"),
    (429, "Rate limited: too many requests", "rate_limit"),
    (500, "Internal server error", "server_error"),
    (400, "prompt is too long: 210000 tokens > 200000 maximum", "client_error"),
)
_HOOK_EVENTS = ("SessionStart", "SessionEnd", "PreCompact", "PostCompact", "Stop", "SubagentStop",
                "UserPromptSubmit", "PreToolUse", "PostToolUse", "Notification")
_PLUGINS = (("cc-plugin-agents-md", "da63145d0acbb62d"), ("cc-plugin-privacy", "a2f27f067781660d"),
            ("cc-plugin-plugin-authoring", "559932fe5f722b82"))
_CONTEXT_LIMIT = 200_000
_LOOMLINE_VERSION = "0.1.0"

# Close reasons as docs/design.md names them, from the way a session's last process ended.
_CLOSE_REASON = {"clear": "clear", "prompt_input_exit": "exit", "logout": "logout", "other": "other"}


@dataclass(frozen=True)
class FleetSpec:
    """Every knob of the fleet. Rates are probabilities in [0, 1]."""

    seed: int = 0
    orgs: int = 3
    users: int = 20
    sessions: int = 100  # conversations started fresh; forks and /clear add more session ids
    start: datetime = DEFAULT_START
    days: int = 7
    batch_size: int = 512  # records (log records, spans, data points) per export request

    interactive_share: float = 0.7  # processes run as a REPL (else `claude -p`)
    prompts_per_run: float = 6.0  # mean prompts of an interactive process
    resume_rate: float = 0.4  # chance a session is picked up again by a later process, repeatedly
    continue_share: float = 0.35  # of those later processes, started with --continue (else --resume)
    fork_rate: float = 0.06  # chance a session is forked (--resume --fork-session) once done
    clear_rate: float = 0.12  # chance an interactive process runs /clear
    manual_compact_rate: float = 0.03  # per prompt once the context is over 40k tokens
    autocompact_threshold: int = 160_000
    autocompact_failure_rate: float = 0.3  # auto compactions failing with too_few_groups
    tool_steps: float = 2.5  # mean tool calls per prompt
    tool_reject_rate: float = 0.03
    api_retry_rate: float = 0.02  # requests that succeed on a second attempt (no api_error)
    api_error_rate: float = 0.01  # requests that fail for good: api_error, prompt abandoned
    log_prompts_share: float = 0.6  # users with OTEL_LOG_USER_PROMPTS=1
    resource_attrs_share: float = 0.5  # users setting OTEL_RESOURCE_ATTRIBUTES project/team
    hook_bridge_share: float = 0.3  # users with `loomline hook` installed (hook records too)
    spans: bool = True
    metrics: bool = True

    def __post_init__(self) -> None:
        if self.orgs < 1 or self.users < 1 or self.sessions < 0 or self.days < 1:
            raise ValueError("orgs, users and days must be >= 1 and sessions >= 0")
        if self.batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        if self.start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        for f in fields(self):
            if f.name.endswith(("_rate", "_share")) and not 0.0 <= getattr(self, f.name) <= 1.0:
                raise ValueError(f"{f.name} must be within [0, 1]")


@dataclass
class SessionTruth:
    """What the generator did with one session id (the answer enrichment should find)."""

    session_id: str
    org_id: str
    user_id: str
    user_email: str
    project: str  # repository name; the hook's cwd ends with it
    cwd: str
    thread_id: str  # the root session id of its thread (docs/design.md thread rules)
    parent_session_id: str = ""  # fork parent or the session /clear ended
    link: str = ""  # "", "forked_from" or "cleared_from"
    start_types: list[str] = field(default_factory=list)  # one per segment: startup, resume, continue, fork, clear, compact
    runs: list[str] = field(default_factory=list)  # cli run ids (host:pid:start) it appeared in
    ghost_session_ids: list[str] = field(default_factory=list)  # --continue start-up ids
    prompts: int = 0
    api_requests: int = 0
    api_errors: int = 0
    compactions: int = 0
    failed_compactions: int = 0
    cost_usd_micros: int = 0
    tokens: Counter[str] = field(default_factory=Counter)  # input, output, cache_read, cache_creation
    models: set[str] = field(default_factory=set)
    first_ns: int = 0
    last_ns: int = 0
    end_reason: str = ""  # SessionEnd reason of the last process that held it
    close_reason: str = ""  # clear, exit, logout, other, error
    hook_bridge: bool = False


@dataclass
class GroundTruth:
    """Totals of one generated fleet, for tests and benchmarks to check against."""

    sessions: dict[str, SessionTruth] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)  # see Fleet docs for the keys
    orgs: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)

    @property
    def threads(self) -> int:
        return sum(1 for s in self.sessions.values() if s.thread_id == s.session_id)

    @property
    def total_cost_usd_micros(self) -> int:
        return sum(s.cost_usd_micros for s in self.sessions.values())

    def summary(self) -> dict[str, Any]:
        """Plain numbers: sessions, threads, forks, clears, compactions, records, cost."""
        out: dict[str, Any] = {
            "orgs": len(self.orgs),
            "users": len(self.users),
            "sessions": len(self.sessions),
            "threads": self.threads,
            "total_cost_usd_micros": self.total_cost_usd_micros,
        }
        out.update(sorted(self.counts.items()))
        return out


# ---------------------------------------------------------------------------------------
# protobuf helpers


def _any(value: Any) -> AnyValue:
    if isinstance(value, str):
        return AnyValue(string_value=value)
    if isinstance(value, bool):  # before int: bool is an int
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, list | tuple):
        return AnyValue(array_value=ArrayValue(values=[_any(v) for v in value]))
    raise TypeError(f"unsupported attribute value {value!r}")


def _kvs(pairs: list[tuple[str, Any]]) -> list[KeyValue]:
    return [KeyValue(key=k, value=_any(v)) for k, v in pairs]


def _iso(ns: int) -> str:
    ms = ns // 1_000_000
    return datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


def _pick(rng: random.Random, weighted: tuple[tuple[Any, ...], ...]) -> tuple[Any, ...]:
    total = sum(w[-1] for w in weighted)
    x = rng.random() * total
    for item in weighted:
        x -= item[-1]
        if x < 0:
            return item
    return weighted[-1]


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _geometric(rng: random.Random, p_more: float, cap: int) -> int:
    """How many times a chance ``p_more`` comes up in a row (0..cap)."""
    n = 0
    while n < cap and rng.random() < p_more:
        n += 1
    return n


# ---------------------------------------------------------------------------------------
# the people and places


@dataclass
class _User:
    index: int
    org_id: str
    org_domain: str
    user_id: str  # 64 hex, as Claude Code hashes it
    email: str
    account_uuid: str
    login: str
    host: str
    terminal: str
    os_type: str
    os_version: str
    arch: str
    version: str
    model: str
    projects: list[tuple[str, str]]  # (repo, team)
    log_prompts: bool
    resource_attrs: bool
    hook_bridge: bool
    cache_1h: bool
    weight: float


def _build_people(spec: FleetSpec) -> tuple[list[str], list[_User]]:
    rng = random.Random(f"loomline-fleet:{spec.seed}:people")
    orgs = [_uuid(rng) for _ in range(spec.orgs)]
    domains = [f"org{i + 1}.example.com" for i in range(spec.orgs)]
    org_weights = [rng.lognormvariate(0, 0.8) for _ in orgs]
    org_repos = [rng.sample(_REPOS, k=min(len(_REPOS), 4 + rng.randrange(8))) for _ in orgs]
    users: list[_User] = []
    for i in range(spec.users):
        # every org gets a user before any gets a second, then by weight
        org = i if i < spec.orgs else rng.choices(range(spec.orgs), weights=org_weights)[0]
        login = f"{_FIRST[i % len(_FIRST)]}.{_LAST[(i // len(_FIRST) + i) % len(_LAST)]}"
        if i >= len(_FIRST) * len(_LAST):
            login += str(i)
        os_type, os_version, arch, _ = _pick(rng, _OSES)
        repos = rng.sample(org_repos[org], k=min(len(org_repos[org]), 1 + rng.randrange(4)))
        users.append(
            _User(
                index=i,
                org_id=orgs[org],
                org_domain=domains[org],
                user_id=hashlib.sha256(f"{spec.seed}:{i}:{login}".encode()).hexdigest(),
                email=f"{login}@{domains[org]}",
                account_uuid=_uuid(rng),
                login=login.replace(".", ""),
                host=f"{login.split('.')[0]}-{'mbp' if os_type == 'darwin' else 'dev'}-{i}",
                terminal=_pick(rng, _TERMINALS)[0],
                os_type=os_type,
                os_version=os_version,
                arch=arch,
                version=_pick(rng, _CLI_VERSIONS)[0],
                model=_pick(rng, _MAIN_MODELS)[0],
                projects=[(r, rng.choice(_TEAMS)) for r in repos],
                log_prompts=rng.random() < spec.log_prompts_share,
                resource_attrs=rng.random() < spec.resource_attrs_share,
                hook_bridge=rng.random() < spec.hook_bridge_share,
                cache_1h=rng.random() < 0.2,
                weight=rng.lognormvariate(0, 1.0),
            )
        )
    return orgs, users


# ---------------------------------------------------------------------------------------
# request batching


class _Batcher:
    """Collects per-process record groups and cuts them into requests of about batch_size
    records (log records, spans, or metric data points; a metric is never split)."""

    def __init__(self, signal: str, batch_size: int) -> None:
        self.signal = signal
        self.batch_size = batch_size
        self.groups: list[tuple[Resource | None, InstrumentationScope, list[Any]]] = []
        self.count = 0
        self.requests = 0

    def add(self, resource: Resource | None, scope: InstrumentationScope, items: list[Any],
            sizes: list[int] | None = None) -> Iterator[tuple[str, Message]]:
        """Add one process's records (``None`` placeholders when not encoding)."""
        start = 0
        for i in range(len(items)):
            self.count += sizes[i] if sizes else 1
            if self.count >= self.batch_size:
                self.groups.append((resource, scope, items[start : i + 1]))
                start = i + 1
                yield from self.flush()
        if start < len(items):
            self.groups.append((resource, scope, items[start:]))

    def flush(self) -> Iterator[tuple[str, Message]]:
        if not self.groups:
            return
        groups, self.groups, self.count = self.groups, [], 0
        self.requests += 1
        if groups[0][0] is None:  # counting only
            return
        if self.signal == "logs":
            yield "logs", ExportLogsServiceRequest(resource_logs=[
                ResourceLogs(resource=r, scope_logs=[ScopeLogs(scope=s, log_records=recs)]) for r, s, recs in groups])
        elif self.signal == "traces":
            yield "traces", ExportTraceServiceRequest(resource_spans=[
                ResourceSpans(resource=r, scope_spans=[ScopeSpans(scope=s, spans=recs)]) for r, s, recs in groups])
        else:
            yield "metrics", ExportMetricsServiceRequest(resource_metrics=[
                ResourceMetrics(resource=r, scope_metrics=[ScopeMetrics(scope=s, metrics=recs)]) for r, s, recs in groups])


# ---------------------------------------------------------------------------------------
# one CLI process


@dataclass
class _Session:
    truth: SessionTruth
    context: int = 0  # tokens in the conversation so far
    cleared: bool = False
    compact_failed_in: str = ""  # prompt id whose auto compaction failed: no retry in it


class _Process:
    """One Claude Code process: its resource, event.sequence, interaction counter, and
    records of each signal, encoded as protobuf when ``encode``."""

    def __init__(self, fleet: Fleet, user: _User, repo: str, team: str, pid: int, start_ns: int, interactive: bool) -> None:
        self.fleet = fleet
        self.encode = fleet._encode
        self.user = user
        self.pid = pid
        self.start_ns = start_ns
        self.interactive = interactive
        self.seq = 0
        self.interactions = 0
        self.run_id = f"{user.host}:{pid}:{start_ns // 1_000_000_000}"
        self.logs: list[LogRecord | None] = []
        self.spans: list[Span | None] = []
        self.metric_exports: list[Metric | None] = []
        self.metric_sizes: list[int] = []
        self.hook_logs: list[LogRecord | None] = []
        self.resource: Resource | None = None
        self.hook_resource: Resource | None = None
        self.repo, self.team = repo, team
        self.cwd = f"/home/{user.login}/src/{repo}"
        self.query_source = "repl_main_thread" if interactive else "sdk"
        # metric accumulators since the last export: (session, model, query_source) -> values
        self.cost_acc: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [0.0, 0, 0, 0, 0, 0])
        self.session_counts: list[tuple[str, str, int]] = []
        self.active: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0])
        if self.encode:
            res = [
                ("host.arch", user.arch), ("os.type", user.os_type), ("os.version", user.os_version),
                ("service.name", "claude-code"), ("service.version", user.version),
            ]
            if user.resource_attrs:  # OTEL_RESOURCE_ATTRIBUTES=project.name=...,team.name=...
                res += [("project.name", repo), ("team.name", team), ("department", "engineering")]
            self.resource = Resource(attributes=_kvs(res))
            self.hook_resource = Resource(attributes=_kvs([
                ("service.name", "loomline-hook"), ("service.version", _LOOMLINE_VERSION), ("host.name", user.host),
            ]))

    # -- records ---------------------------------------------------------------------

    def _common(self, session_id: str) -> list[tuple[str, Any]]:
        u = self.user
        return [
            ("user.id", u.user_id), ("session.id", session_id), ("organization.id", u.org_id),
            ("user.email", u.email), ("user.account_uuid", u.account_uuid),
            ("anthropic.provider", "firstParty"), ("anthropic.custom_base_url", False), ("terminal.type", u.terminal),
        ]

    def log(self, ns: int, session_id: str, event: str, attrs: list[tuple[str, Any]],
            trace: tuple[bytes, bytes] | None = None) -> None:
        seq = self.seq
        self.seq += 1
        self.fleet._count["log_records"] += 1
        self.fleet._count[f"event.{event}"] += 1
        if not self.encode:
            self.logs.append(None)
            return
        pairs = self._common(session_id)
        pairs += [("event.name", event), ("event.timestamp", _iso(ns)), ("event.sequence", seq)]
        pairs += attrs
        record = LogRecord(time_unix_nano=ns, observed_time_unix_nano=ns,
                           body=AnyValue(string_value=f"claude_code.{event}"), attributes=_kvs(pairs))
        if trace:
            record.trace_id, record.span_id, record.flags = trace[0], trace[1], 1
        self.logs.append(record)

    def span(self, name: str, trace_id: bytes, span_id: bytes, parent: bytes, start_ns: int, end_ns: int,
             session_id: str, attrs: list[tuple[str, Any]], error: str = "", attempts: int = 0) -> None:
        if not self.fleet.spec.spans:
            return
        self.fleet._count["spans"] += 1
        if not self.encode:
            self.spans.append(None)
            return
        pairs = self._common(session_id) + [("gen_ai.provider.name", "anthropic"), ("span.type", name.removeprefix("claude_code."))]
        pairs += attrs
        span = Span(trace_id=trace_id, span_id=span_id, parent_span_id=parent, name=name, kind=Span.SPAN_KIND_INTERNAL,
                    start_time_unix_nano=start_ns, end_time_unix_nano=end_ns, attributes=_kvs(pairs), flags=257,
                    status=Status(code=Status.STATUS_CODE_ERROR, message=error) if error else Status())
        for attempt in range(1, attempts + 1):
            span.events.add(time_unix_nano=start_ns + attempt * 9_000_000, name="gen_ai.request.attempt",
                            attributes=_kvs([("attempt", attempt)]))
        self.spans.append(span)

    def hook(self, ns: int, session: SessionTruth, hook_event: str, attrs: list[tuple[str, Any]]) -> None:
        """One ``loomline hook`` record (docs/hook-records.md), for users with the bridge."""
        if not self.user.hook_bridge:
            return
        self.fleet._count["hook_records"] += 1
        if not self.encode:
            self.hook_logs.append(None)
            return
        name = "loomline." + "".join("_" + c.lower() if c.isupper() else c for c in hook_event).lstrip("_")
        # The bridge carries its org (install-hooks --org), as Claude Code's own records do:
        # without it the receiver files the record under its default org.
        pairs: list[tuple[str, Any]] = [
            ("session.id", session.session_id), ("event.name", name), ("event.timestamp", _iso(ns)),
            ("hook_event_name", hook_event), ("organization.id", session.org_id),
        ]
        pairs += attrs
        pairs += [
            ("cwd", self.cwd), ("transcript_path", f"/home/{self.user.login}/.claude/projects/-home-{self.user.login}-src-{self.repo}/{session.session_id}.jsonl"),
            ("loomline.cli_run.id", self.run_id), ("loomline.cli_run.pid", self.pid),
            # the bridge normalizes the origin remote (git@github.com:acme/api.git -> github.com/acme/api)
            ("loomline.project.id", f"github.com/{self.user.org_domain.split('.')[0]}/{self.repo}"),
            ("loomline.project.name", self.repo), ("git.branch", "main"),
        ]
        self.hook_logs.append(LogRecord(time_unix_nano=ns, observed_time_unix_nano=ns,
                                        body=AnyValue(string_value=name), attributes=_kvs(pairs)))

    # -- metrics -------------------------------------------------------------------

    def add_usage(self, ns: int, session_id: str, model: str, source: str, cost: float,
                  tokens: tuple[int, int, int, int]) -> None:
        acc = self.cost_acc[(session_id, model, source)]
        if not acc[0]:
            acc[5] = ns
        acc[0] += cost
        for i, t in enumerate(tokens):
            acc[1 + i] += t

    def add_active(self, ns: int, session_id: str, kind: str, seconds: float) -> None:
        acc = self.active[(session_id, kind)]
        if not acc[1]:
            acc[1] = ns
        acc[0] += seconds

    def export_metrics(self, ns: int) -> None:
        """One periodic export: delta sums since the previous one."""
        if not self.fleet.spec.metrics:
            self._reset_metrics()
            return
        points: dict[str, list[NumberDataPoint]] = defaultdict(list)
        sizes: Counter[str] = Counter()
        for session_id, start_type, t0 in self.session_counts:
            sizes["claude_code.session.count"] += 1
            if self.encode:
                points["claude_code.session.count"].append(NumberDataPoint(
                    start_time_unix_nano=t0, time_unix_nano=ns, as_double=1.0,
                    attributes=_kvs(self._common(session_id) + [("start_type", start_type)])))
        for (session_id, model, source), (cost, tin, tout, tread, tcreate, c0) in self.cost_acc.items():
            sizes["claude_code.cost.usage"] += 1
            sizes["claude_code.token.usage"] += 4
            if not self.encode:
                continue
            base = self._common(session_id) + [("model", model), ("query_source", source), ("effort", "medium")]
            points["claude_code.cost.usage"].append(NumberDataPoint(
                start_time_unix_nano=int(c0), time_unix_nano=ns, as_double=round(cost, 6), attributes=_kvs(base)))
            for kind, value in (("input", tin), ("output", tout), ("cacheRead", tread), ("cacheCreation", tcreate)):
                points["claude_code.token.usage"].append(NumberDataPoint(
                    start_time_unix_nano=int(c0), time_unix_nano=ns, as_double=float(value),
                    attributes=_kvs(base + [("type", kind)])))
        for (session_id, kind), (seconds, a0) in self.active.items():
            sizes["claude_code.active_time.total"] += 1
            if self.encode:
                points["claude_code.active_time.total"].append(NumberDataPoint(
                    start_time_unix_nano=int(a0), time_unix_nano=ns, as_double=round(seconds, 3),
                    attributes=_kvs(self._common(session_id) + [("type", kind)])))
        self._reset_metrics()
        self.fleet._count["metric_points"] += sum(sizes.values())
        for name, n in sizes.items():
            self.metric_sizes.append(n)
            if not self.encode:
                self.metric_exports.append(None)
                continue
            description, unit = _METRIC_META[name]
            self.metric_exports.append(Metric(name=name, description=description, unit=unit, sum=Sum(
                aggregation_temporality=AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA, is_monotonic=True, data_points=points[name])))

    def _reset_metrics(self) -> None:
        self.cost_acc.clear()
        self.active.clear()
        self.session_counts.clear()


_METRIC_META = {
    "claude_code.session.count": ("Count of CLI sessions started", ""),
    "claude_code.cost.usage": ("Cost of the Claude Code session", "USD"),
    "claude_code.token.usage": ("Number of tokens used", "tokens"),
    "claude_code.active_time.total": ("Total active time in seconds", "s"),
}


# ---------------------------------------------------------------------------------------
# the fleet


class Fleet:
    """A generated fleet. ``requests()`` yields the export requests; ``ground_truth`` says
    what is in them.

    ``ground_truth.counts`` keys: conversations, cli_runs, segments, resumes, continues,
    forks, clears, compactions, compactions_manual, compactions_auto, compactions_failed,
    prompts, api_requests, api_errors, api_retries, tool_calls, ghost_sessions,
    log_records, spans, metric_points, hook_records, requests_logs, requests_traces,
    requests_metrics, and event.<name> for every event name.
    """

    def __init__(self, spec: FleetSpec | None = None, **knobs: Any) -> None:
        self.spec = replace(spec or FleetSpec(), **knobs)
        self._truth: GroundTruth | None = None
        self._encode = True
        self._count: Counter[str] = Counter()
        self._sessions: dict[str, SessionTruth] = {}

    @property
    def ground_truth(self) -> GroundTruth:
        """Totals of the fleet; computed on first use (a generation pass without encoding)."""
        if self._truth is None:
            for _ in self._run(encode=False):
                pass
        assert self._truth is not None
        return self._truth

    def requests(self) -> Iterator[tuple[str, Message]]:
        """(signal, export request) pairs, signal one of logs, traces, metrics."""
        return self._run(encode=True)

    # -- generation ------------------------------------------------------------------

    def _run(self, encode: bool) -> Iterator[tuple[str, Message]]:
        spec = self.spec
        self._encode = encode
        self._count = Counter()
        self._sessions = {}
        orgs, users = _build_people(spec)
        batchers = {s: _Batcher(s, spec.batch_size) for s in ("logs", "traces", "metrics")}
        self._batchers = batchers
        user_weights = [u.weight for u in users]
        start_ns = int(spec.start.timestamp()) * 1_000_000_000

        def start_of(i: int) -> tuple[random.Random, _User, str, str, int]:
            rng = random.Random(f"loomline-fleet:{spec.seed}:conversation:{i}")
            user = rng.choices(users, weights=user_weights)[0]
            repo, team = rng.choice(user.projects)
            day = rng.randrange(spec.days)
            if rng.random() < 0.8 and (spec.start + timedelta(days=day)).weekday() >= 5:
                day = rng.randrange(spec.days)  # fewer weekend starts
            seconds = day * 86400 + int(min(22.5, max(7.0, rng.gauss(13.5, 3.0))) * 3600) + rng.randrange(3600)
            return rng, user, repo, team, seconds

        # Conversations go out in order of their start, as a live fleet's telemetry arrives
        # (each is drawn from its own seeded generator, so the order changes no content).
        for _, i in sorted((start_of(i)[4], i) for i in range(spec.sessions)):
            rng, user, repo, team, seconds = start_of(i)
            self._count["conversations"] += 1
            yield from self._conversation(rng, user, repo, team, start_ns + seconds * 1_000_000_000)
        for b in batchers.values():
            yield from b.flush()
            self._count[f"requests_{b.signal}"] = b.requests
        self._truth = GroundTruth(sessions=self._sessions, counts=self._count, orgs=orgs, users=[u.user_id for u in users])

    def _new_session(self, rng: random.Random, user: _User, repo: str, parent: SessionTruth | None, link: str) -> _Session:
        session_id = _uuid(rng)
        truth = SessionTruth(
            session_id=session_id, org_id=user.org_id, user_id=user.user_id, user_email=user.email, project=repo,
            cwd=f"/home/{user.login}/src/{repo}", thread_id=session_id,
            parent_session_id=parent.session_id if parent else "", link=link, hook_bridge=user.hook_bridge,
        )
        self._sessions[session_id] = truth
        return _Session(truth, context=0)

    def _conversation(self, rng: random.Random, user: _User, repo: str, team: str, t0: int) -> Iterator[tuple[str, Message]]:
        """A fresh session, its later processes (resume / continue), its forks and the
        sessions its /clear started, each with their own later processes."""
        spec = self.spec
        root = self._new_session(rng, user, repo, None, "")
        # (session, first process kind or None if it began inside another process, time)
        queue: list[tuple[_Session, str | None, int]] = [(root, "startup", t0)]
        budget = 12  # sessions per conversation, so a rare chain cannot run away
        while queue:
            session, kind, t = queue.pop(0)
            if kind is not None:
                t, spawned = yield from self._process(rng, user, repo, team, session, kind, t)
                queue += [(s, None, te) for s, te in spawned]
            while not session.cleared and rng.random() < spec.resume_rate:
                t += int(rng.lognormvariate(math.log(3 * 3600), 1.2) * 1e9)  # hours to days later
                kind = "continue" if rng.random() < spec.continue_share else "resume"
                t, spawned = yield from self._process(rng, user, repo, team, session, kind, t)
                queue += [(s, None, te) for s, te in spawned]
            if rng.random() < spec.fork_rate and budget > 0:
                budget -= 1
                child = self._new_session(rng, user, repo, session.truth, "forked_from")
                child.context = session.context
                queue.append((child, "fork", t + int(rng.lognormvariate(math.log(1800), 1.0) * 1e9)))

    def _process(self, rng: random.Random, user: _User, repo: str, team: str, session: _Session, kind: str,
                 t: int) -> Generator[tuple[str, Message], None, tuple[int, list[tuple[_Session, int]]]]:
        """One CLI process from start to exit. Returns (end time, [(cleared-into session, time)])."""
        spec = self.spec
        count = self._count
        interactive = rng.random() < spec.interactive_share
        proc = _Process(self, user, repo, team, pid=1000 + rng.randrange(4_000_000), start_ns=t, interactive=interactive)
        count["cli_runs"] += 1
        count["segments"] += 1
        if kind in ("resume", "continue"):
            count[kind + "s"] += 1
        if kind == "fork":
            count["forks"] += 1
        truth = session.truth
        truth.runs.append(proc.run_id)
        truth.start_types.append(kind)
        if not truth.first_ns:
            truth.first_ns = t

        # start-up: --continue reports its start-up under a throw-away id (see fixtures)
        boot_id = truth.session_id
        if kind == "continue":
            boot_id = _uuid(rng)
            truth.ghost_session_ids.append(boot_id)
            count["ghost_sessions"] += 1
        hooks = user.hook_bridge
        t += 40_000_000 + rng.randrange(300_000_000)
        proc.log(t, boot_id, "managed_settings_resolved", [
            ("managed_settings.trigger", "startup"), ("managed_settings.sources", []),
            ("managed_settings.source_behavior", "first-wins"), ("managed_settings.helper.state", "none"),
            ("managed_settings.helper.applied", "none")])
        if hooks:
            for hook_event in _HOOK_EVENTS:
                t += rng.randrange(2) * 1_000_000
                proc.log(t, boot_id, "hook_registered", [
                    ("hook_event", hook_event), ("hook_type", "command"), ("hook_source", "userSettings"),
                    ("safe_mode", "false"), ("hook_matcher", "*")])
        for name, id_hash in _PLUGINS:
            t += 1_000_000
            proc.log(t, boot_id, "plugin_loaded", [
                ("plugin.name", name), ("marketplace.name", "builtin"), ("plugin.scope", "default-bundle"),
                ("enabled_via", "default-enable"), ("plugin_id_hash", id_hash), ("has_hooks", True),
                ("has_mcp", False), ("host_owned_mcp", False), ("skill_path_count", 0),
                ("command_path_count", 0), ("agent_path_count", 0), ("safe_mode", "false")])
        start_type = {"startup": "fresh", "resume": "resume", "continue": "continue", "fork": "resume"}[kind]
        proc.session_counts.append((boot_id, start_type, t))
        source = {"startup": "startup", "resume": "resume", "continue": "resume", "fork": "fork"}[kind]
        t += 20_000_000 + rng.randrange(40_000_000)
        self._native_hook(proc, rng, t, boot_id, "SessionStart", f"SessionStart:{source}", None)
        extra: list[tuple[str, Any]] = [("source", source)]
        if kind == "fork":
            extra.append(("loomline.parent_session_id", truth.parent_session_id))
        proc.hook(t, truth, "SessionStart", extra + [("model", user.model)])
        t += 50_000_000

        spawned: list[tuple[_Session, int]] = []
        n_prompts = 1 + (_geometric(rng, 1 - 1 / spec.prompts_per_run, 60) if interactive else 0)
        # /clear somewhere in the middle: the new session gets at least one prompt of its own
        clear_at = rng.randrange(1, n_prompts - 1) if interactive and n_prompts > 2 and rng.random() < spec.clear_rate else -1
        end_reason = "other"
        last_error = False
        for p in range(n_prompts):
            if interactive:
                think = rng.lognormvariate(math.log(45), 1.0)
                proc.add_active(t, truth.session_id, "user", min(think, 600.0))
                t += int(think * 1e9)
            if p == clear_at:
                session, t = self._clear(proc, rng, session, t)
                spawned.append((session, 0))
                truth = session.truth
                continue
            if session.context > 40_000 and rng.random() < spec.manual_compact_rate:
                t = self._compact(proc, rng, session, t, "manual")
                continue
            t, last_error = self._prompt(proc, rng, session, t)
            proc.export_metrics(t + rng.randrange(1_000_000_000))
            if last_error and not interactive:
                break  # `claude -p` exits 1 on an unrecovered API error
        # end of the process
        if interactive and not last_error:
            r = rng.random()
            if r < 0.6:
                end_reason = "prompt_input_exit"
                t = self._command(proc, rng, session, t + int(rng.lognormvariate(math.log(20), 1) * 1e9), "/exit", "exit")
            elif r < 0.63:
                end_reason = "logout"
                t = self._command(proc, rng, session, t + int(rng.lognormvariate(math.log(20), 1) * 1e9), "/logout", "logout")
        t += 30_000_000
        proc.hook(t, truth, "SessionEnd", [("reason", end_reason)])
        proc.add_active(t, truth.session_id, "cli", 0.05)
        proc.export_metrics(t + 5_000_000)
        truth.end_reason = end_reason
        truth.close_reason = "error" if last_error else _CLOSE_REASON[end_reason]
        truth.last_ns = max(truth.last_ns, t)
        spawned = [(s, t) for s, _ in spawned]
        yield from self._flush(proc)
        return t, spawned

    def _flush(self, proc: _Process) -> Iterator[tuple[str, Message]]:
        """Hand one finished process's records to the batchers."""
        version, b = proc.user.version, self._batchers
        yield from b["logs"].add(proc.resource, _scope("com.anthropic.claude_code.events", version), proc.logs)
        yield from b["logs"].add(proc.hook_resource, _scope("loomline.hook", _LOOMLINE_VERSION), proc.hook_logs)
        yield from b["traces"].add(proc.resource, _scope("com.anthropic.claude_code.tracing", "1.0.0"), proc.spans)
        yield from b["metrics"].add(proc.resource, _scope("com.anthropic.claude_code", version),
                                    proc.metric_exports, proc.metric_sizes)

    # -- pieces of a process -----------------------------------------------------------

    def _native_hook(self, proc: _Process, rng: random.Random, t: int, session_id: str, hook_event: str,
                     hook_name: str, trace: tuple[bytes, bytes] | None, prompt_id: str = "") -> int:
        """hook_execution_start / _complete, which Claude Code logs when hooks are configured."""
        if not proc.user.hook_bridge:
            return t
        pid = [("prompt.id", prompt_id)] if prompt_id else []
        base = [("hook_event", hook_event), ("hook_name", hook_name), ("num_hooks", "1")]
        proc.log(t, session_id, "hook_execution_start", pid + base + [
            ("managed_only", "false"), ("hook_source", "merged"), ("safe_mode", "false")], trace)
        took = 5 + rng.randrange(40)
        t += (took + 1) * 1_000_000
        proc.log(t, session_id, "hook_execution_complete", pid + base + [
            ("num_success", "1"), ("num_blocking", "0"), ("num_non_blocking_error", "0"), ("num_cancelled", "0"),
            ("total_duration_ms", str(took)), ("stdout_chars", "0"), ("additional_context_chars", "0"),
            ("system_message_chars", "0"), ("initial_user_message_chars", "0"), ("num_outputs_persisted", "0"),
            ("managed_only", "false"), ("hook_source", "merged"), ("safe_mode", "false")], trace)
        return t

    def _user_prompt(self, proc: _Process, rng: random.Random, session: _Session, t: int, text: str,
                     command: str = "") -> tuple[str, bytes, bytes, int]:
        """The user_prompt event and the start of its interaction span; returns ids and time."""
        truth = session.truth
        prompt_id = _uuid(rng)
        trace_id, span_id = rng.getrandbits(128).to_bytes(16, "big"), rng.getrandbits(64).to_bytes(8, "big")
        attrs: list[tuple[str, Any]] = [("prompt.id", prompt_id), ("prompt_length", str(len(text)))]
        if proc.user.log_prompts:
            attrs += [("prompt", text), ("prompt_text", text)]
        if command:
            attrs += [("command_name", command), ("command_source", "builtin")]
        else:
            attrs.append(("message.uuid", _uuid(rng)))
        proc.log(t, truth.session_id, "user_prompt", attrs, (trace_id, span_id))
        truth.prompts += 1
        self._count["prompts"] += 1
        return prompt_id, trace_id, span_id, t

    def _interaction_span(self, proc: _Process, session_id: str, trace_id: bytes, span_id: bytes, start: int, end: int,
                          text: str) -> None:
        proc.interactions += 1
        attrs: list[tuple[str, Any]] = [("gen_ai.operation.name", "invoke_agent"), ("gen_ai.conversation.id", session_id)]
        if proc.user.log_prompts:
            attrs.append(("user_prompt", text))
        attrs += [("user_prompt_length", len(text)), ("interaction.sequence", proc.interactions),
                  ("parent.source", "none"), ("queued_sends", 0), ("interaction.duration_ms", (end - start) // 1_000_000)]
        proc.span("claude_code.interaction", trace_id, span_id, b"", start - 40_000_000, end, session_id, attrs)

    def _command(self, proc: _Process, rng: random.Random, session: _Session, t: int, text: str, command: str) -> int:
        _, trace_id, span_id, t0 = self._user_prompt(proc, rng, session, t, text, command)
        t += 17_000_000
        self._interaction_span(proc, session.truth.session_id, trace_id, span_id, t0, t, text)
        return t

    def _clear(self, proc: _Process, rng: random.Random, session: _Session, t: int) -> tuple[_Session, int]:
        """/clear: the session ends (reason clear), a new id starts in the same process."""
        old = session.truth
        prompt_id, trace_id, span_id, t0 = self._user_prompt(proc, rng, session, t, "/clear", "clear")
        t += 60_000_000
        proc.hook(t, old, "SessionEnd", [("reason", "clear")])
        old.end_reason, old.close_reason, old.last_ns = "clear", "clear", t
        session.cleared = True
        new = self._new_session(rng, proc.user, proc.repo, old, "cleared_from")
        new.truth.runs.append(proc.run_id)
        new.truth.start_types.append("clear")
        new.truth.first_ns = t
        self._count["clears"] += 1
        self._count["segments"] += 1
        t += 20_000_000
        t = self._native_hook(proc, rng, t, new.truth.session_id, "SessionStart", "SessionStart:clear", (trace_id, span_id))
        proc.hook(t, new.truth, "SessionStart", [("source", "clear"), ("model", proc.user.model)])
        t += 10_000_000
        self._interaction_span(proc, old.session_id, trace_id, span_id, t0, t, "/clear")
        proc.add_active(t, new.truth.session_id, "cli", 0.1)
        return new, t

    def _api_call(self, proc: _Process, rng: random.Random, session: _Session, t: int, prompt_id: str,
                  trace: tuple[bytes, bytes], source: str, new_tokens: int, final: bool, cold: bool) -> tuple[int, bool]:
        """One Messages API call: api_request (or api_error) and its llm_request span."""
        spec, truth, user = self.spec, session.truth, proc.user
        model = user.model if source != "compact" or rng.random() < 0.8 else "claude-haiku-4-5-20251001"
        trace_id, parent = trace
        span_id = rng.getrandbits(64).to_bytes(8, "big")
        start = t
        r = rng.random()
        qs_metric = "auxiliary" if source == "compact" else "main"
        if r < spec.api_error_rate:
            status, message, error_class = rng.choice(_API_ERRORS)
            attempts = 1 if status == 400 else 1 + rng.randrange(10)
            duration = 50 + rng.randrange(2000) * attempts
            t += duration * 1_000_000
            proc.log(t, truth.session_id, "api_error", [
                ("prompt.id", prompt_id), ("model", model), ("error", message), ("status_code", status),
                ("duration_ms", duration), ("attempt", attempts), ("speed", "normal"), ("query_source", proc.query_source if source == "main" else source),
                ("effort", "medium")], (trace_id, parent))
            proc.span("claude_code.llm_request", trace_id, span_id, parent, start, t, truth.session_id, [
                ("model", model), ("gen_ai.system", "anthropic"), ("gen_ai.request.model", model),
                ("llm_request.context", "interaction"), ("speed", "normal"), ("gen_ai.conversation.id", truth.session_id),
                ("query_source_safe", proc.query_source if source == "main" else source), ("duration_ms", duration),
                ("success", False), ("status_code", status), ("error", message), ("error_class", error_class),
                ("attempt", attempts), ("effort", "medium")], error=message, attempts=attempts)
            truth.api_errors += 1
            self._count["api_errors"] += 1
            return t, False
        attempts = 2 if r < spec.api_error_rate + spec.api_retry_rate else 1
        if attempts == 2:
            self._count["api_retries"] += 1
        # tokens: the cached prefix is read, what is new since the last call is written
        if cold or rng.random() < 0.04:
            cache_read = 0 if cold and rng.random() < 0.5 else min(session.context, 14_000 + rng.randrange(4000))
            cache_creation = max(0, session.context - cache_read) + new_tokens
        else:
            cache_read, cache_creation = session.context, new_tokens
        input_tokens = 1 + rng.randrange(12) if rng.random() < 0.9 else 10 + int(rng.lognormvariate(math.log(800), 1.2))
        output = int(rng.lognormvariate(math.log(600 if final else 180), 0.9)) + 1
        output = min(output, 32_000)
        if source == "compact":
            output = 2_000 + rng.randrange(8_000)
        c1h = cache_creation if user.cache_1h else 0
        c5m = cache_creation - c1h
        pin, pout, pread, p5m, p1h = PRICES_PER_MTOK[model]
        micros = round(input_tokens * pin + output * pout + cache_read * pread + c5m * p5m + c1h * p1h)
        ttft = 300 + int(rng.lognormvariate(math.log(900), 0.6))
        duration = ttft + output * (8 + rng.randrange(14)) // 1 + (600 if attempts == 2 else 0)
        t += duration * 1_000_000
        qs = proc.query_source if source == "main" else source
        proc.log(t, truth.session_id, "api_request", [
            ("prompt.id", prompt_id), ("model", model), ("input_tokens", input_tokens), ("output_tokens", output),
            ("cache_read_tokens", cache_read), ("cache_creation_tokens", cache_creation),
            ("cache_creation_5m_tokens", c5m), ("cache_creation_1h_tokens", c1h), ("cost_usd", micros / 1e6),
            ("cost_usd_micros", micros), ("duration_ms", duration), ("ttft_ms", ttft), ("speed", "normal"),
            ("query_source", qs), ("effort", "medium")], (trace_id, parent))
        stop = "end_turn" if final else "tool_use"
        proc.span("claude_code.llm_request", trace_id, span_id, parent, start - 10_000_000, t, truth.session_id, [
            ("model", model), ("gen_ai.system", "anthropic"), ("gen_ai.request.model", model),
            ("llm_request.context", "interaction"), ("speed", "normal"), ("gen_ai.conversation.id", truth.session_id),
            ("query_source_safe", qs), ("duration_ms", duration + 10), ("input_tokens", input_tokens),
            ("output_tokens", output), ("cache_read_tokens", cache_read), ("cache_creation_tokens", cache_creation),
            ("success", True), ("attempt", attempts), ("ttft_ms", ttft), ("first_content_ms", ttft + 2),
            ("effort", "medium"), ("stop_reason", stop), ("gen_ai.response.finish_reasons", [stop])], attempts=attempts)
        proc.add_usage(t, truth.session_id, model, qs_metric, micros / 1e6, (input_tokens, output, cache_read, cache_creation))
        truth.api_requests += 1
        truth.cost_usd_micros += micros
        truth.tokens.update(input=input_tokens, output=output, cache_read=cache_read, cache_creation=cache_creation)
        truth.models.add(model)
        self._count["api_requests"] += 1
        self._count["cost_usd_micros"] += micros
        session.context += new_tokens + output
        return t, True

    def _compact(self, proc: _Process, rng: random.Random, session: _Session, t: int, trigger: str,
                 inside: tuple[str, bytes, bytes] | None = None) -> int:
        """A compaction attempt. Manual: its own /compact prompt. Auto: inside a prompt."""
        spec, truth = self.spec, session.truth
        if inside is None:
            prompt_id, trace_id, span_id, t0 = self._user_prompt(proc, rng, session, t, "/compact", "compact")
        else:
            prompt_id, trace_id, span_id = inside
            t0 = t
        trace = (trace_id, span_id)
        pre = session.context + rng.randrange(2000)
        self._count["compactions"] += 1
        self._count[f"compactions_{trigger}"] += 1
        truth.compactions += 1
        proc.hook(t, truth, "PreCompact", [("trigger", trigger), ("prompt.id", prompt_id)])
        started = t
        # near the hard limit a failure would end the conversation; real sessions get through
        if trigger == "auto" and pre < _CONTEXT_LIMIT - 15_000 and rng.random() < spec.autocompact_failure_rate:
            session.compact_failed_in = prompt_id
            t += (10 + rng.randrange(20)) * 1_000_000
            proc.log(t, truth.session_id, "compaction", [
                ("prompt.id", prompt_id), ("trigger", trigger), ("success", "false"),
                ("duration_ms", str((t - started) // 1_000_000)), ("pre_tokens", str(pre)), ("error", "too_few_groups")], trace)
            truth.failed_compactions += 1
            self._count["compactions_failed"] += 1
            return t
        saved = session.context
        t, ok = self._api_call(proc, rng, session, t, prompt_id, trace, "compact", 0, True, False)
        session.context = saved
        if not ok:
            t += 5_000_000
            proc.log(t, truth.session_id, "compaction", [
                ("prompt.id", prompt_id), ("trigger", trigger), ("success", "false"),
                ("duration_ms", str((t - started) // 1_000_000)), ("pre_tokens", str(pre)), ("error", "api_error")], trace)
            truth.failed_compactions += 1
            self._count["compactions_failed"] += 1
            return t
        post = 6_000 + rng.randrange(min(30_000, max(1, pre // 4)))
        t += 20_000_000
        t = self._native_hook(proc, rng, t, truth.session_id, "SessionStart", "SessionStart:compact", trace, prompt_id)
        proc.hook(t, truth, "SessionStart", [("source", "compact"), ("pre_tokens", pre), ("post_tokens", post)])
        truth.start_types.append("compact")
        self._count["segments"] += 1
        t += 20_000_000
        proc.log(t, truth.session_id, "compaction", [
            ("prompt.id", prompt_id), ("trigger", trigger), ("success", "true"),
            ("duration_ms", str((t - started) // 1_000_000)), ("pre_tokens", str(pre)), ("post_tokens", str(post)),
            ("precompute_reuse", "miss_not_ready")], trace)
        proc.hook(t, truth, "PostCompact", [("trigger", trigger), ("prompt.id", prompt_id), ("pre_tokens", pre), ("post_tokens", post)])
        session.context = post
        if inside is None:
            self._interaction_span(proc, truth.session_id, trace_id, span_id, t0, t + 5_000_000, "/compact")
            proc.export_metrics(t + rng.randrange(1_000_000_000))
        return t

    def _prompt(self, proc: _Process, rng: random.Random, session: _Session, t: int) -> tuple[int, bool]:
        """One prompt: user_prompt, API calls with tool use in between, the answer. Returns
        (time, ended on an unrecovered API error)."""
        spec, truth = self.spec, session.truth
        text = rng.choice(_PROMPTS).format(f=rng.choice(_FILES))
        cold = proc.interactions == 0
        if not session.context:
            session.context = 15_000 + rng.randrange(6_000)  # system prompt, tools, CLAUDE.md
        prompt_id, trace_id, span_id, t0 = self._user_prompt(proc, rng, session, t, text)
        trace = (trace_id, span_id)
        proc.hook(t, truth, "UserPromptSubmit", [("prompt.id", prompt_id), ("permission_mode", "default")]
                  + ([("prompt", text)] if proc.user.log_prompts else []))
        t = self._native_hook(proc, rng, t + 8_000_000, truth.session_id, "UserPromptSubmit", "UserPromptSubmit", trace, prompt_id)
        steps = _geometric(rng, 1 - 1 / (1 + spec.tool_steps), 40)
        new_tokens = 20 + len(text) // 3
        failed = False
        for step in range(steps + 1):
            if session.context > spec.autocompact_threshold and session.compact_failed_in != prompt_id:
                t = self._compact(proc, rng, session, t, "auto", (prompt_id, trace_id, span_id))
            final = step == steps
            t += 80_000_000
            t, ok = self._api_call(proc, rng, session, t, prompt_id, trace, "main", new_tokens, final, cold and step == 0)
            if not ok:
                failed = True
                break
            if final:
                break
            t, new_tokens = self._tool(proc, rng, session, t, prompt_id, trace)
        if not failed:
            proc.log(t + 1_000_000, truth.session_id, "assistant_response", [
                ("prompt.id", prompt_id), ("response_length", 200 + rng.randrange(2000))]
                + ([("response", "Done: I updated the code and the tests pass.")] if proc.user.log_prompts else [])
                + [("message.uuid", _uuid(rng)), ("model", proc.user.model), ("query_source", proc.query_source)], trace)
            t += 5_000_000
            proc.hook(t, truth, "Stop", [("prompt.id", prompt_id), ("permission_mode", "default")])
            t = self._native_hook(proc, rng, t, truth.session_id, "Stop", "Stop", trace, prompt_id)
        t += 10_000_000
        self._interaction_span(proc, truth.session_id, trace_id, span_id, t0, t, text)
        proc.add_active(t, truth.session_id, "cli", (t - t0) / 1e9)
        truth.last_ns = t
        return t, failed

    def _tool(self, proc: _Process, rng: random.Random, session: _Session, t: int, prompt_id: str,
              trace: tuple[bytes, bytes]) -> tuple[int, int]:
        """One tool call: tool_decision, tool_result, spans; returns (time, tokens it adds)."""
        truth = session.truth
        trace_id, interaction = trace
        tool = _pick(rng, _TOOLS)[0]
        tool_use_id = f"toolu_{rng.getrandbits(64):016x}"
        span_tool, span_block, span_exec = (rng.getrandbits(64).to_bytes(8, "big") for _ in range(3))
        if tool == "Bash":
            command, argv0, klass = rng.choice(_BASH)
            params = json.dumps({"bash_command": argv0, "full_command": command, "description": "Run it"}, separators=(",", ":"))
            tool_input = json.dumps({"command": command, "description": "Run it"}, separators=(",", ":"))
        else:
            params = "{}"
            tool_input = json.dumps({"file_path": f"{proc.cwd}/{rng.choice(_FILES)}"}, separators=(",", ":"))
        rejected = rng.random() < self.spec.tool_reject_rate
        decision, source = ("reject", "user_reject") if rejected else ("accept", rng.choice(("config", "config", "user_temporary")))
        start = t
        proc.hook(t, truth, "PreToolUse", [("prompt.id", prompt_id), ("permission_mode", "default"),
                                           ("tool_name", tool), ("tool_use_id", tool_use_id)])
        t = self._native_hook(proc, rng, t + 2_000_000, truth.session_id, "PreToolUse", f"PreToolUse:{tool}", trace, prompt_id)
        t += (20 + (rng.randrange(8000) if source == "user_temporary" else rng.randrange(40))) * 1_000_000
        blocked_end = t
        proc.log(t, truth.session_id, "tool_decision", [
            ("prompt.id", prompt_id), ("decision", decision), ("source", source), ("tool_name", tool),
            ("tool_use_id", tool_use_id), ("tool_source", "builtin"), ("tool_parameters", params),
            ("permission_mode", "default")], (trace_id, span_block))
        took = 0 if rejected else int(rng.lognormvariate(math.log(120), 1.3))
        t += took * 1_000_000 + 1_000_000
        result_size = 0 if rejected else int(rng.lognormvariate(math.log(1000), 1.3))
        if rng.random() < 0.02:
            result_size += 20_000 + rng.randrange(40_000)  # a big file or log
        success = not rejected and rng.random() > 0.05
        proc.log(t, truth.session_id, "tool_result", [
            ("prompt.id", prompt_id), ("tool_name", tool), ("tool_use_id", tool_use_id),
            ("success", "true" if success else "false"), ("duration_ms", str(took)), ("tool_parameters", params),
            ("tool_input", tool_input), ("tool_input_size_bytes", str(len(tool_input))),
            ("tool_result_size_bytes", str(result_size * 4))], trace)
        if not rejected:
            proc.hook(t, truth, "PostToolUse", [("prompt.id", prompt_id), ("permission_mode", "default"),
                                                ("tool_name", tool), ("tool_use_id", tool_use_id)])
            t = self._native_hook(proc, rng, t + 1_000_000, truth.session_id, "PostToolUse", f"PostToolUse:{tool}", trace, prompt_id)
        sid = truth.session_id
        base: list[tuple[str, Any]] = [("gen_ai.conversation.id", sid)]
        proc.span("claude_code.tool.blocked_on_user", trace_id, span_block, span_tool, start, blocked_end, sid,
                  base + [("duration_ms", (blocked_end - start) // 1_000_000), ("decision", decision), ("source", source)])
        if not rejected:
            proc.span("claude_code.tool.execution", trace_id, span_exec, span_tool, blocked_end, blocked_end + took * 1_000_000, sid,
                      base + [("tool_use_id", tool_use_id), ("gen_ai.tool.call.id", tool_use_id), ("duration_ms", took),
                              ("success", success)])
        tool_attrs: list[tuple[str, Any]] = [("tool_name", tool), ("tool_name_safe", tool), ("gen_ai.operation.name", "execute_tool"),
                                             ("gen_ai.tool.name", tool), ("gen_ai.conversation.id", sid)]
        if tool == "Bash":
            tool_attrs += [("full_command", command), ("bash_command_class", klass), ("bash_argv0", argv0)]
        tool_attrs += [("tool_use_id", tool_use_id), ("gen_ai.tool.call.id", tool_use_id), ("duration_ms", (t - start) // 1_000_000)]
        proc.span("claude_code.tool", trace_id, span_tool, interaction, start, t, sid, tool_attrs)
        self._count["tool_calls"] += 1
        return t, 30 + result_size


_SCOPES: dict[tuple[str, str], InstrumentationScope] = {}


def _scope(name: str, version: str) -> InstrumentationScope:
    key = (name, version)
    if key not in _SCOPES:
        _SCOPES[key] = InstrumentationScope(name=name, version=version)
    return _SCOPES[key]


# ---------------------------------------------------------------------------------------
# the stable front door


def generate(
    seed: int = 0,
    orgs: int = 3,
    users: int = 20,
    sessions: int = 100,
    *,
    start: datetime = DEFAULT_START,
    days: int = 7,
    batch_size: int = 512,
    **knobs: Any,
) -> Iterator[tuple[str, Message]]:
    """Yield (signal, OTLP export request) for a seeded fleet; same arguments, same bytes.

    ``knobs`` are any other FleetSpec fields (rates, shares, spans, metrics).
    """
    spec = FleetSpec(seed=seed, orgs=orgs, users=users, sessions=sessions, start=start, days=days,
                     batch_size=batch_size, **knobs)
    return Fleet(spec).requests()


def ground_truth(spec: FleetSpec) -> GroundTruth:
    """What ``Fleet(spec).requests()`` contains, without encoding any protobuf."""
    return Fleet(spec).ground_truth


def record_count(signal: str, request: Message) -> int:
    """Log records, spans or metric data points in one export request."""
    if signal == "logs":
        return sum(len(s.log_records) for r in request.resource_logs for s in r.scope_logs)  # type: ignore[attr-defined]
    if signal == "traces":
        return sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)  # type: ignore[attr-defined]
    return sum(
        len(getattr(m, m.WhichOneof("data")).data_points)
        for r in request.resource_metrics  # type: ignore[attr-defined]
        for s in r.scope_metrics
        for m in s.metrics
    )

"""One settings object for every loomline component (a bottom room: every package may import
it, it imports none of them).

Every option has a CLI flag and a ``LOOMLINE_*`` environment variable. Precedence:
flag > environment > default. Defaults work on a laptop: embedded ClickHouse (chDB)
under ``./.loomline/data`` and loopback listeners.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

# What one process can run: everything, or one part of the data path against a shared server.
ROLES = ("all", "receiver", "enricher", "api")


class SettingsError(ValueError):
    """A setting has a value loomline cannot use; the message says which and why."""


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise SettingsError(f"expected a boolean (true/false), got {text!r}")


def _parse_token_map(text: str) -> dict[str, str]:
    """Parse ``token=org,token2=org2`` into {token: org}."""
    result: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        token, sep, org = item.partition("=")
        if not sep or not token.strip() or not org.strip():
            raise SettingsError(f"expected TOKEN=ORG pairs separated by commas, got {item!r}")
        if "=" in org:
            raise SettingsError(f"ambiguous token spec {item!r}: one '=' per TOKEN=ORG pair")
        if token.strip() in result:
            raise SettingsError("a token is listed twice: one entry per token")
        result[token.strip()] = org.strip()
    return result


def _parse_receiver_tokens(text: str) -> dict[str, tuple[str, ...]]:
    """Parse ``token=org1|org2,token2=*`` into {token: (orgs...)}.

    The first org is the token's home org (where records that name no permitted
    ``organization.id`` are stored); ``*`` lets a trusted gateway write any org. Ambiguous
    specs are errors, not guesses: ``a=b=c`` (is the token ``a`` or ``a=b``?), the same
    token twice, an empty org in a list.
    """
    result: dict[str, tuple[str, ...]] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        token, sep, orgs_text = item.partition("=")
        token = token.strip()
        if not sep or not token or not orgs_text.strip():
            raise SettingsError(f"expected TOKEN=ORG pairs separated by commas, got {item!r}")
        if "=" in orgs_text:
            raise SettingsError(f"ambiguous token spec {item!r}: one '=' per TOKEN=ORG pair")
        orgs = tuple(org.strip() for org in orgs_text.split("|"))
        if not all(orgs):
            raise SettingsError(f"empty org in {item!r}: use TOKEN=ORG1|ORG2")
        if token in result:
            raise SettingsError(f"a token is listed twice (entry {item.split('=', 1)[1]!r} repeats one): one entry per token")
        result[token] = tuple(dict.fromkeys(orgs))
    return result


class OrgScopes(frozenset[str]):
    """The orgs an API token may read, with ``writable``: the ones it may also change
    (rename, archive, delete). A plain frozenset of orgs is a read-only token."""

    writable: frozenset[str]

    def __new__(cls, orgs: frozenset[str] | set[str], writable: frozenset[str] = frozenset()) -> OrgScopes:
        scopes = super().__new__(cls, orgs)
        scopes.writable = frozenset(writable)
        return scopes


def _parse_api_tokens(text: str) -> dict[str, frozenset[str]]:
    """Parse ``token=org1|org2,token2=*,token3=org1:rw`` into {token: OrgScopes}; ``*``
    allows every org. A trailing ``:rw`` makes the token's orgs writable; ``:ro`` (or no
    suffix) keeps it read-only."""
    result: dict[str, frozenset[str]] = {}
    for token, spec in _parse_token_map(text).items():
        orgs_text, scope = spec, "ro"
        if spec.endswith((":rw", ":ro")):
            orgs_text, scope = spec[:-3], spec[-2:]
        orgs = frozenset(o for o in orgs_text.split("|") if o)
        if not orgs:
            raise SettingsError(f"api token {token[:4]}...: no organization before {':' + scope!r}")
        result[token] = OrgScopes(orgs, orgs if scope == "rw" else frozenset())
    return result


@dataclass(frozen=True)
class Option:
    """How one setting maps to a flag, an environment variable and a parser."""

    flag: str
    help: str
    parse: Any = str
    metavar: str | None = None


def _opt(default: Any, flag: str, help: str, parse: Any = str, metavar: str | None = None) -> Any:
    def make() -> Any:
        return default() if callable(default) else default

    return field(
        default_factory=make,
        metadata={"option": Option(flag, help, parse, metavar)},
    )


def _show_default(f: dataclasses.Field[Any]) -> str:
    """A field's default as --help shows it."""
    value = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
    if value in ("", {}, None):
        return "none"
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1024 and value % 1024 == 0:
        return f"{value} ({value // 1024 // 1024} MiB)" if value % (1024 * 1024) == 0 else f"{value} ({value // 1024} KiB)"
    return str(value)


@dataclass(frozen=True)
class Settings:
    """Everything loomline can be told. Field name ``foo_bar`` maps to ``--foo-bar`` and
    ``LOOMLINE_FOO_BAR`` unless the option says otherwise."""

    clickhouse: str = _opt(
        "chdb://./.loomline/data",
        "--clickhouse",
        "storage DSN: chdb://<data dir> (embedded, default) or http(s)://user:pass@host:port/db",
        metavar="DSN",
    )
    database: str = _opt(
        "loomline",
        "--database",
        "ClickHouse database holding loomline's tables (a path in an http(s) DSN wins)",
    )
    role: str = _opt(
        "all", "--role",
        "which parts this process runs: all, receiver, enricher or api (a role other than all"
        " needs a ClickHouse server DSN; see docs/scale-out.md)",
        metavar="ROLE",
    )
    clickhouse_cluster: str = _opt(
        "", "--clickhouse-cluster",
        "ClickHouse cluster name: DDL runs ON CLUSTER with replicated tables behind Distributed ones"
        " (server DSN only; see docs/scale-out.md)",
        metavar="NAME",
    )
    otlp_grpc: str = _opt(
        "127.0.0.1:4317", "--otlp-grpc", "OTLP/gRPC listen address (port 0: any free port; 'off' disables)",
        metavar="HOST:PORT",
    )
    otlp_http: str = _opt(
        "127.0.0.1:4318", "--otlp-http", "OTLP/HTTP listen address (port 0: any free port; 'off' disables)",
        metavar="HOST:PORT",
    )
    api: str = _opt(
        "127.0.0.1:8787", "--api", "query API listen address (port 0: any free port; 'off' disables)",
        metavar="HOST:PORT",
    )
    max_request_bytes: int = _opt(
        16 * 1024 * 1024, "--max-request-bytes",
        "largest OTLP request accepted, after decompression (bytes)", int,
    )
    max_attributes: int = _opt(
        256, "--max-attributes", "attributes kept per record; extra ones are dropped and counted", int,
    )
    max_attribute_length: int = _opt(
        16 * 1024, "--max-attribute-length",
        "longest attribute value kept (characters); longer ones are truncated and counted", int,
    )
    # Receiver limits against hostile or runaway clients (docs/limits.md).
    max_attribute_key_length: int = _opt(
        256, "--max-attribute-key-length",
        "longest attribute key kept (characters); attributes with longer keys are dropped and counted", int,
    )
    max_request_rows: int = _opt(
        100_000, "--max-request-rows",
        "most records (log records, spans, data points) one OTLP request may carry; more: 413/RESOURCE_EXHAUSTED", int,
    )
    max_expanded_bytes: int = _opt(
        256 * 1024 * 1024, "--max-expanded-bytes",
        "largest size of a request once resource and scope attributes are repeated on every row they"
        " apply to (bytes); more: 413/RESOURCE_EXHAUSTED", int,
    )
    receive_timeout: float = _opt(
        30.0, "--receive-timeout",
        "seconds a client may take to send one request body (slower senders are cut off)", float,
    )
    max_connections: int = _opt(
        256, "--max-connections",
        "concurrent OTLP/HTTP connections and concurrent OTLP/gRPC calls per listener; more get 503/RESOURCE_EXHAUSTED", int,
    )
    queue_batches: int = _opt(
        64, "--queue-batches",
        "decoded requests waiting for storage before new requests get UNAVAILABLE/503", int,
    )
    write_linger_ms: int = _opt(
        100, "--write-linger-ms",
        "under load, the longest the writer waits to grow an insert block, only while more requests are on their way (0: never; idle requests never wait)", int,
    )
    retention_days: int = _opt(
        0, "--retention-days", "drop raw telemetry older than this many days (0: keep forever)", int,
    )
    receiver_tokens: dict[str, tuple[str, ...]] = _opt(
        dict, "--receiver-tokens",
        "bearer tokens accepted by the receivers, as TOKEN=ORG,... or TOKEN=ORG1|ORG2 (orgs the token may"
        " write; the first is its home org; '*' for a trusted gateway); empty: no auth. See docs/limits.md",
        _parse_receiver_tokens, metavar="TOKEN=ORGS,...",
    )
    api_tokens: dict[str, frozenset[str]] = _opt(
        dict, "--api-tokens",
        "query API bearer tokens, as TOKEN=ORG1|ORG2,... ('*' for every org; a trailing :rw also allows"
        " rename/archive/delete; empty: no auth, loopback only)",
        _parse_api_tokens, metavar="TOKEN=ORGS,...",
    )
    tls_cert: str = _opt("", "--tls-cert", "PEM certificate for the OTLP listeners (enables TLS)", metavar="PATH")
    tls_key: str = _opt("", "--tls-key", "PEM private key matching --tls-cert", metavar="PATH")
    idle_timeout_minutes: float = _opt(
        30.0, "--idle-timeout-minutes",
        "sessions idle longer than this close as 'timeout' unless stronger evidence exists", float,
    )
    enrich_interval: float = _opt(
        1.0, "--enrich-interval", "seconds between enrichment passes over newly stored events", float,
    )
    enrich_cache_events: int = _opt(
        50_000, "--enrich-cache-events",
        "events enrichment keeps in memory between passes, so a session that grows is read"
        " incrementally (least recently used sessions go first; ~1.4 KiB each)", int,
    )
    reconcile_interval: float = _opt(
        300.0, "--reconcile-interval",
        "seconds between full reconcile passes (repairs what a multi-receiver race left)", float,
    )
    title_model: str = _opt(
        "", "--title-model",
        "Anthropic model that titles conversations in the background, e.g. claude-haiku-4-5"
        " (empty: off; needs --anthropic-api-key or ANTHROPIC_API_KEY)",
    )
    anthropic_api_key: str = _opt("", "--anthropic-api-key", "API key for --title-model", metavar="KEY")
    anthropic_base_url: str = _opt(
        "https://api.anthropic.com", "--anthropic-base-url", "Messages API base URL for --title-model", metavar="URL",
    )
    title_concurrency: int = _opt(2, "--title-concurrency", "model title requests in flight at once", int)
    title_max_per_hour: int = _opt(
        120, "--title-max-per-hour", "model title requests per hour at most (bounds the cost)", int,
    )
    log_level: str = _opt("info", "--log-level", "debug, info, warning or error")

    @classmethod
    def options(cls) -> list[tuple[dataclasses.Field[Any], Option]]:
        """Every field with its option metadata, in declaration order."""
        return [(f, f.metadata["option"]) for f in fields(cls)]

    @staticmethod
    def env_name(name: str) -> str:
        return "LOOMLINE_" + name.upper()

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Add one flag per setting; flags default to None so environment values show through."""
        for f, opt in cls.options():
            parser.add_argument(
                opt.flag,
                dest=f.name,
                default=None,
                metavar=opt.metavar,
                help=f"{opt.help} [default: {_show_default(f)}; env {cls.env_name(f.name)}]".replace("%", "%%"),
            )

    @classmethod
    def load(
        cls,
        overrides: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Settings:
        """Build settings from environment variables, then explicit overrides (e.g. flags).

        Override values may be raw strings (as from argparse) or already typed.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f, opt in cls.options():
            raw: Any = None
            source = ""
            if overrides is not None and overrides.get(f.name) is not None:
                raw, source = overrides[f.name], opt.flag
            elif cls.env_name(f.name) in env:
                raw, source = env[cls.env_name(f.name)], cls.env_name(f.name)
            if raw is None:
                continue
            if isinstance(raw, str):
                try:
                    parser = _parse_bool if opt.parse is bool else opt.parse
                    values[f.name] = parser(raw)
                except (ValueError, SettingsError) as exc:
                    raise SettingsError(f"{source}: {exc}") from None
            else:
                values[f.name] = raw
        settings = cls(**values)
        settings.validate()
        return settings

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed, validated."""
        updated = dataclasses.replace(self, **changes)
        updated.validate()
        return updated

    def validate(self) -> None:
        """Raise SettingsError naming the first unusable value."""
        for name in ("otlp_grpc", "otlp_http", "api"):
            value = getattr(self, name)
            if value != "off":
                parse_listen_address(value, name)
        if not (self.clickhouse.startswith(("chdb://", "http://", "https://"))):
            raise SettingsError(
                f"clickhouse: DSN must start with chdb://, http:// or https://, got {self.clickhouse!r}"
            )
        for name in (
            "max_request_bytes", "max_attributes", "max_attribute_length", "queue_batches",
            "max_attribute_key_length", "max_request_rows", "max_expanded_bytes", "receive_timeout", "max_connections",
        ):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{name}: must be positive, got {getattr(self, name)}")
        if self.write_linger_ms < 0 or self.write_linger_ms > 10_000:
            raise SettingsError(f"write_linger_ms: must be between 0 and 10000, got {self.write_linger_ms}")
        if self.retention_days < 0:
            raise SettingsError(f"retention_days: must be >= 0, got {self.retention_days}")
        if self.enrich_cache_events < 0:
            raise SettingsError(f"enrich_cache_events: must be >= 0, got {self.enrich_cache_events}")
        if self.idle_timeout_minutes <= 0 or self.enrich_interval <= 0 or self.reconcile_interval <= 0:
            raise SettingsError("idle_timeout_minutes, enrich_interval and reconcile_interval must be positive")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise SettingsError("tls_cert and tls_key go together: set both or neither")
        if not 1 <= self.title_concurrency <= 16 or not 1 <= self.title_max_per_hour <= 100_000:
            raise SettingsError("title_concurrency must be 1..16 and title_max_per_hour 1..100000")
        if not self.anthropic_base_url.startswith(("http://", "https://")):
            raise SettingsError(f"anthropic_base_url: expected an http(s) URL, got {self.anthropic_base_url!r}")
        if self.log_level.lower() not in {"debug", "info", "warning", "error"}:
            raise SettingsError(f"log_level: expected debug, info, warning or error, got {self.log_level!r}")
        if self.role not in ROLES:
            raise SettingsError(f"role: expected one of {', '.join(ROLES)}, got {self.role!r}")
        if self.clickhouse_cluster and self.clickhouse.startswith("chdb://"):
            raise SettingsError("clickhouse_cluster: needs a ClickHouse server DSN (http(s)://), not chdb://")
        if self.clickhouse_cluster and not self.clickhouse_cluster.replace("_", "").replace("-", "").isalnum():
            raise SettingsError(f"clickhouse_cluster: letters, digits, '_' and '-' only, got {self.clickhouse_cluster!r}")
        if not self.database.replace("_", "").isalnum():
            raise SettingsError(f"database: letters, digits and underscores only, got {self.database!r}")


def parse_listen_address(value: str, name: str = "address") -> tuple[str, int]:
    """Split ``host:port`` (``[v6]:port`` allowed); port 0 means any free port."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not host:
        raise SettingsError(f"{name}: expected HOST:PORT, got {value!r}")
    try:
        port = int(port_text)
    except ValueError:
        raise SettingsError(f"{name}: port must be a number, got {port_text!r}") from None
    if not 0 <= port <= 65535:
        raise SettingsError(f"{name}: port out of range: {port}")
    return host.strip("[]"), port


def is_loopback(host: str) -> bool:
    return host in {"localhost", "::1"} or host.startswith("127.")


__all__: Sequence[str] = ["OrgScopes", "Settings", "SettingsError", "parse_listen_address", "is_loopback"]

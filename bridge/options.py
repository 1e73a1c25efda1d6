"""How the hook sends: flags > config file > defaults (``HookOptions``, ``load_options``)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge.log import home_dir, log, state_home

DEFAULT_GRPC_ENDPOINT = "http://127.0.0.1:4317"
DEFAULT_HTTP_ENDPOINT = "http://127.0.0.1:4318/v1/logs"
PROTOCOLS = ("grpc", "http/protobuf")
CONFIG_ENV = "LOOMLINE_HOOK_CONFIG"
ORG_ENV = "LOOMLINE_HOOK_ORG"
ORG_MAX_CHARS = 256



def default_config_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME") or str(home_dir(env) / ".config")
    return Path(base) / "loomline" / "hook.json"


@dataclass(frozen=True)
class HookOptions:
    """How the hook sends: flags > config file (``LOOMLINE_HOOK_CONFIG`` or
    ``~/.config/loomline/hook.json``) > defaults (the org: ``--org`` > ``LOOMLINE_HOOK_ORG``
    > config ``org``). Not OTEL_*: Claude Code strips those from hook processes."""

    endpoint: str = ""
    protocol: str = "grpc"
    headers: tuple[tuple[str, str], ...] = ()
    include_prompts: bool = False
    timeout: float = 1.0
    spool_dir: Path = field(default_factory=lambda: state_home() / "spool")
    log_file: Path = field(default_factory=lambda: state_home() / "hook.log")
    spool_max_records: int = 5000
    spool_max_bytes: int = 20 * 1024 * 1024
    retry_after: float = 5.0  # the detached sender's first wait after a failed send (doubles, at most 30 s)
    sender_linger: float = 120.0  # how long the detached sender keeps retrying before leaving the spool
    compaction_wait: float = 10.0  # how long to wait for a compaction's boundary in the transcript
    org: str = ""  # sent as organization.id on every record ("" = the receiver decides)

    @property
    def resolved_endpoint(self) -> str:
        if self.protocol == "http/protobuf":
            if not self.endpoint:
                return DEFAULT_HTTP_ENDPOINT
            url = self.endpoint.rstrip("/")
            return url if url.endswith("/v1/logs") else url + "/v1/logs"
        return self.endpoint or DEFAULT_GRPC_ENDPOINT


def parse_header(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value.strip()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``loomline hook``. A bad flag must not block Claude Code (exit 2 blocks a
    tool call), so parse errors are logged and end the hook with status 0."""
    parser.add_argument("--endpoint", default=None, metavar="URL",
                        help=f"receiver OTLP endpoint (default {DEFAULT_GRPC_ENDPOINT} for grpc, "
                             f"{DEFAULT_HTTP_ENDPOINT} for http/protobuf)")
    parser.add_argument("--protocol", default=None, choices=PROTOCOLS,
                        help="OTLP transport (default grpc)")
    parser.add_argument("--header", action="append", default=[], metavar="KEY=VALUE",
                        help="header sent with each export, e.g. authorization=Bearer TOKEN (repeatable)")
    parser.add_argument("--include-prompts", action="store_true", default=None,
                        help="also send prompt, summary and last assistant message text")
    parser.add_argument("--org", default=None, metavar="ORG_ID",
                        help=f"organization id sent as organization.id on every record "
                             f"(default ${ORG_ENV}, else the config file's org, else none: the "
                             f"receiver's token or default org decides)")
    parser.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                        help="export timeout of each send (default 1.0)")
    parser.add_argument("--spool-dir", default=None, metavar="DIR",
                        help="where records wait while the receiver is unreachable "
                             "(default ~/.local/state/loomline/spool)")
    parser.add_argument("--spool-max-records", type=int, default=None, metavar="N",
                        help="spool bound in records; the oldest are dropped (default 5000)")
    parser.add_argument("--spool-max-bytes", type=int, default=None, metavar="N",
                        help="spool bound in bytes; the oldest are dropped (default 20 MiB)")
    parser.add_argument("--retry-after", type=float, default=None, metavar="SECONDS",
                        help="the detached sender's first wait after a failed send; it doubles, "
                             "at most 30 s (default 5)")
    parser.add_argument("--sender-linger", type=float, default=None, metavar="SECONDS",
                        help="how long the detached sender keeps retrying an unreachable receiver "
                             "before leaving records in the spool for the next hook (default 120)")
    parser.add_argument("--compaction-wait", type=float, default=None, metavar="SECONDS",
                        help="how long the sender waits for a compaction's boundary to appear in "
                             "the transcript before sending its record without tokens (default 10)")
    parser.add_argument("--log-file", default=None, metavar="PATH",
                        help="local log (default ~/.local/state/loomline/hook.log)")
    parser.add_argument("--config", default=None, metavar="PATH",
                        help=f"JSON config file (default ${CONFIG_ENV} or ~/.config/loomline/hook.json)")

    def error(message: str) -> None:  # replaces argparse's exit status 2
        log(state_home() / "hook.log", f"ERROR bad arguments: {message}: {sys.argv[1:]!r}")
        raise SystemExit(0)

    parser.error = error  # type: ignore[method-assign,assignment]


def parse_hook_args(argv: Sequence[str], log_file: Path) -> argparse.Namespace | None:
    """``argv`` parsed as ``loomline hook`` flags (the shell hook's command line, read by its
    sender); None, logged to ``log_file``, when they do not parse."""
    parser = argparse.ArgumentParser(prog="loomline hook")
    add_arguments(parser)

    def error(message: str) -> None:
        log(log_file, f"ERROR bad arguments: {message}: {list(argv)!r}")
        raise SystemExit(0)

    parser.error = error  # type: ignore[method-assign,assignment]
    try:
        return parser.parse_args(list(argv))
    except SystemExit:  # a bad flag (logged above), or --help
        return None


_CONFIG_KEYS = {
    "endpoint": str, "protocol": str, "include_prompts": bool, "timeout": float,
    "spool_dir": Path, "log_file": Path, "spool_max_records": int, "spool_max_bytes": int,
    "retry_after": float, "org": str, "sender_linger": float, "compaction_wait": float,
}


def check_org(org: str) -> str:
    """``org`` stripped; ValueError when it cannot be an organization id (too long, control
    characters)."""
    org = org.strip()
    if len(org) > ORG_MAX_CHARS:
        raise ValueError(f"org is longer than {ORG_MAX_CHARS} characters")
    if any(ord(c) < 32 or ord(c) == 127 or 0xD800 <= ord(c) <= 0xDFFF for c in org):
        raise ValueError(f"org contains control characters: {org!r}")
    return org


def load_options(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> HookOptions:
    """Resolve options from parsed flags and the config file. Raises ValueError on a bad
    value (the caller logs it and falls back to defaults)."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    headers: dict[str, str] = {}
    config_path = getattr(args, "config", None) or env.get(CONFIG_ENV) or str(default_config_path(env))
    path = Path(config_path).expanduser()
    if path.is_file():
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a JSON object")
        for key, value in data.items():
            if key == "headers":
                if not isinstance(value, dict):
                    raise ValueError(f"{path}: headers must be an object")
                headers.update({str(k): str(v) for k, v in value.items()})
            elif key in _CONFIG_KEYS:
                kind = _CONFIG_KEYS[key]
                values[key] = Path(str(value)).expanduser() if kind is Path else kind(value)
    if env.get(ORG_ENV):
        values["org"] = env[ORG_ENV]
    for key in _CONFIG_KEYS:
        flag_value = getattr(args, key, None)
        if flag_value is not None:
            values[key] = Path(flag_value).expanduser() if _CONFIG_KEYS[key] is Path else flag_value
    for item in getattr(args, "header", None) or []:
        key, value = parse_header(item)
        headers[key] = value
    if headers:
        values["headers"] = tuple(headers.items())
    if "org" in values:
        values["org"] = check_org(str(values["org"]))
    values.setdefault("spool_dir", state_home(env) / "spool")
    values.setdefault("log_file", state_home(env) / "hook.log")
    options = HookOptions(**values)
    if options.protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {options.protocol!r}")
    if options.timeout <= 0:
        raise ValueError("timeout must be positive")
    if min(options.retry_after, options.sender_linger, options.compaction_wait) < 0:
        raise ValueError("retry_after, sender_linger and compaction_wait must not be negative")
    return options




def options_to_json(options: HookOptions) -> str:
    """``options`` as JSON, for handing them to the detached sender."""
    data: dict[str, Any] = {}
    for key in ("endpoint", "protocol", "include_prompts", "timeout", "spool_max_records",
                "spool_max_bytes", "retry_after", "sender_linger", "compaction_wait", "org"):
        data[key] = getattr(options, key)
    data["spool_dir"] = str(options.spool_dir)
    data["log_file"] = str(options.log_file)
    data["headers"] = [list(pair) for pair in options.headers]
    return json.dumps(data)


def options_from_json(text: str) -> HookOptions:
    """The inverse of ``options_to_json``."""
    data = json.loads(text)
    data["spool_dir"] = Path(data["spool_dir"])
    data["log_file"] = Path(data["log_file"])
    data["headers"] = tuple((str(k), str(v)) for k, v in data["headers"])
    return HookOptions(**data)

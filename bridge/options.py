"""How the hook sends: flags > config file > defaults (``HookOptions``, ``load_options``)."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge.log import state_home

DEFAULT_GRPC_ENDPOINT = "http://127.0.0.1:4317"
DEFAULT_HTTP_ENDPOINT = "http://127.0.0.1:4318/v1/logs"
PROTOCOLS = ("grpc", "http/protobuf")
CONFIG_ENV = "LOOMLINE_HOOK_CONFIG"
ORG_ENV = "LOOMLINE_HOOK_ORG"
ORG_MAX_CHARS = 256



def default_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
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
    config_path = getattr(args, "config", None) or env.get(CONFIG_ENV) or str(default_config_path())
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

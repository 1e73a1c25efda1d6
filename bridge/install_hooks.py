"""``loomline install-hooks``: register loomline's hook in Claude Code's settings.

The hook is the shell hook, ``/bin/sh .../bridge/loomline-hook.sh PYTHON [flags]``, which
starts no Python while Claude Code waits (docs/hooks.md), or with ``--python-hook`` the
Python hook, ``loomline hook [flags]``; either form is recognised as loomline's, so a run
switches between them (or upgrades an older install) in place.

Merges one command hook per lifecycle event into a Claude Code settings file without
touching anyone else's hooks, idempotently (a second run changes nothing); ``--uninstall``
removes only loomline's entries; ``--dry-run`` prints the diff instead of writing. Also
prints (or, with ``--with-telemetry-env``, writes into the settings' ``env`` block) the
variables that make Claude Code export its own telemetry to the same receiver.
"""

from __future__ import annotations

import argparse
import copy
import difflib
import json
import os
import re
import shlex
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bridge.options import DEFAULT_GRPC_ENDPOINT, PROTOCOLS, check_org, parse_header

# PreModelSwitch / PostModelSwitch exist since Claude Code 2.1.251; older versions ignore
# the two entries (checked with 2.1.250: its other hooks still run).
HOOK_EVENTS: tuple[str, ...] = (
    "SessionStart", "SessionEnd", "PreCompact", "PostCompact", "Stop", "SubagentStop",
    "UserPromptSubmit", "PreToolUse", "PostToolUse", "Notification", "PreModelSwitch", "PostModelSwitch",
)
# Events whose matcher selects tools: "*" matches every tool.
TOOL_EVENTS = frozenset({"PreToolUse", "PostToolUse"})
HOOK_TIMEOUT_SECONDS = 5  # Claude Code's own cap; the hook bounds itself well below it

SHELL_HOOK = Path(__file__).resolve().parent / "loomline-hook.sh"
# A command is loomline's when it runs the ``loomline`` executable (any path) or
# ``python -m loomline`` with the ``hook`` subcommand, or the shell hook (any path).
_LOOMLINE_COMMAND = re.compile(r"""(?:^|[\s/\\'"])loomline(?:\.exe)?['"]?\s+hook(?:\s|$)""")
_SHELL_HOOK_COMMAND = re.compile(r"""(?:^|[\s/\\'"])loomline-hook\.sh['"]?(?:\s|$)""")


def settings_path(scope: str | None, explicit: str | None, project_dir: Path | None = None) -> Path:
    """The settings file: ``--settings PATH``, else user, project or local scope."""
    if explicit:
        return Path(explicit).expanduser()
    project = project_dir or Path.cwd()
    if scope == "project":
        return project / ".claude" / "settings.json"
    if scope == "local":
        return project / ".claude" / "settings.local.json"
    return Path.home() / ".claude" / "settings.json"


def loomline_executable() -> list[str]:
    """How to start loomline from Claude Code, where the venv is not activated: an absolute
    path to the ``loomline`` script, else this interpreter with ``-m loomline``."""
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if argv0 is not None and argv0.name in {"loomline", "loomline.exe"} and argv0.exists():
        return [str(argv0.absolute())]
    found = shutil.which("loomline")
    if found:
        return [str(Path(found).absolute())]
    return [str(Path(sys.executable).absolute()), "-m", "loomline"]


def hook_flags(
    endpoint: str | None = None,
    protocol: str | None = None,
    headers: Sequence[str] = (),
    include_prompts: bool = False,
    org: str = "",
) -> list[str]:
    """The ``loomline hook`` flags for these settings (both hooks take the same ones)."""
    argv: list[str] = []
    if endpoint:
        argv += ["--endpoint", endpoint]
    if org:
        argv += ["--org", org]
    if protocol and protocol != "grpc":
        argv += ["--protocol", protocol]
    for header in headers:
        argv += ["--header", header]
    if include_prompts:
        argv.append("--include-prompts")
    return argv


def hook_command(executable: Sequence[str], *flags: str) -> str:
    """The command line of the Python hook: ``loomline hook`` with ``flags``."""
    return shlex.join([*executable, "hook", *flags])


def shell_hook_command(python: str, *flags: str) -> str:
    """The command line of the shell hook: ``/bin/sh`` runs bridge/loomline-hook.sh (no
    execute bit needed), which starts ``python`` (an interpreter that imports this bridge)
    only for the detached sender, or for the Python hook where it must hand over."""
    return shlex.join(["/bin/sh", str(SHELL_HOOK), python, *flags])


def is_loomline_command(command: Any) -> bool:
    return isinstance(command, str) and bool(
        _LOOMLINE_COMMAND.search(command) or _SHELL_HOOK_COMMAND.search(command))


def _is_loomline_hook(entry: Any) -> bool:
    return isinstance(entry, dict) and entry.get("type") == "command" and is_loomline_command(entry.get("command"))


def merge_hooks(
    settings: Mapping[str, Any],
    command: str,
    events: Sequence[str] = HOOK_EVENTS,
    timeout: int = HOOK_TIMEOUT_SECONDS,
) -> dict[str, Any]:
    """A copy of ``settings`` with loomline's hook on every event in ``events``.

    An existing loomline entry is updated in place (its position among other hooks kept) and
    duplicates are removed; otherwise a new matcher group is appended. Other hooks, and
    every other key, are left exactly as they were."""
    result = copy.deepcopy(dict(settings))
    hooks = result.setdefault("hooks", {})
    if not isinstance(hooks, dict):
        raise ValueError("settings 'hooks' is not an object")
    entry = {"type": "command", "command": command, "timeout": timeout}
    for event in events:
        groups = hooks.setdefault(event, [])
        if not isinstance(groups, list):
            raise ValueError(f"settings 'hooks.{event}' is not a list")
        placed = False
        emptied: list[int] = []
        for group in groups:
            if not isinstance(group, dict) or not isinstance(group.get("hooks"), list):
                continue
            kept = []
            for hook in group["hooks"]:
                if _is_loomline_hook(hook):
                    if placed:
                        continue  # a duplicate
                    placed = True
                    hook = {**hook, **entry}
                kept.append(hook)
            if group["hooks"] and not kept:
                emptied.append(id(group))
            group["hooks"] = kept
        hooks[event] = [g for g in groups if id(g) not in emptied]
        if not placed:
            group = {"matcher": "*", "hooks": [entry]} if event in TOOL_EVENTS else {"hooks": [entry]}
            hooks[event].append(group)
    return result


def remove_hooks(settings: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``settings`` without loomline's hooks (on any event). Groups and event lists
    left empty by the removal are dropped; nothing else changes."""
    result = copy.deepcopy(dict(settings))
    hooks = result.get("hooks")
    if not isinstance(hooks, dict):
        return result
    for event in list(hooks):
        groups = hooks[event]
        if not isinstance(groups, list):
            continue
        new_groups = []
        for group in groups:
            if isinstance(group, dict) and isinstance(group.get("hooks"), list):
                kept = [h for h in group["hooks"] if not _is_loomline_hook(h)]
                if not kept and group["hooks"]:
                    continue  # emptied by us
                group["hooks"] = kept
            new_groups.append(group)
        if new_groups or not groups:
            hooks[event] = new_groups
        else:
            del hooks[event]
    if not hooks and settings.get("hooks"):
        del result["hooks"]
    return result


def telemetry_env(
    endpoint: str | None,
    protocol: str | None,
    headers: Sequence[str] = (),
    traces: bool = False,
    include_prompts: bool = False,
    org: str = "",
) -> dict[str, str]:
    """The environment that makes Claude Code export its own logs and metrics (and
    optionally traces) to the same receiver as the hook. With ``org``, Claude Code's
    resource carries ``organization.id`` too (its own per-record ``organization.id``, set
    for OAuth accounts, still wins at the receiver)."""
    protocol = protocol or "grpc"
    if protocol == "grpc":
        base = endpoint or DEFAULT_GRPC_ENDPOINT
    else:
        base = (endpoint or "http://127.0.0.1:4318").rstrip("/").removesuffix("/v1/logs")
    env = {
        "CLAUDE_CODE_ENABLE_TELEMETRY": "1",
        "OTEL_LOGS_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
        "OTEL_EXPORTER_OTLP_ENDPOINT": base,
    }
    if headers:
        env["OTEL_EXPORTER_OTLP_HEADERS"] = ",".join(f"{k}={v}" for k, v in map(parse_header, headers))
    if traces:
        env["OTEL_TRACES_EXPORTER"] = "otlp"
        env["CLAUDE_CODE_ENHANCED_TELEMETRY_BETA"] = "1"
    if include_prompts:
        env["OTEL_LOG_USER_PROMPTS"] = "1"
    if org:
        from urllib.parse import quote

        env["OTEL_RESOURCE_ATTRIBUTES"] = "organization.id=" + quote(org, safe="")
    return env


def merge_env(settings: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    result = copy.deepcopy(dict(settings))
    block = result.setdefault("env", {})
    if not isinstance(block, dict):
        raise ValueError("settings 'env' is not an object")
    block.update(env)
    return result


def remove_env(settings: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """Drop the ``env`` entries that still hold exactly the values loomline would write."""
    result = copy.deepcopy(dict(settings))
    block = result.get("env")
    if isinstance(block, dict):
        for key, value in env.items():
            if block.get(key) == value:
                del block[key]
        if not block and settings.get("env"):
            del result["env"]
    return result


def render(settings: Mapping[str, Any]) -> str:
    return json.dumps(settings, indent=2, ensure_ascii=False) + "\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--scope", choices=("user", "project", "local"), default="user",
                       help="user: ~/.claude/settings.json (default); project: .claude/settings.json; "
                            "local: .claude/settings.local.json")
    where.add_argument("--settings", default=None, metavar="PATH", help="an explicit settings file")
    parser.add_argument("--project-dir", default=None, metavar="DIR",
                        help="project root for --scope project/local (default: current directory)")
    parser.add_argument("--endpoint", default=None, metavar="URL",
                        help=f"receiver endpoint passed to 'loomline hook' (default {DEFAULT_GRPC_ENDPOINT})")
    parser.add_argument("--protocol", default=None, choices=PROTOCOLS, help="OTLP transport (default grpc)")
    parser.add_argument("--header", action="append", default=[], metavar="KEY=VALUE",
                        help="header for every export, e.g. authorization=Bearer TOKEN (repeatable)")
    parser.add_argument("--org", default=None, metavar="ORG_ID",
                        help="organization id the hook sends as organization.id on its records "
                             "(and, with --with-telemetry-env, Claude Code as a resource attribute)")
    parser.add_argument("--include-prompts", action="store_true",
                        help="let the hook send prompt and summary text (and Claude Code log prompts)")
    parser.add_argument("--python-hook", action="store_true",
                        help="install the Python hook ('loomline hook') instead of the shell hook")
    parser.add_argument("--command", default=None, metavar="CMD",
                        help="how to start loomline for the Python hook, e.g. 'uvx loomline' "
                             "(implies --python-hook; default: the absolute path of this loomline)")
    parser.add_argument("--uninstall", action="store_true", help="remove loomline's hooks only")
    parser.add_argument("--dry-run", action="store_true", help="print the diff, change nothing")
    parser.add_argument("--with-telemetry-env", action="store_true",
                        help="also write Claude Code's telemetry variables into the settings' env block")
    parser.add_argument("--with-traces", action="store_true",
                        help="include trace export in the telemetry variables (beta in Claude Code)")


def run(args: argparse.Namespace) -> int:
    """Install or uninstall; 0 on success (or nothing to do), 1 on an unusable settings file."""
    path = settings_path(args.scope, args.settings, Path(args.project_dir) if args.project_dir else None)
    try:
        for header in args.header:
            parse_header(header)
    except ValueError as exc:
        print(f"loomline install-hooks: --header: {exc}", file=sys.stderr)
        return 2
    try:
        org = check_org(args.org or "")
    except ValueError as exc:
        print(f"loomline install-hooks: --org: {exc}", file=sys.stderr)
        return 2
    before_text = path.read_text(encoding="utf-8") if path.is_file() else ""
    try:
        before = json.loads(before_text) if before_text.strip() else {}
        if not isinstance(before, dict):
            raise ValueError("not a JSON object")
    except ValueError as exc:
        print(f"loomline install-hooks: {path} is not valid settings JSON ({exc}); not changed", file=sys.stderr)
        return 1
    env = telemetry_env(args.endpoint, args.protocol, args.header, args.with_traces, args.include_prompts, org)
    try:
        if args.uninstall:
            after = remove_hooks(before)
            if args.with_telemetry_env:
                after = remove_env(after, env)
        else:
            flags = hook_flags(args.endpoint, args.protocol, args.header, args.include_prompts, org)
            if args.python_hook or args.command:
                executable = shlex.split(args.command) if args.command else loomline_executable()
                command = hook_command(executable, *flags)
            else:
                command = shell_hook_command(str(Path(sys.executable).absolute()), *flags)
            after = merge_hooks(before, command)
            if args.with_telemetry_env:
                after = merge_env(after, env)
    except ValueError as exc:
        print(f"loomline install-hooks: {path}: {exc}; not changed", file=sys.stderr)
        return 1

    changed = after != before
    after_text = render(after) if changed else before_text
    if args.dry_run:
        diff = difflib.unified_diff(before_text.splitlines(keepends=True), after_text.splitlines(keepends=True),
                                    fromfile=str(path), tofile=f"{path} (after)")
        sys.stdout.writelines(diff)
        if not changed:
            print(f"{path}: no changes")
    elif changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        if before_text:
            path.with_name(path.name + ".loomline-backup").write_text(before_text, encoding="utf-8")
        tmp = path.with_name(path.name + ".loomline-tmp")
        tmp.write_text(after_text, encoding="utf-8")
        os.replace(tmp, path)
        verb = "removed loomline's hooks from" if args.uninstall else "installed loomline's hooks in"
        print(f"{verb} {path}")
    else:
        print(f"{path}: already up to date, no changes")

    if not args.uninstall and not args.with_telemetry_env:
        print("\nTo send Claude Code's own telemetry to the same receiver, set (or rerun with "
              "--with-telemetry-env):")
        for key, value in env.items():
            print(f"  export {key}={shlex.quote(value)}")
    return 0


__all__ = [
    "HOOK_EVENTS", "SHELL_HOOK", "add_arguments", "hook_command", "hook_flags", "is_loomline_command",
    "loomline_executable", "merge_env", "merge_hooks", "remove_env", "remove_hooks", "run", "settings_path",
    "shell_hook_command", "telemetry_env",
]

"""`loomline install-hooks`: merges into real settings files, idempotent, reversible."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bridge import install_hooks
from bridge.install_hooks import HOOK_EVENTS

LOOMLINE = str(Path(sys.executable).parent / "loomline")
PYTHON = Path(LOOMLINE).read_text().splitlines()[0].removeprefix("#!")  # the interpreter `loomline` runs on
# The shell hook's command line (the default), before its flags.
SHELL_HOOK = ["/bin/sh", str(install_hooks.SHELL_HOOK), PYTHON]

# A settings file as a user might have it: their own hooks (one sharing an event with
# loomline, one on an event loomline does not use), permissions and env.
EXISTING: dict[str, Any] = {
    "model": "opus",
    "permissions": {"allow": ["Bash(ls:*)"]},
    "env": {"FOO": "bar"},
    "hooks": {
        "PreToolUse": [
            {"matcher": "Bash", "hooks": [{"type": "command", "command": "~/bin/guard.sh", "timeout": 10}]}
        ],
        "Stop": [{"hooks": [{"type": "command", "command": "say done"}]}],
        "PermissionRequest": [{"matcher": "*", "hooks": [{"type": "command", "command": "notify-send hi"}]}],
    },
}


def run_cli(home: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "XDG_", "LOOMLINE_"))}
    env["HOME"] = str(home)
    return subprocess.run([LOOMLINE, "install-hooks", *args], capture_output=True, text=True, env=env,
                          cwd=cwd or home, timeout=60, check=False)


def loomline_commands(settings: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for event, groups in settings.get("hooks", {}).items():
        for group in groups:
            for hook in group["hooks"]:
                if install_hooks.is_loomline_command(hook.get("command")):
                    out.setdefault(event, []).append(hook["command"])
    return out


@pytest.mark.parametrize("existing", [None, {}, EXISTING], ids=["no-file", "empty", "existing-hooks"])
def test_install_round_trip(existing: dict[str, Any] | None, tmp_path: Path) -> None:
    settings = tmp_path / ".claude" / "settings.json"
    if existing is not None:
        settings.parent.mkdir(parents=True)
        settings.write_text(json.dumps(existing, indent=4))
    original_text = settings.read_text() if existing is not None else None

    result = run_cli(tmp_path, "--scope", "user", "--endpoint", "http://collector:4317",
                     "--header", "authorization=Bearer t0k")
    assert result.returncode == 0, result.stderr
    installed = json.loads(settings.read_text())
    commands = loomline_commands(installed)
    assert sorted(commands) == sorted(HOOK_EVENTS)
    assert all(len(c) == 1 for c in commands.values())
    command = commands["SessionStart"][0]
    assert shlex.split(command) == [*SHELL_HOOK, "--endpoint", "http://collector:4317",
                                    "--header", "authorization=Bearer t0k"]
    # Tool events match every tool; the hook's timeout is set.
    tool_group = next(g for g in installed["hooks"]["PostToolUse"] if loomline_commands({"hooks": {"x": [g]}}))
    assert tool_group["matcher"] == "*" and tool_group["hooks"][0]["timeout"] == install_hooks.HOOK_TIMEOUT_SECONDS
    # The telemetry variables are printed, not written (no --with-telemetry-env).
    assert "export OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4317" in result.stdout
    assert installed.get("env", {}) == (existing or {}).get("env", {})

    if existing:
        # Nothing of the user's is lost or reordered.
        assert {k: v for k, v in installed.items() if k != "hooks"} == {k: v for k, v in existing.items() if k != "hooks"}
        assert installed["hooks"]["PreToolUse"][0] == existing["hooks"]["PreToolUse"][0]
        assert installed["hooks"]["Stop"][0] == existing["hooks"]["Stop"][0]
        assert installed["hooks"]["PermissionRequest"] == existing["hooks"]["PermissionRequest"]
        assert (settings.parent / "settings.json.loomline-backup").read_text() == original_text

    # Idempotent: a second run changes nothing, byte for byte.
    text = settings.read_text()
    again = run_cli(tmp_path, "--endpoint", "http://collector:4317", "--header", "authorization=Bearer t0k")
    assert again.returncode == 0 and "no changes" in again.stdout
    assert settings.read_text() == text

    # Uninstall removes loomline's entries only.
    removed = run_cli(tmp_path, "--uninstall")
    assert removed.returncode == 0, removed.stderr
    after = json.loads(settings.read_text())
    assert loomline_commands(after) == {}
    assert after == (existing or {})


def test_reinstall_with_new_flags_updates_in_place(tmp_path: Path) -> None:
    """An older install (the Python hook, 'loomline hook') is upgraded to the shell hook in
    place, and --python-hook switches back; each form is idempotent, and uninstall removes
    either."""
    settings = tmp_path / "s.json"
    base = install_hooks.merge_hooks(EXISTING, "/opt/old/loomline hook")
    # The user adds a hook after ours; an update keeps positions.
    base["hooks"]["SessionEnd"].append({"hooks": [{"type": "command", "command": "echo bye"}]})
    settings.write_text(json.dumps(base))
    assert run_cli(tmp_path, "--settings", str(settings), "--protocol", "http/protobuf").returncode == 0
    updated = json.loads(settings.read_text())
    assert [g["hooks"][0]["command"] for g in updated["hooks"]["SessionEnd"]] == [
        shlex.join([*SHELL_HOOK, "--protocol", "http/protobuf"]), "echo bye"]
    assert all(len(c) == 1 for c in loomline_commands(updated).values())
    text = settings.read_text()
    assert "no changes" in run_cli(tmp_path, "--settings", str(settings), "--protocol", "http/protobuf").stdout
    assert settings.read_text() == text

    assert run_cli(tmp_path, "--settings", str(settings), "--python-hook").returncode == 0
    back = json.loads(settings.read_text())
    assert [g["hooks"][0]["command"] for g in back["hooks"]["SessionEnd"]] == [f"{LOOMLINE} hook", "echo bye"]
    assert all(c == [f"{LOOMLINE} hook"] for c in loomline_commands(back).values())
    assert "no changes" in run_cli(tmp_path, "--settings", str(settings), "--python-hook").stdout
    assert run_cli(tmp_path, "--settings", str(settings), "--command", "uvx loomline").returncode == 0
    assert loomline_commands(json.loads(settings.read_text()))["Stop"] == ["uvx loomline hook"]

    for form in ([], ["--python-hook"]):
        assert run_cli(tmp_path, "--settings", str(settings), *form).returncode == 0
        assert run_cli(tmp_path, "--settings", str(settings), "--uninstall").returncode == 0
        removed = json.loads(settings.read_text())
        assert loomline_commands(removed) == {}
        assert removed["hooks"]["SessionEnd"] == [{"hooks": [{"type": "command", "command": "echo bye"}]}]


def test_duplicates_are_collapsed() -> None:
    twice = {"hooks": {"Stop": [
        {"hooks": [{"type": "command", "command": "loomline hook"}]},
        {"hooks": [{"type": "command", "command": "say hi"}, {"type": "command", "command": "loomline hook"}]},
    ]}}
    merged = install_hooks.merge_hooks(twice, "/x/loomline hook", events=["Stop"])
    assert merged["hooks"]["Stop"] == [
        {"hooks": [{"type": "command", "command": "/x/loomline hook", "timeout": 5}]},
        {"hooks": [{"type": "command", "command": "say hi"}]},
    ]


def test_dry_run_prints_diff_and_writes_nothing(tmp_path: Path) -> None:
    settings = tmp_path / ".claude" / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps(EXISTING))
    before = settings.read_text()
    result = run_cli(tmp_path, "--dry-run", "--with-telemetry-env")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"--- {settings}\n+++ {settings} (after)\n")
    assert '+            "command": "' + shlex.join(SHELL_HOOK) + '",' in result.stdout
    assert '+    "CLAUDE_CODE_ENABLE_TELEMETRY": "1",' in result.stdout
    assert settings.read_text() == before
    assert not (settings.parent / "settings.json.loomline-backup").exists()


def test_project_scope_and_telemetry_env(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    result = run_cli(tmp_path, "--scope", "project", "--with-telemetry-env", "--with-traces",
                     "--protocol", "http/protobuf", "--endpoint", "https://loom.example.com:4318",
                     "--header", "authorization=Bearer abc", cwd=project)
    assert result.returncode == 0, result.stderr
    settings = json.loads((project / ".claude" / "settings.json").read_text())
    assert settings["env"] == {
        "CLAUDE_CODE_ENABLE_TELEMETRY": "1",
        "OTEL_LOGS_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "https://loom.example.com:4318",
        "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer abc",
        "OTEL_TRACES_EXPORTER": "otlp",
        "CLAUDE_CODE_ENHANCED_TELEMETRY_BETA": "1",
    }
    assert "export " not in result.stdout
    assert not (tmp_path / ".claude").exists()  # user settings untouched
    # Uninstall with --with-telemetry-env takes back exactly those values.
    assert run_cli(tmp_path, "--scope", "project", "--uninstall", "--with-telemetry-env", "--with-traces",
                   "--protocol", "http/protobuf", "--endpoint", "https://loom.example.com:4318",
                   "--header", "authorization=Bearer abc", cwd=project).returncode == 0
    assert json.loads((project / ".claude" / "settings.json").read_text()) == {}


def test_user_env_values_survive_uninstall() -> None:
    env = install_hooks.telemetry_env(None, None)
    settings = {"env": {**env, "OTEL_EXPORTER_OTLP_ENDPOINT": "http://mine:4317", "FOO": "1"}}
    assert install_hooks.remove_env(settings, env) == {"env": {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://mine:4317",
                                                               "FOO": "1"}}


def test_invalid_settings_are_left_alone(tmp_path: Path) -> None:
    settings = tmp_path / "bad.json"
    settings.write_text("{ not json")
    result = run_cli(tmp_path, "--settings", str(settings))
    assert result.returncode == 1 and "not valid settings JSON" in result.stderr
    assert settings.read_text() == "{ not json"
    settings.write_text('{"hooks": []}')
    result = run_cli(tmp_path, "--settings", str(settings))
    assert result.returncode == 1 and settings.read_text() == '{"hooks": []}'


@pytest.mark.parametrize(("command", "ours"), [
    ("/home/u/.venv/bin/loomline hook", True),
    ("loomline hook --endpoint http://x:4317", True),
    ("'/path with space/loomline' hook", True),
    ("/usr/bin/python3 -m loomline hook --include-prompts", True),
    ("loomline serve", False),
    ("~/bin/my-loomline-hook.sh", False),
    ("/bin/sh /venv/lib/python3.11/site-packages/bridge/loomline-hook.sh /venv/bin/python", True),
    ("/bin/sh '/path with space/bridge/loomline-hook.sh' /venv/bin/python --org acme", True),
    ("/bin/sh ~/bin/not-loomline-hook.sh", False),
    ("notloomline hook", False),
])
def test_is_loomline_command(command: str, ours: bool) -> None:
    assert install_hooks.is_loomline_command(command) is ours


@pytest.mark.parametrize("form", [[], ["--python-hook"]], ids=["shell-hook", "python-hook"])
def test_installed_command_runs_without_the_venv_on_path(form: list[str], tmp_path: Path) -> None:
    """The command written to settings works from a shell whose PATH lacks the venv, the way
    Claude Code starts it: exit 0, nothing on stdout."""
    settings = tmp_path / "s.json"
    assert run_cli(tmp_path, "--settings", str(settings), "--endpoint", "http://127.0.0.1:9", *form).returncode == 0
    command = json.loads(settings.read_text())["hooks"]["SessionStart"][0]["hooks"][0]["command"]
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    payload = json.dumps({"session_id": "s", "hook_event_name": "SessionStart", "source": "startup", "cwd": "/"})
    result = subprocess.run(["/bin/sh", "-c", command], input=payload, capture_output=True, text=True,
                            env=env, timeout=30, check=False)
    assert result.returncode == 0 and result.stdout == "" and result.stderr == ""
    spool = tmp_path / ".local" / "state" / "loomline" / "spool"
    assert [p for p in spool.iterdir() if p.suffix in (".json", ".raw")]  # one listing; receiver down: spooled (raw until its sender built it)


def test_org_goes_into_the_hook_command_and_the_telemetry_env(tmp_path: Path) -> None:
    settings = tmp_path / ".claude" / "settings.json"
    result = run_cli(tmp_path, "--org", "acme corp", "--with-telemetry-env")
    assert result.returncode == 0, result.stderr
    installed = json.loads(settings.read_text())
    (command,) = loomline_commands(installed)["Stop"]
    assert shlex.split(command) == [*SHELL_HOOK, "--org", "acme corp"]
    assert installed["env"]["OTEL_RESOURCE_ATTRIBUTES"] == "organization.id=acme%20corp"
    # Idempotent with the org too.
    assert "no changes" in run_cli(tmp_path, "--org", "acme corp", "--with-telemetry-env").stdout


def test_bad_org_is_refused(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "--org", "a\x01b")
    assert result.returncode == 2 and "--org" in result.stderr
    assert not (tmp_path / ".claude" / "settings.json").exists()

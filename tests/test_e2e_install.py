"""The end-to-end tests' CLI install (tests/e2e/claude_cli.py) on an empty cache, as on a
fresh CI machine: test processes start together, one installs, the others wait for it.

A stand-in ``npm`` on PATH writes the ``claude`` binary slowly, holding it open for writing
as npm does while it unpacks; running a file open for writing fails with ETXTBSY ("Text file
busy"), which once failed every end-to-end test of a fresh clone."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VERSION = "9.9.9"

FAKE_NPM = textwrap.dedent(
    """\
    #!/bin/sh
    # npm install ... --prefix PREFIX @anthropic-ai/claude-code@VERSION, slowly
    prefix=""
    while [ $# -gt 0 ]; do
        case "$1" in --prefix) prefix="$2"; shift ;; esac
        shift
    done
    echo "$$" >> "$NPM_LOG"
    dir="$prefix/node_modules/$PLATFORM_PACKAGE"
    mkdir -p "$dir"
    exec 3> "$dir/claude"
    chmod +x "$dir/claude"
    printf '#!/bin/sh\\n' >&3
    sleep 3
    printf 'echo "%s (Claude Code)"\\n' "$CLI_VERSION" >&3
    exec 3>&-
    """
)

PROBE = textwrap.dedent(
    f"""\
    import sys
    from tests.e2e.claude_cli import ensure_cli
    print(ensure_cli({VERSION!r}))
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ETXTBSY is Linux's")
def test_processes_that_start_together_install_the_cli_once_and_all_get_it(tmp_path: Path) -> None:
    from tests.e2e.claude_cli import _platform_package

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    npm = bin_dir / "npm"
    npm.write_text(FAKE_NPM)
    npm.chmod(0o755)
    log = tmp_path / "npm.log"
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "LOOMLINE_E2E_CACHE": str(tmp_path / "cache"),
        "NPM_LOG": str(log),
        "PLATFORM_PACKAGE": _platform_package(),
        "CLI_VERSION": VERSION,
        "PYTHONPATH": str(ROOT),
    }
    env.pop("LOOMLINE_E2E_CLAUDE_BIN", None)
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", PROBE], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    results = [worker.communicate(timeout=120) for worker in workers]
    for worker, (out, err) in zip(workers, results, strict=True):
        assert worker.returncode == 0, err[-2000:]
        assert out.strip().endswith("/claude"), out
    assert len(log.read_text().split()) == 1, "npm ran more than once"
    assert not (tmp_path / "cache" / f"claude-code-{VERSION}" / ".install.lock").exists()


def test_a_lock_left_by_a_killed_install_is_taken_over(tmp_path: Path) -> None:
    from tests.e2e.claude_cli import _holder_gone

    lock = tmp_path / ".install.lock"
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lock.write_text(done.stdout.strip())  # that process has exited
    assert _holder_gone(lock)
    lock.write_text(str(os.getpid()))
    assert not _holder_gone(lock)
    lock.write_text("")  # created, not yet written
    assert not _holder_gone(lock)

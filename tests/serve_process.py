"""Run ``loomline serve`` as a subprocess for tests (its own chDB directory), and read its
database from another subprocess (chDB allows one data directory per process)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServeProcess:
    def __init__(self, data_dir: Path, *args: str, env: dict[str, str] | None = None):
        self.data_dir = data_dir
        self.args = args
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[str] | None = None
        self.ports: dict[str, int] = {}
        self.output: list[str] = []

    def start(self, timeout: float = 60) -> ServeProcess:
        command = [sys.executable, "-m", "loomline", "serve", "--clickhouse", f"chdb://{self.data_dir}", *self.args]
        self.proc = subprocess.Popen(
            command, cwd=REPO, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("loomline serve exited during start-up:\n" + "".join(self.output))
            self.output.append(line)
            match = re.match(r"loomline: (\w+) listening on .*:(\d+)", line)
            if match:
                self.ports[match.group(1)] = int(match.group(2))
            if line.startswith("loomline: ready"):
                # Keep draining output so the pipe never fills and blocks the server.
                import threading

                self._drainer = threading.Thread(target=self._drain, daemon=True)
                self._drainer.start()
                return self
        raise TimeoutError("loomline serve did not become ready:\n" + "".join(self.output))

    def _drain(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def stop(self, timeout: float = 30) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.terminate()
        code = self.proc.wait(timeout)
        drainer = getattr(self, "_drainer", None)
        if drainer is not None:
            drainer.join(5)  # the last lines (shutdown logs) are read after exit
        return code


def query(data_dir: Path, sql: str, database: str = "loomline") -> list[list]:
    """Run one query against a chDB directory no live process holds, in a subprocess."""
    code = (
        "import json, sys\n"
        "from storage.client import Storage\n"
        f"s = Storage({f'chdb://{data_dir}'!r}, {database!r})\n"
        "rows = s.query_rows(sys.stdin.read())\n"
        "print(json.dumps([list(r) for r in rows], default=str))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], input=sql, cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr)
    return json.loads(result.stdout.strip().splitlines()[-1])

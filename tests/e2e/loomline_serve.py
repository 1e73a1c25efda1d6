"""Run ``loomline serve`` as a subprocess for the e2e tests, and read its database.

The embedded engine (chDB) holds a data directory with one process, and a process can
only ever open one. So the test process never opens the server's directory itself: while
the server runs, tests ask its query API; after it stopped, ``query_storage()`` reads the
tables in a short-lived child process (``python -m tests.e2e.loomline_serve QUERY...``).
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 90
STOP_TIMEOUT_S = 30
_LISTENING = re.compile(r"^loomline: (\w+) listening on ([\d.]+):(\d+)$")


def python_env() -> dict[str, str]:
    """Environment for loomline child processes: this interpreter's packages + the repo."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    return env


class LoomlineServer:
    """``loomline serve --clickhouse chdb://<dir>`` on free loopback ports."""

    def __init__(self, data_dir: Path, database: str = "loomline", *extra_args: str) -> None:
        self.data_dir = data_dir
        self.database = database
        self.extra_args = list(extra_args)
        self.ports: dict[str, int] = {}
        self.process: subprocess.Popen[str] | None = None
        self.log_path = data_dir.parent / f"{data_dir.name}-serve.log"
        self._lines: queue.Queue[str | None] = queue.Queue()

    @property
    def dsn(self) -> str:
        return f"chdb://{self.data_dir}"

    def start(self) -> LoomlineServer:
        command = [
            sys.executable, "-m", "loomline", "serve", "--clickhouse", self.dsn, "--database", self.database,
            "--otlp-grpc", "127.0.0.1:0", "--otlp-http", "127.0.0.1:0", "--api", "127.0.0.1:0",
            "--enrich-interval", "0.2", *self.extra_args,
        ]
        log = open(self.log_path, "w")  # noqa: SIM115 - lives as long as the server
        self.process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=python_env(), stdout=subprocess.PIPE, stderr=log, text=True,
            stdin=subprocess.DEVNULL,
        )
        threading.Thread(target=self._pump, name="loomline-serve-stdout", daemon=True).start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                line = self._lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                line = ""
            if line is None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"loomline serve did not start; log:\n{self.log()[-3000:]}")
            match = _LISTENING.match(line.strip())
            if match:
                self.ports[match.group(1)] = int(match.group(3))
            if line.strip() == "loomline: ready":
                return self

    def _pump(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.is_file() else ""

    def endpoint(self, protocol: str) -> str:
        """The OTLP endpoint Claude Code's exporter should use for ``protocol``."""
        port = self.ports["otlp_grpc" if protocol == "grpc" else "otlp_http"]
        return f"http://127.0.0.1:{port}"

    @property
    def api_url(self) -> str | None:
        return f"http://127.0.0.1:{self.ports['api']}" if "api" in self.ports else None

    def get(self, path: str, timeout: float = 10.0) -> tuple[int, Any]:
        """GET a query API path; (status, parsed JSON body or text)."""
        if self.api_url is None:
            raise RuntimeError("this loomline has no query API")
        try:
            with urllib.request.urlopen(self.api_url + path, timeout=timeout) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode("utf-8", "replace")

    def stop(self) -> int | None:
        """SIGTERM (loomline finishes in-flight batches), then kill after a timeout."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        code = self.process.returncode
        self.process = None
        return code

    def __enter__(self) -> LoomlineServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def query_storage(dsn: str, database: str, queries: dict[str, str], timeout: float = 120) -> dict[str, list[dict[str, Any]]]:
    """Run named SQL queries against a stopped server's database, in a child process."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.e2e.loomline_serve", dsn, database],
        input=json.dumps(queries), capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT, env=python_env(),
    )
    if done.returncode != 0:
        raise RuntimeError(f"storage query failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def _main(argv: list[str]) -> int:
    from storage.client import open_storage

    dsn, database = argv
    queries: dict[str, str] = json.loads(sys.stdin.read())
    storage = open_storage(dsn, database)
    try:
        out = {name: storage.query_dicts(sql) for name, sql in queries.items()}
    finally:
        storage.close()
    json.dump(out, sys.stdout, default=str)
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))

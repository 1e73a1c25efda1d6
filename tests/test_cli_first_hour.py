"""What a new user meets first: the CLI's errors, help and shutdown, each through the real
``loomline`` command in a subprocess."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest

from loomline.cli import build_parser
from loomline.demo import spec_from_args
from loomline.fleet import Fleet
from tests.serve_process import REPO, ServeProcess, free_port


def loomline(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "loomline", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout,
    )


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


# -- serve: what can be checked before storage is, and is said in one line ---------------


def test_second_serve_on_the_same_data_dir_says_so_in_one_line(tmp_path: Path) -> None:
    args = ("--otlp-grpc", "127.0.0.1:0", "--otlp-http", "off", "--api", "off")
    first = ServeProcess(tmp_path / "data", *args).start()
    try:
        done = loomline("serve", "--clickhouse", f"chdb://{tmp_path / 'data'}", *args)
        line = one_line(done.stderr)
        assert done.returncode == 2
        assert "in use by another process" in line and str(tmp_path / "data") in line
    finally:
        assert first.stop() == 0


def test_busy_port_fails_before_storage_is_touched(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        started = time.monotonic()
        done = loomline("serve", "--clickhouse", f"chdb://{tmp_path / 'data'}", "--otlp-grpc", f"127.0.0.1:{port}")
        took = time.monotonic() - started
    line = one_line(done.stderr)
    assert done.returncode == 2 and f"--otlp-grpc 127.0.0.1:{port}" in line and "in use" in line
    assert not (tmp_path / "data").exists()  # no migrations ran: the data dir was never created
    assert took < 10, took


def test_missing_or_bad_tls_files_fail_before_storage(tmp_path: Path) -> None:
    data = tmp_path / "data"
    done = loomline("serve", "--clickhouse", f"chdb://{data}", "--tls-cert", str(tmp_path / "no.pem"),
                    "--tls-key", str(tmp_path / "no.key"))
    assert done.returncode == 2 and "--tls-cert" in one_line(done.stderr) and "no such file" in done.stderr
    (tmp_path / "junk.pem").write_text("not a certificate")
    done = loomline("serve", "--clickhouse", f"chdb://{data}", "--tls-cert", str(tmp_path / "junk.pem"),
                    "--tls-key", str(tmp_path / "junk.pem"))
    assert done.returncode == 2 and "PEM" in one_line(done.stderr)
    assert not data.exists()


def _stored_records(api_port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{api_port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if "records_stored_total" in line and not line.startswith("#"))


def test_sigterm_under_ingest_load_exits_promptly_and_cleanly(tmp_path: Path) -> None:
    grpc_port = free_port()
    server = ServeProcess(
        tmp_path / "data", "--otlp-grpc", f"127.0.0.1:{grpc_port}", "--otlp-http", "off", "--api", "127.0.0.1:0",
    ).start()
    demo = subprocess.Popen(
        [sys.executable, "-m", "loomline", "demo", "--endpoint", f"127.0.0.1:{grpc_port}", "--sessions", "400",
         "--concurrency", "8", "--batch-size", "64"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while _stored_records(server.ports["api"]) < 2000:  # ingest is in full swing
            assert demo.poll() is None and time.monotonic() < deadline, "the demo never got going"
            time.sleep(0.2)
        started = time.monotonic()
        code = server.stop(timeout=30)
        took = time.monotonic() - started
        print(f"SIGTERM to exit: {took:.2f} s")
    finally:
        demo.kill()
        demo.wait(10)
    assert code == 0, "".join(server.output)[-3000:]
    assert took < 4.0, f"exit took {took:.1f} s"
    assert "stopped" in "".join(server.output)


# -- demo ---------------------------------------------------------------------------------


@pytest.mark.parametrize("args, words", [
    (("--sessions", "-5"), "--sessions: must be at least 0, got -5"),
    (("--start", "notadate"), "--start: expected a day as YYYY-MM-DD"),
    (("--orgs", "0"), "--orgs: must be at least 1"),
    (("--hook-bridge-share", "2"), "between 0 and 1"),
])
def test_demo_bad_arguments_are_one_line(args: tuple[str, ...], words: str) -> None:
    done = loomline("demo", *args)
    assert done.returncode == 2
    line = one_line(done.stderr)
    assert line.startswith("loomline demo: ") and words in line and "loomline demo --help" in line


def test_demo_unreachable_endpoint_says_why_at_once() -> None:
    port = free_port()  # nothing listens there
    started = time.monotonic()
    done = loomline("demo", "--endpoint", f"127.0.0.1:{port}", "--sessions", "2")
    took = time.monotonic() - started
    line = one_line(done.stderr)
    assert done.returncode == 1 and "Connection refused" in line and f"127.0.0.1:{port}" in line
    assert took < 15, took


def test_demo_fleet_never_reaches_into_the_future() -> None:
    now = datetime(2026, 12, 2, 19, 0, tzinfo=UTC)
    args = build_parser().parse_args(["demo", "--sessions", "60", "--days", "3"])
    spec = spec_from_args(args, now=now)
    last = max(s.last_ns for s in Fleet(spec).ground_truth.sessions.values())
    assert last / 1e9 <= now.timestamp()
    assert (now - spec.start).days <= 10  # still recent: dashboards over the last week show it
    dry = loomline("demo", "--sessions", "5", "--dry-run")
    assert dry.returncode == 0 and json.loads(dry.stdout)["org_ids"]


# -- help -----------------------------------------------------------------------------------


def test_help_texts() -> None:
    top = loomline("--help").stdout
    assert "`" not in top and "serve" in top and "demo" in top
    demo = loomline("demo", "--help").stdout
    for flag in ("--orgs", "--users", "--days"):
        block = demo.split("\n  " + flag, 1)[1].split("\n  --", 1)[0]
        assert "default" in block, (flag, block)
    serve = loomline("serve", "--help").stdout
    assert "[default: 127.0.0.1:4317; env LOOMLINE_OTLP_GRPC]" in " ".join(serve.split())
    bogus = loomline("serve", "--bogus")
    assert bogus.returncode == 2
    assert one_line(bogus.stderr) == "loomline serve: unrecognized arguments: --bogus (see loomline serve --help)"

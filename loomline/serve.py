"""``loomline serve``: receivers, enrichment and the query API in one process."""

from __future__ import annotations

import argparse
import errno
import fcntl
import logging
import os
import signal
import socket
import ssl
import sys
import threading
from pathlib import Path

from settings import Settings, SettingsError, parse_listen_address
from storage.client import StorageError, parse_dsn


def preflight(settings: Settings) -> str | None:
    """What can be checked before touching storage (opening it runs migrations): the TLS
    files, the listen ports, and whether another process holds the chDB data directory.
    Returns one line saying what is wrong and what to do, or None."""
    if settings.tls_cert:
        for flag, path in (("--tls-cert", settings.tls_cert), ("--tls-key", settings.tls_key)):
            if not Path(path).is_file():
                return f"{flag} {path}: no such file"
        try:
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(settings.tls_cert, settings.tls_key)
        except (ssl.SSLError, OSError) as exc:
            return f"--tls-cert/--tls-key: not a usable PEM certificate and key ({exc.strerror or exc})"
    for name, flag in (("otlp_grpc", "--otlp-grpc"), ("otlp_http", "--otlp-http"), ("api", "--api")):
        value = getattr(settings, name)
        if value == "off":
            continue
        host, port = parse_listen_address(value, name)
        if port == 0:
            continue
        try:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            with socket.socket(family, socket.SOCK_STREAM) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do
                probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return f"{flag} {value}: the port is in use (another loomline serve?); choose another with {flag} HOST:PORT"
            return f"{flag} {value}: cannot listen there ({exc.strerror or exc})"
    try:
        dsn = parse_dsn(settings.clickhouse)
    except StorageError as exc:
        return f"--clickhouse: {exc}"
    if dsn.kind == "chdb":
        status = Path(dsn.path) / "status"  # ClickHouse flocks this file while it runs
        if status.is_file():
            try:
                with open(status, "rb") as handle:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    fcntl.flock(handle, fcntl.LOCK_UN)
            except BlockingIOError:
                return (
                    f"--clickhouse {settings.clickhouse}: the data directory is in use by another process "
                    "(another loomline serve?); stop it, or give this one its own chdb://DIR"
                )
            except OSError:
                pass  # unreadable: opening storage reports it
    return None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    Settings.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    try:
        settings = Settings.load(vars(args))
    except SettingsError as exc:
        print(f"loomline serve: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    problem = preflight(settings)
    if problem is not None:
        print(f"loomline serve: {problem}", file=sys.stderr)
        return 2
    from loomline.app import Loomline  # heavy imports after argument errors are reported

    app = Loomline(settings)
    try:
        app.start()
    except Exception as exc:
        logging.getLogger("loomline").error("cannot start: %s", exc)
        app.stop()
        return 1
    assert app.storage is not None
    log = logging.getLogger("loomline")
    log.info("storage: %s (database %s)", app.storage.info.safe, app.storage.database)
    hosts = {"otlp_grpc": settings.otlp_grpc, "otlp_http": settings.otlp_http, "api": settings.api}
    done = threading.Event()

    def _shutdown(signum: int, _frame: object) -> None:
        log.info("received %s, shutting down", signal.Signals(signum).name)
        done.set()

    # Before "ready": a supervisor may send SIGTERM the moment it reads that line.
    signal.signal(signal.SIGINT, _shutdown)
    signal.signal(signal.SIGTERM, _shutdown)
    for name, port in app.ports.items():
        host = hosts[name].rpartition(":")[0]
        log.info("listening: %s on %s:%d", name, host, port)
        # One machine-readable line per listener, for scripts and tests.
        print(f"loomline: {name} listening on {host}:{port}", flush=True)
    print("loomline: ready", flush=True)

    done.wait()
    app.stop()
    # Everything acknowledged is stored and every component has stopped: close the engine
    # now, in order, rather than leave it to interpreter teardown, where chDB's static
    # destructors ran after seconds of joining worker threads and, under ingest load, could
    # race a thread still inside the engine (segmentation fault at exit).
    app.storage.close()
    log.info("stopped")
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)

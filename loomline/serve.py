"""``loomline serve``: receivers, enrichment and the query API in one process."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from settings import Settings, SettingsError


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
    log.info("stopped")
    return 0

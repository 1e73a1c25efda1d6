"""``ApiServer``: the query API on uvicorn in a background thread, started and stopped
with the rest of loomline (loomline/app.py)."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import uvicorn
from fastapi import FastAPI

from query_api.app import create_app
from settings import Settings, parse_listen_address
from storage.client import Storage

log = logging.getLogger("loomline.api")


class ApiServer:
    """Listen on ``settings.api`` (port 0: any free port; ``port`` has the real one after
    ``start()``). ``stop()`` finishes in-flight requests for a bounded time."""

    def __init__(self, storage: Storage, settings: Settings, metrics: Any = None,
                 start_timeout: float = 10.0, stop_timeout: float = 5.0,
                 mounts: Sequence[Callable[[FastAPI], None]] = ()) -> None:
        self.storage = storage
        self.settings = settings
        self.app = create_app(storage, settings, metrics)
        # What else this listener serves (the explorer, web.install): the front door wires
        # it, so the API room never imports the rooms above it.
        for mount in mounts:
            mount(self.app)
        self.host, self._requested_port = parse_listen_address(settings.api, "api")
        self.port = 0
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    def start(self) -> ApiServer:
        # Bind here so the port is known (and errors surface) before the thread runs.
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # IPPROTO_TCP (not 0): asyncio sets TCP_NODELAY only on sockets it can tell are TCP;
        # without it every keep-alive response waited ~40 ms for the client's delayed ACK.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self._requested_port))
        except OSError as exc:
            sock.close()
            raise OSError(f"query API cannot listen on {self.settings.api}: {exc}") from exc
        sock.set_inheritable(True)
        self._socket = sock
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            lifespan="off",
            access_log=False,
            log_level="warning",
            timeout_graceful_shutdown=max(1, int(self.stop_timeout) - 1),
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="loomline-api", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + self.start_timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("query API server exited during start-up (see the log)")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"query API did not start within {self.start_timeout} s")
            time.sleep(0.01)
        log.info("query API listening on %s:%d", self.host, self.port)
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(self.stop_timeout)
            if thread.is_alive() and server is not None:
                server.force_exit = True
                thread.join(1.0)
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        self._server = self._thread = None

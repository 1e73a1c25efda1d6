"""One loomline process: storage, receivers, enrichment and the query API, started and
stopped together. ``loomline serve`` runs this; tests run it in-process."""

from __future__ import annotations

import importlib
import logging
import threading
from pathlib import Path
from typing import Any

from receiver.attributes import Limits
from receiver.core import ReceiverCore
from receiver.decode import RequestLimits
from receiver.grpc_server import GrpcReceiver
from receiver.pipeline import IngestPipeline
from receiver.selfmetrics import ReceiverMetrics
from settings import Settings, is_loopback, parse_listen_address
from storage.client import Storage, open_storage
from storage.management import Maintenance

log = logging.getLogger("loomline")


def _optional(module: str) -> Any:
    """Import a component module if this checkout has it."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        return None


def _parts(role: str) -> set[str]:
    """The parts a role runs: ``all`` is every one of them."""
    return {"receiver", "enricher", "api"} if role == "all" else {role}


class Loomline:
    """Start with ``start()``; listening ports are in ``ports`` afterwards."""

    def __init__(self, settings: Settings, storage: Storage | None = None) -> None:
        self.settings = settings
        self.storage = storage
        self.metrics = ReceiverMetrics()
        self.ports: dict[str, int] = {}
        self.pipeline: IngestPipeline | None = None
        self.grpc: GrpcReceiver | None = None
        self.http: Any = None
        self.enricher: Any = None
        self.api: Any = None
        self.maintenance: Maintenance | None = None
        self.titler: Any = None
        self._stopped = threading.Event()

    def start(self) -> Loomline:
        s = self.settings
        runs = _parts(s.role)
        if "api" in runs and s.api != "off" and not s.api_tokens:
            host, _ = parse_listen_address(s.api, "api")
            if not is_loopback(host):
                raise ValueError(
                    f"the query API would listen on {host} with no --api-tokens: set tokens or bind to 127.0.0.1"
                )
        if self.storage is None:
            if s.role != "all" and s.clickhouse.startswith("chdb://"):
                # chDB holds its data directory with one process: the other roles could never reach it.
                raise ValueError(
                    f"--role {s.role} needs a ClickHouse server DSN (http(s)://): the embedded chdb:// store"
                    " lives inside one process, so run --role all there"
                )
            self.storage = open_storage(s.clickhouse, s.database, s.retention_days, cluster=s.clickhouse_cluster)
        storage = self.storage
        # ClickHouse's own work on the writer's thread (embedded engine): apart from the
        # receiver's CPU, for benchmarks and capacity planning.
        self.metrics.read_counters["storage_engine_insert_cpu_seconds_total"] = lambda: storage.insert_engine_cpu_seconds
        enrich_service = _optional("enrich.service") if "enricher" in runs else None
        if enrich_service is not None:
            # A process of its own among others shares the work through the database; in one
            # --role all process the enricher is alone.
            membership = None
            if s.role == "enricher":
                from enrich.membership import Membership

                membership = Membership(self.storage)
            self.enricher = enrich_service.Enricher(
                self.storage, idle_timeout_minutes=s.idle_timeout_minutes, membership=membership,
                metrics=self.metrics, cache_max_events=s.enrich_cache_events,
            )
        if "receiver" in runs:
            self._start_receivers()
        if self.enricher is not None:
            self.enricher.start(interval=s.enrich_interval, reconcile_interval=s.reconcile_interval)
        if "enricher" in runs:
            # Management's background work goes with enrichment: purging records that arrive
            # for deleted sessions, and model titles (never on the ingest path).
            self.maintenance = Maintenance(self.storage)
            self.maintenance.start()
            titler_module = _optional("enrich.title_model")
            if s.title_model and titler_module is not None:
                self.titler = titler_module.Titler.from_settings(self.storage, s)
                if self.titler is not None:
                    self.titler.start()
        api_server = _optional("query_api.server") if "api" in runs else None
        if s.api != "off" and api_server is not None:
            web = _optional("web")  # the explorer, on the API's listener at /
            mounts = [web.install] if web is not None else []
            self.api = api_server.ApiServer(self.storage, s, metrics=self.metrics, mounts=mounts)
            if self.enricher is not None:
                self.api.app.state.on_sessions_changed = self._rederive
            self.api.start()
            self.ports["api"] = self.api.port
        return self

    def _start_receivers(self) -> None:
        s = self.settings
        assert self.storage is not None
        # In one process the pipeline tells enrichment which sessions it stored; a receiver
        # of its own leaves that to enrichers elsewhere, which follow the IngestedAt watermark.
        self.pipeline = IngestPipeline(
            self.storage,
            self.metrics,
            max_batches=s.queue_batches,
            linger_seconds=s.write_linger_ms / 1000,
            on_stored=self.enricher.mark_dirty if self.enricher is not None else None,
        )
        self.pipeline.start()
        core = ReceiverCore(
            self.pipeline,
            Limits(
                max_attributes=s.max_attributes, max_attribute_length=s.max_attribute_length,
                max_key_length=s.max_attribute_key_length,
            ),
            tokens=s.receiver_tokens,
            max_request_bytes=s.max_request_bytes,
            metrics=self.metrics,
            request_limits=RequestLimits(max_rows=s.max_request_rows, max_expanded_bytes=s.max_expanded_bytes),
        )
        tls = None
        if s.tls_cert:
            tls = (Path(s.tls_cert).read_bytes(), Path(s.tls_key).read_bytes())
        if s.otlp_grpc != "off":
            self.grpc = GrpcReceiver(
                core, s.otlp_grpc, tls=tls, max_concurrent_rpcs=s.max_connections, receive_timeout=s.receive_timeout,
            )
            self.grpc.start()
            self.ports["otlp_grpc"] = self.grpc.port
        http_module = _optional("receiver.http_server")
        if s.otlp_http != "off" and http_module is not None:
            self.http = http_module.HttpReceiver(
                core, s.otlp_http, tls=(s.tls_cert, s.tls_key) if s.tls_cert else None,
                max_connections=s.max_connections, receive_timeout=s.receive_timeout,
            )
            self.http.start()
            self.ports["otlp_http"] = self.http.port

    def _rederive(self, sessions: set[tuple[str, str]]) -> None:
        """Re-derive sessions now (after a delete, so the rest of a conversation shows its
        new totals when the DELETE answers); on failure the next pass does it."""
        self.enricher.mark_dirty(sessions)
        try:
            self.enricher.run_once()
        except Exception:
            log.exception("re-deriving after a delete failed; the next enrichment pass retries")

    def stop(self) -> None:
        """Stop listening, finish in-flight batches, stop enrichment, close storage."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        for name in ("grpc", "http", "api"):
            component = getattr(self, name)
            if component is not None:
                try:
                    component.stop()
                except Exception:
                    log.exception("stopping %s failed", name)
        if self.pipeline is not None:
            self.pipeline.stop()
        for name in ("titler", "maintenance"):
            component = getattr(self, name)
            if component is not None:
                component.stop()
        if self.enricher is not None:
            try:
                self.enricher.stop()
            except Exception:
                log.exception("stopping enrichment failed")

    def __enter__(self) -> Loomline:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

"""Where an import's requests go.

* ``OtlpSink``: a running ``loomline serve`` over OTLP/HTTP (protobuf), like every other
  source: its tokens decide the org, its limits and dedup apply. Busy answers (503/429) are
  retried with the server's Retry-After.
* ``StorageSink``: straight into a storage DSN when no server runs, through the receiver's
  own code in-process (ReceiverCore: limits, decode, IngestPipeline: stored before
  acknowledged), then enrichment of the sessions it touched. It also knows which records
  storage already holds (same EventKey) and does not send them again.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Protocol

from importer.otlp import event_key, export_request
from importer.transcript import Record

MAX_ATTEMPTS = 8


class SinkError(RuntimeError):
    """The destination refused the import for good (bad token, bad request, unreachable)."""


@dataclass
class SendResult:
    sent: int = 0
    already_present: int = 0
    rejected: int = 0
    messages: list[str] = field(default_factory=list)


class Sink(Protocol):
    def send(self, records: list[Record]) -> SendResult: ...

    def close(self) -> None: ...


def probe(endpoint: str, timeout: float = 1.0) -> bool:
    """Whether something answers HTTP at the OTLP/HTTP endpoint."""
    try:
        urllib.request.urlopen(urllib.request.Request(logs_url(endpoint), method="GET"), timeout=timeout)
    except urllib.error.HTTPError:
        return True  # it answered (405 / 404 / 401): a server is there
    except (urllib.error.URLError, OSError, ValueError):
        return False
    return True


def logs_url(endpoint: str) -> str:
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith("/v1/logs") else endpoint + "/v1/logs"


class OtlpSink:
    def __init__(self, endpoint: str, token: str = "", timeout: float = 30.0) -> None:
        self.url = logs_url(endpoint)
        self.token = token
        self.timeout = timeout

    def send(self, records: list[Record]) -> SendResult:
        from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse

        body = export_request(records).SerializeToString(deterministic=True)
        headers = {"Content-Type": "application/x-protobuf"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        delay = 0.5
        for attempt in range(MAX_ATTEMPTS):
            request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                    response = ExportLogsServiceResponse()
                    response.ParseFromString(answer.read())
                    result = SendResult(sent=len(records), rejected=response.partial_success.rejected_log_records)
                    if response.partial_success.error_message:
                        result.messages.append(response.partial_success.error_message)
                    return result
            except urllib.error.HTTPError as exc:
                text = exc.read()[:300].decode("utf-8", "replace")
                if exc.code in (429, 502, 503, 504) and attempt + 1 < MAX_ATTEMPTS:
                    retry_after = exc.headers.get("Retry-After", "")
                    time.sleep(float(retry_after) if retry_after.isdigit() else delay)
                    delay = min(delay * 2, 10.0)
                    continue
                if exc.code == 401:
                    raise SinkError(f"{self.url} refused the token (401): pass --token with a receiver token") from None
                raise SinkError(f"{self.url} answered {exc.code}: {text}") from None
            except (urllib.error.URLError, OSError) as exc:
                if attempt + 1 < MAX_ATTEMPTS:
                    time.sleep(delay)
                    delay = min(delay * 2, 10.0)
                    continue
                raise SinkError(f"cannot reach {self.url}: {exc}") from None
        raise SinkError(f"{self.url} stayed busy after {MAX_ATTEMPTS} attempts")

    def close(self) -> None:
        return None


class StorageSink:
    """In-process receiver over a storage DSN. ``org`` is the org every record gets (the
    role a receiver token plays over OTLP)."""

    TOKEN = "loomline-import"

    def __init__(self, dsn: str, database: str, org: str = "default", enrich: bool = True,
                 storage: Any = None) -> None:
        from receiver.attributes import Limits
        from receiver.core import ReceiverCore
        from receiver.pipeline import IngestPipeline
        from storage.client import open_storage

        self.storage = storage if storage is not None else open_storage(dsn, database)
        self._owns_storage = storage is None
        self.org = org
        self.touched: set[tuple[str, str]] = set()
        self.pipeline = IngestPipeline(self.storage, on_stored=self.touched.update, linger_seconds=0.0)
        self.pipeline.start()
        self.core = ReceiverCore(self.pipeline, Limits(), tokens={self.TOKEN: org})
        self.enrich = enrich

    def _present(self, records: list[Record]) -> set[int]:
        from storage.sql_files import load_query

        keys = sorted({event_key(r) for r in records})
        sessions = sorted({r.session_id for r in records})
        rows = self.storage.query_rows(load_query("import_present_keys"),
                                       {"org": self.org, "sessions": sessions, "keys": keys})
        return {int(row[0]) for row in rows}

    def send(self, records: list[Record]) -> SendResult:
        from receiver.core import Status

        present = self._present(records)
        fresh = [r for r in records if event_key(r) not in present]
        result = SendResult(sent=len(fresh), already_present=len(records) - len(fresh))
        if not fresh:
            return result
        body = export_request(fresh).SerializeToString(deterministic=True)
        delay = 0.2
        for attempt in range(MAX_ATTEMPTS):
            outcome = self.core.export("logs", body, "protobuf", f"Bearer {self.TOKEN}", "import")
            if outcome.status == Status.OK:
                response: Any = outcome.response
                if response is not None and response.partial_success.error_message:
                    result.messages.append(response.partial_success.error_message)
                    result.rejected = response.partial_success.rejected_log_records
                return result
            if outcome.status == Status.UNAVAILABLE and attempt + 1 < MAX_ATTEMPTS:
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            raise SinkError(f"storage refused the import: {outcome.message}")
        raise SinkError("storage stayed busy")

    def close(self) -> None:
        self.pipeline.stop()
        try:
            if self.enrich and self.touched:
                from enrich.service import Enricher

                enricher = Enricher(self.storage)
                enricher.mark_dirty(self.touched)
                enricher.run_once()
        finally:
            if self._owns_storage:
                self.storage.close()

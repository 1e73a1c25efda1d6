"""Import records → the OTLP ``ExportLogsServiceRequest`` a Claude Code exporter would send.

Resource ``service.name=claude-code`` and ``service.version`` = the transcript's Claude Code
version (so sessions read like telemetry's), plus ``loomline.import.source=transcript``;
scope ``loomline.import``. A record's identity (the events table's EventKey) is the hash of
its own encoding only: resource and scope do not change it.
"""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from importer.transcript import Record
from receiver.batch import record_key

SCOPE_NAME = "loomline.import"
SERVICE_NAME = "claude-code"


def log_record(record: Record) -> LogRecord:
    """The protobuf log record (deterministic: same Record, same bytes)."""
    proto = LogRecord(time_unix_nano=record.time_unix_nano, observed_time_unix_nano=record.time_unix_nano,
                      event_name=record.event_name)
    proto.body.string_value = record.body
    proto.attributes.extend(KeyValue(key=k, value=AnyValue(string_value=v)) for k, v in record.attributes.items())
    return proto


def event_key(record: Record) -> int:
    """The EventKey the receiver will give this record."""
    return record_key(log_record(record).SerializeToString(deterministic=True))


def export_request(records: Sequence[Record], scope_version: str = "") -> ExportLogsServiceRequest:
    """One request holding ``records`` in order, one resource per Claude Code version."""
    request = ExportLogsServiceRequest()
    by_version: dict[str, list[Record]] = {}
    for record in records:
        by_version.setdefault(record.version, []).append(record)
    for version in sorted(by_version):
        resource_logs = request.resource_logs.add()
        attrs = [KeyValue(key="service.name", value=AnyValue(string_value=SERVICE_NAME))]
        if version:
            attrs.append(KeyValue(key="service.version", value=AnyValue(string_value=version)))
        attrs.append(KeyValue(key="loomline.import.source", value=AnyValue(string_value="transcript")))
        resource_logs.resource.attributes.extend(attrs)
        scope_logs = resource_logs.scope_logs.add()
        scope_logs.scope.name = SCOPE_NAME
        scope_logs.scope.version = scope_version
        scope_logs.log_records.extend(log_record(r) for r in by_version[version])
    return request

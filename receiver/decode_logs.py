"""ExportLogsServiceRequest → rows for ``otel_logs`` and ``events``."""

from __future__ import annotations

from operator import itemgetter

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from receiver.attributes import Limits, any_value_to_str, attributes_to_map
from receiver.batch import DecodeContext, DecodedBatch, clamp_ns, record_key
from receiver.events import EVENT_COLUMNS, event_name_of, typed_event

LOG_COLUMNS = (
    "Timestamp", "ObservedTimestamp", "TraceId", "SpanId", "TraceFlags", "SeverityText",
    "SeverityNumber", "ServiceName", "Body", "ResourceSchemaUrl", "ResourceAttributes",
    "ScopeSchemaUrl", "ScopeName", "ScopeVersion", "ScopeAttributes", "LogAttributes",
    "EventName", "OrgId",
)

_event_values = itemgetter(*EVENT_COLUMNS)


def decode_logs(request: ExportLogsServiceRequest, limits: Limits, context: DecodeContext) -> DecodedBatch:
    """Decode every log record; Claude Code and bridge events also become typed rows."""
    batch = DecodedBatch("logs")
    logs = batch.table("otel_logs", LOG_COLUMNS)
    events = batch.table("events", EVENT_COLUMNS)
    no_session = 0
    event_rows: list[tuple[object, ...]] = []
    for resource_logs in request.resource_logs:
        resource = attributes_to_map(resource_logs.resource.attributes, limits, batch.limits)
        service = resource.get("service.name", "")
        resource_org = resource.get("organization.id", "")
        for scope_logs in resource_logs.scope_logs:
            scope = scope_logs.scope
            scope_attrs = attributes_to_map(scope.attributes, limits, batch.limits)
            records = scope_logs.log_records
            # Columns constant within a scope are extended once, not appended per record.
            count = len(records)
            logs["ServiceName"].extend([service] * count)
            logs["ResourceSchemaUrl"].extend([resource_logs.schema_url] * count)
            logs["ResourceAttributes"].extend([resource] * count)
            logs["ScopeSchemaUrl"].extend([scope_logs.schema_url] * count)
            logs["ScopeName"].extend([scope.name] * count)
            logs["ScopeVersion"].extend([scope.version] * count)
            logs["ScopeAttributes"].extend([scope_attrs] * count)
            timestamps, observed, trace_ids, span_ids, flags = (
                logs["Timestamp"], logs["ObservedTimestamp"], logs["TraceId"], logs["SpanId"], logs["TraceFlags"]
            )
            severity_texts, severity_numbers, bodies, log_attributes, event_names, orgs = (
                logs["SeverityText"], logs["SeverityNumber"], logs["Body"], logs["LogAttributes"],
                logs["EventName"], logs["OrgId"],
            )
            for record in records:
                attributes = attributes_to_map(record.attributes, limits, batch.limits)
                body = any_value_to_str(record.body)
                timestamp = clamp_ns(record.time_unix_nano or record.observed_time_unix_nano)
                org = context.org_for(attributes.get("organization.id") or resource_org)
                event_name = event_name_of(body, attributes)
                timestamps.append(timestamp)
                observed.append(clamp_ns(record.observed_time_unix_nano) or timestamp)
                trace_ids.append(record.trace_id.hex())
                span_ids.append(record.span_id.hex())
                flags.append(record.flags & 0xFF)
                severity_texts.append(record.severity_text)
                severity_numbers.append(int(record.severity_number) & 0xFF)
                bodies.append(body)
                log_attributes.append(attributes)
                event_names.append(record.event_name or event_name or "")
                orgs.append(org)
                batch.accepted += 1
                if event_name is None:
                    continue
                session_id = attributes.get("session.id", "")
                if not session_id:
                    no_session += 1
                    continue
                row = typed_event(
                    org_id=org,
                    session_id=session_id,
                    event_key=record_key(record.SerializeToString(deterministic=True)),
                    event_name=event_name,
                    time_unix_nano=clamp_ns(record.time_unix_nano),
                    attributes=attributes,
                    resource=resource,
                    counters=batch.limits,
                )
                event_rows.append(_event_values(row))
                batch.sessions.add((org, session_id))
    if event_rows:  # rows to columns in one C-level pass
        for column, values in zip(EVENT_COLUMNS, zip(*event_rows, strict=True), strict=True):
            events[column].extend(values)
    if no_session:
        batch.warnings.append(
            f"{no_session} Claude Code event records had no session.id: stored in otel_logs, not enriched"
        )
    return batch

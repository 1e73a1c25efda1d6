"""ExportTraceServiceRequest → rows for ``otel_traces``."""

from __future__ import annotations

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from receiver.attributes import Limits, attributes_to_map
from receiver.batch import DecodeContext, DecodedBatch, clamp_ns

TRACE_COLUMNS = (
    "Timestamp", "TraceId", "SpanId", "ParentSpanId", "TraceState", "SpanName", "SpanKind",
    "ServiceName", "ResourceAttributes", "ScopeName", "ScopeVersion", "SpanAttributes",
    "Duration", "StatusCode", "StatusMessage", "Events.Timestamp", "Events.Name",
    "Events.Attributes", "Links.TraceId", "Links.SpanId", "Links.TraceState",
    "Links.Attributes", "OrgId",
)

# The collector stores enum names: SPAN_KIND_INTERNAL → "Internal", STATUS_CODE_OK → "Ok".
_KIND_NAMES = {value: name.removeprefix("SPAN_KIND_").title() for name, value in Span.SpanKind.items()}
_STATUS_NAMES = {value: name.removeprefix("STATUS_CODE_").title() for name, value in Status.StatusCode.items()}


def decode_traces(request: ExportTraceServiceRequest, limits: Limits, context: DecodeContext) -> DecodedBatch:
    batch = DecodedBatch("traces")
    rows = batch.table("otel_traces", TRACE_COLUMNS)
    counters = batch.limits
    for resource_spans in request.resource_spans:
        resource = attributes_to_map(resource_spans.resource.attributes, limits, counters)
        service = resource.get("service.name", "")
        resource_org = resource.get("organization.id", "")
        for scope_spans in resource_spans.scope_spans:
            scope = scope_spans.scope
            for span in scope_spans.spans:
                attributes = attributes_to_map(span.attributes, limits, counters)
                start, end = clamp_ns(span.start_time_unix_nano), clamp_ns(span.end_time_unix_nano)
                rows["Timestamp"].append(start)
                rows["TraceId"].append(span.trace_id.hex())
                rows["SpanId"].append(span.span_id.hex())
                rows["ParentSpanId"].append(span.parent_span_id.hex())
                rows["TraceState"].append(span.trace_state)
                rows["SpanName"].append(span.name)
                rows["SpanKind"].append(_KIND_NAMES.get(span.kind, "Unspecified"))
                rows["ServiceName"].append(service)
                rows["ResourceAttributes"].append(resource)
                rows["ScopeName"].append(scope.name)
                rows["ScopeVersion"].append(scope.version)
                rows["SpanAttributes"].append(attributes)
                rows["Duration"].append(max(end - start, 0) if end else 0)
                rows["StatusCode"].append(_STATUS_NAMES.get(span.status.code, "Unset"))
                rows["StatusMessage"].append(span.status.message)
                rows["Events.Timestamp"].append([clamp_ns(e.time_unix_nano) for e in span.events])
                rows["Events.Name"].append([e.name for e in span.events])
                rows["Events.Attributes"].append([attributes_to_map(e.attributes, limits, counters) for e in span.events])
                rows["Links.TraceId"].append([link.trace_id.hex() for link in span.links])
                rows["Links.SpanId"].append([link.span_id.hex() for link in span.links])
                rows["Links.TraceState"].append([link.trace_state for link in span.links])
                rows["Links.Attributes"].append([attributes_to_map(link.attributes, limits, counters) for link in span.links])
                rows["OrgId"].append(context.org_for(attributes.get("organization.id") or resource_org))
                batch.accepted += 1
    return batch

"""ExportMetricsServiceRequest → rows for the ``otel_metrics_*`` tables.

Also one ``events`` row per ``claude_code.session.count`` data point (EventName
``metric.session_count``, Source = its ``start_type``, Timestamp = the point's start
time): the only native record of how a session started, and enrichment reads events.
"""

from __future__ import annotations

import hashlib

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.metrics.v1.metrics_pb2 import NumberDataPoint

from receiver.attributes import Limits, attributes_to_map
from receiver.batch import DecodeContext, DecodedBatch, clamp_ns
from receiver.events import EVENT_COLUMNS, typed_event

_COMMON = (
    "ResourceAttributes", "ScopeName", "ScopeVersion", "ServiceName", "MetricName",
    "MetricDescription", "MetricUnit", "Attributes", "StartTimeUnix", "TimeUnix", "OrgId",
)
_SCOPE_EXTRA = ("ResourceSchemaUrl", "ScopeAttributes", "ScopeDroppedAttrCount", "ScopeSchemaUrl")
SUM_COLUMNS = _COMMON + _SCOPE_EXTRA + ("Value", "Flags", "AggregationTemporality", "IsMonotonic")
GAUGE_COLUMNS = _COMMON + _SCOPE_EXTRA + ("Value", "Flags")
HISTOGRAM_COLUMNS = _COMMON + _SCOPE_EXTRA + (
    "Count", "Sum", "BucketCounts", "ExplicitBounds", "Flags", "Min", "Max", "AggregationTemporality",
)
EXP_HISTOGRAM_COLUMNS = _COMMON + (
    "Count", "Sum", "Scale", "ZeroCount", "PositiveOffset", "PositiveBucketCounts",
    "NegativeOffset", "NegativeBucketCounts", "Flags", "Min", "Max", "AggregationTemporality",
)
SUMMARY_COLUMNS = _COMMON + ("Count", "Sum", "ValueAtQuantiles.Quantile", "ValueAtQuantiles.Value", "Flags")

# point kind -> (table, columns)
TABLES = {
    "sum": ("otel_metrics_sum", SUM_COLUMNS),
    "gauge": ("otel_metrics_gauge", GAUGE_COLUMNS),
    "histogram": ("otel_metrics_histogram", HISTOGRAM_COLUMNS),
    "exponential_histogram": ("otel_metrics_exponential_histogram", EXP_HISTOGRAM_COLUMNS),
    "summary": ("otel_metrics_summary", SUMMARY_COLUMNS),
}

SESSION_COUNT_METRIC = "claude_code.session.count"


def _number(point: NumberDataPoint) -> float:
    return float(point.as_int) if point.WhichOneof("value") == "as_int" else point.as_double


def decode_metrics(request: ExportMetricsServiceRequest, limits: Limits, context: DecodeContext) -> DecodedBatch:
    batch = DecodedBatch("metrics")
    counters = batch.limits
    for resource_metrics in request.resource_metrics:
        resource = attributes_to_map(resource_metrics.resource.attributes, limits, counters)
        service = resource.get("service.name", "")
        resource_org = resource.get("organization.id", "")
        for scope_metrics in resource_metrics.scope_metrics:
            scope = scope_metrics.scope
            scope_attrs = attributes_to_map(scope.attributes, limits, counters)
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data")
                if kind is None:
                    continue  # a metric with no data has no points to store or reject
                data = getattr(metric, kind)
                table_name, columns = TABLES[kind]
                rows = batch.table(table_name, columns)
                for point in data.data_points:
                    attributes = attributes_to_map(point.attributes, limits, counters)
                    org = context.org_for(attributes.get("organization.id") or resource_org)
                    rows["ResourceAttributes"].append(resource)
                    rows["ScopeName"].append(scope.name)
                    rows["ScopeVersion"].append(scope.version)
                    rows["ServiceName"].append(service)
                    rows["MetricName"].append(metric.name)
                    rows["MetricDescription"].append(metric.description)
                    rows["MetricUnit"].append(metric.unit)
                    rows["Attributes"].append(attributes)
                    rows["StartTimeUnix"].append(clamp_ns(point.start_time_unix_nano))
                    rows["TimeUnix"].append(clamp_ns(point.time_unix_nano))
                    rows["OrgId"].append(org)
                    if "ScopeSchemaUrl" in rows:
                        rows["ResourceSchemaUrl"].append(resource_metrics.schema_url)
                        rows["ScopeAttributes"].append(scope_attrs)
                        rows["ScopeDroppedAttrCount"].append(scope.dropped_attributes_count)
                        rows["ScopeSchemaUrl"].append(scope_metrics.schema_url)
                    rows["Flags"].append(point.flags)
                    if kind in ("sum", "gauge"):
                        rows["Value"].append(_number(point))
                    if kind == "sum":
                        rows["AggregationTemporality"].append(int(data.aggregation_temporality))
                        rows["IsMonotonic"].append(bool(data.is_monotonic))
                    elif kind == "histogram":
                        rows["Count"].append(point.count)
                        rows["Sum"].append(point.sum)
                        rows["BucketCounts"].append(list(point.bucket_counts))
                        rows["ExplicitBounds"].append(list(point.explicit_bounds))
                        rows["Min"].append(point.min)
                        rows["Max"].append(point.max)
                        rows["AggregationTemporality"].append(int(data.aggregation_temporality))
                    elif kind == "exponential_histogram":
                        rows["Count"].append(point.count)
                        rows["Sum"].append(point.sum)
                        rows["Scale"].append(point.scale)
                        rows["ZeroCount"].append(point.zero_count)
                        rows["PositiveOffset"].append(point.positive.offset)
                        rows["PositiveBucketCounts"].append(list(point.positive.bucket_counts))
                        rows["NegativeOffset"].append(point.negative.offset)
                        rows["NegativeBucketCounts"].append(list(point.negative.bucket_counts))
                        rows["Min"].append(point.min)
                        rows["Max"].append(point.max)
                        rows["AggregationTemporality"].append(int(data.aggregation_temporality))
                    elif kind == "summary":
                        rows["Count"].append(point.count)
                        rows["Sum"].append(point.sum)
                        rows["ValueAtQuantiles.Quantile"].append([q.quantile for q in point.quantile_values])
                        rows["ValueAtQuantiles.Value"].append([q.value for q in point.quantile_values])
                    batch.accepted += 1
                    if metric.name == SESSION_COUNT_METRIC and kind == "sum":
                        _session_count_event(batch, org, attributes, resource, point)
    return batch


def _session_count_event(batch: DecodedBatch, org: str, attributes: dict[str, str], resource: dict[str, str], point: NumberDataPoint) -> None:
    session_id = attributes.get("session.id", "")
    if not session_id or _number(point) <= 0:
        return
    start = clamp_ns(point.start_time_unix_nano or point.time_unix_nano)
    # Cumulative exporters repeat the same point every interval with the same start time:
    # key on what identifies the session start, not on the export.
    key_source = f"{org}\x00{session_id}\x00{attributes.get('start_type', '')}\x00{start}".encode()
    key = int.from_bytes(hashlib.blake2b(key_source, digest_size=8).digest(), "little")
    typed = dict(attributes)
    typed["source"] = attributes.get("start_type", "")
    row = typed_event(
        org_id=org, session_id=session_id, event_key=key, event_name="metric.session_count",
        time_unix_nano=start, attributes=typed, resource=resource,
        counters=batch.limits,
    )
    events = batch.table("events", EVENT_COLUMNS)
    for column in EVENT_COLUMNS:
        events[column].append(row[column])
    batch.sessions.add((org, session_id))

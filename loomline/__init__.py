"""loomline: see what AI coding agents do and cost.

OTLP in (gRPC :4317, HTTP :4318) → ClickHouse → conversation threads → query API and Grafana.
"""

__version__ = "0.1.0"

"""``loomline schema``: print the rendered DDL of every migration, for review and for DBAs
who apply it by hand (single node, or ``--clickhouse-cluster NAME`` for the cluster form)."""

from __future__ import annotations

import argparse
import sys

from storage.client import migration_files
from storage.schema import Cluster, SchemaError, render_schema


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--clickhouse-cluster",
        metavar="NAME",
        default="",
        help="render ON CLUSTER NAME with Replicated*MergeTree locals and Distributed tables"
        " (default: the single-node form loomline applies itself)",
    )


def run(args: argparse.Namespace) -> int:
    try:
        cluster = Cluster(args.clickhouse_cluster) if args.clickhouse_cluster else None
        sys.stdout.write(render_schema(migration_files(), cluster))
    except SchemaError as exc:
        print(f"loomline schema: {exc}", file=sys.stderr)
        return 2
    return 0

"""``loomline import [PATH ...]``: arguments and the front of the import (docs/import.md)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from datetime import UTC, datetime

DEFAULT_ENDPOINT = "http://127.0.0.1:4318"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help="transcript files or folders (default ~/.claude/projects), subagent files included")
    parser.add_argument("--endpoint", default=os.environ.get("LOOMLINE_IMPORT_ENDPOINT", DEFAULT_ENDPOINT),
                        help="OTLP/HTTP endpoint of a running loomline serve [env LOOMLINE_IMPORT_ENDPOINT; "
                             f"default {DEFAULT_ENDPOINT}]")
    parser.add_argument("--token", default=os.environ.get("LOOMLINE_IMPORT_TOKEN", ""),
                        help="receiver bearer token (its org is the import's org) [env LOOMLINE_IMPORT_TOKEN]")
    parser.add_argument("--clickhouse", default=None,
                        help="write straight into this storage DSN instead of sending to a server "
                             "(default when no server answers at --endpoint: LOOMLINE_CLICKHOUSE or chdb://./.loomline/data)")
    parser.add_argument("--database", default=None, help="database in the storage DSN [env LOOMLINE_DATABASE]")
    parser.add_argument("--org", default="", help="org of the imported records when writing to storage "
                        "(over OTLP the token's org wins) [default 'default']")
    parser.add_argument("--user", default="", help="user.id to put on the imported records (transcripts name no user)")
    parser.add_argument("--since", default=None, help="only records at or after this time (ISO 8601 or YYYY-MM-DD, UTC)")
    parser.add_argument("--until", default=None, help="only records before this time (ISO 8601 or YYYY-MM-DD, UTC)")
    parser.add_argument("--dry-run", action="store_true", help="read and count everything, send nothing")
    parser.add_argument("--include-prompts", action="store_true",
                        help="send the prompt text (off by default, as in Claude Code's telemetry and the hook bridge)")
    parser.add_argument("--watch", action="store_true",
                        help="keep importing new lines as Claude Code writes them, until Ctrl-C")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between --watch passes [default 2]")


def parse_time_ms(text: str | None, flag: str) -> int | None:
    """``2026-11-21`` or ``2026-11-21T19:00:00Z`` → ms since the epoch (naive = UTC)."""
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{flag}: expected an ISO 8601 time or YYYY-MM-DD, got {text!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def run(args: argparse.Namespace) -> int:
    from importer.files import discover
    from importer.run import Importer, Options
    from importer.sinks import OtlpSink, SinkError, StorageSink, probe

    try:
        options = Options(
            paths=list(args.paths), user_id=args.user, include_prompts=args.include_prompts,
            dry_run=args.dry_run, since_ms=parse_time_ms(args.since, "--since"),
            until_ms=parse_time_ms(args.until, "--until"),
        )
        discover(options.paths)
    except (ValueError, FileNotFoundError) as exc:
        print(f"loomline import: {exc}", file=sys.stderr)
        return 2

    sink: OtlpSink | StorageSink | None = None
    note = ""
    if not args.dry_run:
        try:
            if args.clickhouse is None and probe(args.endpoint):
                if args.org:
                    print("loomline import: --org is ignored over OTLP (the receiver token's org wins)", file=sys.stderr)
                sink = OtlpSink(args.endpoint, args.token)
                note = f"sent to {sink.url}; the receiver drops records it already holds"
            else:
                from settings import Settings, SettingsError

                try:
                    settings = Settings.load({"clickhouse": args.clickhouse, "database": args.database})
                except SettingsError as exc:
                    print(f"loomline import: {exc}", file=sys.stderr)
                    return 2
                direct = StorageSink(settings.clickhouse, settings.database, org=args.org or "default")
                sink = direct
                where = direct.storage.info.safe
                note = f"written to {where} database {settings.database}, org {direct.org}"
                print(f"loomline import: no server at {args.endpoint}: writing to {where}"
                      if args.clickhouse is None else f"loomline import: writing to {where}", file=sys.stderr)
        except Exception as exc:
            print(f"loomline import: cannot open the destination: {exc}", file=sys.stderr)
            return 1

    importer = Importer(sink, options)
    stop = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
    code = 0
    try:
        importer.run_pass(final=not args.watch, stop=stop)
        if args.watch and not stop.is_set():
            print("loomline import: watching for new lines (Ctrl-C stops)", file=sys.stderr)
            importer.watch(stop, interval=args.interval)
    except SinkError as exc:
        print(f"loomline import: {exc}", file=sys.stderr)
        code = 1
    finally:
        signal.signal(signal.SIGINT, previous)
        if sink is not None:
            try:
                sink.close()
            except Exception as exc:
                print(f"loomline import: finishing: {exc}", file=sys.stderr)
                code = 1
    print(importer.summary.text(args.dry_run, note), file=sys.stderr)
    return code

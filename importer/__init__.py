"""``loomline import``: Claude Code transcripts (``~/.claude/projects/*/*.jsonl``) → OTLP log
records shaped like Claude Code's own events, marked as imported evidence (docs/import.md).

transcript.py  one transcript line at a time → records (pure, streaming, bounded state)
otlp.py        records → ExportLogsServiceRequest protobuf
files.py       finding transcripts, reading complete lines from an offset (tail / watch)
sinks.py       where requests go: a running ``loomline serve`` (OTLP/HTTP) or a storage DSN
               through the receiver's own decode + pipeline code, in-process
run.py         the import: files → records → sink, progress, summary, --watch
command.py     ``loomline import`` arguments
"""

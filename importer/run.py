"""The import: transcript files → records → a sink, with progress and a summary.

One pass reads every file from where the last pass stopped (``offsets``), so ``--watch``
is the same pass repeated: new lines appended by Claude Code are read once, a line still
being written waits for its newline. Records go out in batches of BATCH_RECORDS, files in a
stable order, so re-importing an unchanged history sends byte-identical requests (the raw
tables' insert dedup drops them; the events table drops duplicate records on EventKey in
any case).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from importer.files import TranscriptFile, discover, read_lines
from importer.sinks import SendResult, Sink
from importer.transcript import Record, SessionInfo, Skips, TranscriptState, lifecycle_records

BATCH_RECORDS = 2000
MAX_OPEN_STATES = 256


@dataclass
class Options:
    paths: list[str] = field(default_factory=list)
    user_id: str = ""
    include_prompts: bool = False
    dry_run: bool = False
    since_ms: int | None = None
    until_ms: int | None = None


@dataclass
class Summary:
    files: int = 0
    lines: int = 0
    bytes: int = 0
    records: int = 0  # records made from the lines (before since/until)
    imported: int = 0
    already_present: int = 0
    rejected: int = 0
    outside_window: int = 0
    sessions: set[str] = field(default_factory=set)
    skips: Skips = field(default_factory=Skips)
    messages: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def add(self, result: SendResult) -> None:
        self.imported += result.sent - result.rejected
        self.already_present += result.already_present
        self.rejected += result.rejected
        for message in result.messages:
            if message not in self.messages and len(self.messages) < 20:
                self.messages.append(message)

    def text(self, dry_run: bool, sink_note: str = "") -> str:
        seconds = max(time.monotonic() - self.started, 1e-9)
        verb = "would import" if dry_run else "imported"
        lines = [
            f"loomline import: {self.files} files, {self.lines} lines ({self.bytes / 1e6:.1f} MB), "
            f"{len(self.sessions)} sessions, {self.records} records in {seconds:.1f} s "
            f"({self.lines / seconds:,.0f} lines/s)",
            f"  {verb}: {self.imported} records" + (f" ({sink_note})" if sink_note else ""),
        ]
        if not dry_run:
            lines.append(f"  already present: {self.already_present} records")
        if self.rejected:
            lines.append(f"  rejected by the receiver: {self.rejected} records")
        if self.outside_window:
            lines.append(f"  outside --since/--until: {self.outside_window} records")
        for reason, count in sorted(self.skips.reasons.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"  skipped: {count} × {reason}")
        for message in self.messages:
            lines.append(f"  receiver: {message}")
        return "\n".join(lines)


class Progress:
    """One line on stderr, rewritten at most once a second (only on a terminal: a log file
    gets a line every 10 seconds)."""

    def __init__(self, summary: Summary, total_files: int, stream: TextIO | None = None) -> None:
        self.summary = summary
        self.total_files = total_files
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last = time.monotonic()

    def update(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < (1.0 if self.tty else 10.0):
            return
        self._last = now
        s = self.summary
        rate = s.lines / max(now - s.started, 1e-9)
        text = (f"files {s.files}/{self.total_files}  sessions {len(s.sessions)}  "
                f"records {s.records}  lines {s.lines} ({rate:,.0f}/s)")
        self.stream.write(("\r" + text + "   ") if self.tty else (text + "\n"))
        self.stream.flush()

    def done(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _is_json(data: bytes) -> bool:
    try:
        json.loads(data.decode("utf-8", "replace"))
    except (ValueError, RecursionError):
        return False
    return True


class Importer:
    """Keeps per-file offsets and reader state between passes (``--watch``)."""

    def __init__(self, sink: Sink | None, options: Options, progress_stream: TextIO | None = None) -> None:
        self.sink = sink
        self.options = options
        self.summary = Summary()
        self.sessions: dict[str, SessionInfo] = {}
        self.offsets: dict[str, int] = {}
        # Reader state of the files most recently read (--watch goes on where a file
        # stopped); a file idle for longer starts afresh at its offset. Bounded, so memory
        # does not grow with the number of files.
        self.states: OrderedDict[str, TranscriptState] = OrderedDict()
        self.progress_stream = progress_stream
        self._counted_files: set[str] = set()
        self._buffer: list[Record] = []
        self._lifecycle_sent: set[tuple[int, tuple[tuple[str, str], ...]]] = set()

    def _queue(self, records: list[Record], flush: bool = False) -> None:
        """Send in batches of BATCH_RECORDS across files (few large requests and inserts);
        the batches of an unchanged history are the same on every run."""
        self._buffer.extend(records)
        while len(self._buffer) >= BATCH_RECORDS or (flush and self._buffer):
            batch, self._buffer = self._buffer[:BATCH_RECORDS], self._buffer[BATCH_RECORDS:]
            self._send(batch)

    def _in_window(self, record: Record) -> bool:
        ms = record.time_unix_nano // 1_000_000
        if self.options.since_ms is not None and ms < self.options.since_ms:
            return False
        return not (self.options.until_ms is not None and ms >= self.options.until_ms)

    def _send(self, records: list[Record]) -> None:
        if not records:
            return
        self.summary.records += len(records)
        inside = [r for r in records if self._in_window(r)]
        self.summary.outside_window += len(records) - len(inside)
        for record in inside:
            self.summary.sessions.add(record.session_id)
        if not inside:
            return
        if self.sink is None or self.options.dry_run:
            self.summary.imported += len(inside)
            return
        self.summary.add(self.sink.send(inside))

    def run_pass(self, final: bool = True, stop: threading.Event | None = None) -> int:
        """Read what is new in every file. ``final``: a last line without its newline is
        taken as it is (truncated); otherwise it waits for the next pass. Returns the number
        of new lines read."""
        files = discover(self.options.paths)
        progress = Progress(self.summary, len(files), self.progress_stream)
        new_lines = 0
        for transcript in files:
            if stop is not None and stop.is_set():
                break
            new_lines += self._read_file(transcript, final, progress)
        if new_lines or final:
            # Re-made every pass (a later line can change them); send only what changed.
            fresh = []
            for record in lifecycle_records(self.sessions, self.options.user_id):
                identity = (record.time_unix_nano, tuple(record.attributes.items()))
                if identity not in self._lifecycle_sent:
                    self._lifecycle_sent.add(identity)
                    fresh.append(record)
            self._queue(fresh)
        self._queue([], flush=True)
        progress.update(force=True)
        progress.done()
        return new_lines

    def _read_file(self, transcript: TranscriptFile, final: bool, progress: Progress) -> int:
        key = str(transcript.path)
        state = self.states.get(key)
        if state is None:
            state = TranscriptState(
                transcript.session_hint, transcript.directory, agent_file=transcript.agent,
                user_id=self.options.user_id, include_prompts=self.options.include_prompts,
                sessions=self.sessions, skips=self.summary.skips,
            )
            self.states[key] = state
            while len(self.states) > MAX_OPEN_STATES:
                self.states.popitem(last=False)
        self.states.move_to_end(key)
        if key not in self._counted_files:
            self._counted_files.add(key)
            self.summary.files += 1
        offset = self.offsets.get(key, 0)
        stats: dict[str, int] = {}
        count = 0
        try:
            for line in read_lines(transcript.path, offset, stats):
                if not line.complete and not final:
                    break  # still being written: read it whole next pass
                count += 1
                self.summary.lines += 1
                self.summary.bytes += line.end - offset
                offset = line.end
                if not line.data.strip():
                    continue
                if not line.complete and not _is_json(line.data):
                    self.summary.skips.add("truncated last line (no newline)")
                    continue
                records = state.feed(line.data)
                if records:
                    self._queue(records)
                progress.update()
        except OSError as exc:
            self.summary.skips.add(f"unreadable file ({exc.strerror or exc})")
        if stats.get("long_lines"):
            self.summary.skips.add("line longer than 64 MiB", stats["long_lines"])
        self.offsets[key] = offset
        if final or not count:  # end of the import, or the file went idle for a pass
            self._queue(state.finish())
        if final:
            del self.states[key]
        return count

    def watch(self, stop: threading.Event, interval: float = 1.0, max_passes: int | None = None,
              on_pass: Callable[[int], None] | None = None) -> None:
        """Passes every ``interval`` seconds until ``stop`` is set (SIGINT) or
        ``max_passes``; a line still being written waits for the next pass."""
        passes = 0
        while not stop.is_set():
            new = self.run_pass(final=False, stop=stop)
            passes += 1
            if on_pass is not None:
                on_pass(new)
            if max_passes is not None and passes >= max_passes:
                break
            stop.wait(interval)

"""Finding transcripts and reading their complete lines from an offset.

Reading is by fixed-size chunks, so memory stays flat whatever the file's size; a line
longer than ``max_line_bytes`` is skipped (its bytes are read and dropped). A last line
without its newline is either a line Claude Code is still writing (``--watch`` waits for the
rest) or a truncated one (a one-shot import tries it once and reports it if it is not JSON).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

CHUNK_BYTES = 1024 * 1024
MAX_LINE_BYTES = 64 * 1024 * 1024
DEFAULT_ROOT = "~/.claude/projects"


@dataclass(frozen=True)
class TranscriptFile:
    path: Path
    agent: bool  # a subagent side file (agent-*.jsonl): its lines name the parent session

    @property
    def session_hint(self) -> str:
        """The session id the file name gives (main transcripts are ``<session id>.jsonl``)."""
        return "" if self.agent else self.path.stem

    @property
    def directory(self) -> str:
        """The project folder (a /clear successor is looked for among its sessions)."""
        return str(self.path.parent)


def discover(paths: Sequence[str]) -> list[TranscriptFile]:
    """Every ``*.jsonl`` under the given files and folders (default ``~/.claude/projects``),
    subagent side files included, in a stable order; missing paths raise FileNotFoundError."""
    found: dict[Path, TranscriptFile] = {}
    for raw in paths or [DEFAULT_ROOT]:
        path = Path(raw).expanduser()
        if path.is_file():
            candidates = [path]
        elif path.is_dir():
            candidates = sorted(p for p in path.rglob("*.jsonl") if p.is_file())
        else:
            raise FileNotFoundError(f"no such file or folder: {raw}")
        for candidate in candidates:
            resolved = candidate.resolve()
            found.setdefault(resolved, TranscriptFile(resolved, candidate.name.startswith("agent-")))
    # Main transcripts first: a subagent's records belong to a session its parent's file opens.
    return sorted(found.values(), key=lambda f: (f.agent, str(f.path)))


@dataclass
class Line:
    data: bytes
    end: int  # offset just past this line (and its newline)
    complete: bool  # ended by a newline


def read_lines(path: Path, offset: int, stats: dict[str, int] | None = None,
               max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[Line]:
    """Lines from ``offset`` to the end of the file as it is now. The last one may be
    incomplete (``complete=False``). Lines over ``max_line_bytes`` are skipped and counted
    in ``stats['long_lines']``."""
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if offset > size:  # the file was truncated or replaced: start again
            offset = 0
        handle.seek(offset)
        position = offset
        pending: list[bytes] = []
        pending_len = 0
        too_long = False
        while position < size:
            chunk = handle.read(min(CHUNK_BYTES, size - position))
            if not chunk:
                break
            start = 0
            while True:
                newline = chunk.find(b"\n", start)
                if newline < 0:
                    piece = chunk[start:]
                    if piece and not too_long:
                        pending.append(piece)
                        pending_len += len(piece)
                        if pending_len > max_line_bytes:
                            too_long, pending, pending_len = True, [], 0
                    break
                piece = chunk[start:newline]
                end = position + newline + 1
                if too_long or pending_len + len(piece) > max_line_bytes:
                    if stats is not None:
                        stats["long_lines"] = stats.get("long_lines", 0) + 1
                    too_long, pending, pending_len = False, [], 0
                    yield Line(b"", end, True)
                else:
                    data = b"".join(pending) + piece if pending else piece
                    pending, pending_len = [], 0
                    yield Line(data, end, True)
                start = newline + 1
            position += len(chunk)
        if pending or too_long:
            yield Line(b"" if too_long else b"".join(pending), position, False)

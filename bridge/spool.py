"""The on-disk spool: records waiting for the receiver, one JSON file each, and the raw
entries the shell hook leaves for a sender to build (bridge.raw)."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from bridge.log import log
from bridge.record import HookRecord

RECORD_SUFFIX = ".json"
RAW_SUFFIX = ".raw"  # written by bridge/loomline-hook.sh: payload + hook-time facts, no record yet
INFLIGHT = ".inflight"  # the files of the send whose answer never came, one name per line


class Spool:
    """Records waiting for the receiver: one JSON file per record, named by time so a
    directory listing is the send order. Writers append with an atomic rename; whoever holds
    the lock file builds the raw entries, sends, deletes what was acknowledged, and enforces
    the bounds."""

    def __init__(self, directory: Path, max_records: int, max_bytes: int, log_file: Path) -> None:
        self.directory = directory
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.log_file = log_file
        self._lock_fd: int | None = None

    def lock(self, timeout: float) -> bool:
        """Take the spool lock, waiting up to ``timeout`` seconds."""
        import fcntl

        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._lock_fd = fd
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    return False
                time.sleep(0.005)

    def unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing releases the flock
            self._lock_fd = None

    def files(self) -> list[Path]:
        """Every entry, records and raw entries alike, in send order."""
        try:
            return sorted(p for p in self.directory.iterdir() if p.suffix in (RECORD_SUFFIX, RAW_SUFFIX))
        except OSError:
            return []

    def append(self, record: HookRecord) -> Path:
        """Write ``record`` as a new spool file (atomic rename). Raises OSError (disk full,
        read-only or missing directory) or ValueError (a record that cannot be encoded);
        either way no file is left behind."""
        data = record.to_json().encode("utf-8")  # before any file exists: fails clean
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{record.time_unix_nano:020d}-{os.getpid()}-{time.perf_counter_ns() % 10**9:09d}"
        tmp = self.directory / (name + ".tmp")
        final = self.directory / (name + ".json")
        try:
            with open(tmp, "wb") as handle:
                handle.write(data)
            os.replace(tmp, final)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        return final

    def rewrite(self, path: Path, record: HookRecord) -> None:
        """Replace a spooled record by its completed version, or write a raw entry's record
        (atomic rename; lock held)."""
        tmp = path.with_suffix(".tmp")
        try:
            tmp.write_bytes(record.to_json().encode("utf-8"))
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise

    def inflight(self) -> list[str]:
        """The file names of the last send that was not acknowledged (lock held): a retry
        sends exactly these again, alone, so its request is byte-identical to the first and
        the receiver's insert dedup drops it if the first was stored after all."""
        try:
            return (self.directory / INFLIGHT).read_text("utf-8").split()
        except (OSError, ValueError):
            return []

    def set_inflight(self, paths: Sequence[Path]) -> None:
        """Name the files about to be sent (lock held; atomic rename). Best effort: a spool
        that cannot take it still sends, a resend may then be grouped differently."""
        tmp = self.directory / (INFLIGHT + ".tmp")
        try:
            tmp.write_text("".join(p.name + "\n" for p in paths), "utf-8")
            os.replace(tmp, self.directory / INFLIGHT)
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()

    def clear_inflight(self) -> None:
        with contextlib.suppress(OSError):
            (self.directory / INFLIGHT).unlink()

    def enforce_bounds(self) -> None:
        """Drop the oldest records beyond the record and byte bounds, and files left half
        written by a killed hook (lock held)."""
        with contextlib.suppress(OSError):
            for tmp in self.directory.glob("*.tmp"):
                if time.time() - tmp.stat().st_mtime > 60:
                    tmp.unlink()
        paths = self.files()
        sizes = []
        for path in paths:
            try:
                sizes.append(path.stat().st_size)
            except OSError:
                sizes.append(0)
        total = sum(sizes)
        drop = 0
        while drop < len(paths) and (len(paths) - drop > self.max_records or total > self.max_bytes):
            total -= sizes[drop]
            drop += 1
        for path in paths[:drop]:
            with contextlib.suppress(OSError):
                path.unlink()
        if drop:
            log(self.log_file, f"WARNING spool full: dropped the {drop} oldest record(s)")

    def read(self, paths: Sequence[Path],
             build: Callable[[bytes], HookRecord | None] | None = None) -> Iterator[tuple[Path, HookRecord]]:
        """(path, record) for each of ``paths`` (lock held). A raw entry is built with ``build``
        (skipped without one) and replaced by its record under the same name stem, so it is
        built once and every send of it is byte-identical; when that file cannot be written,
        its record comes with the raw entry's path (deleted once acknowledged)."""
        for path in paths:
            if path.suffix == RAW_SUFFIX:
                if build is not None:
                    yield from self._build(path, build)
                continue
            try:
                yield path, HookRecord.from_json(path.read_bytes())
            except FileNotFoundError:
                continue
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log(self.log_file, f"ERROR unreadable spool file {path.name} dropped: {exc}")
                with contextlib.suppress(OSError):
                    path.unlink()

    def _build(self, path: Path, build: Callable[[bytes], HookRecord | None]) -> Iterator[tuple[Path, HookRecord]]:
        built = path.with_suffix(RECORD_SUFFIX)
        try:
            if built.exists():  # built before, then the sender died before deleting the entry
                path.unlink()
                return
            data = path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            log(self.log_file, f"ERROR unreadable spool entry {path.name}: {exc!r}")
            return
        try:
            record = build(data)
        except Exception as exc:  # noqa: BLE001 - a bad entry must not block the spool
            log(self.log_file, f"ERROR raw spool entry {path.name} dropped: {exc!r}")
            record = None
        if record is None:  # nothing to send (logged by ``build``)
            with contextlib.suppress(OSError):
                path.unlink()
            return
        try:
            self.rewrite(built, record)
        except (OSError, ValueError) as exc:
            log(self.log_file, f"WARNING spool unusable ({exc!r}): sending {record.body} from memory")
            yield path, record
            return
        with contextlib.suppress(OSError):
            path.unlink()
        yield built, record

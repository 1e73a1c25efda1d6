"""Write the seed corpus for the compiled decoder's fuzz target and sanitizer replay: every
logs request of the real captures (tests/captures/) as protobuf bytes, plus the hostile
shapes of tests/test_receiver_decoder_diff.py. ``python -m tests.fuzz_corpus DIR``."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path


def corpus() -> list[bytes]:
    from tests import test_receiver_decoder_diff as diff

    cases = list(diff.CAPTURE_BODIES)
    record = diff._claude_record()
    for level in ["record", "scope", "scope_logs", "resource", "resource_logs", "request"]:
        for suffix in diff.SUFFIXES:
            record_bytes = diff._record_bytes(record, suffix if level == "record" else b"")
            cases.append(diff._wrap(record_bytes, level, suffix))
    for depth in [1, 20, 40, 70, 200]:
        cases.append(diff._wrap(record.SerializeToString() + diff._field(6, 2, diff._field(2, 2, diff._nested_value(depth))), "record", b""))
    cases += [b"", diff._field(1, 2, b""), diff._field(1, 2, diff._field(2, 2, diff._field(2, 2, b"")))]
    return cases


def write(directory: Path) -> int:
    directory.mkdir(parents=True, exist_ok=True)
    cases = corpus()
    for body in cases:
        (directory / hashlib.sha1(body).hexdigest()).write_bytes(body)  # noqa: S324 - a file name
    return len(cases)


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "build/fuzz-corpus")
    print(f"{write(target)} seed inputs in {target}")

"""Replay the seed corpus and its mutations through the ASan build of the whole extension
(module.c too), comparing with the Python decoder. Run by tests/test_receiver_decoder_asan.py
in a subprocess with libasan preloaded: ``python -m tests.asan_decoder_replay SO_PATH N``."""

from __future__ import annotations

import importlib.util
import random
import sys


def main(so_path: str, mutations: int) -> int:
    import ctypes

    assert hasattr(ctypes.CDLL(None), "__asan_report_load1"), "libasan is not loaded (LD_PRELOAD)"
    spec = importlib.util.spec_from_file_location("receiver._logswire", so_path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules["receiver._logswire"] = module
    from receiver import decode_logs_fast

    assert decode_logs_fast._extension is module
    from tests import fuzz_corpus
    from tests import test_receiver_decoder_diff as diff

    rng = random.Random(7)
    cases = 0
    for seed in fuzz_corpus.corpus():
        for body in [seed] + [diff.mutate(seed, rng) for _ in range(mutations)]:
            for limits in diff.LIMITS:
                diff.same(body, *limits)
                cases += 1
    print(f"{cases} cases decoded the same under ASan")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2])))

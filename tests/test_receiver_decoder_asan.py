"""The compiled decoder's wire scan under AddressSanitizer and UndefinedBehaviorSanitizer:
built with gcc from receiver/_logswire_c/ with the standalone replay driver (fuzz_scan.c),
replaying the seed corpus (real captures + hostile shapes, tests/fuzz_corpus.py), truncations
and deterministic mutations of every seed. Any sanitizer report or broken invariant aborts the
driver. The libFuzzer run is ``make fuzz-decoder`` (docs/decoder.md)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests import fuzz_corpus

SOURCES = Path(__file__).resolve().parent.parent / "receiver" / "_logswire_c"
MUTATIONS_PER_SEED = 1500


@pytest.fixture(scope="module")
def replay_driver(tmp_path_factory: pytest.TempPathFactory) -> Path:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed: the sanitizer build of the decoder cannot be made")
    out = tmp_path_factory.mktemp("asan") / "replay"
    build = subprocess.run(
        [gcc, "-g", "-O1", "-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer",
         "-Wall", "-Wextra", "-Werror", str(SOURCES / "scan.c"), str(SOURCES / "fuzz_scan.c"), "-o", str(out)],
        capture_output=True, text=True,
    )
    if build.returncode != 0 and ("asan" in build.stderr or "ubsan" in build.stderr) and "cannot find" in build.stderr:
        pytest.skip(f"gcc has no sanitizer runtime here: {build.stderr.strip()[-200:]}")
    assert build.returncode == 0, build.stderr
    return out


def test_corpus_and_mutations_replay_clean_under_asan_and_ubsan(replay_driver: Path, tmp_path: Path) -> None:
    seeds = fuzz_corpus.write(tmp_path / "corpus")
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=1", UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    run = subprocess.run([str(replay_driver), "--mutations", str(MUTATIONS_PER_SEED), str(tmp_path / "corpus")],
                         capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-4000:]
    assert f"replayed {seeds} inputs, " in run.stdout
    assert f" truncations and {seeds * MUTATIONS_PER_SEED} mutations without a finding" in run.stdout


def test_whole_extension_under_asan_decodes_the_corpus_like_python(tmp_path: Path) -> None:
    """module.c too (the Python-object phase): the extension built with ASan + UBSan, loaded
    into a Python with libasan preloaded, decodes every seed and 40 mutations of each exactly
    as the Python decoder does (tests/asan_decoder_replay.py)."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed: the sanitizer build of the decoder cannot be made")
    runtimes = [subprocess.run([gcc, f"-print-file-name={name}"], capture_output=True, text=True).stdout.strip()
                for name in ("libasan.so", "libubsan.so")]
    if not all(os.path.isabs(path) and os.path.exists(path) for path in runtimes):
        pytest.skip(f"gcc has no shared sanitizer runtimes here ({runtimes})")
    import sysconfig

    so = tmp_path / "_logswire_asan.so"
    build = subprocess.run(
        [gcc, "-g", "-O1", "-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer",
         "-fPIC", "-shared", f"-I{sysconfig.get_paths()['include']}", str(SOURCES / "scan.c"), str(SOURCES / "module.c"),
         "-o", str(so)],
        capture_output=True, text=True,
    )
    assert build.returncode == 0, build.stderr
    env = dict(os.environ, LD_PRELOAD=":".join(runtimes), ASAN_OPTIONS="detect_leaks=0:abort_on_error=1",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    import sys

    run = subprocess.run([sys.executable, "-m", "tests.asan_decoder_replay", str(so), "40"], capture_output=True,
                         text=True, env=env, timeout=300, cwd=Path(__file__).resolve().parent.parent)
    assert run.returncode == 0, (run.stdout[-2000:], run.stderr[-4000:])
    assert "decoded the same under ASan" in run.stdout

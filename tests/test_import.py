"""``loomline import`` over the real transcripts in tests/captures, checked against the
telemetry of the same runs, through a real in-process loomline (OTLP/HTTP receiver,
chDB storage, enrichment).

One loomline, one database, four tenants (receiver tokens): ``tel`` gets the run's
telemetry only, ``imp`` the import only, ``both`` telemetry then the import, ``rev`` the
import then telemetry (live telemetry arriving after an import).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from importer.files import discover, read_lines
from importer.run import Importer, Options
from importer.sinks import OtlpSink, StorageSink
from importer.transcript import Skips, TranscriptState
from loomline.app import Loomline
from loomline.cli import main as cli_main
from storage.client import Storage
from tests.fixtures import CAPTURES_ROOT

TOKENS = "tel=tel,imp=imp,both=both,rev=rev"
SCENARIOS = [
    *(f"claude-code-2.1.328/{name}" for name in (
        "api_error", "api_retry", "autocompact", "compact_manual", "fork", "fresh_tool",
        "interactive_clear_exit", "resume_continue")),
    *(f"claude-code-2.1.332/{name}" for name in ("fork", "fresh_tool", "subagent")),
]
EXIT_NOT_IN_TRANSCRIPT = {"8d4481b2-5233-48d4-91f0-55e8f6e18046": 1}  # interactive_clear_exit's /exit
TOKEN_COLUMNS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens",
                 "cache_creation_5m_tokens", "cache_creation_1h_tokens")


def post_telemetry(app: Loomline, scenario: str, token: str) -> None:
    """Every OTLP/HTTP POST Claude Code made in the run, replayed as it was sent."""
    base = f"http://127.0.0.1:{app.ports['otlp_http']}"
    with open(CAPTURES_ROOT / scenario / "otlp.jsonl") as handle:
        for text in handle:
            if not text.strip():
                continue
            line = json.loads(text)
            request = urllib.request.Request(
                base + line["path"], data=line["body"].encode(), method="POST",
                headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
            )
            with urllib.request.urlopen(request, timeout=30) as answer:
                assert answer.status == 200


def run_import(app: Loomline, scenario: str, token: str, **options: Any) -> Importer:
    sink = OtlpSink(f"http://127.0.0.1:{app.ports['otlp_http']}", token)
    importer = Importer(sink, Options(paths=[str(CAPTURES_ROOT / scenario / "transcripts")], **options),
                        progress_stream=open(os.devnull, "w"))
    importer.run_pass()
    return importer


def derive_now(app: Loomline) -> None:
    assert app.enricher is not None
    app.enricher.derive_all()


def sessions(storage: Storage, org: str) -> dict[str, dict[str, Any]]:
    return {r["session_id"]: r for r in storage.query_dicts(
        "SELECT * FROM llm_sessions FINAL WHERE org_id = {org:String} AND is_deleted = 0", {"org": org})}


def threads(storage: Storage, org: str) -> dict[str, dict[str, Any]]:
    return {r["thread_id"]: r for r in storage.query_dicts(
        "SELECT * FROM threads FINAL WHERE org_id = {org:String} AND is_deleted = 0", {"org": org})}


def event_count(storage: Storage, org: str) -> int:
    return int(storage.query_rows("SELECT count() FROM events FINAL WHERE OrgId = {org:String}", {"org": org})[0][0])


@pytest.fixture
def tenants(app_factory, storage: Storage) -> Loomline:
    return app_factory(storage=storage, receiver_tokens=TOKENS, enrich_interval=3600)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.replace("claude-code-", "") for s in SCENARIOS])
def test_import_matches_telemetry_and_merges_without_double_counting(tenants: Loomline, storage: Storage, scenario: str) -> None:
    post_telemetry(tenants, scenario, "tel")
    first = run_import(tenants, scenario, "imp")
    post_telemetry(tenants, scenario, "both")
    run_import(tenants, scenario, "both")
    run_import(tenants, scenario, "rev")
    post_telemetry(tenants, scenario, "rev")
    derive_now(tenants)

    tel, imp = sessions(storage, "tel"), sessions(storage, "imp")
    assert first.summary.records > 0 and not first.summary.rejected
    # Same sessions and the same threads (thread id = root session, same members).
    assert sorted(imp) == sorted(tel)
    tel_threads, imp_threads = threads(storage, "tel"), threads(storage, "imp")
    assert {t: sorted(r["session_ids"]) for t, r in imp_threads.items()} == {
        t: sorted(r["session_ids"]) for t, r in tel_threads.items()}
    for session_id, want in tel.items():
        got = imp[session_id]
        assert got["thread_id"] == want["thread_id"]
        # Same token totals; cost computed from the same tokens with the same price table.
        assert {c: got[c] for c in TOKEN_COLUMNS} == {c: want[c] for c in TOKEN_COLUMNS}, session_id
        # What the person typed, and what Claude Code injected (a task notification). An
        # interactive /exit is not written to the transcript (docs/import.md).
        exits = EXIT_NOT_IN_TRANSCRIPT.get(session_id, 0)
        assert (got["user_prompt_count"] + exits, got["injected_prompt_count"]) == (
            want["user_prompt_count"], want["injected_prompt_count"]), session_id
        assert got["computed_cost_usd"] == pytest.approx(want["computed_cost_usd"], abs=1e-6)
        assert got["cost_usd"] == 0  # a transcript reports no cost: computed only
        # ... and the computed cost is what Claude Code charged, to the price table's rounding
        assert got["computed_cost_usd"] == pytest.approx(want["cost_usd"], abs=1e-6)
        assert (got["cwd"], got["git_branch"]) == ("/home/dev/project", "master")
        assert got["app_version"] == want["app_version"]
        # The transcript starts at the first prompt, telemetry when the process starts (an
        # interactive user types for a few seconds first); the end is the last line written
        # (an interactive /exit is not written: telemetry sees it later).
        assert -1 < (got["started_at"] - want["started_at"]).total_seconds() < 10, session_id
        assert -1 < (want["last_activity_at"] - got["last_activity_at"]).total_seconds() < 5, session_id
    for org in ("both", "rev"):
        merged = sessions(storage, org)
        assert sorted(merged) == sorted(tel), org
        for session_id, want in tel.items():
            got = merged[session_id]
            # Telemetry wins where both describe a prompt: nothing counted twice.
            for column in (*TOKEN_COLUMNS, "cost_usd", "computed_cost_usd", "api_request_count",
                           "user_prompt_count", "injected_prompt_count", "tool_call_count", "api_error_count",
                           "compaction_count", "subagent_request_count"):
                assert got[column] == pytest.approx(want[column]), (org, session_id, column)
            assert got["thread_id"] == want["thread_id"]
    # Importing again adds nothing.
    before = (event_count(storage, "imp"), event_count(storage, "both"))
    again = run_import(tenants, scenario, "imp")
    run_import(tenants, scenario, "both")
    assert again.summary.records == first.summary.records
    assert (event_count(storage, "imp"), event_count(storage, "both")) == before


def test_fork_parentage_and_clear_successor_come_from_the_transcripts(tenants: Loomline, storage: Storage) -> None:
    for scenario in ("claude-code-2.1.328/fork", "claude-code-2.1.328/interactive_clear_exit"):
        run_import(tenants, scenario, "imp")
        post_telemetry(tenants, scenario, "tel")
    derive_now(tenants)
    links = storage.query_rows(
        "SELECT org_id, from_session_id, to_session_id, link_type, evidence FROM session_links FINAL"
        " WHERE is_deleted = 0 ORDER BY org_id, link_type")
    fork_parent, fork_child = "3cfcf546-f49c-46bd-ac61-e8e67fbc89b9", "c9caa1c0-3711-4c5f-9d06-232c23c3492a"
    cleared, successor = "d9a82d06-f49b-4f07-a519-fd0586d61e6a", "8d4481b2-5233-48d4-91f0-55e8f6e18046"
    assert (("imp", cleared, successor, "cleared_from", "transcript") in links)
    assert (("imp", fork_parent, fork_child, "forked_from", "transcript") in links)
    # Telemetry alone cannot name a fork's parent; the import can.
    assert not any(org == "tel" and kind == "forked_from" for org, _, _, kind, _ in links)
    imp = sessions(storage, "imp")
    assert imp[fork_child]["parent_thread_id"] == fork_parent
    assert (imp[fork_child]["start_source"], imp[fork_child]["start_evidence"]) == ("fork", "transcript")
    assert (imp[cleared]["close_reason"], imp[cleared]["close_evidence"]) == ("clear", "transcript")
    assert imp[successor]["start_source"] == "clear"
    assert not imp[fork_child]["has_hook_evidence"]


def test_compaction_and_api_error_and_injected_prompt(tenants: Loomline, storage: Storage) -> None:
    for scenario in ("claude-code-2.1.328/compact_manual", "claude-code-2.1.328/api_error", "claude-code-2.1.332/subagent"):
        run_import(tenants, scenario, "imp")
    derive_now(tenants)
    compactions = storage.query_dicts(
        "SELECT trigger, success, pre_tokens, post_tokens, evidence FROM compactions FINAL WHERE org_id = 'imp' AND is_deleted = 0")
    assert compactions == [{"trigger": "manual", "success": True, "pre_tokens": 2550, "post_tokens": 2545, "evidence": "transcript"}]
    imp = sessions(storage, "imp")
    assert imp["22e2fccc-7965-4593-ad52-5ce2b4536281"]["api_error_count"] == 1
    prompts = storage.query_rows(
        "SELECT Attributes['origin.kind'], Attributes['loomline.prompt.injected'] FROM events FINAL"
        " WHERE OrgId = 'imp' AND SessionId = '249043e7-ea79-429b-8eb7-a13f3d4d64ce' AND EventName = 'user_prompt'"
        " ORDER BY Timestamp")
    assert prompts == [("human", "false"), ("task-notification", "true")]
    # The subagent's own request (its side file) is counted in the parent session, once.
    sub = storage.query_rows(
        "SELECT Attributes['agent_id'], QuerySource, AgentName FROM events FINAL WHERE OrgId = 'imp'"
        " AND EventName = 'api_request' AND Attributes['agent_id'] != ''")
    assert sub == [("ab07d7b26fc0f57d6", "agent:builtin:general-purpose", "general-purpose")]


def test_cli_writes_straight_into_storage_when_no_server_runs(chdb_dsn: str, database_name: str, storage: Storage,
                                                              tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    transcripts = str(CAPTURES_ROOT / "claude-code-2.1.328" / "resume_continue" / "transcripts")
    argv = ["import", transcripts, "--clickhouse", chdb_dsn, "--database", database_name, "--org", "acme",
            "--user", "u1", "--include-prompts"]
    assert cli_main(argv) == 0
    first = capsys.readouterr().err
    assert "imported: 7 records" in first and "already present: 0 records" in first
    rows = storage.query_dicts("SELECT * FROM llm_sessions FINAL WHERE is_deleted = 0")
    assert [(r["org_id"], r["session_id"], r["user_id"], r["first_prompt"], r["input_tokens"]) for r in rows] == [
        ("acme", "d702cac2-24da-4ec8-b704-5d946eccca9e", "u1", "first", 4500)]
    assert cli_main(argv) == 0
    second = capsys.readouterr().err
    assert "imported: 0 records" in second and "already present: 7 records" in second
    raw = storage.query_rows("SELECT count() FROM otel_logs")[0][0]
    assert raw == 7  # nothing sent twice, not even to the raw table
    # --since/--until and --dry-run
    assert cli_main(["import", transcripts, "--dry-run", "--since", "2026-11-21T19:01:05Z"]) == 0
    dry = capsys.readouterr().err
    assert "would import:" in dry and "outside --since/--until:" in dry


def test_cli_sends_to_a_running_server_with_its_token(tenants: Loomline, storage: Storage,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    transcripts = str(CAPTURES_ROOT / "claude-code-2.1.332" / "subagent" / "transcripts")
    endpoint = f"http://127.0.0.1:{tenants.ports['otlp_http']}"
    assert cli_main(["import", transcripts, "--endpoint", endpoint, "--token", "nope"]) == 1
    assert "refused the token (401)" in capsys.readouterr().err
    assert cli_main(["import", transcripts, "--endpoint", endpoint, "--token", "imp", "--org", "ignored"]) == 0
    err = capsys.readouterr().err
    assert "--org is ignored over OTLP" in err and "imported: 8 records" in err
    derive_now(tenants)
    assert list(sessions(storage, "imp")) == ["249043e7-ea79-429b-8eb7-a13f3d4d64ce"]
    assert sessions(storage, "ignored") == {}


def test_cli_watch_stops_on_sigint(tmp_path: Path) -> None:
    source = CAPTURES_ROOT / "claude-code-2.1.328" / "fresh_tool" / "transcripts" / "30d50448-249e-4f22-ae04-2ca239e29606.jsonl"
    lines = source.read_bytes().splitlines(keepends=True)
    target = tmp_path / source.name
    target.write_bytes(b"".join(lines[:3]))
    process = subprocess.Popen(
        [sys.executable, "-m", "loomline.cli", "import", str(tmp_path), "--watch", "--interval", "0.1", "--dry-run"],
        stderr=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parent.parent)
    try:
        time.sleep(1.5)
        with open(target, "ab") as handle:
            handle.write(b"".join(lines[3:]))
        time.sleep(1.5)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "watching for new lines" in err
    assert "would import: 5 records" in err  # prompt, two requests, tool result, session start


def test_hostile_files(tmp_path: Path) -> None:
    real = (CAPTURES_ROOT / "claude-code-2.1.328" / "fresh_tool" / "transcripts").glob("*.jsonl")
    source = next(real).read_bytes()
    lines = source.splitlines(keepends=True)
    hostile = tmp_path / "30d50448-249e-4f22-ae04-2ca239e29606.jsonl"
    hostile.write_bytes(
        b"not json at all\n" + b'{"type":"brand-new-line-type","x":1}\n' + b"[1,2]\n"
        + lines[0] + b'{"type":"user","message":{"content":"caf\xe9 \xff"},"timestamp":"2026-11-21T19:00:59.000Z","promptId":"p0","sessionId":"s"}\n'
        + b'{"type":"user","message":{"content":"old"},"timestamp":"0001-01-01T00:00:00Z","sessionId":"s"}\n'
        + b'{"type":"assistant","message":{"usage":{"input_tokens":1e400,"output_tokens":-5}},"timestamp":"2026-11-21T19:01:00.700Z"}\n'
        + b"".join(lines[1:]) + lines[2][: len(lines[2]) // 2]  # truncated last line
    )
    importer = Importer(None, Options(paths=[str(tmp_path)], dry_run=True), progress_stream=open(os.devnull, "w"))
    importer.run_pass()
    reasons = importer.summary.skips.reasons
    assert reasons["malformed JSON line"] == 1
    assert reasons["unknown line type 'brand-new-line-type'"] == 1
    assert reasons["line is not a JSON object"] == 1
    assert reasons["truncated last line (no newline)"] == 1
    assert reasons["user line with an impossible timestamp"] == 1
    assert importer.summary.records >= 5  # everything else still imported


def test_long_lines_are_skipped_with_flat_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    with open(path, "wb") as handle:
        handle.write(b'{"type":"mode"}\n' + b'{"type":"x","pad":"' + b"a" * 5_000_000 + b'"}\n' + b'{"type":"mode"}\n')
    stats: dict[str, int] = {}
    got = list(read_lines(path, 0, stats, max_line_bytes=1_000_000))
    assert [(line.data, line.complete) for line in got] == [(b'{"type":"mode"}', True), (b"", True), (b'{"type":"mode"}', True)]
    assert stats["long_lines"] == 1


def test_copied_fork_prefix_is_not_counted_again() -> None:
    fork = CAPTURES_ROOT / "claude-code-2.1.332" / "fork" / "transcripts" / "c49bd0bd-018a-445f-b0b6-f444e2778741.jsonl"
    state = TranscriptState(fork.stem, str(fork.parent), skips=Skips())
    records = [r for line in fork.read_bytes().splitlines() for r in state.feed(line)] + state.finish()
    requests = [r for r in records if r.event_name == "api_request"]
    prompts = [r for r in records if r.event_name == "user_prompt"]
    assert len(requests) == 1 and len(prompts) == 1
    assert prompts[0].attributes["prompt.id"] == "ddcd7a92-729a-4b11-9106-b40b6a51de50"
    assert state.sessions[fork.stem].parent_session_id == "80b44b69-b872-40d7-8cfe-77c715fd331a"


def test_watch_imports_lines_appended_while_it_runs(chdb_dsn: str, database_name: str, storage: Storage, tmp_path: Path) -> None:
    source = CAPTURES_ROOT / "claude-code-2.1.328" / "resume_continue" / "transcripts" / "d702cac2-24da-4ec8-b704-5d946eccca9e.jsonl"
    lines = source.read_bytes().splitlines(keepends=True)
    target = tmp_path / source.name
    target.write_bytes(b"".join(lines[:10]))
    sink = StorageSink(chdb_dsn, database_name, storage=storage, enrich=False)
    importer = Importer(sink, Options(paths=[str(tmp_path)]), progress_stream=open(os.devnull, "w"))
    stop = threading.Event()
    passes: list[int] = []
    worker = threading.Thread(target=importer.watch, args=(stop,), kwargs={"interval": 0.05, "max_passes": 400,
                                                                          "on_pass": passes.append})
    worker.start()
    try:
        with open(target, "ab") as handle:
            for line in lines[10:]:
                handle.write(line[: len(line) // 2])  # a line half written ...
                handle.flush()
                time.sleep(0.01)
                handle.write(line[len(line) // 2:])  # ... then finished
                handle.flush()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            got = storage.query_rows("SELECT count() FROM events FINAL WHERE EventName = 'api_request'")[0][0]
            if got == 3 and sum(passes[-3:]) == 0 and len(passes) > 3:
                break
            time.sleep(0.05)
    finally:
        stop.set()
        worker.join(10)
        sink.close()
    assert not worker.is_alive()
    assert importer.summary.skips.reasons == {}  # no half line was ever read as a line
    assert storage.query_rows("SELECT count() FROM events FINAL WHERE EventName = 'api_request'") == [(3,)]
    assert storage.query_rows("SELECT sum(InputTokens) FROM events FINAL") == [(4500,)]


def test_discover_puts_subagent_files_after_main_transcripts() -> None:
    found = discover([str(CAPTURES_ROOT / "claude-code-2.1.332" / "subagent" / "transcripts")])
    assert [(f.path.name, f.agent) for f in found] == [
        ("249043e7-ea79-429b-8eb7-a13f3d4d64ce.jsonl", False), ("agent-ab07d7b26fc0f57d6.jsonl", True)]


def test_telemetry_supersedes_imported_records_per_prompt() -> None:
    from enrich.imported import without_superseded
    from enrich.model import Event

    def event(key: int, name: str, ts: int, prompt: str = "", evidence: str = "", session: str = "s") -> Event:
        return Event("o", session, key, name, ts, prompt_id=prompt, evidence=evidence, input_tokens=10)

    native = [event(1, "api_request", 1_000_000, "p1"), event(2, "user_prompt", 900_000, "p1"),
              event(3, "api_request", 50_000_000), event(4, "tool_result", 1_200_000, "p1")]
    imported = [
        event(11, "api_request", 1_100_000, "p1", "transcript"),  # same prompt: telemetry has it
        event(12, "api_request", 9_000_000, "p2", "transcript"),  # a prompt telemetry never saw
        event(13, "user_prompt", 905_000, "p1", "transcript"),
        event(14, "api_request", 50_500_000, "", "transcript"),  # no prompt id: same time
        event(15, "api_request", 90_000_000, "", "transcript"),  # no prompt id, far away
        event(16, "api_request", 1_000_000, "p1", "transcript", session="other"),  # other session
        event(17, "loomline.session_start", 700_000, "", "transcript"),  # no bridge start: kept
    ]
    kept = {e.event_key for e in without_superseded(native + imported)}
    assert kept == {1, 2, 3, 4, 12, 15, 16, 17}
    bridged = native + [event(5, "loomline.session_start", 800_000, "", "")]
    assert 17 not in {e.event_key for e in without_superseded([*bridged, imported[-1]])}
    assert without_superseded(native) == native  # no imports: untouched

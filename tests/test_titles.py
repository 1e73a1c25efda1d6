"""Automatic titles (enrich/titles.py) and model titles (enrich/title_model.py, against the
local stub Messages API in tests/e2e/stub_anthropic.py), end to end through real captures,
enrichment and the API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from enrich.title_model import Titler, clean_title
from enrich.titles import fallback_title, is_redacted, prompt_title, session_title
from loomline.app import Loomline
from storage.client import Storage
from tests.e2e.stub_anthropic import REPLY_TEXT, StubAnthropic
from tests.test_api_endpoints import _attribute_lists, _resources, enrich, scenario_requests, send

FRESH = "30d50448-249e-4f22-ae04-2ca239e29606"  # fresh_tool: prompt "please run TOOL"
MODEL_TITLE = REPLY_TEXT.rstrip(".")


# -- the heuristic ----------------------------------------------------------------------------


@pytest.mark.parametrize(("prompt", "title"), [
    ("please run TOOL", "Run TOOL"),
    ("Can you please refactor the storage layer so that migrations run in parallel? Also tests.",
     "Refactor the storage layer so that migrations"),
    ("Hey Claude, can you explain how the OTLP receiver batches inserts?",
     "Explain how the OTLP receiver batches inserts"),
    ("Fix bug in /src/loomline/foo.py at https://example.com/x where the parser crashes on empty input",
     "Fix bug in foo.py where the parser"),
    ("I want you to add a dark mode toggle to the settings page of the web UI", "Add a dark mode toggle"),
    ("ok\n\nwrite the release notes for 2.1", "Write the release notes for 2.1"),
])
def test_prompt_titles_are_short_titles(prompt: str, title: str) -> None:
    made = prompt_title(prompt)
    assert made == title
    assert 1 <= len(made.split()) <= 7


@pytest.mark.parametrize("prompt", ["<REDACTED>", " <redacted> ", "[REDACTED]", "", "```\ncode only\n```",
                                    "https://example.com/only-a-link", "please"])
def test_nothing_usable_gives_no_prompt_title(prompt: str) -> None:
    assert prompt_title(prompt) == ""


def test_redacted_prompt_falls_back_to_what_is_known() -> None:
    assert is_redacted("<REDACTED>") and not is_redacted("redact the logs")
    started = 1_764_700_000_000_000  # 2025-12-02 18:26:40 UTC
    title = session_title("<REDACTED>", "loomline", "/home/me/loomline", "main", "Bash", started)
    assert title == "loomline (main) · Bash · 2025-12-02 18:26 UTC"
    assert fallback_title("", "/home/me/proj/", "", "", started) == "proj · 2025-12-02 18:26 UTC"
    assert fallback_title("", "", "", "", started) == "Session · 2025-12-02 18:26 UTC"
    assert "REDACTED" not in title


@pytest.mark.parametrize(("answer", "title"), [
    ("Hello from the stub model.", "Hello from the stub model"),
    ('"Refactor storage migrations"\n', "Refactor storage migrations"),
    ("Title: Fix parser crash", "Fix parser crash"),
    ("", ""), ("<REDACTED>", ""), ("word " * 30, ""),
])
def test_model_answers_are_cleaned_or_refused(answer: str, title: str) -> None:
    assert clean_title(answer) == title


# -- through enrichment, the API and the stub model -------------------------------------------


def with_prompt(requests: list[tuple[str, Any]], prompt: str) -> list[tuple[str, Any]]:
    """The same export requests with every logged prompt replaced (a copy was made by
    scenario_requests, so this edits in place)."""
    for _, request in requests:
        for resource in _resources(request):
            for attributes in _attribute_lists(resource):
                for kv in attributes:
                    if kv.key == "prompt" and kv.value.string_value:
                        kv.value.string_value = prompt
    return requests


@pytest.fixture
def loaded(app_factory: Any, storage: Storage) -> Iterator[tuple[Loomline, httpx.Client]]:
    app = app_factory(storage=storage, enrich_interval=3600)
    send(app, scenario_requests("fresh_tool"))  # "please run TOOL"
    send(app, with_prompt(scenario_requests("fresh_tool", prefix="redacted-"), "<REDACTED>"))
    send(app, with_prompt(scenario_requests("fresh_tool", prefix="reject-"), "REJECT: summarise the logs"))
    send(app, with_prompt(scenario_requests("fresh_tool", prefix="renamed-"), "rename me later"))
    send(app, with_prompt(scenario_requests("fresh_tool", prefix="fail-"), "FAIL then work"))
    enrich(app)
    with httpx.Client(base_url=f"http://127.0.0.1:{app.ports['api']}", timeout=60) as http:
        yield app, http


def titles(http: httpx.Client) -> dict[str, tuple[str, str]]:
    rows = http.get("/api/v1/default/conversations", params={"limit": 100}).json()["data"]
    return {r["thread_id"]: (r["title"], r["title_source"]) for r in rows}


def test_automatic_titles_never_show_a_redaction_marker(loaded: tuple[Loomline, httpx.Client]) -> None:
    _, http = loaded
    found = titles(http)
    assert found[FRESH] == ("Run TOOL", "auto")
    title, source = found[f"redacted-{FRESH}"]
    assert source == "auto" and "REDACTED" not in title and title.endswith(" UTC") and "Bash" in title
    session = http.get(f"/api/v1/default/llm_sessions/redacted-{FRESH}").json()["data"]
    assert session["title"] == title and session["title_source"] == "auto"


def test_model_titles_in_the_background_bounded_with_fallbacks(loaded: tuple[Loomline, httpx.Client],
                                                               storage: Storage) -> None:
    app, http = loaded
    assert app.titler is None  # off by default
    # The user renames one before the model runs: it is never sent.
    http.patch(f"/api/v1/default/conversations/renamed-{FRESH}", json={"title": "Mine"}).raise_for_status()
    with StubAnthropic() as stub:
        titler = Titler(storage, "claude-haiku-4-5", "test-key", stub.base_url, concurrency=2, max_per_hour=100,
                        retry_after=0)
        stats = titler.run_once()
        prompts = sorted(r.prompt for r in stub.messages_requests())
        # Redacted and renamed conversations are not sent; each request is small and bounded.
        assert prompts == ["FAIL then work", "REJECT: summarise the logs", "please run TOOL"]
        assert stats == {"pending": 3, "requested": 3, "titled": 1, "failed": 2}
        assert titler.peak_in_flight <= 2
        for request in stub.messages_requests():
            assert request.body["max_tokens"] <= 20 and request.body["model"] == "claude-haiku-4-5"
            assert request.headers.get("x-api-key") == "test-key"
        found = titles(http)
        assert found[FRESH] == (MODEL_TITLE, "model")
        assert found[f"reject-{FRESH}"][1] == "auto"  # a 400 keeps the automatic title
        assert found[f"fail-{FRESH}"][1] == "auto"  # so does a 500
        assert found[f"renamed-{FRESH}"] == ("Mine", "user")
        assert found[f"redacted-{FRESH}"][1] == "auto"

        # Next pass: the stub's FAIL succeeds on a retry; titled ones are not asked again.
        stats = titler.run_once()
        assert stats["requested"] == 2 and stats["titled"] == 1
        assert titles(http)[f"fail-{FRESH}"] == (MODEL_TITLE, "model")
        asked = len(stub.messages_requests())

        # A user's rename wins over the model's title, and the model is not asked again.
        http.patch(f"/api/v1/default/conversations/{FRESH}", json={"title": "Named by me"}).raise_for_status()
        assert titles(http)[FRESH] == ("Named by me", "user")
        enrich(app)
        app.enricher.derive_all()
        titler.run_once()
        assert titles(http)[FRESH] == ("Named by me", "user")
        assert len(stub.messages_requests()) == asked + 1  # only the REJECT one, retried

        # The hourly cap bounds the cost.
        capped = Titler(storage, "m", "k", stub.base_url, max_per_hour=1, retry_after=0)
        assert capped.run_once()["requested"] == 1 and capped.run_once()["requested"] == 0


def test_model_failure_without_a_server_keeps_automatic_titles(loaded: tuple[Loomline, httpx.Client],
                                                               storage: Storage) -> None:
    _, http = loaded
    titler = Titler(storage, "m", "k", "http://127.0.0.1:9", timeout=2)  # nothing listens on port 9
    stats = titler.run_once()
    assert stats["requested"] >= 1 and stats["titled"] == 0
    assert all(source == "auto" for _, source in titles(http).values())

"""The explorer in a real browser: Debian's Chromium (/usr/bin/chromium) driven by
Playwright, against an in-process loomline loaded with the real captures. Checks what a
person sees and saves a screenshot of each page (docs/img/ with LOOMLINE_SCREENSHOTS=1).

Without /usr/bin/chromium these tests skip (scripts/test.sh installs it), unless
LOOMLINE_E2E_REQUIRED=1 (CI), where they fail."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from loomline.app import Loomline
from storage.client import Storage
from tests import test_api_endpoints as base
from tests.fixtures import REPO_ROOT
from tests.live_telemetry import api_requests_of, set_cache_read, shifted_logs
from tests.repo_telemetry import API_REPO, ORG_REPOS, WEB_REPO, load_repositories
from tests.test_api_endpoints import ORG_HOOKS, scenario_requests, send

CHROMIUM = "/usr/bin/chromium"
REQUIRED = os.environ.get("LOOMLINE_E2E_REQUIRED", "") not in ("", "0", "false", "no")
# Screenshots go to docs/img/ with LOOMLINE_SCREENSHOTS=1 (to refresh the docs), else to a
# temporary folder, so a test run leaves the work tree as it was.
IMAGES = REPO_ROOT / "docs" / "img" if os.environ.get("LOOMLINE_SCREENSHOTS") else Path(tempfile.gettempdir()) / "loomline-screenshots"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--no-first-run", "--disable-sync", "--disable-dev-shm-usage"]

sync_api = pytest.importorskip("playwright.sync_api")
if not Path(CHROMIUM).exists():
    if REQUIRED:
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install -y chromium (scripts/test.sh does)")
    pytest.skip(f"{CHROMIUM} is missing (scripts/test.sh installs it)", allow_module_level=True)

loaded = base.loaded
api = base.api
db = base.db


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    profile = tempfile.mkdtemp(prefix="loomline-chromium-")
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS,
            viewport={"width": 1280, "height": 860}, color_scheme="dark")
        try:
            yield context
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" and "401" not in msg.text else None)
    page.set_default_timeout(15_000)
    yield page
    page.close()
    assert not errors, f"errors in the page: {errors}"


def base_url(app: Loomline) -> str:
    return f"http://127.0.0.1:{app.ports['api']}/"


def no_horizontal_scroll(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280


def shoot(page: Any, name: str, full_page: bool = False) -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(IMAGES / f"{name}.png"), full_page=full_page)


def threads(api: httpx.Client) -> list[dict[str, Any]]:
    return api.get(f"/api/v1/{ORG_HOOKS}/conversations", params={"limit": 100}).json()["data"]


def test_conversations_list(loaded: Loomline, api: httpx.Client, page: Any) -> None:
    page.goto(base_url(loaded) + f"#/{ORG_HOOKS}/conversations")
    rows = page.locator("tbody tr")
    expected = threads(api)
    sync_api.expect(rows).to_have_count(len(expected))
    first = expected[0]
    row = page.locator(f'tr[data-thread="{first["thread_id"]}"]')
    sync_api.expect(row.locator("td.title a")).to_have_text(first["title"])
    # Money as dollars with cents, micro-dollars on hover; numbers with separators.
    money = row.locator(".money")
    assert re.fullmatch(r"(\$\d[\d,]*\.\d\d|< \$0\.01)", money.inner_text())
    assert "µ$" in money.get_attribute("title")
    big = max(expected, key=lambda t: t["total_tokens"])
    assert f"{big['total_tokens']:,}" in page.locator(f'tr[data-thread="{big["thread_id"]}"]').inner_text()
    no_horizontal_scroll(page)
    shoot(page, "conversations")
    # Search titles through the form: the URL carries the state.
    word = first["title"].split()[0]
    page.get_by_label("Search titles").fill(word)
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"q="))
    found = api.get(f"/api/v1/{ORG_HOOKS}/conversations", params={"q": word, "limit": 100}).json()["data"]
    assert 0 < len(found) < len(expected)
    sync_api.expect(rows).to_have_count(len(found))
    for title in page.locator("td.title > a").all_inner_texts():
        assert word.lower() in title.lower()
    # Other tabs render.
    for tab, heading in (("Sessions", "Sessions"), ("By project", "By project"), ("By repository", "By repository"),
                         ("By user", "By user")):
        page.get_by_role("link", name=tab, exact=True).click()
        sync_api.expect(page.locator("h1")).to_have_text(heading)
        if tab == "By repository":  # no capture names a repository: the page says how to
            sync_api.expect(page.locator("#no-repositories")).to_contain_text("OTEL_METRICS_INCLUDE_REPOSITORY=true")
        no_horizontal_scroll(page)
    shoot(page, "users")


def test_thread_with_fork_and_compaction(loaded: Loomline, api: httpx.Client, page: Any) -> None:
    all_threads = threads(api)
    fork = next(t for t in all_threads if t["parent_thread_id"])
    page.goto(base_url(loaded) + f"#/{ORG_HOOKS}/thread/{fork['thread_id']}")
    sync_api.expect(page.locator("#thread-title")).to_have_text(fork["title"])
    parent = page.locator('[data-lineage="parent"]')
    sync_api.expect(parent).to_contain_text(fork["parent_thread_id"][:8])
    sync_api.expect(page.locator('.timeline li[data-type="fork"]')).to_have_count(1)
    parent.click()
    page.wait_for_url(re.compile(re.escape(fork["parent_thread_id"])))
    sync_api.expect(page.locator('[data-lineage="child"]')).to_contain_text(fork["thread_id"][:8])

    compacted = next(t for t in all_threads if t["compaction_count"])
    detail = api.get(f"/api/v1/{ORG_HOOKS}/conversations/{compacted['thread_id']}").json()["data"]
    comp = detail["compactions"][0]
    page.goto(base_url(loaded) + f"#/{ORG_HOOKS}/thread/{compacted['thread_id']}")
    marker = page.locator(".timeline li[data-kind=compaction]").first
    sync_api.expect(marker).to_contain_text(f"{comp['pre_tokens']:,} → {comp['post_tokens']:,} tokens")
    sync_api.expect(marker).to_contain_text(comp["trigger"])
    # The context curve has its compaction marker and one point per main request.
    sync_api.expect(page.locator("svg.chart line.m-compact")).to_have_count(len(detail["compactions"]))
    series = api.get(f"/api/v1/{ORG_HOOKS}/conversations/{compacted['thread_id']}/context").json()["data"]
    sync_api.expect(page.locator("svg.chart circle.pt")).to_have_count(sum(p["main"] for p in series))
    # Per-session cache read and write are shown separately.
    session = detail["sessions"][0]
    row = page.locator(f'tr[data-session="{session["session_id"]}"]')
    assert f"{session['cache_read_tokens']:,}" in row.inner_text()
    assert f"{session['cache_creation_tokens']:,}" in row.inner_text()
    no_horizontal_scroll(page)
    shoot(page, "thread", full_page=True)


def test_drill_down_to_a_tool_call(loaded: Loomline, api: httpx.Client, page: Any) -> None:
    sessions = api.get(f"/api/v1/{ORG_HOOKS}/llm_sessions", params={"limit": 100}).json()["data"]
    session = next(s for s in sessions if s["tool_call_count"])
    tool = api.get(f"/api/v1/{ORG_HOOKS}/llm_sessions/{session['id']}/events",
                   params={"type": "tool_result"}).json()["data"][0]
    page.goto(base_url(loaded) + f"#/{ORG_HOOKS}/conversations")
    sync_api.expect(page.locator("tbody tr").first).to_be_visible()
    page.get_by_role("link", name="Drill-down").click()
    users = page.get_by_role("region", name=re.compile("Users"))
    # Keyboard: arrows move between a pane's links.
    users.locator("a").first.focus()
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.getAttribute('href')") == users.locator("a").nth(1).get_attribute("href")
    users.locator("a", has_text=session["user_email"] or session["user_id"][:16]).first.click()
    page.get_by_role("region", name=re.compile("Sessions")).locator("a", has_text=session["id"][:8]).click()
    items = page.get_by_role("region", name=re.compile("Items"))
    items.locator('a[data-type="tool_result"]').first.click()
    detail = page.get_by_role("region", name="Detail")
    sync_api.expect(detail).to_contain_text(tool["tool_name"])
    sync_api.expect(detail.locator('pre[data-attr="tool_input"]')).to_be_visible()
    assert re.search(r"item=\d+", page.url)
    # The URL is the state: loading it again shows the same three panes.
    page.reload()
    sync_api.expect(page.get_by_role("region", name="Detail")).to_contain_text(tool["tool_name"])
    assert page.locator(".pane").count() == 3
    no_horizontal_scroll(page)
    shoot(page, "drill-down")
    # Narrow screens show fewer panes, the newest ones.
    page.set_viewport_size({"width": 700, "height": 860})
    sync_api.expect(page.locator(".pane")).to_have_count(1)
    sync_api.expect(page.get_by_role("region", name="Detail")).to_be_visible()
    page.set_viewport_size({"width": 1280, "height": 860})


def test_repositories_filter_columns_and_page(storage: Storage, app_factory: Any, page: Any) -> None:
    """Two repositories and sessions without one: the By repository page, its link into
    the conversations filtered by it (kept in the URL), the Repository filter on both
    lists, the column (hidden when narrow) and the thread's header."""
    app = app_factory(storage=storage)
    load_repositories(app)
    client = httpx.Client(base_url=base_url(app), timeout=30)
    listed = client.get(f"/api/v1/{ORG_REPOS}/conversations", params={"limit": 100}).json()["data"]
    by_repo = {t["repository"]: [x for x in listed if x["repository"] == t["repository"]] for t in listed}
    assert len(by_repo[WEB_REPO]) == 3 and len(by_repo[API_REPO]) == 1 and by_repo[""]
    page.goto(base_url(app) + f"#/{ORG_REPOS}/repositories")
    sync_api.expect(page.locator("h1")).to_have_text("By repository")
    rows = page.locator("tbody tr")
    sync_api.expect(rows).to_have_count(3)
    web = page.locator(f'tr[data-repository="{WEB_REPO}"]')
    sync_api.expect(web.locator("td").nth(2)).to_have_text("3")  # conversations
    branches = next(r["branches"] for r in client.get(f"/api/v1/{ORG_REPOS}/repositories").json()["data"]
                    if r["repository"] == WEB_REPO)
    sync_api.expect(web.locator("a.chip")).to_have_text(branches)  # newest first
    assert sorted(branches) == ["feature/login", "main"]
    sync_api.expect(page.locator('tr[data-repository=""] td.title')).to_contain_text("—")
    sync_api.expect(page.locator('tr[data-repository=""] a')).to_have_count(0)
    no_horizontal_scroll(page)
    shoot(page, "repositories")

    # A repository opens its conversations; the URL carries the filter, a reload keeps it.
    web.get_by_role("link", name=WEB_REPO).click()
    page.wait_for_url(re.compile(r"#/repos/conversations\?repository=gitlab\.com%2Facme%2Fweb$"))
    sync_api.expect(page.locator("h1")).to_have_text("Conversations")
    rows = page.locator("tbody tr")
    sync_api.expect(rows).to_have_count(3)
    repository = page.get_by_role("combobox", name="Repository", exact=True)
    sync_api.expect(repository).to_have_value(WEB_REPO)
    cells = page.locator('td[data-col="repository"]')
    assert {c.split("\n")[0] for c in cells.all_inner_texts()} == {WEB_REPO}
    assert sorted(page.locator('td[data-col="repository"] .branch').all_inner_texts()) == sorted(
        t["git_branch"] for t in by_repo[WEB_REPO])
    no_horizontal_scroll(page)
    page.reload()
    sync_api.expect(rows).to_have_count(3)
    sync_api.expect(repository).to_have_value(WEB_REPO)
    # A branch of it narrows further; another repository resets the branch.
    page.get_by_role("combobox", name="Branch", exact=True).select_option("feature/login")
    page.wait_for_url(re.compile(r"branch=feature%2Flogin"))
    sync_api.expect(rows).to_have_count(sum(t["git_branch"] == "feature/login" for t in by_repo[WEB_REPO]))
    repository.select_option(API_REPO)
    page.wait_for_url(re.compile(r"repository=github\.com%2Facme%2Fapi$"))
    sync_api.expect(rows).to_have_count(1)
    sync_api.expect(rows.first.locator("td.title a")).to_have_text(by_repo[API_REPO][0]["title"])
    # A link may name a repository by its last part: the filter shows it and applies.
    page.goto(base_url(app) + f"#/{ORG_REPOS}/conversations?repository=web")
    sync_api.expect(repository).to_have_value("web")
    sync_api.expect(rows).to_have_count(len(by_repo[WEB_REPO]))
    # Every repository: the conversation without one shows "—".
    repository.select_option("")
    sync_api.expect(rows).to_have_count(len(listed))
    bare = by_repo[""][0]
    sync_api.expect(page.locator(f'tr[data-thread="{bare["thread_id"]}"] td[data-col="repository"]')).to_have_text("—")
    # Narrow layouts hide the column, like the project's.
    page.set_viewport_size({"width": 700, "height": 860})
    sync_api.expect(cells.first).to_be_hidden()
    page.set_viewport_size({"width": 1280, "height": 860})

    # The Sessions list filters the same way.
    sessions = client.get(f"/api/v1/{ORG_REPOS}/llm_sessions", params={"limit": 100}).json()["data"]
    page.goto(base_url(app) + f"#/{ORG_REPOS}/sessions")
    sync_api.expect(page.locator("h1")).to_have_text("Sessions")
    sync_api.expect(rows).to_have_count(len(sessions))
    page.get_by_role("combobox", name="Repository", exact=True).select_option(WEB_REPO)
    page.wait_for_url(re.compile(r"#/repos/sessions\?repository=gitlab\.com%2Facme%2Fweb$"))
    sync_api.expect(rows).to_have_count(sum(s["repository"] == WEB_REPO for s in sessions))
    assert {c.split("\n")[0] for c in cells.all_inner_texts()} == {WEB_REPO}
    no_horizontal_scroll(page)

    # The thread's header names its repository and branch, linked to the filtered list.
    api_thread = by_repo[API_REPO][0]
    page.goto(base_url(app) + f"#/{ORG_REPOS}/thread/{api_thread['thread_id']}")
    head = page.locator("#thread-repo")
    sync_api.expect(head).to_have_text(f"repository {API_REPO} on main")
    head.get_by_role("link", name=API_REPO).click()
    page.wait_for_url(re.compile(r"#/repos/conversations\?repository=github\.com%2Facme%2Fapi$"))
    sync_api.expect(page.locator("tbody tr")).to_have_count(1)
    page.goto(base_url(app) + f"#/{ORG_REPOS}/thread/{bare['thread_id']}")
    sync_api.expect(page.locator("#thread-repo")).to_have_text("repository —")
    client.close()


def fill_of(page: Any, session_prefix: str) -> str:
    row = page.locator(f'tr[data-session^="{session_prefix}"]')
    return row.locator(".fill").get_attribute("data-fill")


def test_live_row_appears_and_its_context_colour_changes(loaded: Loomline, page: Any) -> None:
    org = "livepage"
    requests = shifted_logs("fresh_tool", "web-live-", org=org)
    send(loaded, [("logs", r) for r in requests[:1]])  # the org exists; no request yet
    page.goto(base_url(loaded) + f"#/{org}/live")
    sync_api.expect(page.locator(".conn")).to_have_text("live")
    send(loaded, [("logs", r) for r in requests[1:]])
    row = page.locator('tr[data-session^="web-live-"]')
    sync_api.expect(row).to_have_count(1, timeout=5_000)
    assert fill_of(page, "web-live-") == "ok"
    shoot(page, "live")
    with_request = [r for r in requests if api_requests_of([r])][-1]
    set_cache_read(api_requests_of([with_request])[-1], 196_000)
    started = time.monotonic()
    send(loaded, [("logs", with_request)])
    sync_api.expect(row.locator(".fill")).to_have_attribute("data-fill", "f95", timeout=5_000)
    assert time.monotonic() - started < 4  # pushed: the page was not reloaded
    sync_api.expect(row.locator(".pct")).to_have_text(re.compile(r"9[89]\s?%"))
    no_horizontal_scroll(page)


def test_manage_buttons(loaded: Loomline, api: httpx.Client, page: Any) -> None:
    target = threads(api)[-1]
    url = base_url(loaded) + f"#/{ORG_HOOKS}/thread/{target['thread_id']}"
    page.goto(url)
    page.locator('#thread-head .manage [data-action="rename"]').click()
    page.get_by_label("New title of the conversation").fill("Renamed in the browser")
    page.get_by_role("button", name="Save").click()
    sync_api.expect(page.locator("#thread-title")).to_have_text("Renamed in the browser")
    assert api.get(f"/api/v1/{ORG_HOOKS}/conversations/{target['thread_id']}").json()["data"]["title"] == "Renamed in the browser"
    page.locator('#thread-head .manage [data-action="archive"]').click()
    sync_api.expect(page.locator('#thread-head .manage [data-action="archive"]')).to_have_text("Unarchive")
    page.goto(base_url(loaded) + f"#/{ORG_HOOKS}/conversations")
    sync_api.expect(page.locator(f'tr[data-thread="{target["thread_id"]}"]')).to_have_count(0)
    page.get_by_label("show archived").check()
    sync_api.expect(page.locator(f'tr[data-thread="{target["thread_id"]}"]')).to_have_count(1)
    page.goto(url)
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator('#thread-head .manage [data-action="delete"]').click()
    page.wait_for_url(re.compile(r"/conversations$"))
    assert api.get(f"/api/v1/{ORG_HOOKS}/conversations/{target['thread_id']}").status_code == 404
    sync_api.expect(page.locator(f'tr[data-thread="{target["thread_id"]}"]')).to_have_count(0)


def test_token_prompt_with_auth_on(app_factory: Any, storage: Storage, browser: Any) -> None:
    app = app_factory(storage=storage, api_tokens="secret-acme=acme,secret-other=beta")
    send(app, scenario_requests("fresh_tool", org="acme"), token=None)
    send(app, scenario_requests("fork", org="beta"), token=None)
    app.enricher.run_once()
    page = browser.new_page()
    try:
        page.goto(base_url(app))
        dialog = page.locator("#token-dialog")
        sync_api.expect(dialog).to_be_visible()
        shoot(page, "token")
        page.locator("#token-input").fill("wrong")
        page.locator("#token-submit").click()
        sync_api.expect(page.locator("#token-error")).to_contain_text("not accepted")
        page.locator("#token-input").fill("secret-acme")
        page.locator("#token-submit").click()
        sync_api.expect(dialog).to_be_hidden()
        sync_api.expect(page.locator("#org-select option")).to_have_count(1)
        sync_api.expect(page.locator("#org-select")).to_have_value("acme")
        sync_api.expect(page.locator("tbody tr").first).to_be_visible()
        assert page.evaluate("sessionStorage.getItem('loomline.token')") == "secret-acme"
        assert page.evaluate("localStorage.getItem('loomline.token')") is None
        # Another org in the URL is not shown: the page falls back to the token's org.
        page.goto(base_url(app) + "#/beta/conversations")
        sync_api.expect(page.locator("#org-select")).to_have_value("acme")
    finally:
        page.close()


def test_empty_state_teaches(app_factory: Any, storage: Storage, page: Any) -> None:
    app = app_factory(storage=storage)
    page.goto(base_url(app))
    sync_api.expect(page.locator("h1")).to_have_text("No conversations yet")
    text = page.locator("main").inner_text()
    for needle in ("OTEL_EXPORTER_OTLP_ENDPOINT", "CLAUDE_CODE_ENABLE_TELEMETRY", "loomline install-hooks", "loomline demo"):
        assert needle in text
    page.locator("#theme-toggle").click()
    shoot(page, "empty")

"""Pure units: thread assignment, close reasons, cost, segment splitting."""

from __future__ import annotations

import itertools

from enrich.close_reasons import close_session
from enrich.cost import MODEL_CACHE_SIZE, PRICE_CACHE_SIZE, _price, computed_cost, resolve_model
from enrich.derive import derive
from enrich.model import CLEARED_FROM, FORKED_FROM, RESUMED_AS, Event, Link
from enrich.threads import assign_threads

ORG = "acme"


def link(a: str, b: str, kind: str, at: int = 0) -> Link:
    return Link(ORG, a, b, kind, at, "hook")


def threads_of(started: dict[str, int], links: list[Link]) -> dict[str, tuple[str, str, int]]:
    return {s: (p.thread_id, p.parent_thread_id, p.position) for s, p in assign_threads(started, links).items()}


def test_unlinked_sessions_root_their_own_threads() -> None:
    assert threads_of({"a": 1, "b": 2}, []) == {"a": ("a", "", 0), "b": ("b", "", 0)}


def test_resumed_as_joins_the_thread_in_time_order() -> None:
    got = threads_of({"a": 1, "b": 5, "c": 9}, [link("a", "b", RESUMED_AS), link("b", "c", RESUMED_AS)])
    assert got == {"a": ("a", "", 0), "b": ("a", "", 1), "c": ("a", "", 2)}


def test_fork_roots_a_new_thread_with_a_parent() -> None:
    got = threads_of({"a": 1, "b": 5, "c": 9}, [link("a", "b", RESUMED_AS), link("b", "c", FORKED_FROM)])
    assert got["c"] == ("c", "a", 0)


def test_clear_roots_a_new_thread_without_parent() -> None:
    assert threads_of({"a": 1, "b": 2}, [link("a", "b", CLEARED_FROM)])["b"] == ("b", "", 0)


def test_a_forked_thread_keeps_its_resumes() -> None:
    got = threads_of({"a": 1, "f": 2, "g": 3}, [link("a", "f", FORKED_FROM), link("f", "g", RESUMED_AS)])
    assert got["g"] == ("f", "a", 1) and got["f"] == ("f", "a", 0)


def test_late_link_re_roots() -> None:
    started = {"a": 1, "b": 5, "c": 9}
    before = threads_of(started, [link("b", "c", RESUMED_AS)])
    assert before["b"][0] == "b" and before["c"][0] == "b"
    after = threads_of(started, [link("b", "c", RESUMED_AS), link("a", "b", RESUMED_AS)])
    assert {t for t, _, _ in after.values()} == {"a"}


def test_assignment_ignores_link_order() -> None:
    started = {"a": 1, "b": 2, "c": 3, "d": 4}
    links = [link("a", "b", RESUMED_AS), link("b", "c", FORKED_FROM), link("c", "d", RESUMED_AS)]
    results = {tuple(sorted(threads_of(started, list(p)).items())) for p in itertools.permutations(links)}
    assert len(results) == 1


def test_conflicting_and_cyclic_links_are_deterministic() -> None:
    # two parents: the earliest link wins
    got = threads_of({"a": 1, "b": 2, "c": 3}, [link("b", "c", RESUMED_AS, 20), link("a", "c", RESUMED_AS, 10)])
    assert got["c"][0] == "a"
    cyclic = threads_of({"x": 1, "y": 2}, [link("x", "y", RESUMED_AS), link("y", "x", RESUMED_AS)])
    assert cyclic["x"][0] == cyclic["y"][0] == "x"


def test_parent_outside_the_loaded_set() -> None:
    assert threads_of({"b": 5}, [link("a", "b", RESUMED_AS)])["b"] == ("a", "", 0)


def ev(name: str, ts: int, **fields: object) -> Event:
    return Event(org_id=ORG, session_id=str(fields.pop("session_id", "s")), event_key=hash((name, ts)) & (2**63 - 1),
                 event_name=name, timestamp=ts, **fields)  # type: ignore[arg-type]


def test_close_reason_priority() -> None:
    minute = 60_000_000
    base = [ev("user_prompt", 1, sequence=1), ev("api_error", 2, sequence=2)]
    assert close_session(base, 0, 3, 30 * minute).reason == "error"
    assert close_session(base + [ev("user_prompt", 4, sequence=3, command_name="exit")], 0, 5, minute).reason == "exit"
    ended = base + [ev("loomline.session_end", 5, reason="prompt_input_exit")]
    assert close_session(ended, 0, 6, minute).reason == "exit"
    assert close_session(base + [ev("loomline.session_end", 5, reason="logout")], 0, 6, minute).reason == "logout"
    recovered = base + [ev("api_request", 3, sequence=3)]
    assert close_session(recovered, 0, 4, minute).reason == "open"
    assert close_session(recovered, 0, 3 + 2 * minute, minute).reason == "timeout"
    # evidence from before the latest start does not count: the session was resumed
    assert close_session(ended + [ev("user_prompt", 10, sequence=1)], 8, 11, minute).reason == "open"


def test_cost_uses_genai_prices_and_ttl_split() -> None:
    request = ev("api_request", 1_795_287_664_657_000, model="claude-opus-5-5", input_tokens=1500, output_tokens=42,
                 cache_read_tokens=800, cache_creation_tokens=200)
    price = computed_cost(request)
    assert price.priced and price.usd == 0.008  # matches what Claude Code charged the fixture
    one_hour = computed_cost(ev("api_request", request.timestamp, model="claude-opus-5-5", input_tokens=1500,
                                output_tokens=42, cache_read_tokens=800, cache_creation_tokens=200,
                                cache_creation_1h_tokens=200))
    assert one_hour.usd > price.usd  # 1h cache writes cost more than 5m ones


def test_unknown_models_fall_back_by_family_or_are_flagged() -> None:
    assert resolve_model("claude-opus-99-1").startswith("claude-opus-")
    assert resolve_model("claude-sonnet-4-5-20990101") == "claude-sonnet-4-5" or resolve_model("claude-sonnet-4-5-20990101").startswith("claude-sonnet")
    unknown = computed_cost(ev("api_request", 1, model="gpt-banana", input_tokens=10))
    assert (unknown.priced, unknown.usd) == (False, 0.0)
    assert computed_cost(ev("api_request", 1, model="", input_tokens=10)).priced is False


def test_remembered_prices_are_bounded_and_the_same_when_priced_again() -> None:
    """A long-running server prices a new request with every api_request, and a hostile
    client can name a new model with every record: what is remembered stays bounded, and a
    price forgotten and computed again is the same."""
    requests = [ev("api_request", i, model="claude-sonnet-4-5", input_tokens=i, output_tokens=7) for i in range(1, 301)]
    first = [computed_cost(e) for e in requests]
    for i in range(MODEL_CACHE_SIZE + 50):
        computed_cost(ev("api_request", 1, model=f"claude-made-up-{i}", input_tokens=1))
    assert resolve_model.cache_info().maxsize == MODEL_CACHE_SIZE >= resolve_model.cache_info().currsize
    assert _price.cache_info().maxsize == PRICE_CACHE_SIZE >= _price.cache_info().currsize
    _price.cache_clear()
    assert [computed_cost(e) for e in requests] == first
    assert len({p.usd for p in first}) == len(first)  # every request its own price


def test_sequence_restarts_split_processes_and_clear_hands_over() -> None:
    a = [ev("user_prompt", 10 + i, sequence=i, session_id="A", user_id="u") for i in range(3)]
    a.append(ev("user_prompt", 20, sequence=3, session_id="A", user_id="u", command_name="clear"))
    b = [ev("user_prompt", 30 + i, sequence=4 + i, session_id="B", user_id="u") for i in range(3)]
    a_again = [ev("api_request", 100 + i, sequence=i, session_id="A", user_id="u") for i in range(2)]
    d = derive(a + b + a_again, now_us=200)
    assert [(k.from_session_id, k.to_session_id, k.link_type) for k in d.links] == [("A", "B", CLEARED_FROM)]
    assert [r.session_ids for r in d.cli_runs] == [("A", "B"), ("A",)]
    assert [(g.session_id, g.source) for g in d.segments] == [("A", "startup"), ("A", "resume"), ("B", "clear")]
    # A was cleared, then resumed in a new process: open again
    assert {s.session_id: s.close_reason for s in d.sessions} == {"A": "open", "B": "open"}


def test_fork_parent_named_only_by_a_later_bridge_record() -> None:
    """Claude Code writes the fork's transcript after its first answer, so the bridge's
    session_start(fork) has no parent and a later record (loomline.stop) names it."""
    from enrich.links import bridge_links

    second = 1_000_000
    events = [
        ev("loomline.session_start", 10 * second, session_id="fork", source="fork"),
        ev("api_request", 11 * second, session_id="fork"),
        ev("loomline.stop", 12 * second, session_id="fork", parent_session_id="parent"),
        ev("loomline.session_end", 13 * second, session_id="fork", parent_session_id="parent", reason="other"),
    ]
    for order in (events, list(reversed(events))):
        links = bridge_links(order)
        assert [(x.from_session_id, x.to_session_id, x.link_type, x.created_at) for x in links] == [
            ("parent", "fork", FORKED_FROM, 10 * second)]
    # A resume's late records do not invent a fork.
    resumed = [ev("loomline.session_start", 10 * second, session_id="r", source="resume"),
               ev("loomline.stop", 12 * second, session_id="r", parent_session_id="other")]
    assert bridge_links(resumed) == []

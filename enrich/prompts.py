"""Which ``user_prompt`` events a person typed, and which Claude Code injected. Pure.

Claude Code logs some prompts it writes itself as ``user_prompt`` events, and runs the
UserPromptSubmit hook for them: the ``<task-notification>`` it sends when a background
subagent finishes (the transcript marks that line ``origin.kind = "task-notification"``;
what a person typed has ``origin.kind = "human"`` or no origin). The transcripts also hold
other lines Claude Code writes in the user's name: slash-command expansions
(``<command-name>``), local command output (``<local-command-stdout>``,
``<local-command-caveat>``), hook output (``<user-prompt-submit-hook>``), reminders
(``<system-reminder>``) and the compaction summary ("This session is being continued from a
previous conversation ..."). Claude Code 2.1.328 / 2.1.332 do not log those as
``user_prompt`` events, but a prompt with that text is not typed either, so they count as
injected too.

The text is only there with ``OTEL_LOG_USER_PROMPTS=1`` (otherwise ``<REDACTED>``). Without
it, the one native clue is order: Claude Code injects the task notification right after the
``subagent_completed`` event of a background (``is_async``) subagent in the same process,
so a ``user_prompt`` whose event sequence directly follows one is injected (inferred).
``prompt_length`` does not tell (688 characters for the capture's notification, and people
paste long prompts). A redacted injection not right after its ``subagent_completed`` (e.g.
a person typed in between) is counted as typed: the count errs towards the person.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable

from enrich.model import BRIDGE_USER_PROMPT_SUBMIT, USER_PROMPT, Event
from enrich.session_events import SessionEvents

SUBAGENT_COMPLETED = "subagent_completed"
REDACTED = "<REDACTED>"

# Prefix of the prompt text → injected kind (as the transcript's origin.kind names it where
# it has one).
INJECTED_PREFIXES: tuple[tuple[str, str], ...] = (
    ("<task-notification>", "task-notification"),
    ("<command-name>", "slash-command"),
    ("<command-message>", "slash-command"),
    ("<local-command-stdout>", "local-command"),
    ("<local-command-stderr>", "local-command"),
    ("<local-command-caveat>", "local-command"),
    ("<user-prompt-submit-hook>", "hook-output"),
    ("<system-reminder>", "system-reminder"),
    ("This session is being continued from a previous conversation", "compact-summary"),
)


def injected_kind(text: str) -> str:
    """The injected kind of a prompt text ('' if it reads as typed or is redacted)."""
    stripped = text.lstrip()
    for prefix, kind in INJECTED_PREFIXES:
        if stripped.startswith(prefix):
            return kind
    return ""


def injected_prompt_keys(events: Iterable[Event]) -> dict[int, str]:
    """{event key: injected kind} for the user prompts (native ``user_prompt`` and the
    bridge's UserPromptSubmit records) Claude Code injected. ``events`` are one session's
    (or one group's) events."""
    events = list(events)
    # Redacted text: the native order clue. Sequences are per process; a process is told
    # apart by (sequence, time) continuity well enough here because both events are in the
    # same session and the notification follows within the same process run.
    by_sequence: dict[str, dict[int, Event]] = defaultdict(dict)  # session -> sequence -> event
    for event in events:
        if event.sequence is not None:
            by_sequence[event.session_id][event.sequence] = event
    prompts = [e for e in events if e.event_name in (USER_PROMPT, BRIDGE_USER_PROMPT_SUBMIT)]
    return _injected(prompts, lambda e: by_sequence[e.session_id].get(e.sequence - 1) if e.sequence is not None else None)


def session_injected_prompt_keys(session: SessionEvents) -> dict[int, str]:
    """injected_prompt_keys() of one session's events bucketed by name: reads the prompts,
    and the events by sequence number only if the session has a ``subagent_completed``."""
    prompts = session.named_any(USER_PROMPT, BRIDGE_USER_PROMPT_SUBMIT)
    if not prompts:
        return {}
    if not session.named(SUBAGENT_COMPLETED):  # no event can be the notification's cause
        return _injected(prompts, lambda e: None)
    by_sequence: dict[tuple[str, int], Event] = {}
    for event in session.events:
        if event.sequence is not None:
            by_sequence[(event.session_id, event.sequence)] = event
    return _injected(prompts, lambda e: by_sequence.get((e.session_id, e.sequence - 1)) if e.sequence is not None else None)


def _injected(prompts: list[Event], before_of: Callable[[Event], Event | None]) -> dict[int, str]:
    """The injected ones among ``prompts`` (in time order); ``before_of``: the event whose
    sequence number directly precedes a prompt's in its session (the last such), or None."""
    found: dict[int, str] = {}
    for event in prompts:
        kind = injected_kind(event.prompt)
        if not kind and event.event_name == USER_PROMPT and event.sequence is not None and event.prompt in ("", REDACTED):
            before = before_of(event)
            if (before is not None and before.event_name == SUBAGENT_COMPLETED and before.is_async is not False
                    and 0 <= event.timestamp - before.timestamp <= 60_000_000):
                kind = "task-notification"
        if kind:
            found[event.event_key] = kind
    # A bridge UserPromptSubmit shares its prompt id with the native user_prompt: when the
    # native one is injected, so is the bridge's (its text may be absent without
    # --include-prompts).
    injected_prompt_ids = {e.prompt_id: found[e.event_key] for e in prompts if e.event_key in found and e.prompt_id}
    if injected_prompt_ids:
        for event in prompts:
            if event.event_name == BRIDGE_USER_PROMPT_SUBMIT and event.prompt_id in injected_prompt_ids:
                found.setdefault(event.event_key, injected_prompt_ids[event.prompt_id])
    return found

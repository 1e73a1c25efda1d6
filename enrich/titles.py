"""Automatic titles for sessions and conversations (pure functions).

Claude Code exports no title. With ``OTEL_LOG_USER_PROMPTS=1`` the first prompt is known and
a short title (3–7 words) is cut from its first sentence, dropping polite openers ("please",
"can you"), code, links and paths; it is a title, not a truncated paragraph. Without prompts
every prompt reads ``<REDACTED>``: a redaction marker is never a title, so the title falls
back to what is known: project, branch, first tool used, start time.

A user's title (PATCH) and a model's title (``--title-model``) win over these at read time;
see storage/sql/migrations/0005_management.sql.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

MAX_WORDS = 7
MIN_WORDS = 3
MAX_CHARS = 80

_REDACTED = re.compile(r"^[\s<\[(]*redacted[\s>\])]*$", re.IGNORECASE)
_CODE_BLOCK = re.compile(r"```.*?(```|$)", re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`]*`")
_URL = re.compile(r"\bhttps?://\S+|\bwww\.\S+", re.IGNORECASE)
_PATH = re.compile(r"(?<![\w])(?:~|\.{1,2})?/[\w.\-/]+")
_TAG = re.compile(r"<[^>\n]{1,80}>")
_GONE = "zzgonezz"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD = re.compile(r"[\w][\w'+#.\-]*", re.UNICODE)
# Openers that carry no meaning in a title; matched (repeatedly) at the start, lower case.
_OPENERS = (
    "hey claude", "hi claude", "hello claude", "claude", "hey", "hi", "hello", "ok", "okay", "so",
    "please", "pls", "can you please", "could you please", "would you please", "can you", "could you",
    "would you", "will you", "i want you to", "i'd like you to", "i would like you to", "i need you to",
    "i want to", "i'd like to", "i would like to", "i need to", "let's", "lets", "help me", "go ahead and",
    "now", "then", "and", "just",
)
_TRAILING_STOP = {
    "a", "an", "the", "and", "or", "but", "of", "to", "in", "on", "for", "with", "at", "by", "from",
    "so", "that", "this", "is", "are", "be", "it", "its", "as", "if", "then", "into", "my", "our", "your",
}


def is_redacted(text: str) -> bool:
    """True for the marker Claude Code sends instead of a prompt (``<REDACTED>``)."""
    return bool(_REDACTED.match(text or ""))


def prompt_title(prompt: str) -> str:
    """A 3–7 word title from a prompt's first sentence, or '' when nothing usable is left
    (empty, redacted, only code or links)."""
    if not prompt or is_redacted(prompt):
        return ""
    # Code and links say nothing in a title; a path says its file name. A removed piece
    # leaves a marker so the preposition before it ("at <url>") goes too.
    text = _CODE_BLOCK.sub(f" {_GONE} ", prompt)
    text = _URL.sub(f" {_GONE} ", _INLINE_CODE.sub(f" {_GONE} ", text))
    text = _TAG.sub(f" {_GONE} ", _PATH.sub(lambda m: " " + (m.group(0).rstrip("/").rsplit("/", 1)[-1] or _GONE) + " ", text))
    words: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        found = [w.strip(".-'") for w in _WORD.findall(sentence)]
        kept: list[str] = []
        for word in (w for w in found if w):
            if word == _GONE:
                if kept and kept[-1].lower() in _TRAILING_STOP:
                    kept.pop()
                continue
            kept.append(word)
        found = _drop_openers(kept)
        words.extend(found)
        if len(words) >= MIN_WORDS:
            break
    words = words[:MAX_WORDS]
    while len(words) > 1 and words[-1].lower() in _TRAILING_STOP:
        words.pop()
    if not words:
        return ""
    title = " ".join(words)
    if len(title) > MAX_CHARS:
        title = title[:MAX_CHARS].rsplit(" ", 1)[0] or title[:MAX_CHARS]
    return title[0].upper() + title[1:]


def _drop_openers(words: list[str]) -> list[str]:
    changed = True
    while changed and words:
        changed = False
        lowered = " ".join(w.lower() for w in words[:6])
        for opener in _OPENERS:
            if lowered == opener or lowered.startswith(opener + " "):
                words = words[len(opener.split()):]
                changed = True
                break
    return words


def fallback_title(project_name: str, cwd: str, git_branch: str, first_tool: str, started_at_us: int) -> str:
    """What is known without the prompt: ``project (branch) · first tool · start time``."""
    project = project_name or (cwd.rstrip("/").rsplit("/", 1)[-1] if cwd else "") or "Session"
    head = f"{project} ({git_branch})" if git_branch else project
    when = datetime.fromtimestamp(started_at_us / 1_000_000, UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [head] + ([first_tool] if first_tool else []) + [when]
    return " · ".join(parts)


def session_title(first_prompt: str, project_name: str, cwd: str, git_branch: str,
                  first_tool: str, started_at_us: int) -> str:
    """The automatic title of one session: from its first prompt, else the fallback."""
    return prompt_title(first_prompt) or fallback_title(project_name, cwd, git_branch, first_tool, started_at_us)

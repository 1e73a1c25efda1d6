"""Conversation titles from a small model (``--title-model``, off by default).

A background worker, never on the ingest path: every few seconds it reads conversations
whose first prompt is known, that the user has not renamed, and whose model title is missing
or was made beside another automatic title (storage/sql/queries/titles_pending.sql), and asks
the Anthropic Messages API for a 3–7 word title. Bounded: at most ``concurrency`` requests
in flight, ``max_per_hour`` requests per rolling hour (failures count), the first
``PROMPT_CHARS`` characters of the prompt and ``MAX_TOKENS`` output tokens per request.
A failure or an unusable answer leaves the automatic title (enrich/titles.py) and is not
retried for ``retry_after`` seconds. Titles land in ``generated_titles``; readers prefer a
user's title over them.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from enrich.titles import is_redacted
from settings import Settings
from storage.client import Storage
from storage.sql_files import load_query

log = logging.getLogger("loomline.titles")

PROMPT_CHARS = 2000
MAX_TOKENS = 20
MAX_TITLE_CHARS = 80
ANTHROPIC_VERSION = "2023-06-01"
SYSTEM = (
    "You name conversations between a developer and a coding assistant. Answer with a title "
    "of 3 to 7 words for the conversation that starts with the user's message. Plain words "
    "only: no quotes, no punctuation at the end, no explanation."
)


def clean_title(text: str) -> str:
    """The model's answer as a title, or '' when it is not usable as one."""
    line = next((part.strip() for part in text.strip().splitlines() if part.strip()), "")
    line = line.strip().strip("\"'`*#").strip()
    if line.lower().startswith("title:"):
        line = line[6:].strip()
    line = " ".join(line.split()).rstrip(".!?:;,").strip("\"'`")
    words = line.split()
    if not 1 <= len(words) <= 10 or len(line) > MAX_TITLE_CHARS or is_redacted(line):
        return ""
    if any(not ch.isprintable() for ch in line):
        return ""
    return line


class Titler:
    """The background title worker; ``run_once`` does one bounded pass (tests call it)."""

    def __init__(self, storage: Storage, model: str, api_key: str, base_url: str = "https://api.anthropic.com",
                 concurrency: int = 2, max_per_hour: int = 120, interval: float = 10.0,
                 timeout: float = 20.0, retry_after: float = 3600.0) -> None:
        self.storage = storage
        self.model = model
        self.api_key = api_key
        self.url = base_url.rstrip("/") + "/v1/messages"
        self.concurrency = concurrency
        self.max_per_hour = max_per_hour
        self.interval = interval
        self.timeout = timeout
        self.retry_after = retry_after
        self._sent: deque[float] = deque()  # monotonic times of requests in the last hour
        self._failed: dict[tuple[str, str], float] = {}  # (org, thread) -> when it failed
        self._lock = threading.Lock()
        self._in_flight = 0
        self.peak_in_flight = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def from_settings(cls, storage: Storage, settings: Settings) -> Titler | None:
        """A worker for ``--title-model``, or None (with a warning) without an API key."""
        key = settings.anthropic_api_key or os.environ.get("ANTHROPIC_API_KEY", "")
        if not key:
            log.warning("--title-model %s is set but no --anthropic-api-key / ANTHROPIC_API_KEY: "
                        "automatic titles only", settings.title_model)
            return None
        return cls(storage, settings.title_model, key, settings.anthropic_base_url,
                   settings.title_concurrency, settings.title_max_per_hour)

    # -- one pass -------------------------------------------------------------------------
    def _budget(self) -> int:
        now = time.monotonic()
        while self._sent and now - self._sent[0] > 3600:
            self._sent.popleft()
        return max(0, self.max_per_hour - len(self._sent))

    def run_once(self) -> dict[str, int]:
        """Title what is pending, within the budget. Returns counts."""
        budget = self._budget()
        stats = {"pending": 0, "requested": 0, "titled": 0, "failed": 0}
        if budget == 0:
            return stats
        now = time.monotonic()
        self._failed = {k: t for k, t in self._failed.items() if now - t < self.retry_after}
        rows = self.storage.query_dicts(load_query("titles_pending"), {"limit": 200})
        todo = [r for r in rows if (r["org_id"], r["thread_id"]) not in self._failed][:budget]
        stats["pending"] = len(rows)
        if not todo:
            return stats
        for _ in todo:
            self._sent.append(time.monotonic())
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="loomline-title") as pool:
            titles = list(pool.map(self._title_for, [r["first_prompt"] for r in todo]))
        stats["requested"] = len(todo)
        done = [(row, title) for row, title in zip(todo, titles, strict=True) if title]
        for row, title in zip(todo, titles, strict=True):
            if not title:
                self._failed[(row["org_id"], row["thread_id"])] = time.monotonic()
        stats["titled"], stats["failed"] = len(done), len(todo) - len(done)
        if done:
            at = datetime.now(UTC)
            self.storage.insert_columns("generated_titles", {
                "org_id": [r["org_id"] for r, _ in done], "thread_id": [r["thread_id"] for r, _ in done],
                "title": [t for _, t in done], "basis": [r["auto_title"] for r, _ in done],
                "model": [self.model] * len(done), "generated_at": [at] * len(done),
            })
        return stats

    def _title_for(self, prompt: str) -> str:
        with self._lock:
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
        try:
            return clean_title(self._ask(prompt[:PROMPT_CHARS]))
        except Exception as exc:  # any failure: the automatic title stays
            log.info("title request failed (automatic title kept): %s", str(exc)[:200])
            return ""
        finally:
            with self._lock:
                self._in_flight -= 1

    def _ask(self, prompt: str) -> str:
        body = {
            "model": self.model,
            "max_tokens": MAX_TOKENS,
            "system": SYSTEM,
            "messages": [{"role": "user", "content": prompt}],
        }
        request = urllib.request.Request(self.url, data=json.dumps(body).encode(), method="POST", headers={
            "content-type": "application/json", "x-api-key": self.api_key, "anthropic-version": ANTHROPIC_VERSION,
        })
        with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - configured URL
            answer: Any = json.loads(response.read(64 * 1024))
        texts = [b.get("text", "") for b in answer.get("content") or [] if isinstance(b, dict) and b.get("type") == "text"]
        return "".join(texts)

    # -- background thread ----------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="loomline-titles", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.run_once()
            except Exception:
                log.exception("title pass failed; retrying next interval")

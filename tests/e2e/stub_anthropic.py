"""A stub of the Anthropic Messages API on loopback, for driving the real Claude Code CLI.

Deterministic: every answer reports the same usage (input 1500, output 42, cache read 800,
cache creation 200 tokens), as in the captures under ``tests/captures``. Keywords in the
latest user prompt steer it:

- ``TOOL``: answer with one Bash ``tool_use`` (``echo hi``); after the tool result, text.
- ``FAIL``: the first attempt for that prompt gets HTTP 500 (retryable), then success.
- ``REJECT``: HTTP 400 ``invalid_request_error`` (not retryable).
- ``BIG``: report 185,000 input tokens (to push Claude Code into auto-compaction).
- ``AGENT``: answer with one subagent tool call (``Agent``, or ``Task`` where that is the
  tool offered) for a ``general-purpose`` subagent, whose own request gets text.

Every request is recorded (``stub.requests``) so tests can assert on what the CLI sent.
Paths other than ``/v1/messages`` and ``/v1/messages/count_tokens`` get a harmless answer
and are recorded too, so unexpected traffic is visible.

Run alone to watch a CLI talk to it: ``python tests/e2e/stub_anthropic.py [port]``.
"""

from __future__ import annotations

import json
import re
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

USAGE = {
    "input_tokens": 1500,
    "output_tokens": 42,
    "cache_read_input_tokens": 800,
    "cache_creation_input_tokens": 200,
}
BIG_INPUT_TOKENS = 185_000
REPLY_TEXT = "Hello from the stub model."
TOOL_INPUT = {"command": "echo hi", "description": "Say hi"}
AGENT_INPUT = {"description": "Greet", "prompt": "Reply with one short greeting.", "subagent_type": "general-purpose"}
AGENT_TOOLS = ("Agent", "Task")  # the subagent tool's name: Agent in 2.1.332, Task before
# Claude Code's compaction request says this; it also says "Tool calls will be REJECTED".
COMPACT_MARKER = "create a detailed summary of the conversation"
COMPACT_REPLY = "<analysis>Stub analysis.</analysis>\n<summary>Summary from the stub model.</summary>"


@dataclass
class RecordedRequest:
    """One HTTP request the stub received, and what it answered."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON when possible, else the raw text
    status: int = 0
    kind: str = ""  # text, tool_use, compact, fail, reject, count_tokens, other

    @property
    def prompt(self) -> str:
        return latest_prompt(self.body) if isinstance(self.body, dict) else ""


@dataclass
class StubAnthropic:
    """The stub server; use as a context manager or call ``start()`` / ``stop()``."""

    host: str = "127.0.0.1"
    port: int = 0
    requests: list[RecordedRequest] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _failed_once: set[str] = field(default_factory=set)
    _message_counter: int = 0

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> StubAnthropic:
        stub = self

        class Handler(_Handler):
            pass

        Handler.stub = stub
        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="stub-anthropic", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> StubAnthropic:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what tests look at -------------------------------------------------------------

    def messages_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path.split("?")[0] == "/v1/messages"]

    def other_requests(self) -> list[RecordedRequest]:
        known = {"/v1/messages", "/v1/messages/count_tokens"}
        with self._lock:
            return [r for r in self.requests if r.path.split("?")[0] not in known]

    # -- the answers -------------------------------------------------------------------

    def _next_message_id(self) -> str:
        with self._lock:
            self._message_counter += 1
            return f"msg_stub_{self._message_counter:04d}"

    def decide(self, body: dict[str, Any]) -> str:
        """Which kind of answer a /v1/messages request gets."""
        prompt = latest_prompt(body)
        if COMPACT_MARKER in prompt:
            return "compact"  # Claude Code's own summarisation request: never steered
        if has_keyword(prompt, "REJECT"):
            return "reject"
        if has_keyword(prompt, "FAIL"):
            with self._lock:
                if prompt not in self._failed_once:
                    self._failed_once.add(prompt)
                    return "fail"
        if ends_with_tool_result(body):
            return "text"
        if has_keyword(prompt, "TOOL") and _offers_tool(body, "Bash"):
            return "tool_use"
        # Only the newest message steers the subagent call: Claude Code sends a finished
        # background subagent's notification as a user message of <system-reminder> blocks,
        # which latest_prompt() skips to the prompt before it.
        users = [m for m in body.get("messages") or [] if isinstance(m, dict) and m.get("role") == "user"]
        if (users and has_keyword(latest_prompt({"messages": users[-1:]}), "AGENT")
                and any(_offers_tool(body, name) for name in AGENT_TOOLS)):
            return "agent"
        return "text"

    def message(self, body: dict[str, Any], kind: str) -> dict[str, Any]:
        usage = dict(USAGE)
        if kind != "compact" and has_keyword(latest_prompt(body), "BIG"):
            usage["input_tokens"] = BIG_INPUT_TOKENS
        message_id = self._next_message_id()
        if kind == "tool_use":
            content: list[dict[str, Any]] = [
                {"type": "tool_use", "id": f"toolu_{message_id[-4:]}stub", "name": "Bash", "input": TOOL_INPUT}
            ]
            stop_reason = "tool_use"
        elif kind == "agent":
            name = next(n for n in AGENT_TOOLS if _offers_tool(body, n))
            content = [{"type": "tool_use", "id": f"toolu_{message_id[-4:]}agent", "name": name, "input": AGENT_INPUT}]
            stop_reason = "tool_use"
        elif kind == "compact":
            content = [{"type": "text", "text": COMPACT_REPLY}]
            stop_reason = "end_turn"
        else:
            content = [{"type": "text", "text": REPLY_TEXT}]
            stop_reason = "end_turn"
        return {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": body.get("model") or "claude-stub",
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {**usage, "service_tier": "standard"},
        }


def sse_events(message: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The server-sent events the real API streams for ``message``, in order."""
    usage = message["usage"]
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None}
    start["usage"] = {**usage, "output_tokens": 1}
    events: list[tuple[str, dict[str, Any]]] = [("message_start", {"type": "message_start", "message": start})]
    for index, block in enumerate(message["content"]):
        if block["type"] == "tool_use":
            opening = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        else:
            opening = {"type": "text", "text": ""}
            delta = {"type": "text_delta", "text": block["text"]}
        events.append(("content_block_start", {"type": "content_block_start", "index": index, "content_block": opening}))
        if index == 0:
            events.append(("ping", {"type": "ping"}))
        events.append(("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}))
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                "usage": {k: v for k, v in usage.items() if k != "service_tier"},
            },
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def latest_prompt(body: dict[str, Any]) -> str:
    """The text the user typed last: the newest user message's text blocks, minus
    Claude Code's ``<system-reminder>`` attachments."""
    for message in reversed(body.get("messages") or []):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        texts = [
            block.get("text", "")
            for block in content or []
            if isinstance(block, dict) and block.get("type") == "text"
            and not block.get("text", "").lstrip().startswith("<system-reminder>")
        ]
        if texts:
            return "\n".join(texts)
        if any(isinstance(b, dict) and b.get("type") == "tool_result" for b in content or []):
            continue  # a tool result: the prompt is further back
    return ""


def has_keyword(prompt: str, keyword: str) -> bool:
    """``keyword`` as a whole upper-case word (so ``REJECTED`` is not ``REJECT``)."""
    return re.search(rf"\b{keyword}\b", prompt) is not None


def ends_with_tool_result(body: dict[str, Any]) -> bool:
    messages = body.get("messages") or []
    if not messages or messages[-1].get("role") != "user":
        return False
    content = messages[-1].get("content")
    return isinstance(content, list) and any(
        isinstance(b, dict) and b.get("type") == "tool_result" for b in content
    )


def _offers_tool(body: dict[str, Any], name: str) -> bool:
    return any(isinstance(t, dict) and t.get("name") == name for t in body.get("tools") or [])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    stub: StubAnthropic

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # requests are recorded instead

    def _read_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return raw.decode("utf-8", "replace")

    def _record(self, body: Any) -> RecordedRequest:
        record = RecordedRequest(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        with self.stub._lock:
            self.stub.requests.append(record)
        return record

    def _send(self, status: int, payload: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("request-id", f"req_stub_{len(self.stub.requests):04d}")
        if content_type == "text/event-stream":
            self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _json(self, status: int, obj: Any) -> None:
        self._send(status, json.dumps(obj).encode())

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        body = self._read_body()
        record = self._record(body)
        path = self.path.split("?")[0]
        if path == "/v1/messages/count_tokens":
            record.kind, record.status = "count_tokens", 200
            self._json(200, {"input_tokens": USAGE["input_tokens"]})
            return
        if path != "/v1/messages" or not isinstance(body, dict):
            record.kind, record.status = "other", 404
            self._json(404, _error("not_found_error", f"stub: no such endpoint {self.path}"))
            return
        kind = self.stub.decide(body)
        record.kind = kind
        if kind == "reject":
            record.status = 400
            self._json(400, _error("invalid_request_error", "stub: REJECT in prompt"))
            return
        if kind == "fail":
            record.status = 500
            self._json(500, _error("api_error", "stub: FAIL in prompt (first attempt)"))
            return
        message = self.stub.message(body, kind)
        record.status = 200
        if body.get("stream"):
            stream = "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in sse_events(message))
            self._send(200, stream.encode(), "text/event-stream")
        else:
            self._json(200, message)

    def _other(self) -> None:
        record = self._record(self._read_body())
        record.kind = "other"
        if self.command == "HEAD" or self.path.split("?")[0] in ("/", "/health"):
            record.status = 200
            self._send(200, b"{}")
        else:
            record.status = 404
            self._json(404, _error("not_found_error", f"stub: no such endpoint {self.path}"))

    do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = _other  # noqa: N815


def _error(error_type: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type, "message": message}}


if __name__ == "__main__":
    import time

    stub = StubAnthropic(port=int(sys.argv[1]) if len(sys.argv) > 1 else 0).start()
    print(f"ANTHROPIC_BASE_URL={stub.base_url}", flush=True)
    seen = 0
    try:
        while True:
            time.sleep(0.5)
            for r in stub.requests[seen:]:
                print(r.method, r.path, r.status, r.kind, repr(r.prompt[:60]), flush=True)
            seen = len(stub.requests)
    except KeyboardInterrupt:
        stub.stop()

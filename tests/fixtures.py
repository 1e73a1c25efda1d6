"""Access to the real Claude Code captures in ``tests/captures/`` (see its README), for tests
and tools. ``LOOMLINE_FIXTURES`` points at another capture folder, e.g. a fresh recording."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from google.protobuf.message import Message

from receiver.otlp_json import parse_request, signal_for_path

REPO_ROOT = Path(__file__).resolve().parent.parent
CAPTURES_ROOT = REPO_ROOT / "tests" / "captures"
FIXTURES_ROOT = Path(os.environ.get("LOOMLINE_FIXTURES", str(CAPTURES_ROOT / "claude-code-2.1.328")))
SCENARIOS = sorted(p.name for p in FIXTURES_ROOT.iterdir() if (p / "otlp.jsonl").is_file()) if FIXTURES_ROOT.is_dir() else []


def scenario_dir(name: str) -> Path:
    return FIXTURES_ROOT / name


def otlp_lines(name: str) -> list[dict[str, Any]]:
    """The raw capture lines: {"path", "ct", "body"} with body the exact JSON text sent."""
    with open(scenario_dir(name) / "otlp.jsonl") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def otlp_requests(name: str) -> Iterator[tuple[str, Message]]:
    """(signal, protobuf export request) for each POST Claude Code made, in order."""
    for line in otlp_lines(name):
        signal = signal_for_path(line["path"])
        yield signal, parse_request(signal, line["body"])


def hook_payloads(name: str) -> list[dict[str, Any]]:
    path = scenario_dir(name) / "hooks.jsonl"
    if not path.is_file():
        return []
    with open(path) as handle:
        return [json.loads(line) for line in handle if line.strip()]


def steps(name: str) -> list[dict[str, Any]]:
    return json.loads((scenario_dir(name) / "steps.json").read_text())

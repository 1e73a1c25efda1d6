"""Fixtures for the end-to-end tests with the real Claude Code CLI (``pytest -m e2e``).

Every test here is marked ``e2e``. When npm, the CLI or tmux cannot be had, the tests skip
with the reason, unless ``LOOMLINE_E2E_REQUIRED=1`` (set in CI), where they fail instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .claude_cli import ClaudeEnv, CliUnavailable, ensure_cli, ensure_tmux
from .otlp_sink import OtlpSink
from .stub_anthropic import StubAnthropic

REQUIRED = os.environ.get("LOOMLINE_E2E_REQUIRED", "") not in ("", "0", "false", "no")

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


def unavailable(reason: str) -> None:
    """Skip (or, when the e2e suite is required, fail) with ``reason``."""
    if REQUIRED:
        pytest.fail(f"e2e required but unavailable: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def claude_binary() -> Path:
    """The pinned Claude Code CLI's native binary (npm-installed once, cached)."""
    try:
        return ensure_cli()
    except CliUnavailable as exc:
        unavailable(str(exc))
        raise  # unreachable: skip/fail raise


@pytest.fixture(scope="session")
def tmux() -> str:
    try:
        return ensure_tmux()
    except CliUnavailable as exc:
        unavailable(str(exc))
        raise


@pytest.fixture
def stub_api() -> Iterator[StubAnthropic]:
    with StubAnthropic() as stub:
        yield stub


@pytest.fixture
def otlp_sink() -> Iterator[OtlpSink]:
    with OtlpSink() as sink:
        yield sink


@pytest.fixture
def claude_env_factory(
    tmp_path: Path, claude_binary: Path, stub_api: StubAnthropic
) -> Callable[..., ClaudeEnv]:
    """Make a throwaway Claude Code world: ``factory(otlp_endpoint, protocol, name=...)``."""
    made: list[ClaudeEnv] = []

    def make(otlp_endpoint: str, protocol: str = "http/json", name: str = "claude", **extra_env: str) -> ClaudeEnv:
        env = ClaudeEnv(tmp_path / name, claude_binary, stub_api.base_url, otlp_endpoint, protocol, dict(extra_env))
        made.append(env)
        return env

    return make

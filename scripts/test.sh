#!/usr/bin/env bash
# Set up (idempotently) everything the test suite needs, then run it.
#   bash scripts/test.sh            # the whole suite
#   bash scripts/test.sh -m e2e     # extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'

# The end-to-end tests drive the real Claude Code CLI (installed from npm by the tests,
# cached under ~/.cache/loomline-e2e) in a terminal: they need tmux and npm (Debian
# packages). Install what is missing when we can; tests that need a missing tool skip
# with a reason (or fail, with LOOMLINE_E2E_REQUIRED=1, as CI sets).
missing=""
command -v tmux >/dev/null 2>&1 || missing="$missing tmux"
command -v npm >/dev/null 2>&1 || missing="$missing nodejs npm"
# The explorer's browser tests drive Debian's chromium through PyPI playwright (never a
# browser download).
[ -x /usr/bin/chromium ] || missing="$missing chromium"
if [ -n "$missing" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing) >/dev/null 2>&1 \
        || echo "scripts/test.sh: could not install$missing; the e2e tests that need them will skip" >&2
fi

# Lint and type checks first: a failure here fails the run (CI included). mypy checks every
# package the project installs ([tool.setuptools] packages in pyproject.toml: one list).
.venv/bin/ruff check .
.venv/bin/python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["tool"]["setuptools"]["packages"]))' \
    | xargs .venv/bin/mypy

# Independent test groups run side by side in worker processes (each has its own chDB data
# directory, as chDB allows one per process); see tests/conftest.py for the grouping.
# LOOMLINE_TEST_WORKERS=0 runs everything in this process.
exec .venv/bin/python -m pytest -n "${LOOMLINE_TEST_WORKERS:-3}" "$@"

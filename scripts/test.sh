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

exec .venv/bin/python -m pytest "$@"

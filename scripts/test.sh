#!/usr/bin/env bash
# Set up (idempotently) everything the test suite needs, then run it.
#   bash scripts/test.sh            # the whole suite
#   bash scripts/test.sh -m e2e     # extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'

# The end-to-end tests drive the real Claude Code CLI in a terminal: they need tmux
# (Debian package) and npm (to install the CLI). Install tmux when we can; tests that
# need a missing tool skip with a reason.
if ! command -v tmux >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux) >/dev/null 2>&1 \
        || echo "scripts/test.sh: could not install tmux; interactive e2e tests will skip" >&2
fi

exec .venv/bin/python -m pytest "$@"

#!/usr/bin/env bash
# Set up, then lint, load the definitions and run the tests.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$CHISO_ROOT"
bash scripts/setup.sh
bash scripts/ensure_browser.sh   # Debian's chromium: the scorecard's PDF and browser tests
ruff check .
dg check defs
# two workers, whole files each: the suite waits on servers, browsers and subprocesses
# about as much as it computes (10 min serial became ~6 on 2 cores)
python -m pytest -n 2 --dist loadfile "$@"

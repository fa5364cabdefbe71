#!/usr/bin/env bash
# Set up, then lint, load the definitions and run the tests.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$CHISO_ROOT"
bash scripts/setup.sh
bash assets/report/ensure_browser.sh   # Debian's chromium, for the scorecard's browser test
ruff check .
dg check defs
python -m pytest "$@"

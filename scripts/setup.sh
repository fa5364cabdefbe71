#!/usr/bin/env bash
# Install chiso766 into .venv in the project folder (idempotent, offline after the first run).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$CHISO_ROOT"
if ! command -v uv >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check "uv==0.13.8" \
    || echo "uv unavailable; falling back to pip (slower)" >&2
fi
if command -v uv >/dev/null 2>&1; then
  [ -x .venv/bin/python ] || uv venv --quiet --python python3 .venv
  uv pip install --quiet --python .venv/bin/python -e ".[dev]"
else
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
  .venv/bin/python -m compileall -q .venv/lib >/dev/null || true
fi

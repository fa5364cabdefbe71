#!/usr/bin/env bash
# Install chiso766 into .venv in the project folder (idempotent, offline after the first run):
# exactly the versions and files of requirements.lock.txt (sha256-checked), then the project
# itself without dependencies. uv if it can be had, else pip: the same lock either way.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$CHISO_ROOT"
python3 scripts/check_lock.py   # pyproject.toml edited without `bash scripts/lock.sh`? say so, stop
if [ "${CHISO_SETUP_PIP:-0}" != 1 ] && ! command -v uv >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check "uv==0.13.8" \
    || echo "uv unavailable; falling back to pip (slower)" >&2
fi
if [ "${CHISO_SETUP_PIP:-0}" != 1 ] && command -v uv >/dev/null 2>&1; then
  [ -x .venv/bin/python ] || uv venv --quiet --python python3 .venv
  # UV_COMPILE_BYTECODE=1 (scripts/env.sh): precompiled, or every Dagster start is 2-3x slower
  uv pip sync --quiet --python .venv/bin/python --require-hashes requirements.lock.txt
  uv pip install --quiet --python .venv/bin/python --no-deps -e .
  uv pip check --quiet --python .venv/bin/python
else
  [ -x .venv/bin/python ] || python3 -m venv .venv
  # --no-deps: the lock is complete (pip check below proves it); without it pip rejects
  # a dependency asked for with an extra (gql[requests]) as "not pinned"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps \
    --require-hashes -r requirements.lock.txt
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
  .venv/bin/python -m pip check
  .venv/bin/python -m compileall -q .venv/lib >/dev/null || true
fi

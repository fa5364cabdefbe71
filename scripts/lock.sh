#!/usr/bin/env bash
# Re-lock after editing pyproject.toml: each package's version and the sha256 of its files (`--upgrade` to take newer ones).
cd "$(dirname "$0")/.." && uv pip compile pyproject.toml --extra dev --universal --generate-hashes --custom-compile-command "bash scripts/lock.sh" --quiet -o requirements.lock.txt "$@"

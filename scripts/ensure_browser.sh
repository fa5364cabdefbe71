#!/usr/bin/env bash
# Make sure a headless Chromium is there: the focus scorecard's PDF and screenshots
# (assets/report/browser.py), the opt-in browser transport, and the tests that open pages
# (Debian's package; idempotent: does nothing when one is already on PATH).
set -euo pipefail
for name in chromium chromium-browser google-chrome; do
  if command -v "$name" >/dev/null 2>&1; then
    exit 0
  fi
done
if [ "$(id -u)" -ne 0 ]; then
  echo "chromium is missing: install Debian's package (sudo apt-get install -y chromium)" >&2
  exit 1
fi
echo "== installing Debian's chromium for the scorecard's browser test"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium fonts-dejavu-core >/dev/null  # DejaVu: Vietnamese glyphs
command -v chromium >/dev/null

#!/usr/bin/env bash
# Print the demo's first and last month (YYYY-MM-01 YYYY-MM-01). The sample follows the
# calendar: its last month is this month in the partitions' time zone (the open month the
# freshness check looks at), its first five months earlier, and never after 08/2026, the
# month of the real Phú Thọ captures, so they are always in it.
# CHISO_DEMO_FIRST_MONTH / CHISO_DEMO_LAST_MONTH override either end.
set -euo pipefail
REAL_MONTH=2026-08-01
LAST="${CHISO_DEMO_LAST_MONTH:-$(TZ=Asia/Ho_Chi_Minh date +%Y-%m-01)}"
FIRST="${CHISO_DEMO_FIRST_MONTH:-$(date -d "$LAST -5 months" +%Y-%m-01)}"
if [ -z "${CHISO_DEMO_FIRST_MONTH:-}" ] && [[ "$FIRST" > "$REAL_MONTH" ]]; then
  FIRST="$REAL_MONTH"
fi
echo "$FIRST $LAST"

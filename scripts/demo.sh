#!/usr/bin/env bash
# Set up, then run the whole pipeline on the bundled data: the real Phú Thọ captures
# of 08/2026 plus a deterministic synthetic sample (34 provinces, 06–11/2026).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$CHISO_ROOT"
bash scripts/setup.sh
FIRST="${CHISO_DEMO_FIRST_MONTH:-2026-06-01}"
LAST="${CHISO_DEMO_LAST_MONTH:-2026-11-01}"
if [ -z "${CHISO_PORTAL_URL:-}" ]; then
  echo "== generating the bundled replay sample into data/portal-replay"
  python -m tools.synthetic --out data/portal-replay --months "${FIRST:0:7}:${LAST:0:7}"
fi
DATA="${CHISO_DATA_DIR:-$CHISO_ROOT/data}"
LOG="$DATA/logs/demo-run.log"
mkdir -p "$(dirname "$LOG")"
echo "== running job refresh_months for ${FIRST:0:7} .. ${LAST:0:7} (one Dagster run; log: $LOG)"
if ! dg launch --job refresh_months --partition-range "${FIRST}...${LAST}" >"$LOG" 2>&1; then
  grep -E "ERROR|Failure|failed" "$LOG" | tail -n 40 >&2 || tail -n 40 "$LOG" >&2
  echo "The run failed; full log: $LOG" >&2
  exit 1
fi
grep -E " - (INFO|WARNING) - " "$LOG" | sed -E 's/^.* - (INFO|WARNING) - [^ ]+ - [^ ]+ - //' || true
echo
python -m assets.publish.summary
cat <<MSG

Results
  published (open this one):  $DATA/published/chiso766.duckdb   (read-only copy)
  marts:      marts.province_monthly, marts.group_monthly, marts.metric_monthly,
              marts.unit_points_lost, marts.recoverable_points, marts.score_change_explained,
              marts.score_recomputation     validations: audit.validation_results
  scorecards: $DATA/reports/<yyyy-mm>/\${CHISO_FOCUS_PROVINCE:-H60}-scorecard.html
  guide:      docs/analysts.md
  raw captures and manifests: $DATA/raw/   (one manifest per crawl in raw/_sessions/)
  query: .venv/bin/python -m assets.publish.summary --province H44   (any province)
         or duckdb.connect('<that file>', read_only=True) from Python (README, "Results")
  UI:   source scripts/env.sh && dg dev --host 127.0.0.1 --port 3000
MSG

#!/usr/bin/env bash
# Set up, then run the whole pipeline on the bundled data: the real Phú Thọ captures
# of 08/2026 plus a deterministic synthetic sample (34 provinces, six months up to the
# current month, which is the open one; from 08/2026 at the latest, so the real captures
# are in it), and the history before it: the legacy service (63 provinces, 01–06/2025)
# and four ranking spreadsheets dropped in the inbox (08/2023, 08/2024, 07/2025, 08/2025).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$CHISO_ROOT"
bash scripts/setup.sh
# six months up to this month, the open one (scripts/demo_months.sh)
MONTHS="$(bash scripts/demo_months.sh)"
read -r FIRST LAST <<<"$MONTHS"
LEGACY_FIRST="${CHISO_DEMO_LEGACY_FIRST_MONTH:-2025-01-01}"
LEGACY_LAST="${CHISO_DEMO_LEGACY_LAST_MONTH:-2025-06-01}"
DATA="${CHISO_DATA_DIR:-$CHISO_ROOT/data}"
if [ -z "${CHISO_PORTAL_URL:-}" ]; then
  echo "== generating the bundled replay sample into data/portal-replay"
  python -m tools.synthetic --out data/portal-replay --months "${FIRST:0:7}:${LAST:0:7}"
  echo "== adding the legacy service's months and dropping the ranking spreadsheets in $DATA/inbox"
  python -m tools.synthetic_history --out data/portal-replay \
    --months "${LEGACY_FIRST:0:7}:${LEGACY_LAST:0:7}" --inbox "$DATA/inbox"
  echo "== adding a procedure catalogue and per-procedure answers for the focus province"
  python -m tools.synthetic_procedures --replay data/portal-replay --months "${LAST:0:7}" \
    --provinces "${CHISO_FOCUS_PROVINCE:-H60}" --count 40 >/dev/null
fi
mkdir -p "$DATA/logs"

run() {  # run <what> <log name> <tools.launch arguments...>
  local what="$1" log="$DATA/logs/demo-$2.log"
  shift 2
  echo "== $what (log: $log)"
  if ! python -m tools.launch "$@" >"$log" 2>&1; then
    grep -E "ERROR|Failure|failed" "$log" | tail -n 40 >&2 || tail -n 40 "$log" >&2
    echo "The run failed; full log: $log" >&2
    exit 1
  fi
  grep -E " - (INFO|WARNING) - " "$log" | sed -E 's/^.* - (INFO|WARNING) - [^ ]+ - [^ ]+ - //' \
    | grep -v "^Launching\|^Started execution\|^Finished execution" || true
}

run "job refresh_months for ${FIRST:0:7} .. ${LAST:0:7} (one Dagster run)" run \
  --job refresh_months --partition-range "${FIRST}...${LAST}"
# refresh_legacy, not refresh_months: those months have only the province and group
# tables, so the unit-level tables are not recorded as materialized (empty) for them
run "job refresh_legacy for ${LEGACY_FIRST:0:7} .. ${LEGACY_LAST:0:7} (the legacy service)" legacy \
  --job refresh_legacy --partition-range "${LEGACY_FIRST}...${LEGACY_LAST}"
# Under the Dagster daemon the sensors spreadsheet_inbox and history_after_import do
# these two steps by themselves; the demo runs them in turn.
run "job import_inbox (the files waiting in $DATA/inbox)" import --job import_inbox
# One run per block of consecutive months the import brought (as the sensor does), so
# the months in between, which have no data, are not recorded as materialized.
for block in 2023-08 2024-08 2025-07:2025-08; do
  first="${block%%:*}" last="${block##*:}"
  run "job rebuild_history for $first .. $last" "history-$first" \
    --job rebuild_history --partition-range "$first-01...$last-01"
done
# The procedure catalogue (weekly under the daemon) and the open month's per-procedure
# answers for the focus province (nightly, within CHISO_PROCEDURE_BUDGET requests): staged,
# the procedure marts built, the copy published and the focus page rebuilt.
run "job refresh_procedure_catalogue (the procedure catalogue)" catalogue \
  --job refresh_procedure_catalogue
run "job refresh_procedures for ${LAST:0:7} (per-procedure answers, focus province)" procedures \
  --job refresh_procedures --partition "${LAST}"
echo
python -m assets.publish.summary
echo
python -m assets.publish.summary --history
cat <<MSG

Results
  published (open this one):  $DATA/published/chiso766.duckdb   (read-only copy)
  marts:      marts.province_monthly (every month since 2022-08, eras, comparable series),
              marts.group_monthly, marts.province_daily, marts.metric_monthly,
              marts.unit_points_lost, marts.recoverable_points, marts.score_change_explained,
              marts.score_recomputation, marts.procedure_monthly,
              marts.unit_procedure_points_lost     validations: audit.validation_results
  scorecards: $DATA/reports/<yyyy-mm>/\${CHISO_FOCUS_PROVINCE:-H60}-scorecard.html
  exports:    $DATA/published/exports/ (Parquet, CSV), $DATA/published/chiso766.xlsx; site: $DATA/reports/index.html (+ the focus PDF)
  guide:      docs/analysts.md
  raw captures and manifests: $DATA/raw/   (one manifest per crawl in raw/_sessions/)
  spreadsheets: drop .xlsx/.csv in $DATA/inbox/ (imported/ and rejected/ beside it)
  query: .venv/bin/python -m assets.publish.summary --province H44   (any province)
         .venv/bin/python -m assets.publish.summary --history         (the whole series)
         or duckdb.connect('<that file>', read_only=True) from Python (README, "Results")
  UI:   source scripts/env.sh && dg dev --host 127.0.0.1 --port 3000
MSG

# Source me: the environment every chiso766 command runs in.
# DAGSTER_HOME is .dagster/ in the project, with the project's dagster.yaml linked in.
CHISO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CHISO_ROOT
export DAGSTER_HOME="${DAGSTER_HOME:-$CHISO_ROOT/.dagster}"
mkdir -p "$DAGSTER_HOME"
[ -e "$DAGSTER_HOME/dagster.yaml" ] || ln -s "$CHISO_ROOT/dagster.yaml" "$DAGSTER_HOME/dagster.yaml"
export DAGSTER_DISABLE_TELEMETRY=1
export GX_ANALYTICS_ENABLED=false
export UV_COMPILE_BYTECODE=1
export PATH="$CHISO_ROOT/.venv/bin:$PATH"
export VIRTUAL_ENV="$CHISO_ROOT/.venv"

# Source me: the environment every chiso766 command runs in.
# DAGSTER_HOME is the project folder (dagster.yaml there keeps state in .dagster/).
CHISO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CHISO_ROOT
export DAGSTER_HOME="$CHISO_ROOT"
export DAGSTER_DISABLE_TELEMETRY=1
export GX_ANALYTICS_ENABLED=false
export UV_COMPILE_BYTECODE=1
export PATH="$CHISO_ROOT/.venv/bin:$PATH"
export VIRTUAL_ENV="$CHISO_ROOT/.venv"

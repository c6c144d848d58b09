#!/usr/bin/env bash
# The Python package's benchmark (bench/python.py): Model.score of 1,000,000 in-memory rows and
# churn_edge.spark.score on Spark local[2], each against a scikit-learn pipeline (one-hot +
# RandomForest(100)) on the same rows in the same run; import + load time; wheel size.
# Usage: bash bench/python.sh [--rows N] [--repeat K] [--skip-spark]
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=$(bash scripts/py-env.sh)
cargo build --release -q -p trainer
mkdir -p build/bench-python
MODEL=build/bench-python/telco.bin
# The default model (no flags but the data): model selection on the Telco training split.
[ -f "$MODEL" ] || target/release/churn train --no-registry --data data/telco_train.csv --out "$MODEL" >/dev/null
WHEEL=$(ls -t build/bench-python/churn_edge-*.whl 2>/dev/null | head -1 || true)
if [ -z "$WHEEL" ]; then
  PATH="$VENV/bin:$PATH" "$VENV/bin/pip" wheel -q --no-build-isolation --no-deps ./python -w build/bench-python
  WHEEL=$(ls -t build/bench-python/churn_edge-*.whl | head -1)
fi
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
"$VENV/bin/python" bench/python.py --model "$MODEL" --wheel "$WHEEL" "$@"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

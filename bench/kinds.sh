#!/usr/bin/env bash
# Scoring speed of the two model kinds, natively (criterion) and in wasm (Node), on the Telco
# rows. Four models, all trained on data/telco_train.csv:
#   rf-3k    a forest of 30 trees × depth 6 (min leaf 1): ~3,600 nodes, 180 tree steps a row
#   gbt-3k   boosted trees, 215 trees × depth 3 (8 leaves, min leaf 1): ~3,200 nodes, 645 steps
#   auto     what `churn train` chooses with no flags (the model users get)
#   rf       `churn train --model rf` (the forest's defaults)
# rf-3k against gbt-3k is "the same node count"; auto against rf is "what each kind gives with
# no flags". A row costs one step per tree level, so at the same node count the boosted model
# (many shallow trees) takes about 3.6× the steps of the forest (few deep ones): compare the
# time per row, and the time per step (time per row / steps a row).
# Usage: bash bench/kinds.sh   (about 5 minutes: release build, wasm build, 4 × 4 criterion
#        benchmarks, 4 × wasm runs). Prints both benchmarks' outputs.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p trainer
(cd www && bash scripts/build-pkg.sh >/dev/null)
out=build/kinds
mkdir -p "$out"
churn=target/release/churn
train() { "$churn" train --no-registry --data data/telco_train.csv --test-fraction 0 --id customerID --out "$out/$1.bin" "${@:2}" >/dev/null; }
train rf-3k --model rf --trees 30 --max-depth 6 --min-samples-leaf 1 --mtry 4
train gbt-3k --model gbt --trees 215 --max-depth 3 --max-leaves 8 --learning-rate 0.1 --min-samples-leaf 1
train auto
train rf --model rf
models=()
for m in rf-3k gbt-3k auto rf; do
  "$churn" inspect "$out/$m.bin" | sed -n 2,3p | sed "s|^|$m: |"
  models+=("$PWD/$out/$m.bin")
done
echo
echo "## wasm (Node $(node --version))"
(cd www && node bench/wasm.mjs "${models[@]}")
echo
echo "## native (criterion medians; throughput in rows/s)"
CHURN_BENCH_MODELS=$(IFS=,; echo "${models[*]}") cargo bench -q -p inference-wasm --bench score -- \
  'one row at a time|batch' 2>&1 | tr '\r' '\n' | grep -E '^[a-z0-9.-]+\.bin/|time:|thrpt:' | grep -v '%'

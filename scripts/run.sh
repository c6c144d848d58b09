#!/usr/bin/env bash
# The main job on the bundled data: train on the Telco CSV, show the model, score the customers.
# Needs only Rust (cargo): builds churn (release), then runs; safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p trainer
mkdir -p build
churn=target/release/churn
"$churn" train --data data/telco_churn.csv --out build/telco.bin
"$churn" score --model build/telco.bin --data data/telco_churn.csv --out build/telco_scores.csv --raw --explain 3
echo
echo "model:  build/telco.bin   (inspect: $churn inspect build/telco.bin)"
echo "scores: build/telco_scores.csv ($(($(wc -l <build/telco_scores.csv) - 1)) customers)"
head -4 build/telco_scores.csv | cut -c1-110

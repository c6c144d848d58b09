#!/usr/bin/env bash
# Writes the default model that the Worker serves and the demo page loads: www/worker/model.bin.
# Trained on the whole bundled Telco CSV with the CLI defaults (20% held out for the model card),
# with a fixed timestamp so the file is reproducible byte for byte. To serve another model, put any
# file written by `churn train` at that path (or run the registry's `churn models get`) and rebuild.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p trainer
SOURCE_DATE_EPOCH=1767225600 target/release/churn train --no-registry --data data/telco_churn.csv \
  --out www/worker/model.bin --name telco-churn "$@"

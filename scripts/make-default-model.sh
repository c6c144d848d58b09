#!/usr/bin/env bash
# Writes the default model that the Worker serves and the demo page loads: www/worker/model.bin.
# Trained on the whole bundled Telco CSV with the CLI defaults (20% held out for the model card),
# with a fixed timestamp so the file is reproducible byte for byte. To serve another model, put any
# file written by `churn train` at that path (or run the registry's `churn models get`) and rebuild.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p trainer
# The settings are pinned to those model selection chose when this file was first made (a random
# forest), so that remaking it (e.g. for a new format version: version 3 added the training
# profile that GET /monitoring compares against) keeps the same trees and the same scores.
SOURCE_DATE_EPOCH=1767225600 target/release/churn train --no-registry --data data/telco_churn.csv \
  --out www/worker/model.bin --name telco-churn \
  --model rf --trees 100 --max-depth 7 --min-samples-leaf 20 --min-samples-split 2 --mtry 4 "$@"

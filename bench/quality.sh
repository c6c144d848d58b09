#!/usr/bin/env bash
# Model quality of `churn train` against scikit-learn (RandomForest, GradientBoosting,
# HistGradientBoosting, LogisticRegression) on two churn data sets: the Telco fixed split
# (data/telco_train.csv -> data/telco_test.csv) and the bank credit-card attrition set
# (data/bank_churners.csv, split 80/20 stratified, seed 42, into build/quality/). Reports
# held-out ROC-AUC, Brier score and fit seconds per model, and churn's model file size; see
# bench/quality.py's docstring for the exact settings.
#
# Output: one markdown table per data set on stdout, and build/quality/results.json.
# Takes well under a minute of sklearn fits on 2 cores, plus two `churn train` runs.
#
# Installs scikit-learn and pandas (pinned) into build/bench-venv the first time (~1 min, PyPI);
# the venv of bench/venv.sh, shared by every bench script.
# Usage: bash bench/quality.sh            extra `churn train` flags: CHURN_FLAGS="--trees 300"
#        more churn files: QUALITY_EXTRA="FILE:TARGET:POSITIVE[:DROP,...] ..." (see bench/quality.py)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p trainer
mkdir -p build/quality
source bench/venv.sh
CHURN="${CHURN:-target/release/churn}" "$VENV/bin/python" bench/quality.py

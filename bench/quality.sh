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
# the venv is the one bench/train.sh uses (same scikit-learn pin).
# Usage: bash bench/quality.sh            extra `churn train` flags: CHURN_FLAGS="--trees 300"
set -euo pipefail
cd "$(dirname "$0")/.."
SKLEARN_VERSION=1.9.1
PANDAS_VERSION=3.1.1
cargo build --release -q -p trainer
mkdir -p build/quality
VENV="$PWD/build/bench-venv"
if ! "$VENV/bin/python" -c "import sklearn, sys; sys.exit(sklearn.__version__ != '$SKLEARN_VERSION')" 2>/dev/null; then
  echo "bench/quality.sh: installing scikit-learn $SKLEARN_VERSION into build/bench-venv" >&2
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "scikit-learn==$SKLEARN_VERSION" "pandas==$PANDAS_VERSION"
fi
# A venv made by bench/train.sh has scikit-learn but not pandas: add it without starting over.
if ! "$VENV/bin/python" -c "import pandas, sys; sys.exit(pandas.__version__ != '$PANDAS_VERSION')" 2>/dev/null; then
  echo "bench/quality.sh: installing pandas $PANDAS_VERSION into build/bench-venv" >&2
  "$VENV/bin/pip" install -q "pandas==$PANDAS_VERSION"
fi
CHURN="${CHURN:-target/release/churn}" "$VENV/bin/python" bench/quality.py

#!/usr/bin/env bash
# How `churn train` scales with training rows (default 10^4, 10^5, 10^6), time and peak RSS,
# against scikit-learn (RandomForest, GradientBoosting, HistGradientBoosting) fit on the same
# rows in the same run. Synthetic Telco-like files come from bench/gen_churn.py (seed 0) into
# build/scale/ (made once, then reused). See bench/scale.py's docstring for the exact commands
# and settings.
#
# Output: one markdown table per size on stdout, and build/scale/results.json.
# The default run took about 4 minutes on 2 (busy) cores: mostly churn's auto model selection at
# 10^5 rows (~50 s) and scikit-learn's 10^6-row random forest (~1 min; churn's: ~20 s); scikit-learn
# GradientBoosting at 10^6 rows (--gb-max 1000000) adds about 3 minutes.
#
# Installs scikit-learn and pandas (pinned) into build/bench-venv the first time (~1 min, PyPI);
# the venv of bench/venv.sh, shared by every bench script.
# Usage: bash bench/scale.sh [ROWS ...] [--auto-max N] [--gb-max N] [--gb-timeout S] [--timeout S]
#                            [--total-budget S] [--only a,b,d,f] [--merge]
#   e.g. bash bench/scale.sh 10000 100000
#        bash bench/scale.sh 1000000 --gb-max 1000000 --only e --merge   (sklearn GB at 10^6, <= 15 min)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p trainer
mkdir -p build/scale
source bench/venv.sh
CHURN="${CHURN:-target/release/churn}" "$VENV/bin/python" bench/scale.py "$@"

#!/usr/bin/env bash
# Registry fault trials (issue 8, item 4): `kill -9` at random points of `churn train --register`,
# `churn promote` and `churn rollback` (and of a train committing beside another one), then:
# the registry opens, `churn registry check` finds every run and version complete with a model
# file matching its sha256 and loading, every alias (and its history) names an existing version,
# at most the one new version appeared, and the alias exports a loadable model.
# Each trial waits for the k-th write step (k random, via the CHURN_FAULT_PAUSE_MS hook) or a
# random moment before the lock, so every step between fsync/rename is hit.
# Usage: bash scripts/registry-faults.sh [TRIALS=100] [SEED]   (cargo test, hence the test command, runs 50)
set -euo pipefail
cd "$(dirname "$0")/.."
export CHURN_FAULT_TRIALS="${1:-100}"
[ -n "${2:-}" ] && export CHURN_FAULT_SEED="$2"
start=$(date +%s)
cargo test --release -q -p trainer --test registry kill_9_at_random_points_never_breaks_the_registry -- --nocapture 2>&1 \
  | grep -v '^$' | grep -v '^running\|^test result\|^test \|^\.'
echo "registry-faults: $CHURN_FAULT_TRIALS trials passed in $(( $(date +%s) - start )) s"

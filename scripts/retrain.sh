#!/usr/bin/env bash
# Retrain flow: train on a new CSV → register a version → gate it against production on an
# evaluation CSV (champion/challenger, plus an optional floor) → promote → export the production
# model to where the Worker build and the demo page pick it up (www/worker/model.bin).
# A refused challenger exits 3 and changes nothing (production and the exported file stay).
# With --only-if-drift LEVEL --recent RECENT.csv it first runs `churn monitor` on recent customers
# against the production model and retrains only when the drift reaches LEVEL (watch|drifted):
# a scheduled job then retrains on evidence, not on the calendar (no production yet: it trains).
#
# Usage: bash scripts/retrain.sh --data NEW.csv --eval HELDOUT.csv [--name NAME] [--registry DIR]
#          [--min-auc X] [--export PATH] [--only-if-drift watch|drifted --recent RECENT.csv]
#          [-- extra `churn train` flags]
# Logs to MLflow as well when MLFLOW_TRACKING_URI is set (run, version, alias).
# Example: bash scripts/retrain.sh --data data/telco_train.csv --eval data/telco_test.csv --min-auc 0.8
set -euo pipefail
cd "$(dirname "$0")/.."
name=telco-churn registry=registry export=www/worker/model.bin data= eval= min_auc= drift_level= recent=
while [ $# -gt 0 ]; do
  case "$1" in
    --data) data=$2; shift 2 ;;
    --eval) eval=$2; shift 2 ;;
    --name) name=$2; shift 2 ;;
    --registry) registry=$2; shift 2 ;;
    --min-auc) min_auc=$2; shift 2 ;;
    --export) export=$2; shift 2 ;;
    --only-if-drift) drift_level=$2; shift 2 ;;
    --recent) recent=$2; shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "retrain: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$data" ] && [ -n "$eval" ] || { echo "retrain: --data NEW.csv and --eval HELDOUT.csv are required" >&2; exit 2; }
# (scripts/test.sh sets CHURN_BUILT=1: its `cargo test` has just built the binary.)
[ "${CHURN_BUILT:-}" = 1 ] || cargo build --release -q -p trainer
churn=target/release/churn
mkdir -p build

if [ -n "$drift_level" ]; then
  [ -n "$recent" ] || { echo "retrain: --only-if-drift needs --recent RECENT.csv" >&2; exit 2; }
  echo "== 0. drift of $recent against $name@production (retrain at level $drift_level)"
  if "$churn" models get "$name@production" --out build/retrain-production.bin --registry "$registry" 2>/dev/null; then
    set +e
    "$churn" monitor --model build/retrain-production.bin --data "$recent" --fail-on "$drift_level"
    rc=$?
    set -e
    case $rc in
      0) echo "retrain: no drift at level $drift_level; not retraining"; exit 0 ;;
      4) echo "retrain: drift at level $drift_level; retraining" ;;
      *) echo "retrain: churn monitor failed (exit $rc)" >&2; exit "$rc" ;;
    esac
  else
    echo "retrain: $name has no production version yet; training one"
  fi
fi

echo "== 1. train on $data, register as $name"
"$churn" train --data "$data" --out build/retrain-candidate.bin --registry "$registry" --register "$name" --json "$@" \
  >build/retrain-train.json
version=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["registry"]["registered"]["version"])' build/retrain-train.json)
echo "registered $name version $version"

echo "== 2. gate against $name@production on $eval, promote"
gate=(--must-beat production --data "$eval")
[ -n "$min_auc" ] && gate+=(--min-auc "$min_auc")
set +e
"$churn" promote "$name" --version "$version" --alias production --registry "$registry" "${gate[@]}"
rc=$?
set -e
if [ $rc -ne 0 ]; then
  echo "retrain: version $version not promoted (exit $rc); production and $export unchanged" >&2
  exit $rc
fi

echo "== 3. export $name@production → $export"
"$churn" models get "$name@production" --out "$export" --registry "$registry"
echo "retrain: done. Rebuild/deploy the Worker to serve it (see docs/WORKER.md)."

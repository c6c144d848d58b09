#!/usr/bin/env bash
# Tests scripts/retrain.sh end to end on the bundled data, in a throwaway registry under build/:
# the first run trains (no production yet); with --only-if-drift, recent customers like the
# training rows do not retrain (no new version), and shifted ones do (a new version is registered).
# Needs target/release/churn (scripts/test.sh builds it first; CHURN_BUILT=1).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${CHURN_BUILT:-}" = 1 ] || cargo build --release -q -p trainer
export CHURN_BUILT=1
work=build/test-retrain
rm -rf "$work" && mkdir -p "$work"
reg="$work/registry" out="$work/production.bin"
churn=target/release/churn
versions() { "$churn" models list --registry "$reg" --json | python3 -c 'import json,sys; print(sum(m["versions"] for m in json.load(sys.stdin)))'; }
fail() { echo "test-retrain: FAILED: $*" >&2; exit 1; }
run() { bash scripts/retrain.sh --name t --registry "$reg" --export "$out" "$@" -- --time-budget 5 >"$work/log" 2>&1; }

# The documented shift of the held-out rows (as trainer/tests/cli.rs uses): 30 % new customers,
# 5 % a payment method never seen in training.
python3 - "$work/shifted.csv" <<'PY'
import csv, sys
rows = list(csv.reader(open("data/telco_test.csv", newline="")))
h = rows[0]; t = h.index("tenure"); p = h.index("PaymentMethod")
out = [h]
for i, r in enumerate(rows[1:]):
    if (i * 7) % 10 < 3: r[t] = str(i % 7)
    if i % 20 == 0: r[p] = "Crypto wallet"
    out.append(r)
csv.writer(open(sys.argv[1], "w", newline=""), lineterminator="\n").writerows(out)
PY

run --data data/telco_train.csv --eval data/telco_test.csv --only-if-drift drifted --recent data/telco_test.csv \
  || fail "first run: $(cat "$work/log")"
grep -q "has no production version yet; training one" "$work/log" || fail "first run did not say why it trained"
[ -f "$out" ] && [ "$(versions)" = 1 ] || fail "first run: expected version 1 exported"

run --data data/telco_train.csv --eval data/telco_test.csv --only-if-drift drifted --recent data/telco_test.csv \
  || fail "stable run: $(cat "$work/log")"
grep -q "no drift at level drifted; not retraining" "$work/log" || fail "stable data retrained: $(cat "$work/log")"
[ "$(versions)" = 1 ] || fail "stable data registered a version"

# Shifted data: retrains (the challenger may or may not beat production: 0 or 3 are both fine).
set +e
run --data data/telco_train.csv --eval data/telco_test.csv --only-if-drift drifted --recent "$work/shifted.csv"
rc=$?
set -e
[ $rc = 0 ] || [ $rc = 3 ] || fail "drift run exited $rc: $(cat "$work/log")"
grep -q "drift at level drifted; retraining" "$work/log" || fail "drift did not retrain: $(cat "$work/log")"
[ "$(versions)" = 2 ] || fail "drift run did not register version 2"
echo "test-retrain: ok (trains without production, skips without drift, retrains on drift)"

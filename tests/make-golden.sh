#!/usr/bin/env bash
# Regenerates the golden fixtures — the only script that writes tests/fixtures/golden*.
# Run it deliberately (after a change meant to alter models or scores) and commit the result:
#   bash tests/make-golden.sh
# The tests then check that every surface reproduces these files exactly:
#   golden.bin            a small random forest trained on data/telco_train.csv (fixed seed and time)
#   golden_gbt.bin        small gradient-boosted trees, same data
#   golden_cases.csv      the Telco held-out rows plus edge cases (blank numbers, padded text)
#   golden_expected.csv   `churn score --raw --explain 3` of those cases with golden.bin
#   golden_gbt_expected.csv   the same with golden_gbt.bin
# Not written here: format_v1.bin, golden.bin as format version 1 wrote it (the release before
# model kinds). It must keep loading and scoring exactly as golden_expected.csv says.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p trainer
churn=target/release/churn
out=tests/fixtures
mkdir -p "$out"
# Flags recorded here and in tests (trainer/tests/cli.rs: golden_model_is_reproducible).
SOURCE_DATE_EPOCH=1767225600 "$churn" train --no-registry --data data/telco_train.csv --out "$out/golden.bin" \
  --model rf --trees 30 --max-depth 6 --seed 7 --test-fraction 0 --name golden --model-version golden-1 >/dev/null
SOURCE_DATE_EPOCH=1767225600 "$churn" train --no-registry --data data/telco_train.csv --out "$out/golden_gbt.bin" \
  --model gbt --trees 40 --max-leaves 8 --learning-rate 0.1 --seed 7 --test-fraction 0 --name golden-gbt \
  --model-version golden-gbt-1 >/dev/null
python3 - <<'PY'
import csv
rows = list(csv.reader(open("data/telco_test.csv", newline="")))
header, body = rows[0], rows[1:]
col = {h: i for i, h in enumerate(header)}
edge = []
def variant(base, cid, **changes):
    r = list(base)
    r[col["customerID"]] = cid
    for k, v in changes.items():
        r[col[k]] = v
    edge.append(r)
b = body[0]
variant(b, "EDGE-blank-total", TotalCharges=" ")
variant(b, "EDGE-empty-total", TotalCharges="")
variant(b, "EDGE-padded-number", tenure=" 5 ", MonthlyCharges="70.70")
variant(b, "EDGE-exponent", MonthlyCharges="7.07e1", TotalCharges="1.5E3")
variant(b, "EDGE-padded-category", Contract=" One year ")
variant(b, "EDGE-zero-tenure", tenure="0", TotalCharges=" ")
variant(b, "EDGE-huge-number", TotalCharges="1e300")
variant(b, "EDGE-negative", tenure="-3", MonthlyCharges="-0")
with open("tests/fixtures/golden_cases.csv", "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(header)
    w.writerows(body + edge)
PY
"$churn" score --model "$out/golden.bin" --data "$out/golden_cases.csv" --out "$out/golden_expected.csv" --raw --explain 3
"$churn" score --model "$out/golden_gbt.bin" --data "$out/golden_cases.csv" --out "$out/golden_gbt_expected.csv" --raw --explain 3
# Outside witness: the Python reference scorer, written from docs/FORMAT.md alone, must agree bit
# for bit. If it does not, the core or FORMAT.md is wrong: do not commit these files.
if ! python3 tests/reference/test_reference.py; then
  echo "make-golden: REFUSED: tests/reference/churn_ref.py (docs/FORMAT.md) disagrees with the new fixtures in $out/; fix the core or FORMAT.md, do not commit them" >&2
  exit 1
fi
echo "wrote $out/golden.bin ($(wc -c <"$out/golden.bin") bytes), golden_gbt.bin ($(wc -c <"$out/golden_gbt.bin") bytes), golden_cases.csv, golden_expected.csv, golden_gbt_expected.csv ($(($(wc -l <"$out/golden_expected.csv") - 1)) rows)"

#!/usr/bin/env bash
# Native `churn score` throughput and memory on 1,000,000 rows (CSV → CSV, default model).
# Guards against: a slower encode/traverse/format path, lost parallelism, or memory that grows
# with the file (the pipeline must stream).
# Usage: bash bench/score.sh [ROWS]   (prints rows/s per run and the median, and peak RSS)
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000000}
cargo build --release -q -p trainer
mkdir -p build/bench
churn=target/release/churn
[ -f build/bench/default.bin ] || "$churn" train --no-registry --data data/telco_train.csv --out build/bench/default.bin --test-fraction 0 >/dev/null 2>&1
big=build/bench/telco_${rows}.csv
if [ ! -f "$big" ]; then
  python3 - "$rows" "$big" <<'PY'
import sys
rows, out = int(sys.argv[1]), sys.argv[2]
lines = open("data/telco_churn.csv").read().splitlines()
header, body = lines[0], lines[1:]
with open(out, "w") as f:
    f.write(header + "\n")
    for i in range(rows):
        line = body[i % len(body)]
        f.write(f"C{i}" + line[line.index(","):] + "\n")
PY
fi
times=()
for run in 1 2 3 4 5; do
  s=$(date +%s.%N)
  "$churn" score --model build/bench/default.bin --data "$big" --out build/bench/out.csv
  e=$(date +%s.%N)
  t=$(echo "$e - $s" | bc -l)
  times+=("$t")
  printf 'run %d: %.3f s, %.0f rows/s\n' "$run" "$t" "$(echo "$rows / $t" | bc -l)"
done
median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p)
printf 'median: %.3f s, %.0f rows/s\n' "$median" "$(echo "$rows / $median" | bc -l)"
/usr/bin/time -f 'peak RSS: %M KB' "$churn" score --model build/bench/default.bin --data "$big" --out build/bench/out.csv
/usr/bin/time -f 'peak RSS with --raw --explain 3: %M KB' "$churn" score --model build/bench/default.bin --data "$big" --out build/bench/out.csv --raw --explain 3

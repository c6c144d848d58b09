#!/usr/bin/env bash
# Fuzzes the scoring core with cargo-fuzz (nightly, libFuzzer + AddressSanitizer, release build
# with debug assertions and overflow checks). Targets (fuzz/fuzz_targets, checks in fuzz/src/lib.rs):
#   artifact  model files through Model::from_bytes (as given, and re-wrapped in a valid header)
#   record    customer records (JSON or a CSV line) through encode/probability/score/explain
#   profile   profiles as JSON text (GET /monitoring's, as churn monitor --from reads them) through Profile::from_json
#
#   bash scripts/fuzz.sh                      short bounded run of each target (the test command's
#                                             step: FUZZ_SECONDS per target, default 20, ≤ 60 s total)
#   bash scripts/fuzz.sh long [RUNS] [TARGET...]
#                                             campaign for the figures: RUNS executions per target
#                                             (default 10000000), one target after another at nice 10;
#                                             prints execs, seconds, execs/s, coverage, corpus size.
#   bash scripts/fuzz.sh replay FILE...       runs crash inputs through their target once
#   bash scripts/fuzz.sh seeds                after a campaign: keeps, as fuzz/corpus/TARGET/cov-*,
#                                             the fewest scratch inputs that reach every edge reached
#
# New interesting inputs go to a scratch corpus under build/fuzz/ (never into the committed
# seeds in fuzz/corpus/, which are read-only here; see fuzz/make-seeds.sh). A crash stops the
# run with a non-zero exit; libFuzzer saves the input under fuzz/artifacts/TARGET/ (gitignored):
# turn each into a regression test (inference-wasm/tests/corrupt.rs) and a seed.
set -euo pipefail
cd "$(dirname "$0")/.."
exec </dev/null

mode=${1:-short}
[ $# -gt 0 ] && shift
targets_all=(artifact record profile)
scratch=build/fuzz
mkdir -p "$scratch"

# Bounds for every run: a slow input (> 10 s), a process over 1 GiB or one allocation over
# 256 MiB counts as a failure. (The decoder's own budget is 64 MiB; see SECURITY.md.)
common=(-timeout=10 -rss_limit_mb=1024 -malloc_limit_mb=256 -print_final_stats=1)
flags_for() {
  case "$1" in
    artifact) echo "-max_len=65536" ;;
    record) echo "-max_len=4096 -dict=fuzz/record.dict" ;;
    profile) echo "-max_len=16384" ;;
    *) echo "unknown fuzz target: $1" >&2; exit 2 ;;
  esac
}

build() {
  # fuzz/ is its own workspace with its own target dir (fuzz/target): no contention with target/.
  local log="$scratch/build.log"
  if ! cargo +nightly fuzz build --sanitizer "$sanitizer" "$@" >"$log" 2>&1; then
    cat "$log" >&2
    echo "fuzz: the build failed" >&2
    exit 1
  fi
  tail -1 "$log" >&2
}

prefix=()   # `nice -n 10` for the long campaigns
# AddressSanitizer for the short runs (cheap there); the long campaigns default to none, about
# 2.5x the executions per second: the core has no `unsafe` code, and debug assertions and
# overflow checks stay on either way. FUZZ_SANITIZER overrides both.
sanitizer=${FUZZ_SANITIZER:-}
run_target() { # target, extra libFuzzer flags...
  local t=$1
  shift
  mkdir -p "$scratch/corpus/$t"
  # shellcheck disable=SC2046
  "${prefix[@]}" cargo +nightly fuzz run --sanitizer "$sanitizer" "$t" "$scratch/corpus/$t" "fuzz/corpus/$t" -- \
    "${common[@]}" $(flags_for "$t") "$@"
}

summary() { # target, log file
  local runs secs cov ft corpus
  runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1/p' "$2" | tail -1)
  secs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\2/p' "$2" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$2" | tail -1 | awk '{print $2}')
  ft=$(grep -o 'ft: [0-9]*' "$2" | tail -1 | awk '{print $2}')
  corpus=$(find "$scratch/corpus/$1" -type f | wc -l)
  printf 'fuzz %-8s %s execs in %s s (%s execs/s), coverage %s edges / %s features, scratch corpus %s inputs, 0 crashes\n' \
    "$1" "${runs:-?}" "${secs:-?}" "$(( ${runs:-0} / (${secs:-1} > 0 ? ${secs:-1} : 1) ))" "${cov:-?}" "${ft:-?}" "$corpus"
}

case "$mode" in
  short)
    secs=${FUZZ_SECONDS:-20}
    sanitizer=${sanitizer:-address}
    build
    for t in "${targets_all[@]}"; do
      log="$scratch/$t-short.log"
      echo "== fuzz $t for ${secs} s (log: $log)"
      if ! run_target "$t" -max_total_time="$secs" >"$log" 2>&1; then
        tail -40 "$log" >&2
        echo "fuzz $t: FAILED (crash input saved under fuzz/artifacts/$t/)" >&2
        exit 1
      fi
      summary "$t" "$log"
    done
    ;;
  long)
    runs=${1:-10000000}
    [ $# -gt 0 ] && shift
    targets=("$@")
    [ ${#targets[@]} -gt 0 ] || targets=("${targets_all[@]}")
    sanitizer=${sanitizer:-none}
    build
    for t in "${targets[@]}"; do
      log="$scratch/$t-long.log"
      echo "== fuzz $t: $runs executions at nice 10 (log: $log)"
      start=$(date +%s)
      prefix=(nice -n 10)
      if ! run_target "$t" -runs="$runs" >"$log" 2>&1; then
        tail -40 "$log" >&2
        echo "fuzz $t: FAILED after $(( $(date +%s) - start )) s (crash input saved under fuzz/artifacts/$t/)" >&2
        exit 1
      fi
      summary "$t" "$log"
    done
    ;;
  replay)
    [ $# -gt 0 ] || { echo "usage: scripts/fuzz.sh replay FILE..." >&2; exit 2; }
    sanitizer=${sanitizer:-address}
    build
    for f in "$@"; do
      case "$f" in
        *artifact*) t=artifact ;;
        *record*) t=record ;;
        *profile*) t=profile ;;
        *) echo "$f: cannot tell the target from the path (needs 'artifact', 'record' or 'profile')" >&2; exit 2 ;;
      esac
      cargo +nightly fuzz run --sanitizer "$sanitizer" "$t" "$f" -- "${common[@]}" -runs=1
    done
    ;;
  seeds)
    sanitizer=${sanitizer:-none}
    build
    bin=fuzz/target/x86_64-unknown-linux-gnu/release
    for t in "${targets_all[@]}"; do
      out="$scratch/edges/$t"
      rm -rf "$out" && mkdir -p "$out"
      # Edges only (no hit counters): a small set. Committed seeds come first so they are kept
      # when they suffice.
      # shellcheck disable=SC2046
      "$bin/$t" -merge=1 -use_counters=0 $(flags_for "$t") "$out" "fuzz/corpus/$t" "$scratch/corpus/$t" \
        >"$scratch/seeds-$t.log" 2>&1
      rm -f "fuzz/corpus/$t"/cov-*
      for f in "$out"/*; do
        h=$(basename "$f")
        sha1sum "fuzz/corpus/$t"/seed-* | grep -q "^$h " || cp "$f" "fuzz/corpus/$t/cov-$h"
      done
      echo "fuzz $t: $(find "fuzz/corpus/$t" -name 'cov-*' | wc -l) coverage seeds kept"
    done
    ;;
  *)
    echo "usage: scripts/fuzz.sh [short | long [RUNS] [TARGET...] | replay FILE... | seeds]" >&2
    exit 2
    ;;
esac

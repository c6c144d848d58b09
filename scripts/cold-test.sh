#!/usr/bin/env bash
# Proves the test command on a cold cache, as a new machine would run it: a fresh clone of
# HEAD, an empty CARGO_HOME (registry, git checkouts and every `cargo install`ed tool), an
# empty npm cache and no build/ or target/. What stays warm: the Rust toolchains themselves
# (RUSTUP_HOME) and Debian packages, which a new machine of this kind has or setup.sh installs.
# Usage: bash scripts/cold-test.sh [WORKDIR]   (default: a new directory under /tmp; ~40 min
# on 2 cores). Prints the wall time at the end; exits with the test command's status.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-$(mktemp -d /tmp/churn-cold.XXXXXX)}"
mkdir -p "$work"
rm -rf "$work/clone" "$work/cargo-home" "$work/npm-cache"
git clone --quiet "$repo" "$work/clone"
mkdir -p "$work/cargo-home" "$work/npm-cache"
# The rustup proxies (cargo, rustc) live in the old CARGO_HOME's bin/; keep them reachable
# after the new one, so nothing installed there is found first.
rustup_bin="$(dirname "$(command -v cargo)")"
start=$(date +%s)
set +e
(
  cd "$work/clone"
  export CARGO_HOME="$work/cargo-home" npm_config_cache="$work/npm-cache"
  export PATH="$CARGO_HOME/bin:$(echo "$PATH" | tr ':' '\n' | grep -vx "$rustup_bin" | paste -sd:):$rustup_bin"
  unset CARGO_TARGET_DIR
  bash .ci/run
) 2>&1 | tee "$work/log.txt"
status=${PIPESTATUS[0]}
set -e
end=$(date +%s)
echo "cold-test: exit $status after $(( (end - start) / 60 )) min $(( (end - start) % 60 )) s (log: $work/log.txt)"
exit "$status"

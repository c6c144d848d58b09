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
# The rustup proxies (cargo, rustc, rustfmt, ...) live in the old CARGO_HOME's bin/ beside the
# tools `cargo install` put there. Only the proxies stay reachable: links to them in a folder of
# their own, and the old bin/ leaves PATH (else setup.sh would find the old tools installed).
old_bin="$(dirname "$(command -v cargo)")"
rm -rf "$work/rustup-bin" && mkdir -p "$work/rustup-bin"
for f in "$old_bin"/*; do
  if [ "$(basename "$f")" = rustup ] || [ "$(readlink "$f")" = rustup ]; then
    ln -s "$old_bin/rustup" "$work/rustup-bin/$(basename "$f")"
  fi
done
start=$(date +%s)
set +e
(
  cd "$work/clone"
  export CARGO_HOME="$work/cargo-home" npm_config_cache="$work/npm-cache"
  export PATH="$CARGO_HOME/bin:$work/rustup-bin:$(echo "$PATH" | tr ':' '\n' | grep -vx "$old_bin" | paste -sd:)"
  for tool in wasm-bindgen cargo-fuzz cargo-deny; do
    if command -v "$tool" >/dev/null; then echo "cold-test: $tool is still on PATH ($(command -v "$tool"))" >&2; exit 1; fi
  done
  unset CARGO_TARGET_DIR
  bash .ci/run
) 2>&1 | tee "$work/log.txt"
status=${PIPESTATUS[0]}
set -e
end=$(date +%s)
echo "cold-test: exit $status after $(( (end - start) / 60 )) min $(( (end - start) % 60 )) s (log: $work/log.txt)"
exit "$status"

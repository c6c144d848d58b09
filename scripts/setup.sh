#!/usr/bin/env bash
# Installs everything the build and the tests need, idempotently: each step checks first.
# Safe to run on a fresh machine (CI) and on a warm one (a few seconds).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

WASM_BINDGEN_VERSION=$(sed -n 's/^wasm-bindgen = { version = "=\([0-9.]*\)".*/\1/p' Cargo.toml)
: "${WASM_BINDGEN_VERSION:?could not read the pinned wasm-bindgen version from Cargo.toml}"

step() { printf '\033[1msetup:\033[0m %s\n' "$*" >&2; }

for component in rustfmt clippy; do
  if ! rustup component list --installed | grep -q "^$component"; then
    step "adding the $component component"
    rustup component add "$component"
  fi
done

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
  step "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 2 minutes)"
  # No --locked: its lockfile pins a webpki-roots release the registry here lacks (docs/TOOLCHAIN.md).
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

# Fuzzing (scripts/fuzz.sh) needs nightly and cargo-fuzz; the supply-chain check needs
# cargo-deny. Cold installs measured here (2 cores): cargo-fuzz 1.5 min, cargo-deny 6 min.
# Both lockfiles resolve against the registry here, so --locked works (unlike wasm-bindgen-cli).
CARGO_FUZZ_VERSION=0.13.2
CARGO_DENY_VERSION=0.20.2
if ! rustup toolchain list | grep -q '^nightly'; then
  step "adding the nightly toolchain (cargo fuzz builds with it)"
  rustup toolchain install nightly --profile minimal
fi
if [ "$(cargo fuzz --version 2>/dev/null | awk '{print $2}')" != "$CARGO_FUZZ_VERSION" ]; then
  step "installing cargo-fuzz $CARGO_FUZZ_VERSION (about 1.5 minutes)"
  cargo install --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi
if [ "$(cargo deny --version 2>/dev/null | awk '{print $2}')" != "$CARGO_DENY_VERSION" ]; then
  step "installing cargo-deny $CARGO_DENY_VERSION (about 6 minutes)"
  cargo install --locked cargo-deny --version "$CARGO_DENY_VERSION"
fi

need_apt=()
command -v chromium >/dev/null || need_apt+=(chromium)
command -v chromedriver >/dev/null || need_apt+=(chromium-driver)
command -v wrk >/dev/null || need_apt+=(wrk)
# Spark 4 (python/tests/test_spark.py, scripts/test-mlflow.sh) runs on Java 17 or later.
java_major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1 || true)
[ "${java_major:-0}" -ge 17 ] 2>/dev/null || need_apt+=(openjdk-17-jre-headless)
if [ ${#need_apt[@]} -gt 0 ]; then
  step "installing Debian packages: ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ -f www/package.json ]; then
  if [ ! -d www/node_modules ] || [ www/package-lock.json -nt www/node_modules/.package-lock.json ]; then
    step "installing npm dependencies (www/)"
    (cd www && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi
step "ok"

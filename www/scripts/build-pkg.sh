#!/usr/bin/env bash
# Builds the npm package into www/pkg/: the core compiled to wasm32, bound with wasm-bindgen
# (--target web: browsers, Workers via initSync({module}), Node via pkg/node.js), shrunk with
# binaryen's wasm-opt from npm (Debian's binaryen 108 produces broken output, see docs/TOOLCHAIN.md);
# the JS glue is minified with vite's minifier (names kept). Size goal (issue 3): .wasm + JS
# (glue and snippets) ≤ 85 KB gzip (60 KB until the output rules and the profile moved into the core,
# 76 KB until the package exposed the profile type: see bench/RESULTS.md); the last line says where it stands.
set -euo pipefail
www="$(cd "$(dirname "$0")/.." && pwd)"
root="$(cd "$www/.." && pwd)"
cd "$root"
# What the build needs (scripts/setup.sh installs all of it): Rust, the wasm32 target and
# wasm-bindgen-cli at the version Cargo.toml pins. Say so before anything else fails.
need() { echo "build-pkg: $1; run bash scripts/setup.sh (installs Rust's wasm32 target and wasm-bindgen-cli at the pinned version)" >&2; exit 1; }
command -v cargo >/dev/null || need "cargo not found (install Rust from https://rustup.rs first)"
if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  need "the wasm32-unknown-unknown target is not installed (or: rustup target add wasm32-unknown-unknown)"
fi
pinned=$(sed -n 's/^wasm-bindgen = { version = "=\([^"]*\)".*/\1/p' Cargo.toml)
command -v wasm-bindgen >/dev/null || need "wasm-bindgen not found (cargo install wasm-bindgen-cli --version $pinned)"
have=$(wasm-bindgen --version | awk '{print $2}')
[ "$have" = "$pinned" ] || need "wasm-bindgen $have is installed but Cargo.toml pins $pinned (cargo install wasm-bindgen-cli --version $pinned)"
cargo build --profile wasm -p inference-wasm --target wasm32-unknown-unknown
# Ask cargo where it put the build: CARGO_TARGET_DIR, build.target-dir in a config, or target/.
target_dir=$(cargo metadata --format-version 1 --no-deps | node -e \
  'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')
rm -rf "$www/pkg" && mkdir -p "$www/pkg"
wasm-bindgen --target web --out-dir "$www/pkg" --out-name churn \
  "$target_dir/wasm32-unknown-unknown/wasm/inference_wasm.wasm"
# --converge repeats -Oz until it stops shrinking: ~5 s more, ~0.4 KB less gzip.
"$www/node_modules/.bin/wasm-opt" -Oz --converge "$www/pkg/churn_bg.wasm" -o "$www/pkg/churn_bg.wasm"
(cd "$www" && node scripts/minify-glue.mjs pkg/churn.js pkg/snippets/*/*.js)
# The types: wasm-bindgen writes churn.d.ts from the bindings and the result types in
# inference-wasm/src/churn-types.d.ts. `[Symbol.dispose]` needs the esnext.disposable lib, which a
# strict build with an es2022 target lacks (TS2550): the reference brings it in.
{ echo '/// <reference lib="esnext.disposable" />'; cat "$www/pkg/churn.d.ts"; } >"$www/pkg/churn.d.ts.new"
mv "$www/pkg/churn.d.ts.new" "$www/pkg/churn.d.ts"
# What `import wasm from "churn-wasm/churn_bg.wasm"` gives a Worker (or a bundler with a wasm
# plugin): the compiled module, for initSync({ module }). (wasm-bindgen's own file here describes
# the raw exports, which no importer sees.)
cat > "$www/pkg/churn_bg.wasm.d.ts" <<'TS'
/** The core, compiled: pass it to `initSync({ module })` (Cloudflare Workers, bundlers with wasm support). */
declare const module: WebAssembly.Module;
export default module;
TS
cp "$www/scripts/pkg-README.md" "$www/pkg/README.md"
cp "$root/LICENSE-MIT" "$root/LICENSE-APACHE" "$www/pkg/"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
cat > "$www/pkg/package.json" <<JSON
{
  "name": "churn-wasm",
  "version": "$version",
  "description": "Score churn models trained by the churn CLI, in browsers, Node and Cloudflare Workers (bit-identical to native)",
  "license": "MIT OR Apache-2.0",
  "type": "module",
  "main": "./node.js",
  "types": "./churn.d.ts",
  "exports": {
    ".": { "types": "./churn.d.ts", "node": "./node.js", "default": "./churn.js" },
    "./web": { "types": "./churn.d.ts", "default": "./churn.js" },
    "./churn_bg.wasm": { "types": "./churn_bg.wasm.d.ts", "default": "./churn_bg.wasm" },
    "./package.json": "./package.json"
  },
  "files": ["churn.js", "churn.d.ts", "churn_bg.wasm", "churn_bg.wasm.d.ts", "node.js", "node.d.ts", "snippets/", "README.md", "LICENSE-MIT", "LICENSE-APACHE"],
  "sideEffects": ["./node.js"]
}
JSON
cat > "$www/pkg/node.js" <<'JS'
// Node entry: instantiates the wasm module synchronously from the file next to this one. The
// default export is the same `init` as in browsers; here it resolves at once (already initialised),
// so `import init, { ChurnModel } from "churn-wasm"; await init();` works everywhere.
import { readFileSync } from "node:fs";
import { initSync } from "./churn.js";

initSync({ module: readFileSync(new URL("./churn_bg.wasm", import.meta.url)) });

export * from "./churn.js";
export { default } from "./churn.js";
JS
cat > "$www/pkg/node.d.ts" <<'TS'
export * from "./churn.js";
export { default } from "./churn.js";
TS
raw=$(wc -c <"$www/pkg/churn_bg.wasm"); js=$(cat "$www/pkg/churn.js" "$www"/pkg/snippets/*/*.js | wc -c)
gz=$(cat "$www/pkg/churn_bg.wasm" "$www/pkg/churn.js" "$www"/pkg/snippets/*/*.js | gzip -9 | wc -c)
echo "pkg: churn_bg.wasm $raw B + JS glue (churn.js + snippets) $js B raw, $gz B gzip together (goal ≤ 85 KB)" >&2

#!/usr/bin/env bash
# Builds the npm package into www/pkg/: the core compiled to wasm32, bound with wasm-bindgen
# (--target web: browsers, Workers via initSync({module}), Node via pkg/node.js), shrunk with
# binaryen's wasm-opt from npm (Debian's binaryen 108 produces broken output, see docs/TOOLCHAIN.md);
# the JS glue is minified with vite's minifier (names kept). Size goal (issue 3): .wasm + JS
# (glue and snippets) ≤ 76 KB gzip (60 KB until the output rules and the profile moved into the core: see
# bench/RESULTS.md); the last line says where it stands.
set -euo pipefail
www="$(cd "$(dirname "$0")/.." && pwd)"
root="$(cd "$www/.." && pwd)"
cd "$root"
cargo build --profile wasm -p inference-wasm --target wasm32-unknown-unknown
# Ask cargo where it put the build: CARGO_TARGET_DIR, build.target-dir in a config, or target/.
target_dir=$(cargo metadata --format-version 1 --no-deps | node -e \
  'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')
rm -rf "$www/pkg" && mkdir -p "$www/pkg"
command -v wasm-bindgen >/dev/null || {
  echo "build-pkg: wasm-bindgen not found; run bash scripts/setup.sh (installs it at the pinned version)" >&2
  exit 1
}
wasm-bindgen --target web --out-dir "$www/pkg" --out-name churn \
  "$target_dir/wasm32-unknown-unknown/wasm/inference_wasm.wasm"
# --converge repeats -Oz until it stops shrinking: ~5 s more, ~0.4 KB less gzip.
"$www/node_modules/.bin/wasm-opt" -Oz --converge "$www/pkg/churn_bg.wasm" -o "$www/pkg/churn_bg.wasm"
(cd "$www" && node scripts/minify-glue.mjs pkg/churn.js pkg/snippets/*/*.js)
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
    "./churn_bg.wasm": "./churn_bg.wasm"
  },
  "files": ["churn.js", "churn.d.ts", "churn_bg.wasm", "churn_bg.wasm.d.ts", "node.js", "node.d.ts", "snippets/"],
  "sideEffects": ["./node.js"]
}
JSON
cat > "$www/pkg/node.js" <<'JS'
// Node entry: instantiates the wasm module synchronously from the file next to this one.
import { readFileSync } from "node:fs";
import { initSync } from "./churn.js";

initSync({ module: readFileSync(new URL("./churn_bg.wasm", import.meta.url)) });

export * from "./churn.js";
JS
cat > "$www/pkg/node.d.ts" <<'TS'
export * from "./churn.js";
TS
raw=$(wc -c <"$www/pkg/churn_bg.wasm"); js=$(cat "$www/pkg/churn.js" "$www"/pkg/snippets/*/*.js | wc -c)
gz=$(cat "$www/pkg/churn_bg.wasm" "$www/pkg/churn.js" "$www"/pkg/snippets/*/*.js | gzip -9 | wc -c)
echo "pkg: churn_bg.wasm $raw B + JS glue (churn.js + snippets) $js B raw, $gz B gzip together (goal ≤ 76 KB)" >&2

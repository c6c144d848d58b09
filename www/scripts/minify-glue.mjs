// Minifies the wasm-bindgen JS glue in place (vite's minifier, oxc): comments and whitespace go,
// names stay (stack traces through the glue stay readable).
// wasm-bindgen also imports the inline JS snippet once per `#[wasm_bindgen(inline_js)]` block and
// lists it under the same key that many times in the imports object; bundlers then warn about
// duplicate keys (esbuild in `wrangler dev`). The copies are folded into the first.
// The entry points that can run before the wasm is instantiated (constructors, static methods,
// free functions) first check that it is, so a forgotten `init()` is an Error that says so, not
// "Cannot read properties of undefined (reading '__wbindgen_malloc')".
import { readFileSync, writeFileSync } from "node:fs";
import { minifySync } from "vite";

const NOT_READY =
  "churn-wasm is not initialised: call `await init()` (the default export) or `initSync({ module })` first " +
  '(the "churn-wasm" entry in Node does it on import)';

for (const file of process.argv.slice(2)) {
  const code = readFileSync(file, "utf8");
  const glue = file.endsWith("/churn.js") ? guardEntryPoints(foldSnippetImports(code)) : foldSnippetImports(code);
  const { code: out, errors } = minifySync(file, glue, { compress: true, mangle: false });
  if (errors?.length) throw new Error(`${file}: ${errors.map((e) => e.message).join("; ")}`);
  // Deno and JSR find the types through this pragma; keep it.
  const pragma = code.match(/^\/\* @ts-self-types=.*\*\/\n/)?.[0] ?? "";
  writeFileSync(file, pragma + out);
}

function foldSnippetImports(code) {
  const seen = new Map(); // snippet path -> first import name
  const alias = new Map(); // later import name -> first
  code = code.replace(/^import \* as (import\d+) from "(\.\/snippets\/[^"]+)";?\n/gm, (line, name, path) => {
    if (!seen.has(path)) {
      seen.set(path, name);
      return line;
    }
    alias.set(name, seen.get(path));
    return "";
  });
  for (const [name, first] of alias) {
    const entry = new RegExp(`\\s*"\\./snippets/[^"]+": ${name},?`, "g");
    code = code.replace(entry, "");
    if (new RegExp(`\\b${name}\\b`).test(code)) throw new Error(`minify-glue: ${name} is still used after folding it into ${first}`);
  }
  return code;
}

function guardEntryPoints(code) {
  let guarded = 0;
  code = code.replace(/^(\s*)(constructor\(|static (?!__)\w+\(|export function \w+\()([^)]*\)\s*\{)$/gm, (line) => {
    guarded++;
    return `${line} if (wasm === undefined) throw new Error(${JSON.stringify(NOT_READY)});`;
  });
  // The constructor, ChurnModel.fromBytes and formatNumber at least: a new wasm-bindgen that
  // writes them otherwise must not drop the check silently.
  if (guarded < 3 || !/^let [^;]*\bwasm;$/m.test(code)) throw new Error(`minify-glue: found ${guarded} entry points to guard`);
  return code;
}

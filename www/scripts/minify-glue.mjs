// Minifies the wasm-bindgen JS glue in place (vite's minifier, oxc): comments and whitespace go,
// names stay (stack traces through the glue stay readable).
// wasm-bindgen also imports the inline JS snippet once per `#[wasm_bindgen(inline_js)]` block and
// lists it under the same key that many times in the imports object; bundlers then warn about
// duplicate keys (esbuild in `wrangler dev`). The copies are folded into the first.
import { readFileSync, writeFileSync } from "node:fs";
import { minifySync } from "vite";
for (const file of process.argv.slice(2)) {
  const code = readFileSync(file, "utf8");
  const { code: out, errors } = minifySync(file, foldSnippetImports(code), { compress: true, mangle: false });
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

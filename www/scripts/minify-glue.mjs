// Minifies the wasm-bindgen JS glue in place (vite's minifier, oxc): comments and whitespace go,
// names stay (stack traces through the glue stay readable).
import { readFileSync, writeFileSync } from "node:fs";
import { minifySync } from "vite";
for (const file of process.argv.slice(2)) {
  const code = readFileSync(file, "utf8");
  const { code: out, errors } = minifySync(file, code, { compress: true, mangle: false });
  if (errors?.length) throw new Error(`${file}: ${errors.map((e) => e.message).join("; ")}`);
  // Deno and JSR find the types through this pragma; keep it.
  const pragma = code.match(/^\/\* @ts-self-types=.*\*\/\n/)?.[0] ?? "";
  writeFileSync(file, pragma + out);
}

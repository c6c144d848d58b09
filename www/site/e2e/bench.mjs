// Benchmark of the demo page in headless Chromium (guards against regressions in page start-up
// and in batch scoring in the Web Worker). Run after `npm run build`, from www/:
//   node site/e2e/bench.mjs [runs=5]
// Reports medians over the runs of:
//   - time to first prediction: from navigation start until the form's first score is on screen
//     (wasm + bundled model fetched, instantiated, form built, first `explain`);
//   - time to score 100,000 rows: a CSV of telco_test.csv rows repeated (unique ids) picked in the
//     file input, until the table, counts, histogram and download are ready — with the target
//     column (adds the raw-probability pass and `evaluate`) and without it.
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { serve, browser, root, scratch } from "./harness.mjs";

const runs = Number(process.argv[2] ?? 5);
const ROWS = 100_000;
mkdirSync(scratch, { recursive: true });
const lines = readFileSync(join(root, "data", "telco_test.csv"), "utf8").trimEnd().split("\n");
const [head, ...body] = lines;
const big = [head];
for (let i = 0; i < ROWS; i++) {
  const l = body[i % body.length];
  big.push(`${l.slice(0, l.indexOf(","))}-${i}${l.slice(l.indexOf(","))}`);
}
const withTarget = join(scratch, "bench-100k.csv");
const noTarget = join(scratch, "bench-100k-no-target.csv");
writeFileSync(withTarget, big.join("\n") + "\n");
writeFileSync(noTarget, big.map((l) => l.slice(0, l.lastIndexOf(","))).join("\n") + "\n");

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const server = await serve();
const ctx = await browser({ profile: "bench-profile" });
const result = { first: [], target: [], targetWorker: [], plain: [], plainWorker: [] };
try {
  for (let r = 0; r < runs; r++) {
    const page = await ctx.newPage();
    await page.goto(server.url);
    await page.waitForSelector("body[data-first-prediction-ms]", { timeout: 30000 });
    result.first.push(Number(await page.getAttribute("body", "data-first-prediction-ms")));
    for (const [file, wall, inWorker] of [[withTarget, "target", "targetWorker"], [noTarget, "plain", "plainWorker"]]) {
      await page.evaluate(() => { delete document.body.dataset.batchState; });
      const t0 = Date.now();
      await page.setInputFiles("#csv-file", file);
      await page.waitForSelector("body[data-batch-state=done]", { timeout: 120000 });
      result[wall].push(Date.now() - t0);
      const scored = Number(await page.getAttribute("#batch-summary", "data-scored"));
      if (scored !== ROWS) throw new Error(`scored ${scored} rows, expected ${ROWS}`);
      result[inWorker].push(Number(await page.getAttribute("#batch-summary", "data-ms")));
    }
    await page.close();
  }
} finally {
  await ctx.close();
  await server.close();
}
const f = (xs) => `median ${median(xs).toFixed(0)} ms (runs: ${xs.map((x) => x.toFixed(0)).join(", ")})`;
console.log(`time to first prediction after navigation: ${f(result.first)}`);
console.log(`100,000 rows with target column (scores + evaluate), wall: ${f(result.target)}; in worker: ${f(result.targetWorker)}`);
console.log(`100,000 rows without target column, wall: ${f(result.plain)}; in worker: ${f(result.plainWorker)}`);

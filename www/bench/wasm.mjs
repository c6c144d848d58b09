// Wasm scoring speed in Node. Guards against: a slower JS↔wasm boundary (predict), a slower
// batch path (probabilities), slower model loading, and package growth.
// Usage: cd www && npm run build && node bench/wasm.mjs [MODEL.bin]   (default: a fresh default Telco model)
import { readFileSync, statSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { execFileSync } from "node:child_process";
import { ChurnModel, initSync } from "../pkg/churn.js";

const root = new URL("../../", import.meta.url);
let modelPath = process.argv[2];
if (!modelPath) {
  modelPath = new URL("build/bench/default.bin", root).pathname;
  execFileSync(new URL("target/release/churn", root).pathname,
    ["train", "--data", new URL("data/telco_train.csv", root).pathname, "--out", modelPath, "--test-fraction", "0", "--json"]);
}
const wasmBytes = readFileSync(new URL("../pkg/churn_bg.wasm", import.meta.url));
const modelBytes = new Uint8Array(readFileSync(modelPath));
const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// 1. Instantiate + load (fresh module each time).
const loads = [];
for (let i = 0; i < 21; i++) {
  const t = performance.now();
  initSync({ module: new WebAssembly.Module(wasmBytes) });
  const m = new ChurnModel(modelBytes);
  loads.push(performance.now() - t);
  m.free();
}
const model = new ChurnModel(modelBytes);

// Customers: the Telco rows as objects (strings, as from a CSV).
const lines = readFileSync(new URL("data/telco_churn.csv", root), "utf8").trimEnd().split("\n");
const header = lines[0].split(",");
const rows = lines.slice(1).map((l) => Object.fromEntries(l.split(",").map((v, i) => [header[i], v])));

// 2. Single-row predict, median of batches of 10,000 calls.
const per = [];
for (let rep = 0; rep < 15; rep++) {
  const t = performance.now();
  for (let i = 0; i < 10_000; i++) model.predict(rows[i % rows.length]);
  per.push(((performance.now() - t) * 1000) / 10_000);
}
// 3. Columnar batch.
const cols = {};
for (const f of model.schema().fields) {
  cols[f.name] = f.kind === "numeric"
    ? Float64Array.from(rows, (r) => (r[f.name].trim() === "" ? NaN : Number(r[f.name])))
    : rows.map((r) => r[f.name]);
}
const batch = [];
for (let rep = 0; rep < 15; rep++) {
  const t = performance.now();
  model.probabilities(cols);
  batch.push(rows.length / ((performance.now() - t) / 1000));
}
// 4. explain vs predict on the same row.
const ex = [];
for (let rep = 0; rep < 15; rep++) {
  const t = performance.now();
  for (let i = 0; i < 10_000; i++) model.explain(rows[i % rows.length], 5);
  ex.push(((performance.now() - t) * 1000) / 10_000);
}
const raw = statSync(new URL("../pkg/churn_bg.wasm", import.meta.url)).size;
const js = statSync(new URL("../pkg/churn.js", import.meta.url)).size;
const gz = gzipSync(Buffer.concat([wasmBytes, readFileSync(new URL("../pkg/churn.js", import.meta.url))]), { level: 9 }).length;
console.log(`model: ${modelPath} (${modelBytes.length} B, ${model.info().trees} trees, ${model.info().nodes} nodes)`);
console.log(`instantiate + load: ${median(loads).toFixed(2)} ms (median of ${loads.length})`);
console.log(`predict(obj): ${median(per).toFixed(2)} µs/row (median of ${per.length} × 10,000)`);
console.log(`explain(obj, 5): ${median(ex).toFixed(2)} µs/row (${(median(ex) / median(per)).toFixed(2)}× predict)`);
console.log(`probabilities(columns): ${Math.round(median(batch)).toLocaleString("en")} rows/s (median of ${batch.length} × ${rows.length} rows)`);
console.log(`package: wasm ${raw} B + js ${js} B raw, ${gz} B gzip`);

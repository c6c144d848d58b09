// Wasm scoring speed in Node, on the default Telco model and on a 300-tree depth-10 forest (the
// size of the forests the peers were measured with). Guards against: a slower JS↔wasm boundary
// (predict), a slower batch path (probabilities), slower model loading, and package growth.
// Usage: cd www && npm run build && node bench/wasm.mjs [MODEL.bin ...]
//   (default: worker/model.bin and a fresh 300-tree depth-10 model; needs target/release/churn)
import { readFileSync, statSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { execFileSync } from "node:child_process";

const root = new URL("../../", import.meta.url);
const pkg = new URL("../pkg/", import.meta.url);
let models = process.argv.slice(2);
if (models.length === 0) {
  const big = new URL("build/bench/rf300-depth10.bin", root).pathname;
  execFileSync(new URL("target/release/churn", root).pathname, [
    "train",
    "--no-registry",
    "--data",
    new URL("data/telco_train.csv", root).pathname,
    "--out",
    big,
    "--test-fraction",
    "0",
    "--trees",
    "300",
    "--max-depth",
    "10",
    "--min-samples-leaf",
    "1",
    "--json",
  ]);
  models = [new URL("www/worker/model.bin", root).pathname, big];
}
const wasmBytes = readFileSync(new URL("churn_bg.wasm", pkg));
const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// Customers: the Telco rows as objects, as from a CSV (every value a string) and as from JSON
// (numbers as numbers).
const lines = readFileSync(new URL("data/telco_churn.csv", root), "utf8").trimEnd().split("\n");
const header = lines[0].split(",");
const rows = lines.slice(1).map((l) => Object.fromEntries(l.split(",").map((v, i) => [header[i], v])));
const NUMERIC = ["SeniorCitizen", "tenure", "MonthlyCharges", "TotalCharges"];
const typed = rows.map((r) => {
  const o = { ...r };
  for (const k of NUMERIC) o[k] = r[k].trim() === "" ? null : Number(r[k]);
  return o;
});
const perRow = (f, data) => {
  const per = [];
  for (let rep = 0; rep < 15; rep++) {
    const t = performance.now();
    for (let i = 0; i < 10_000; i++) f(data[i % data.length]);
    per.push(((performance.now() - t) * 1000) / 10_000);
  }
  return median(per);
};

for (const modelPath of models) {
  const modelBytes = new Uint8Array(readFileSync(modelPath));
  // 1. Instantiate + load: a fresh copy of the JS glue each time (initSync keeps the first
  //    instance otherwise), compile, instantiate, decode and validate the model.
  const loads = [];
  for (let i = 0; i < 21; i++) {
    const t = performance.now();
    const fresh = await import(new URL(`churn.js?fresh=${modelPath.length}-${i}`, pkg).href);
    fresh.initSync({ module: new WebAssembly.Module(wasmBytes) });
    const m = new fresh.ChurnModel(modelBytes);
    loads.push(performance.now() - t);
    m.free();
  }
  const { ChurnModel } = await import(new URL("node.js", pkg).href);
  const model = new ChurnModel(modelBytes);
  const predictText = perRow((c) => model.predict(c), rows);
  const predictTyped = perRow((c) => model.predict(c), typed);
  const explain = perRow((c) => model.explain(c, 5), typed);
  const cols = {};
  for (const f of model.schema().fields) {
    cols[f.name] =
      f.kind === "numeric"
        ? Float64Array.from(rows, (r) => (r[f.name].trim() === "" ? NaN : Number(r[f.name])))
        : rows.map((r) => r[f.name]);
  }
  const batch = [];
  for (let rep = 0; rep < 15; rep++) {
    const t = performance.now();
    model.probabilities(cols);
    batch.push(rows.length / ((performance.now() - t) / 1000));
  }
  const info = model.info();
  console.log(`model: ${modelPath} (${modelBytes.length} B, ${info.trees} trees, ${info.nodes} nodes)`);
  console.log(`  instantiate + load: ${median(loads).toFixed(2)} ms (median of ${loads.length})`);
  console.log(
    `  predict(obj), numbers as numbers: ${predictTyped.toFixed(2)} µs/row; all values strings: ${predictText.toFixed(2)} µs/row (medians of 15 × 10,000)`,
  );
  console.log(`  explain(obj, 5): ${explain.toFixed(2)} µs/row (${(explain / predictTyped).toFixed(2)}× predict)`);
  console.log(
    `  probabilities(columns): ${Math.round(median(batch)).toLocaleString("en")} rows/s (median of ${batch.length} × ${rows.length} rows)`,
  );
  model.free();
}
const raw = statSync(new URL("churn_bg.wasm", pkg)).size;
const js = statSync(new URL("churn.js", pkg)).size;
const gz = gzipSync(Buffer.concat([wasmBytes, readFileSync(new URL("churn.js", pkg))]), { level: 9 }).length;
console.log(`package: wasm ${raw} B + js ${js} B raw, ${gz} B gzip`);

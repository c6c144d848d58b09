// Where a Worker request's CPU goes, step by step, measured in Node (same V8 as workerd) with the
// Worker's model: JSON.parse of the body, the core call, JSON.stringify of the answer, for one
// customer and for a 1,000-customer batch. Guards against the HTTP layer becoming the cost
// (it should stay small next to the core call) and tells the core owner what batch scoring costs.
//
//   cd www && npm run build && node worker/bench/request-cost.mjs      # median of RUNS (200)
// Also what counting into the monitoring profile adds to the core call (profile.predict and
// profile.predictBatch against the model's own).
import { readFileSync } from "node:fs";
import { ChurnModel } from "../../pkg/node.js";
import { cases } from "../../test/golden.mjs";

const RUNS = Number(process.env.RUNS ?? 200);
const model = new ChurnModel(readFileSync(new URL("../model.bin", import.meta.url)));
function time(name, f, runs = RUNS) {
  for (let i = 0; i < 20; i++) f();
  const xs = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    f();
    xs.push(performance.now() - t);
  }
  xs.sort((a, b) => a - b);
  const ms = xs[xs.length >> 1];
  console.log(`${name.padEnd(46)} ${ms < 0.1 ? (ms * 1000).toFixed(1) + " µs" : ms.toFixed(2) + " ms"}`);
  return ms;
}
const one = JSON.stringify(cases[1]);
const batchBody = JSON.stringify({ customers: cases.slice(0, 1000) });
const batch = JSON.parse(batchBody).customers;
console.log(`Node ${process.version}, median of ${RUNS}`);
time("1 customer: JSON.parse", () => JSON.parse(one), 5000);
const profile = model.newProfile();
// Alternating rounds: the model's call, then the same call counting into a profile (GET /monitoring).
const pairs = [];
for (let round = 0; round < 5; round++) {
  pairs.push([
    time("1 customer: predict", () => model.predict(JSON.parse(one)), 5000),
    time("1 customer: predict, counted (profile.predict)", () => profile.predict(JSON.parse(one)), 5000),
  ]);
}
time("1 customer: explain(top 3)", () => model.explain(JSON.parse(one), 3), 5000);
time("1,000 customers: JSON.parse (485 KB)", () => JSON.parse(batchBody));
const pb = time("1,000 customers: predictBatch", () => model.predictBatch(batch));
const pbc = time("1,000 customers: predictBatch, counted (profile.predictBatch)", () => profile.predictBatch(batch, true));
const ratios = pairs.map(([a, b]) => b / a).sort((a, b) => a - b);
console.log(
  `counting costs: 1 customer ${ratios[2].toFixed(3)}x (median of 5 alternating rounds), 1,000 customers ${(pbc / pb).toFixed(3)}x`,
);
const answer = model.predictBatch(batch);
time("1,000 customers: JSON.stringify of the answer", () => JSON.stringify(answer));
console.log(`predictBatch alone caps one core at ${Math.round((1000 / pb) * 1000).toLocaleString("en")} customers/s`);

// Isolate start-up of the Worker: compiling the wasm module, instantiating it (initSync) and
// loading the model file (new ChurnModel), as the Worker's module scope does once per isolate.
// Guards against a slower cold start (a bigger wasm, a slower model decoder).
//   1. In Node (the same V8 engine as workerd), each step timed on its own, median of RUNS fresh
//      instances (a fresh copy of churn.js each time, so initSync really instantiates).
//   2. In workerd (Miniflare), time from start to the first answered request for the churn Worker
//      and for an empty Worker, median of RUNS_WORKERD; the difference is what the churn Worker
//      adds to a cold start (bundle parse + wasm compile + instantiate + model load).
//
//   cd www && npm run build && node worker/bench/startup.mjs
import { readFileSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { BUILD, WWW, wranglerEnv } from "../dev-server.mjs";

const RUNS = Number(process.env.RUNS ?? 30);
const RUNS_WORKERD = Number(process.env.RUNS_WORKERD ?? 5);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const wasmBytes = readFileSync(path.join(WWW, "pkg", "churn_bg.wasm"));
const modelBytes = new Uint8Array(readFileSync(path.join(WWW, "worker", "model.bin")));
const compile = [];
const instantiate = [];
const load = [];
for (let i = 0; i < RUNS; i++) {
  let t = performance.now();
  const module = new WebAssembly.Module(wasmBytes);
  compile.push(performance.now() - t);
  const { initSync, ChurnModel } = await import(`${new URL("../../pkg/churn.js", import.meta.url).href}?run=${i}`);
  t = performance.now();
  initSync({ module });
  instantiate.push(performance.now() - t);
  t = performance.now();
  const m = new ChurnModel(modelBytes);
  load.push(performance.now() - t);
  m.free();
}
console.log(
  `Node ${process.version}, median of ${RUNS}: wasm compile ${median(compile).toFixed(2)} ms (${wasmBytes.length} B), instantiate ${median(instantiate).toFixed(2)} ms, model load ${median(load).toFixed(2)} ms (${modelBytes.length} B); instantiate + load ${(median(instantiate) + median(load)).toFixed(2)} ms`,
);

// workerd cold starts through Miniflare.
const env = wranglerEnv();
for (const k of ["XDG_CONFIG_HOME", "TMPDIR"]) process.env[k] = env[k];
const { Miniflare } = await import("miniflare");
const dir = path.join(BUILD, "bench");
mkdirSync(dir, { recursive: true });
const empty = path.join(dir, "empty-startup.js");
writeFileSync(empty, "export default { fetch() { return new Response('{}'); } };\n");
async function coldStart(scriptPath) {
  const t = performance.now();
  const mf = new Miniflare({
    modules: true,
    scriptPath,
    modulesRoot: "/",
    modulesRules: [
      { type: "ESModule", include: ["**/*.js"] },
      { type: "CompiledWasm", include: ["**/*.wasm"] },
      { type: "Data", include: ["**/*.bin"] },
    ],
    compatibilityDate: "2026-04-01",
    cf: false,
  });
  try {
    const r = await mf.dispatchFetch("http://localhost/health");
    await r.arrayBuffer();
    return performance.now() - t;
  } finally {
    await mf.dispose();
  }
}
const churnTimes = [];
const emptyTimes = [];
for (let i = 0; i < RUNS_WORKERD; i++) {
  emptyTimes.push(await coldStart(empty));
  churnTimes.push(await coldStart(path.join(WWW, "worker", "src", "index.js")));
}
console.log(
  `workerd via Miniflare, median of ${RUNS_WORKERD}: start to first answer ${median(churnTimes).toFixed(0)} ms for the churn Worker, ${median(emptyTimes).toFixed(0)} ms for an empty Worker: +${(median(churnTimes) - median(emptyTimes)).toFixed(0)} ms`,
);

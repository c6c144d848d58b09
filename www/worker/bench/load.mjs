// Load test of the Worker under `wrangler dev --local` on 127.0.0.1 with wrk (issue 4's targets).
// Guards against regressions in the Worker's request path (body reading, JSON, the wasm call):
// /predict req/s and p50/p99 at 1, 16 and 64 connections (goal >= 2,300 req/s, p99 <= 20 ms at
// 16, 0 errors at 64) and /batch_predict with 1,000 customers per request (goal >= 100,000
// customers/s). Every run is bounded (-d, default 10 s); the figure is the median of REPS runs.
//
//   cd www && npm run build && npm run worker:bench          # REPS=3 DURATION=10s by default
//   REPS=1 DURATION=5s npm run worker:bench                    # quicker look
//
// Four servers, one after another: the Worker under `wrangler dev --local` (the documented local
// run; requests pass wrangler's dev proxy), its bundle on a bare `workerd serve` (self-hosted,
// worker/selfhost.mjs), the same Worker on workerd through Miniflare's Node API, and an empty
// Worker under `wrangler dev` (the ceiling of the dev stack on this machine). TARGETS=0,1 picks.
// wrk and workerd share the machine's cores, so the figures are for both on the same box.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { startWorker, startMiniflare, freePort, BUILD } from "../dev-server.mjs";
import { buildSelfHosted, WORKERD } from "../selfhost.mjs";
import { cases } from "../../test/golden.mjs";

const loadBefore = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
// Request logging in wrangler dev goes through Node for every request: off, as in production.
process.env.WRANGLER_LOG_LEVEL ??= "error";
const REPS = Number(process.env.REPS ?? 3);
const DURATION = process.env.DURATION ?? "10s";
const dir = path.join(BUILD, "bench");
mkdirSync(dir, { recursive: true });

/** A wrk Lua script that POSTs `body` as JSON. */
function luaFor(name, body) {
  const file = path.join(dir, `${name}.lua`);
  const text = JSON.stringify(body);
  if (text.includes("]==]")) throw new Error("body would end the Lua long string");
  writeFileSync(file, `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = [==[${text}]==]\n`);
  return { file, bytes: Buffer.byteLength(text) };
}

/** Parses wrk --latency output into numbers (ms, req/s, error counts). */
function parseWrk(out) {
  const ms = (v, unit) => Number(v) * { us: 0.001, ms: 1, s: 1000 }[unit];
  const pct = (p) => {
    const m = new RegExp(`^\\s+${p}%\\s+([0-9.]+)(us|ms|s)\\s*$`, "m").exec(out);
    return m ? ms(m[1], m[2]) : NaN;
  };
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  return {
    rps: Number(/Requests\/sec:\s+([0-9.]+)/.exec(out)?.[1]),
    requests: Number(/(\d+) requests in/.exec(out)?.[1]),
    p50: pct(50),
    p99: pct(99),
    errors: (sock ? sock.slice(1).reduce((s, n) => s + Number(n), 0) : 0) + (non2xx ? Number(non2xx[1]) : 0),
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    timeouts: sock ? Number(sock[4]) : 0,
  };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function runWrk(url, lua, connections) {
  const threads = Math.min(2, connections);
  const args = ["-t", String(threads), "-c", String(connections), "-d", DURATION, "--timeout", "5s", "--latency", "-s", lua, url];
  const r = spawnSync("wrk", args, { encoding: "utf8", timeout: 120_000 });
  if (r.status !== 0) throw new Error(`wrk ${args.join(" ")} failed: ${r.stderr || r.error}`);
  return parseWrk(r.stdout);
}

const one = luaFor("predict", cases[1]);
const batch = luaFor("batch1000", { customers: cases.slice(0, 1000) });
const predictPlan = [
  ["/predict", one, 1, 1],
  ["/predict", one, 16, 1],
  ["/predict", one, 64, 1],
];
const batchPlan = [
  ["/batch_predict (1,000 customers)", batch, 1, 1000],
  ["/batch_predict (1,000 customers)", batch, 4, 1000],
];
// An empty Worker (reads the body, answers a small JSON) under the same `wrangler dev`: the
// ceiling of the local dev stack itself on this machine, to read the churn figures against.
const emptyDir = path.join(dir, "empty-worker");
mkdirSync(emptyDir, { recursive: true });
writeFileSync(path.join(emptyDir, "index.js"), 'export default { async fetch(r) { const b = await r.text(); return Response.json({ bytes: b.length }); } };\n');
writeFileSync(path.join(emptyDir, "wrangler.toml"), 'name = "empty"\nmain = "index.js"\ncompatibility_date = "2026-04-01"\n');
// The churn Worker bundle on a bare `workerd serve` (self-hosted, no dev tooling in the path).
async function startBare() {
  const port = await freePort();
  const child = spawn(WORKERD, ["serve", await buildSelfHosted({ port })], { detached: true, stdio: "ignore" });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(url + "/health")).ok) break;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return { url, stop: async () => process.kill(-child.pid, "SIGKILL") };
}
const targets = [
  ["wrangler dev --local", () => startWorker(), [...predictPlan, ...batchPlan]],
  ["bare workerd (selfhost.mjs)", startBare, [...predictPlan, ...batchPlan]],
  ["workerd via Miniflare (no dev proxy)", () => startMiniflare(), [...predictPlan, ...batchPlan]],
  ["empty Worker, wrangler dev --local (ceiling)", () => startWorker({ config: path.join(emptyDir, "wrangler.toml") }), predictPlan.slice(1)],
];
const only = process.env.TARGETS; // e.g. TARGETS=0 for wrangler dev only
const rows = [];
for (const [ti, [target, start, plan]] of targets.entries()) {
  if (only !== undefined && !only.split(",").includes(String(ti))) continue;
  const w = await start();
  try {
  // Warm up the isolate (JIT) before measuring.
  runWrk(`${w.url}/predict`, one.file, 4);
  for (const [name, lua, c, perRequest] of plan) {
    const url = w.url + name.split(" ")[0];
    const runs = Array.from({ length: REPS }, () => runWrk(url, lua.file, c));
    const row = {
      target,
      endpoint: name,
      connections: c,
      body_bytes: lua.bytes,
      req_per_s: Math.round(median(runs.map((r) => r.rps))),
      customers_per_s: Math.round(median(runs.map((r) => r.rps)) * perRequest),
      p50_ms: median(runs.map((r) => r.p50)),
      p99_ms: median(runs.map((r) => r.p99)),
      errors: runs.reduce((s, r) => s + r.errors, 0),
      non2xx: runs.reduce((s, r) => s + r.non2xx, 0),
      timeouts: runs.reduce((s, r) => s + r.timeouts, 0),
      requests: runs.reduce((s, r) => s + r.requests, 0),
    };
    rows.push(row);
    console.error(JSON.stringify(row));
  }
  } finally {
    await w.stop();
  }
}

console.log(`\nwrk on 127.0.0.1, ${DURATION} per run, median of ${REPS} run(s); load average before: ${loadBefore}\n`);
console.log("| server | endpoint | connections | req/s | customers/s | p50 | p99 | errors (all runs) |");
console.log("|---|---|---:|---:|---:|---:|---:|---:|");
for (const r of rows) {
  console.log(`| ${r.target} | ${r.endpoint} | ${r.connections} | ${r.req_per_s.toLocaleString("en")} | ${r.customers_per_s.toLocaleString("en")} | ${r.p50_ms.toFixed(2)} ms | ${r.p99_ms.toFixed(2)} ms | ${r.errors} of ${r.requests.toLocaleString("en")}${r.errors ? ` (${r.non2xx} non-2xx, ${r.timeouts} timeouts > 5 s)` : ""} |`);
}
if (rows.some((r) => r.errors > 0)) {
  console.error("errors seen: see the table");
  process.exitCode = 1;
}

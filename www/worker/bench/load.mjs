// Load test of the Worker under `wrangler dev --local` on 127.0.0.1 with wrk (issue 4's targets).
// Guards against regressions in the Worker's request path (body reading, JSON, the wasm call):
// /predict req/s and p50/p99 at 1, 16 and 64 connections (goal >= 2,300 req/s, p99 <= 20 ms at
// 16, 0 errors at 64) and /batch_predict with 1,000 customers per request (goal >= 100,000
// customers/s). Every run is bounded (-d, default 10 s); the figure is the median of REPS runs.
//
//   cd www && npm run build && npm run worker:bench          # REPS=3 DURATION=10s by default
//   REPS=1 DURATION=5s TARGETS=1,3 npm run worker:bench       # quicker look, some servers only
//
// Four servers, one after another: the Worker under `wrangler dev --local` (the documented local
// run; requests pass wrangler's dev proxy), its bundle on a bare `workerd serve` (self-hosted,
// worker/selfhost.mjs), the same Worker on workerd through Miniflare's Node API, and an empty
// Worker under `wrangler dev` and on bare workerd (what the dev stack and the runtime cost with
// no Worker code at all). TARGETS=0,1 picks.
// wrk and the servers share the machine's cores. Besides wrk's figures, each row gives the CPU
// time every server process spent per request (utime+stime from /proc over the run, divided by
// the requests wrk completed): that says where a request's time goes whatever else the machine
// is doing. Notes on reading wrk's latency: wrk 4 "corrects" its latency histogram for
// coordinated omission (src/wrk.c calls stats_correct with the mean interval per connection), so
// a pause of the server of S ms adds samples spread over 0..S ms as if requests had kept arriving
// at the mean rate: its p99 is mostly the share of time the server was paused (GC, the scheduler),
// not what 99 % of the answered requests took. worker/bench/stalls.mjs measures those pauses.
// Batch bodies: the golden cases as read from CSV (every cell a string, numbers too) and the same
// customers with the numeric fields as JSON numbers (as in docs/WORKER.md's curl example and as a
// client with a typed model sends them).
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { startWorker, startMiniflare, BUILD } from "../dev-server.mjs";
import { buildSelfHosted } from "../selfhost.mjs";
import { startBare, emptyBareConfig, EMPTY_WORKER } from "./bare.mjs";
import { cases } from "../../test/golden.mjs";

const loadBefore = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
// At wrangler's default log level every request is logged through Node (a loopback round trip
// per request): `--log-level warn`, as `npm run worker:dev` uses.
process.env.WRANGLER_LOG_LEVEL ??= "warn";
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
  const threads = Math.min(Number(process.env.WRK_THREADS ?? 2), connections);
  const args = ["-t", String(threads), "-c", String(connections), "-d", DURATION, "--timeout", "5s", "--latency", "-s", lua, url];
  const r = spawnSync("wrk", args, { encoding: "utf8", timeout: 120_000 });
  if (r.status !== 0) throw new Error(`wrk ${args.join(" ")} failed: ${r.stderr || r.error}`);
  return parseWrk(r.stdout);
}

const one = luaFor("predict", cases[1]);
const batch = luaFor("batch1000", { customers: cases.slice(0, 1000) });
// The same 1,000 customers with the model's numeric fields as JSON numbers (a blank stays "").
const numeric = ["SeniorCitizen", "tenure", "MonthlyCharges", "TotalCharges"];
const typed = cases.slice(0, 1000).map((c) => {
  const o = { ...c };
  for (const k of numeric) if (o[k].trim() !== "") o[k] = Number(o[k]);
  return o;
});
const batchTyped = luaFor("batch1000-numbers", { customers: typed });
const predictPlan = [
  ["/predict", one, 1, 1],
  ["/predict", one, 16, 1],
  ["/predict", one, 64, 1],
];
const batchPlan = [
  ["/batch_predict (1,000 customers, strings)", batch, 1, 1000],
  ["/batch_predict (1,000 customers, numbers)", batchTyped, 1, 1000],
  ["/batch_predict (1,000 customers, numbers)", batchTyped, 4, 1000],
];
// An empty Worker (reads the body, answers a small JSON) under the same `wrangler dev`: the
// ceiling of the local dev stack itself on this machine, to read the churn figures against.
const emptyDir = path.join(dir, "empty-worker");
mkdirSync(emptyDir, { recursive: true });
writeFileSync(path.join(emptyDir, "index.js"), EMPTY_WORKER);
writeFileSync(path.join(emptyDir, "wrangler.toml"), 'name = "empty"\nmain = "index.js"\ncompatibility_date = "2026-04-01"\n');
/** The processes of `wrangler dev`: its Node process, the dev proxy's workerd, the Worker's workerd. */
function devPids(w) {
  const port = new URL(w.url).port;
  return w.groupPids().flatMap(([pid, comm, cmdline]) => {
    if (comm === "workerd")
      return [[cmdline.includes(`--socket-addr=entry=127.0.0.1:${port}`) ? "workerd (dev proxy)" : "workerd (Worker)", pid]];
    if (cmdline.includes("wrangler-dist/cli.js")) return [["node (wrangler)", pid]];
    return [];
  });
}
/** workerd children of this process (Miniflare's). */
function childWorkerd() {
  return readdirSync("/proc")
    .filter((p) => /^[0-9]+$/.test(p))
    .flatMap((p) => {
      try {
        const stat = readFileSync(`/proc/${p}/stat`, "utf8");
        const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        return stat.includes("(workerd)") && Number(f[1]) === process.pid ? [["workerd", Number(p)]] : [];
      } catch {
        return [];
      }
    });
}
/** utime+stime of a process in ms (0 when it is gone). */
function cpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(f[11]) + Number(f[12])) * 1000) / TICKS;
  } catch {
    return 0;
  }
}
const TICKS = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;

const targets = [
  [
    "wrangler dev --local",
    async () => {
      const w = await startWorker();
      return { ...w, pids: () => devPids(w) };
    },
    [...predictPlan, ...batchPlan],
  ],
  ["bare workerd (selfhost.mjs)", () => startBare((port) => buildSelfHosted({ port })), [...predictPlan, ...batchPlan]],
  [
    "workerd via Miniflare (no dev proxy)",
    async () => ({ ...(await startMiniflare()), pids: childWorkerd }),
    [...predictPlan, ...batchPlan],
  ],
  [
    "empty Worker, wrangler dev --local (ceiling)",
    async () => {
      const w = await startWorker({ config: path.join(emptyDir, "wrangler.toml") });
      return { ...w, pids: () => devPids(w) };
    },
    predictPlan.slice(1),
  ],
  ["empty Worker, bare workerd", () => startBare((port) => emptyBareConfig(path.join(dir, "empty-bare"), port)), predictPlan.slice(1)],
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
      const procs = w.pids();
      const runs = Array.from({ length: REPS }, () => {
        const before = procs.map(([, pid]) => cpuMs(pid));
        const r = runWrk(url, lua.file, c);
        r.cpu = procs.map(([, pid], i) => (cpuMs(pid) - before[i]) / r.requests);
        return r;
      });
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
        // CPU ms per request of each server process, median over the runs.
        cpu_ms: procs.map(([label], i) => [label, median(runs.map((r) => r.cpu[i]))]),
      };
      rows.push(row);
      console.error(JSON.stringify(row));
    }
  } finally {
    await w.stop();
  }
}

const loadAfter = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
console.log(`\nwrk on 127.0.0.1, ${DURATION} per run, median of ${REPS} run(s); load average before: ${loadBefore}, after: ${loadAfter}\n`);
const cpuText = (r) => {
  const total = r.cpu_ms.reduce((s, [, ms]) => s + ms, 0);
  const fmt = (ms) => (ms >= 10 ? ms.toFixed(1) : ms >= 1 ? ms.toFixed(2) : ms.toFixed(3));
  return r.cpu_ms.length > 1 ? `${fmt(total)} (${r.cpu_ms.map(([l, ms]) => `${l} ${fmt(ms)}`).join(", ")})` : fmt(total);
};
console.log("| server | endpoint | connections | req/s | customers/s | p50 | p99 (wrk) | server CPU ms per request | errors (all runs) |");
console.log("|---|---|---:|---:|---:|---:|---:|---|---:|");
for (const r of rows) {
  console.log(
    `| ${r.target} | ${r.endpoint} | ${r.connections} | ${r.req_per_s.toLocaleString("en")} | ${r.customers_per_s.toLocaleString("en")} | ${r.p50_ms.toFixed(2)} ms | ${r.p99_ms.toFixed(2)} ms | ${cpuText(r)} | ${r.errors} of ${r.requests.toLocaleString("en")}${r.errors ? ` (${r.non2xx} non-2xx, ${r.timeouts} timeouts > 5 s)` : ""} |`,
  );
}
if (rows.some((r) => r.errors > 0)) {
  console.error("errors seen: see the table");
  process.exitCode = 1;
}

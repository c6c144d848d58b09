// Pauses of the server, measured without wrk's latency correction: where /predict's p99 tail
// comes from. Keep-alive HTTP/1.1 clients on raw sockets (CONNS of them, one request in flight
// each) time every request with a monotonic clock for DURATION seconds, against the churn Worker
// and an empty Worker, both on a bare `workerd serve` (no dev proxy). Prints per server: requests,
// p50/p90/p99/max of what the answered requests took, and the server pauses (a request that took
// longer than PAUSE_MS, default 20): how many, how long, how often and their share of the run.
// A pause that the empty Worker shows as well is the runtime's, not the Worker's code.
//
//   cd www && npm run build && node worker/bench/stalls.mjs           # CONNS=1,16 DURATION=10
//
// `perf record -g -p <workerd pid>` during such a run shows what fills the pauses (see docs/WORKER.md; figures in bench/RESULTS.md).
import net from "node:net";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { BUILD } from "../dev-server.mjs";
import { buildSelfHosted } from "../selfhost.mjs";
import { startBare, emptyBareConfig } from "./bare.mjs";
import { cases } from "../../test/golden.mjs";

const DURATION = Number(process.env.DURATION ?? 10);
const CONNS = (process.env.CONNS ?? "1,16").split(",").map(Number);
const PAUSE_MS = Number(process.env.PAUSE_MS ?? 20);
const dir = path.join(BUILD, "bench", "stalls");
mkdirSync(dir, { recursive: true });

/** `conns` sequential keep-alive clients for `seconds`; resolves to [{start, ms}] per request. */
async function load(port, conns, seconds) {
  const body = Buffer.from(JSON.stringify(cases[1]));
  const request = Buffer.concat([
    Buffer.from(`POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`),
    body,
  ]);
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  const samples = [];
  const one = () =>
    new Promise((resolve, reject) => {
      const s = net.connect(port, "127.0.0.1");
      s.setNoDelay(true);
      let buf = Buffer.alloc(0);
      let sent = 0;
      const send = () => {
        if (performance.now() > end) {
          s.destroy();
          return resolve();
        }
        sent = performance.now();
        s.write(request);
      };
      s.on("connect", send);
      s.on("error", reject);
      s.on("data", (d) => {
        buf = Buffer.concat([buf, d]);
        for (;;) {
          const h = buf.indexOf("\r\n\r\n");
          if (h < 0) return;
          const m = /content-length: *(\d+)/i.exec(buf.subarray(0, h).toString("latin1"));
          if (!m) return reject(new Error("response without Content-Length"));
          const total = h + 4 + Number(m[1]);
          if (buf.length < total) return;
          if (!buf.subarray(0, 12).toString("latin1").startsWith("HTTP/1.1 200")) return reject(new Error(buf.subarray(0, 200).toString()));
          buf = buf.subarray(total);
          samples.push({ start: sent - t0, ms: performance.now() - sent });
          send();
        }
      });
    });
  await Promise.all(Array.from({ length: conns }, one));
  return samples;
}

function summary(samples, seconds) {
  const ms = samples.map((s) => s.ms).sort((a, b) => a - b);
  const q = (p) => ms[Math.min(ms.length - 1, Math.floor((p / 100) * ms.length))];
  // A pause: requests whose wait overlaps; merge them into intervals of server time lost.
  const slow = samples
    .filter((s) => s.ms > PAUSE_MS)
    .map((s) => [s.start, s.start + s.ms])
    .sort((a, b) => a[0] - b[0]);
  const pauses = [];
  for (const [a, b] of slow) {
    const last = pauses.at(-1);
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else pauses.push([a, b]);
  }
  const lengths = pauses.map(([a, b]) => b - a).sort((a, b) => a - b);
  const lost = lengths.reduce((s, x) => s + x, 0);
  const gaps = pauses
    .slice(1)
    .map((p, i) => p[0] - pauses[i][0])
    .sort((a, b) => a - b);
  return {
    requests: ms.length,
    req_per_s: Math.round(ms.length / seconds),
    p50: q(50),
    p90: q(90),
    p99: q(99),
    max: ms.at(-1),
    pauses: pauses.length,
    pause_median_ms: lengths.length ? lengths[lengths.length >> 1] : 0,
    pause_max_ms: lengths.at(-1) ?? 0,
    every_s: gaps.length ? gaps[gaps.length >> 1] / 1000 : null,
    share: lost / (seconds * 1000),
  };
}

const servers = [
  ["churn Worker, bare workerd", (port) => buildSelfHosted({ port, outDir: path.join(dir, "churn") })],
  ["empty Worker, bare workerd", (port) => emptyBareConfig(path.join(dir, "empty"), port)],
];
const rows = [];
for (const [name, config] of servers) {
  const { port, stop } = await startBare(config);
  try {
    await load(port, 4, 2); // warm-up (JIT)
    for (const c of CONNS) {
      const r = summary(await load(port, c, DURATION), DURATION);
      rows.push({ name, c, ...r });
      console.error(JSON.stringify({ name, c, ...r }));
    }
  } finally {
    await stop();
  }
}
const f = (x) => (x >= 10 ? x.toFixed(0) : x.toFixed(2));
console.log(
  `\n${DURATION} s per run, one request in flight per connection, every request timed (no correction); pause = a request over ${PAUSE_MS} ms\n`,
);
console.log(
  "| server | connections | req/s | p50 | p90 | p99 | max | pauses > " +
    PAUSE_MS +
    " ms | median / longest pause | one every | time paused |",
);
console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
for (const r of rows) {
  console.log(
    `| ${r.name} | ${r.c} | ${r.req_per_s.toLocaleString("en")} | ${f(r.p50)} ms | ${f(r.p90)} ms | ${f(r.p99)} ms | ${f(r.max)} ms | ${r.pauses} | ${f(r.pause_median_ms)} / ${f(r.pause_max_ms)} ms | ${r.every_s === null ? "—" : r.every_s.toFixed(2) + " s"} | ${(100 * r.share).toFixed(1)} % |`,
  );
}

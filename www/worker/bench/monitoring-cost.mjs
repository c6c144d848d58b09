// What the Worker's monitoring (the profile every isolate keeps, docs/WORKER.md#monitoring)
// costs per request, on bare `workerd serve` (the self-hosted bundle of worker/selfhost.mjs):
// the same bundle with MONITORING "on" (the default) and "off", alternately, ROUNDS times each;
// for each run wrk POSTs one customer to /predict (or a 1,000-customer batch) for DURATION on
// CONNECTIONS connections, and the figure is workerd's CPU time (utime+stime from /proc) per
// request. Reports the medians and their ratio (target: on ≤ 1.10 × off). 127.0.0.1 only; every
// run is bounded by wrk's -d.
//
//   cd www && npm run build && node worker/bench/monitoring-cost.mjs     # ROUNDS=5 DURATION=8s CONNECTIONS=8
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { BUILD } from "../dev-server.mjs";
import { buildSelfHosted } from "../selfhost.mjs";
import { startBare } from "./bare.mjs";
import { cases } from "../../test/golden.mjs";

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const DURATION = process.env.DURATION ?? "8s";
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 8);
const dir = path.join(BUILD, "monitoring-cost");
mkdirSync(dir, { recursive: true });
const TICKS = 100; // USER_HZ on Linux

function lua(name, body) {
  const file = path.join(dir, `${name}.lua`);
  writeFileSync(
    file,
    `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = [==[${JSON.stringify(body)}]==]\n`,
  );
  return file;
}

function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(f[11]) + Number(f[12])) * 1000) / TICKS;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

// One bundle, two configs: the second adds the binding MONITORING = "off" (the first keeps
// wrangler.toml's "on").
const config = await buildSelfHosted({ outDir: path.join(dir, "bundle"), port: 1 });
const base = readFileSync(config, "utf8");
const variant = (mode) => (port) => {
  const text = base
    .replace(/address = "127\.0\.0\.1:1"/, `address = "127.0.0.1:${port}"`)
    .replace(/\(name = "MONITORING", text = "on"\)/, `(name = "MONITORING", text = "${mode}")`);
  if (!text.includes(`(name = "MONITORING", text = "${mode}")`)) throw new Error("no MONITORING binding in the generated config");
  const file = path.join(path.dirname(config), `config-${mode}.capnp`);
  writeFileSync(file, text);
  return file;
};

const plans = [
  ["/predict, 1 customer", lua("one", cases[1]), 1],
  ["/predict?explain=true&top=3, 1 customer", lua("one", cases[1]), 1],
  ["/batch_predict, 1,000 customers", lua("batch", { customers: cases.slice(0, 1000) }), 1000],
];
const results = {};
for (let round = 0; round < ROUNDS; round++) {
  for (const mode of round % 2 === 0 ? ["on", "off"] : ["off", "on"]) {
    const server = await startBare(variant(mode));
    try {
      const pid = server.pids()[0][1];
      for (const [name, script, customers] of plans) {
        // Warm-up (JIT, first allocation of the profile), then the measured run.
        spawnSync("wrk", ["-t", "1", "-c", "2", "-d", "1s", "-s", script, `${server.url}/${name.split(",")[0].slice(1)}`], {
          timeout: 30_000,
        });
        const before = cpuMs(pid);
        const r = spawnSync(
          "wrk",
          ["-t", "2", "-c", String(CONNECTIONS), "-d", DURATION, "-s", script, `${server.url}/${name.split(",")[0].slice(1)}`],
          { encoding: "utf8", timeout: 120_000 },
        );
        const cpu = cpuMs(pid) - before;
        const requests = Number(/(\d+) requests in/.exec(r.stdout)?.[1]);
        const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(r.stdout)?.[1] ?? 0);
        if (!(requests > 0) || non2xx > 0) throw new Error(`wrk: ${r.stdout}${r.stderr}`);
        const key = `${name}|${mode}`;
        results[key] ??= [];
        results[key].push({ usPerRequest: (1000 * cpu) / requests, usPerCustomer: (1000 * cpu) / requests / customers, requests });
      }
      if (mode === "on") {
        const m = await (await fetch(`${server.url}/monitoring`)).json();
        if (!(m.rows > 0)) throw new Error(`monitoring on, but the profile counted nothing: ${JSON.stringify(m).slice(0, 200)}`);
      } else if ((await fetch(`${server.url}/monitoring`)).status !== 501) throw new Error("monitoring off, but /monitoring answered");
    } finally {
      await server.stop();
    }
  }
}

console.log(
  `workerd CPU per request, bare workerd, ${CONNECTIONS} connections, ${DURATION} per run, ${ROUNDS} runs each (median; load before ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")})`,
);
for (const [name, , customers] of plans) {
  const on = results[`${name}|on`],
    off = results[`${name}|off`];
  const mOn = median(on.map((x) => x.usPerRequest)),
    mOff = median(off.map((x) => x.usPerRequest));
  const per = customers > 1 ? ` (${(mOn / customers).toFixed(2)} vs ${(mOff / customers).toFixed(2)} µs a customer)` : "";
  console.log(
    `${name}: monitoring on ${mOn.toFixed(1)} µs, off ${mOff.toFixed(1)} µs, ratio ${(mOn / mOff).toFixed(3)}${per}; runs on [${on
      .map((x) => x.usPerRequest.toFixed(1))
      .join(", ")}] off [${off.map((x) => x.usPerRequest.toFixed(1)).join(", ")}]`,
  );
}

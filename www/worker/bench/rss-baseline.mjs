// Where does workerd's memory go under load? Sends the same N valid /predict?explain=true bodies
// (16 in flight, 127.0.0.1) to a bare `workerd serve` running (a) the churn Worker bundle
// (worker/selfhost.mjs) and (b) an empty Worker that only parses the JSON and answers, and prints
// the workerd RSS every N/10 requests for both, and (c) the churn Worker with MONITORING "off".
// Guards against the churn Worker adding memory
// growth of its own on top of the runtime's (a leak in the Worker or the wasm core).
//
//   cd www && npm run build && node worker/bench/rss-baseline.mjs      # RSS_REQUESTS=100000
import http from "node:http";
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { rssKb, freePort, BUILD } from "../dev-server.mjs";
import { buildSelfHosted, WORKERD } from "../selfhost.mjs";
import { cases } from "../../test/golden.mjs";

const N = Number(process.env.RSS_REQUESTS ?? 100_000);
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
const post = (url, body) =>
  new Promise((resolve, reject) => {
    const r = http.request(
      url,
      { method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        res.on("end", () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
      },
    );
    r.on("error", reject);
    r.end(body);
  });

async function run(name, config, port) {
  const child = spawn(WORKERD, ["serve", config], { detached: true, stdio: "ignore" });
  const url = `http://127.0.0.1:${port}`;
  try {
    for (let i = 0; ; i++) {
      try {
        await post(url + "/predict", JSON.stringify(cases[0]));
        break;
      } catch (e) {
        if (i > 100) throw e;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const series = [];
    let next = 0;
    const t = Date.now();
    const one = async () => {
      while (next < N) {
        const i = next++;
        if (i % (N / 10) === 0) series.push(rssKb(child.pid));
        await post(url + "/predict?explain=true&top=3", JSON.stringify(cases[i % cases.length]));
      }
    };
    await Promise.all(Array.from({ length: 16 }, one));
    series.push(rssKb(child.pid));
    console.log(
      `${name}: ${N} requests in ${((Date.now() - t) / 1000).toFixed(1)} s; workerd RSS (MB) every ${N / 10}: ${series.map((kb) => (kb / 1024).toFixed(0)).join(" ")}`,
    );
  } finally {
    process.kill(-child.pid, "SIGKILL");
  }
}

const churnPort = await freePort();
const churnConfig = await buildSelfHosted({ port: churnPort });
await run("churn Worker (bare workerd)", churnConfig, churnPort);
// The same bundle with MONITORING = "off" (no profile kept): what the monitoring adds, if anything.
const offPort = await freePort();
const off = readFileSync(churnConfig, "utf8")
  .replace(`127.0.0.1:${churnPort}`, `127.0.0.1:${offPort}`)
  .replace('(name = "MONITORING", text = "on")', '(name = "MONITORING", text = "off")');
if (!off.includes('(name = "MONITORING", text = "off")')) throw new Error("no MONITORING binding in the generated config");
writeFileSync(path.join(path.dirname(churnConfig), "config-off.capnp"), off);
await run('churn Worker, MONITORING "off" (bare workerd)', path.join(path.dirname(churnConfig), "config-off.capnp"), offPort);

const dir = path.join(BUILD, "empty-bare");
mkdirSync(dir, { recursive: true });
const emptyPort = await freePort();
writeFileSync(
  path.join(dir, "index.js"),
  "export default { async fetch(r) { const o = JSON.parse(await r.text()); return Response.json({ fields: Object.keys(o).length, at: new Date().toISOString() }); } };\n",
);
writeFileSync(
  path.join(dir, "config.capnp"),
  `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "empty", worker = .w)],
  sockets = [(name = "http", address = "127.0.0.1:${emptyPort}", http = (), service = "empty")],
);
const w :Workerd.Worker = (modules = [(name = "index.js", esModule = embed "index.js")], compatibilityDate = "2026-04-01");
`,
);
await run("empty Worker (bare workerd)", path.join(dir, "config.capnp"), emptyPort);

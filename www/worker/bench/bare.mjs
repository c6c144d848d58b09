// Bare `workerd serve` for the benchmarks (load.mjs, stalls.mjs): start a config on a free
// loopback port and wait until it answers, and an empty Worker to read the churn figures against.
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { freePort } from "../dev-server.mjs";
import { WORKERD } from "../selfhost.mjs";

/** An empty Worker: reads the body, answers a small JSON (no churn code at all). */
export const EMPTY_WORKER = "export default { async fetch(r) { const b = await r.text(); return Response.json({ bytes: b.length }); } };\n";

/** Writes the empty Worker and its workerd config listening on `port` into `dir`; returns the config's path. */
export function emptyBareConfig(dir, port) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "index.js"), EMPTY_WORKER);
  writeFileSync(
    path.join(dir, "config.capnp"),
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "empty", worker = .w)],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "empty")],
);
const w :Workerd.Worker = (modules = [(name = "index.js", esModule = embed "index.js")], compatibilityDate = "2026-04-01");
`,
  );
  return path.join(dir, "config.capnp");
}

/**
 * Runs `workerd serve` on the config `config(port)` returns (for a free port) in its own process
 * group, and waits until GET /health answers below 500 (10 s at most, else it is stopped and this
 * throws). Stop it with `stop()`.
 */
export async function startBare(config) {
  const port = await freePort();
  const child = spawn(WORKERD, ["serve", await config(port)], { detached: true, stdio: "ignore" });
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => process.kill(-child.pid, "SIGKILL");
  for (let i = 0; i < 200; i++) {
    try {
      const r = await fetch(url + "/health");
      await r.arrayBuffer();
      if (r.status < 500) return { url, port, pids: () => [["workerd", child.pid]], stop };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await stop();
  throw new Error(`workerd on ${port} did not answer`);
}

// Starts and stops the Worker under `wrangler dev --local` on 127.0.0.1 (workerd, offline), for
// the workerd tests, the load test and the soak. Used as a library:
//   const w = await startWorker({ config, vars });  ...fetch(w.url + "/health")...  await w.stop();
// or from the shell:  node worker/dev-server.mjs [--model FILE] [--port N]   (Ctrl-C stops it).
//
// wrangler is started in its own process group (detached) and stopped with a signal to the whole
// group, otherwise its workerd children linger. All of wrangler's state (config, logs, temp files)
// goes under build/worker/ at the repository root. WRANGLER_LOG_LEVEL (default "log") sets
// wrangler's --log-level; the benchmarks use "warn" (as `npm run worker:dev` does) so that no
// per-request log line goes through Node.
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
export const WWW = path.resolve(here, "..");
export const ROOT = path.resolve(WWW, "..");
export const BUILD = path.join(ROOT, "build", "worker");
export const CONFIG = path.join(here, "wrangler.toml");
const WRANGLER = path.join(WWW, "node_modules", ".bin", "wrangler");

/** Environment that keeps wrangler offline and quiet, with its files under build/. */
export function wranglerEnv() {
  for (const d of ["xdg", "tmp"]) mkdirSync(path.join(BUILD, d), { recursive: true });
  return {
    ...process.env,
    WRANGLER_SEND_METRICS: "false",
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
    WRANGLER_HIDE_BANNER: "true", // also skips the npm update check
    XDG_CONFIG_HOME: path.join(BUILD, "xdg"),
    TMPDIR: path.join(BUILD, "tmp"),
    WRANGLER_LOG_PATH: path.join(BUILD, "xdg", "wrangler-logs"),
    NO_COLOR: "1",
    CI: "1", // no interactive dev session
  };
}

/**
 * A copy of the Worker's wrangler.toml in build/worker/NAME/ whose entry serves `model` instead
 * of www/worker/model.bin. The entry is the same three imports as src/index.js, with the model
 * path swapped; everything else (rules, vars, compatibility date, app.js) is the real Worker's.
 */
export function configWithModel(name, model) {
  const dir = path.join(BUILD, name);
  mkdirSync(dir, { recursive: true });
  const entry = [
    `import wasmModule from ${JSON.stringify(path.join(WWW, "pkg", "churn_bg.wasm"))};`,
    `import modelBytes from ${JSON.stringify(path.resolve(model))};`,
    `import { createWorker } from ${JSON.stringify(path.join(here, "src", "app.js"))};`,
    "export default createWorker(wasmModule, modelBytes);",
    "",
  ].join("\n");
  writeFileSync(path.join(dir, "entry.js"), entry);
  const toml = readFileSync(CONFIG, "utf8");
  const patched = toml.replace(/^main = .*$/m, 'main = "entry.js"');
  if (patched === toml) throw new Error(`no main = line in ${CONFIG}`);
  writeFileSync(path.join(dir, "wrangler.toml"), patched);
  return path.join(dir, "wrangler.toml");
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** `[pid, comm, cmdline]` of every process in the process group `pgid`. */
export function groupMembers(pgid) {
  const out = [];
  for (const pid of readdirSync("/proc")) {
    if (!/^[0-9]+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) !== pgid) continue; // field 5 of stat: process group
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      out.push([Number(pid), comm, readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ")]);
    } catch {
      // process went away
    }
  }
  return out;
}

/** PIDs of the process group's members whose command is workerd. */
function workerdPids(pgid) {
  return groupMembers(pgid)
    .filter(([, comm]) => comm === "workerd")
    .map(([pid]) => pid);
}

/** Resident set size of a process in kB (VmRSS), or null when it is gone. */
export function rssKb(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/**
 * Starts `wrangler dev --local` on 127.0.0.1 and resolves once /health answers.
 * `vars` override wrangler.toml [vars] (`--var KEY:VALUE`). The returned object has `url`,
 * `log()` (everything wrangler printed), `workerdPid()` and `stop()`.
 */
export async function startWorker({ config = CONFIG, vars = {}, port, timeoutMs = 60_000 } = {}) {
  port ??= await freePort();
  const inspector = await freePort(); // the default 9229 collides when several run at once
  const args = [
    "dev",
    "-c",
    config,
    "--local",
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    "--inspector-port",
    String(inspector),
    "--log-level",
    process.env.WRANGLER_LOG_LEVEL ?? "log",
    "--show-interactive-dev-session=false",
  ];
  for (const [k, v] of Object.entries(vars)) args.push("--var", `${k}:${v}`);
  const child = spawn(WRANGLER, args, { cwd: path.dirname(config), env: wranglerEnv(), detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  let exited = null;
  child.once("exit", (code, signal) => (exited = { code, signal }));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (exited !== null) return;
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {
      return;
    }
    const deadline = Date.now() + 5000;
    while (exited === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    try {
      process.kill(-child.pid, "SIGKILL"); // anything of the group still around
    } catch {
      // the group is gone
    }
  };
  const started = Date.now();
  for (;;) {
    if (exited !== null) throw new Error(`wrangler dev exited (${JSON.stringify(exited)}) before answering:\n${output}`);
    if (Date.now() - started > timeoutMs) {
      await stop();
      throw new Error(`wrangler dev did not answer /health within ${timeoutMs} ms:\n${output}`);
    }
    try {
      // Bounded: after a failed build wrangler keeps listening but never answers.
      const r = await fetch(`${url}/health`, { signal: AbortSignal.timeout(5000) });
      await r.arrayBuffer();
      if (r.status === 200 || r.status === 503) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    pid: child.pid,
    startupMs: Date.now() - started,
    log: () => output,
    workerdPid: () => workerdPids(child.pid)[0] ?? null,
    workerdPids: () => workerdPids(child.pid),
    groupPids: () => groupMembers(child.pid),
    stop,
  };
}

/**
 * The same Worker on workerd through Miniflare's Node API, without wrangler dev's proxy in front
 * (module rules, vars and compatibility date read from the wrangler.toml). `entry` defaults to
 * the config's `main`. Resolves to `{ url, stop }`.
 */
export async function startMiniflare({ config = CONFIG, vars = {} } = {}) {
  const env = wranglerEnv();
  for (const k of ["XDG_CONFIG_HOME", "TMPDIR", "WRANGLER_SEND_METRICS", "CLOUDFLARE_CF_FETCH_ENABLED"]) process.env[k] = env[k];
  const { unstable_getMiniflareWorkerOptions } = await import("wrangler");
  const { Miniflare } = await import("miniflare");
  const { workerOptions, main } = unstable_getMiniflareWorkerOptions(config);
  const mf = new Miniflare({
    modules: true,
    scriptPath: path.resolve(path.dirname(config), main),
    modulesRoot: "/",
    modulesRules: [{ type: "ESModule", include: ["**/*.js"] }, ...workerOptions.modulesRules],
    compatibilityDate: workerOptions.compatibilityDate,
    bindings: { ...workerOptions.bindings, ...vars },
    cf: false,
    host: "127.0.0.1",
    port: 0,
  });
  const url = (await mf.ready).href.replace(/\/$/, "");
  return { url, stop: () => mf.dispose() };
}

// Shell use: serve until interrupted.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const arg = (name) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const model = arg("--model");
  const config = model ? configWithModel("dev-" + path.basename(model).replace(/\W/g, "_"), model) : CONFIG;
  const w = await startWorker({ config, port: arg("--port") ? Number(arg("--port")) : 8787 });
  console.log(`churn worker on ${w.url} (workerd pid ${w.workerdPid()}); Ctrl-C stops it`);
  const bye = async () => {
    await w.stop();
    process.exit(0);
  };
  process.on("SIGINT", bye);
  process.on("SIGTERM", bye);
}

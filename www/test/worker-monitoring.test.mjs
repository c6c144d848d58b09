// Monitoring at the edge (issue 16): every Worker isolate counts what it scores into the core's
// profile and serves it at GET /monitoring (behind MONITORING_TOKEN when set), and writes
// pre-aggregated counts to a Workers Analytics Engine binding when one is configured.
// - In workerd (`wrangler dev --local`): the served profile equals, count for count, the profile
//   the same npm package builds in Node from the same requests (scored rows, refused rows by
//   field, explain/raw paths, atomic batches); the bearer token is enforced (401s, then 200).
// - `churn monitor --from` (target/release/churn) fetches two running Workers' profiles, merges
//   them and reports the same drift as the package computes for the merged mirrors; a missing or
//   wrong token, another model's profile and an unreachable URL each exit 2 naming the problem.
// - Analytics Engine: Miniflare accepts the binding but keeps no data a test can read back, so
//   workerd only proves that a Worker with the binding configured starts, scores and writes
//   without error; what is written (the data points and their layout) is checked by running the
//   same Worker module (worker/src/app.js) in Node with a binding that records the points.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, appendFileSync } from "node:fs";
import { ChurnModel } from "../pkg/node.js";
import { spawnSync } from "node:child_process";
import { startWorker, configWithModel, BUILD } from "../worker/dev-server.mjs";
import { createWorker } from "../worker/src/app.js";
import { cases } from "./golden.mjs";

const MODEL = new URL("../../tests/fixtures/golden.bin", import.meta.url).pathname;
const bytes = readFileSync(MODEL);
const local = new ChurnModel(bytes);
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const bad = { ...cases[5], Contract: "Weekly", tenure: "abc" };

async function post(base, pathname, body) {
  const r = await fetch(base + pathname, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: r.status, json: await r.json() };
}

/**
 * The same traffic sent to a Worker and mirrored on a local profile: single customers (plain,
 * explain, raw), a refused one, an accepted batch, a refused batch (2 bad of 5), an explained
 * batch. Returns the local profile.
 */
async function traffic(url) {
  const mirror = local.newProfile();
  for (const c of cases.slice(0, 30)) {
    assert.equal((await post(url, "/predict", c)).status, 200);
    mirror.predict(c);
  }
  for (const q of ["?explain=true&top=2", "?raw=true"]) {
    assert.equal((await post(url, `/predict${q}`, cases[40])).status, 200);
    mirror.add(cases[40]);
  }
  assert.equal((await post(url, "/predict", bad)).status, 400);
  assert.equal(mirror.add(bad), false);
  const batch = cases.slice(50, 70);
  assert.equal((await post(url, "/batch_predict", { customers: batch })).status, 200);
  mirror.predictBatch(batch, true);
  const refused = [cases[80], bad, cases[81], { ...cases[82], gender: 7 }, cases[83]];
  assert.equal((await post(url, "/batch_predict", { customers: refused })).status, 400);
  mirror.predictBatch(refused, true);
  const explained = cases.slice(90, 95);
  assert.equal((await post(url, "/batch_predict?explain=true", { customers: explained })).status, 200);
  for (const c of explained) mirror.add(c);
  return mirror;
}

const CHURN = new URL("../../target/release/churn", import.meta.url).pathname;
/** Runs the native CLI (target/release/churn, built by scripts/test.sh) with a bounded time. */
function churn(args, env) {
  return spawnSync(CHURN, args, { env, encoding: "utf8", timeout: 60_000 });
}

/** A copy of the Worker's config serving golden.bin, with `extra` TOML appended. */
function config(name, extra = "") {
  const path = configWithModel(name, MODEL);
  if (extra !== "") appendFileSync(path, `\n${extra}\n`);
  return path;
}

describe("GET /monitoring in workerd, and churn monitor --from merging two Workers' profiles", () => {
  let open;
  let locked;
  let mirrorOpen;
  let mirrorLocked;
  const token = "s3cret-token-for-tests";
  before(async () => {
    // One Worker without a token and with an Analytics Engine binding; one with a token.
    const ae = '[[analytics_engine_datasets]]\nbinding = "MONITORING_ANALYTICS"\ndataset = "churn_monitoring"';
    [open, locked] = await Promise.all([
      startWorker({ config: config("monitoring-open", ae), vars: { ANALYTICS_INTERVAL_SECONDS: "0" } }),
      startWorker({ config: config("monitoring-token"), vars: { MONITORING_TOKEN: token } }),
    ]);
  });
  after(async () => {
    await Promise.all([open?.stop(), locked?.stop()]);
  });

  test("serves the isolate's profile: the same counts as the package's profile of the same requests", async () => {
    const before = await (await fetch(`${open.url}/monitoring`)).json();
    mirrorOpen = await traffic(open.url);
    const r = await fetch(`${open.url}/monitoring`);
    assert.equal(r.status, 200);
    const m = await r.json();
    assert.deepEqual(Object.keys(m), ["model_version", "isolate_id", "started_at", "rows", "invalid_rows", "profile"]);
    assert.equal(m.model_version, local.modelVersion);
    assert.match(m.isolate_id, UUID);
    assert.match(m.started_at, ISO);
    assert.equal(m.isolate_id, before.isolate_id, "one isolate served both");
    // The health checks before the first /monitoring scored nothing.
    assert.equal(before.rows, 0);
    assert.equal(m.rows, 30 + 2 + 20 + 5);
    assert.equal(m.invalid_rows, 1 + 2);
    assert.deepEqual(m.profile, mirrorOpen.toJSON());
    const field = (name) => m.profile.fields.find((f) => f.name === name);
    assert.equal(field("Contract").invalid, 2);
    assert.equal(field("Contract").unseen, 2);
    assert.equal(field("tenure").invalid, 2);
    assert.equal(field("gender").invalid, 1);
    // The Analytics Engine binding took a write per request without an error.
    assert.doesNotMatch(open.log(), /Analytics Engine write failed/);
  });

  test("with MONITORING_TOKEN set: 401 without the bearer token or with a wrong one; 200 with it; scoring needs none", async () => {
    const wrong = [
      undefined,
      "",
      "Bearer",
      `Basic ${btoa(`user:${token}`)}`,
      "Bearer s3cret-token-for-tesTs",
      `Bearer ${token}x`,
      `Bearer ${token.slice(0, -1)}`,
      `${token}`,
    ];
    for (const authorization of wrong) {
      const headers = authorization === undefined ? {} : { authorization };
      const r = await fetch(`${locked.url}/monitoring`, { headers });
      assert.equal(r.status, 401, `authorization: ${authorization}`);
      assert.equal(r.headers.get("www-authenticate"), 'Bearer realm="monitoring"');
      assert.deepEqual(await r.json(), {
        error: "GET /monitoring needs Authorization: Bearer <MONITORING_TOKEN>",
        details: [{ field: "authorization", message: "missing or wrong bearer token" }],
      });
    }
    mirrorLocked = local.newProfile();
    for (const c of cases.slice(100, 140)) {
      assert.equal((await post(locked.url, "/predict", c)).status, 200);
      mirrorLocked.predict(c);
    }
    for (const authorization of [`Bearer ${token}`, `bearer ${token}`]) {
      const r = await fetch(`${locked.url}/monitoring`, { headers: { authorization } });
      assert.equal(r.status, 200);
      const m = await r.json();
      assert.equal(m.rows, 40);
      assert.deepEqual(m.profile, mirrorLocked.toJSON());
    }
    assert.equal((await fetch(`${locked.url}/monitoring`, { method: "HEAD" })).status, 401);
  });

  test("churn monitor --from both Workers: the drift of the merged profiles, as the package computes it", () => {
    const merged = local.newProfile();
    merged.merge(mirrorOpen);
    merged.merge(mirrorLocked);
    const expected = merged.drift();
    const env = { ...process.env, MONITORING_TOKEN: token };
    const html = `${BUILD}/monitoring-from.html`;
    const r = churn(["monitor", "--model", MODEL, "--from", `${open.url},${locked.url}/monitoring`, "--json", "--html", html], env);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), expected);
    assert.equal(expected.rows, 57 + 40);
    assert.match(readFileSync(html, "utf8"), /\(2 isolates\)/);
    // The same Worker twice counts once.
    const twice = churn(["monitor", "--model", MODEL, "--from", `${locked.url},${locked.url}`, "--json"], env);
    assert.equal(twice.status, 0, twice.stderr);
    assert.equal(JSON.parse(twice.stdout).rows, 40);
    assert.match(twice.stderr, /was already counted \(through another URL\); counted once/);
    // Text report, and the fail-on exit code.
    const text = churn(["monitor", "--model", MODEL, "--from", open.url, "--fail-on", "watch"], env);
    assert.match(text.stdout, /^http:\/\/127\.0\.0\.1:\d+\/monitoring \(1 isolate\) against the training rows of golden golden-1: /);
    assert.equal(text.status, expected.level === "stable" ? 0 : 4, text.stderr);
  });

  test("churn monitor --from: a missing or wrong token, another model's profile, a dead URL: exit 2 naming the problem", () => {
    const run = (args, token) => churn(["monitor", ...args], { ...process.env, MONITORING_TOKEN: token });
    const none = run(["--model", MODEL, "--from", locked.url], "");
    assert.equal(none.status, 2);
    assert.match(none.stderr, /\/monitoring answered 401: the Worker has a MONITORING_TOKEN; set MONITORING_TOKEN to it/);
    const wrongToken = run(["--model", MODEL, "--from", locked.url], "nope");
    assert.equal(wrongToken.status, 2);
    assert.match(wrongToken.stderr, /answered 401: MONITORING_TOKEN is not the Worker's token/);
    const telco = new URL("../worker/model.bin", import.meta.url).pathname;
    const other = run(["--model", telco, "--from", open.url], "");
    assert.equal(other.status, 2);
    assert.match(other.stderr, /\/monitoring: profile is of model golden golden-1, not of telco-churn 20260101000000-16320c9c/);
    const dead = run(["--model", MODEL, "--from", "http://127.0.0.1:9"], "");
    assert.equal(dead.status, 2);
    assert.match(dead.stderr, /cannot reach http:\/\/127\.0\.0\.1:9\/monitoring/);
    const both = run(["--model", MODEL, "--from", open.url, "--data", "x.csv"], "");
    assert.equal(both.status, 2);
    assert.match(both.stderr, /cannot be used with/);
  });
});

describe("Analytics Engine data points (the Worker module in Node, with a binding that records them)", () => {
  const wasm = new WebAssembly.Module(readFileSync(new URL("../pkg/churn_bg.wasm", import.meta.url)));
  const req = (path, body) =>
    new Request(
      `http://127.0.0.1${path}`,
      body === undefined ? {} : { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) },
    );

  test("counts since the previous point: rows, refused, HIGH, MEDIUM, LOW, ten score bins; they add up to the profile", async () => {
    const points = [];
    const env = { MONITORING_ANALYTICS: { writeDataPoint: (p) => points.push(p) }, ANALYTICS_INTERVAL_SECONDS: "0" };
    const worker = createWorker(wasm, bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
    const mirror = local.newProfile();
    for (const c of cases.slice(0, 12)) {
      assert.equal((await worker.fetch(req("/predict", c), env)).status, 200);
      mirror.predict(c);
    }
    assert.equal((await worker.fetch(req("/predict", bad), env)).status, 400);
    mirror.add(bad);
    assert.equal((await worker.fetch(req("/batch_predict", { customers: cases.slice(20, 45) }), env)).status, 200);
    mirror.predictBatch(cases.slice(20, 45), true);
    assert.equal((await worker.fetch(req("/health"), env)).status, 200); // a GET writes nothing
    assert.equal(points.length, 12 + 1 + 1);
    const m = await (await worker.fetch(req("/monitoring"), env)).json();
    for (const p of points) {
      assert.deepEqual(p.indexes, [local.modelVersion]);
      assert.deepEqual(p.blobs, [local.modelVersion, m.isolate_id]);
      assert.equal(p.doubles.length, 15);
    }
    assert.deepEqual(points[12].doubles.slice(0, 2), [0, 1]); // the refused customer
    assert.equal(points[13].doubles[0], 25);
    const sum = points.reduce((s, p) => s.map((x, k) => x + p.doubles[k]), new Array(15).fill(0));
    const j = mirror.toJSON();
    const deciles = Array.from({ length: 10 }, (_, k) => j.scores[2 * k] + j.scores[2 * k + 1]);
    assert.deepEqual(sum, [j.rows, j.invalid_rows, j.risk.HIGH, j.risk.MEDIUM, j.risk.LOW, ...deciles]);
    assert.deepEqual(m.profile, j);
  });

  test("at most one point per ANALYTICS_INTERVAL_SECONDS (the default 60), and none without the binding", async () => {
    const points = [];
    const env = { MONITORING_ANALYTICS: { writeDataPoint: (p) => points.push(p) } };
    const worker = createWorker(wasm, bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
    for (const c of cases.slice(0, 5)) await worker.fetch(req("/predict", c), env);
    assert.equal(points.length, 1);
    assert.equal(points[0].doubles[0], 1);
    const plain = createWorker(wasm, bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
    assert.equal((await plain.fetch(req("/predict", cases[0]), {})).status, 200);
    // A bad interval is a configuration error (500, logged), as for the other vars.
    const misconfigured = createWorker(wasm, bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
    const errors = [];
    const log = console.error;
    console.error = (m) => errors.push(m);
    try {
      assert.equal((await misconfigured.fetch(req("/predict", cases[0]), { ANALYTICS_INTERVAL_SECONDS: "-1" })).status, 500);
    } finally {
      console.error = log;
    }
    assert.match(errors.join("\n"), /ANALYTICS_INTERVAL_SECONDS must be an integer >= 0, got "-1"/);
  });

  test("a model file without a training profile (format version 1): /monitoring says so (501), scoring is unchanged", async () => {
    const v1 = readFileSync(new URL("../../tests/fixtures/format_v1.bin", import.meta.url));
    const worker = createWorker(wasm, v1.buffer.slice(v1.byteOffset, v1.byteOffset + v1.length));
    const r = await worker.fetch(req("/monitoring"), {});
    assert.equal(r.status, 501);
    assert.match((await r.json()).error, /carries no training profile/);
    const p = await worker.fetch(req("/predict", cases[0]), {});
    assert.equal(p.status, 200);
  });

  test('MONITORING = "off" keeps no profile: /monitoring says so (501), scoring and Analytics Engine writes are unchanged', async () => {
    const points = [];
    const env = { MONITORING: "off", MONITORING_ANALYTICS: { writeDataPoint: (p) => points.push(p) } };
    const worker = createWorker(wasm, bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
    const p = await worker.fetch(req("/predict", cases[0]), env);
    assert.equal(p.status, 200);
    assert.deepEqual(await p.json().then(({ prediction_timestamp, ...r }) => r), local.predict(cases[0]));
    const r = await worker.fetch(req("/monitoring"), env);
    assert.equal(r.status, 501);
    assert.equal((await r.json()).error, 'monitoring is off (MONITORING = "off")');
    assert.equal(points.length, 0, "nothing counted, nothing written");
  });
});

// The Cloudflare Worker in workerd (`wrangler dev --local` on 127.0.0.1, started and stopped
// here): every endpoint's JSON shape, the bad-input matrix (each a 4xx naming the problem, the
// Worker answering correctly after each), body/batch limits from wrangler vars, CORS, and an
// internal failure giving 500 + request id in the log. Expected scores come from the same npm
// package in Node (itself tested bit-identical to native in node.test.mjs), loading the same file.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import http from "node:http";
import { ChurnModel } from "../pkg/node.js";
import { startWorker, startMiniflare, configWithModel, BUILD } from "../worker/dev-server.mjs";
import { cases } from "./golden.mjs";

const local = new ChurnModel(readFileSync(new URL("../worker/model.bin", import.meta.url)));
const good = cases[1];
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

async function call(base, pathname, { method = "POST", body, headers = {}, raw = false } = {}) {
  const init = { method, headers: { ...headers } };
  if (body !== undefined) {
    // A raw string goes as bytes so that fetch adds no Content-Type of its own (text/plain).
    init.body = raw ? (typeof body === "string" ? new TextEncoder().encode(body) : body) : JSON.stringify(body);
    if (!raw && init.headers["content-type"] === undefined) init.headers["content-type"] = "application/json";
    if (body instanceof ReadableStream) init.duplex = "half";
  }
  const r = await fetch(base + pathname, init);
  const text = await r.text();
  let json = null;
  try {
    json = text === "" ? null : JSON.parse(text);
  } catch {
    assert.fail(`${method} ${pathname}: response is not JSON: ${text.slice(0, 200)}`);
  }
  return { status: r.status, headers: r.headers, json, text };
}

/**
 * POSTs `total` bytes of JSON whitespace in 64 KiB chunks (Transfer-Encoding: chunked, no
 * Content-Length) and resolves with the response, which may come before the body is all sent.
 */
function postChunked(url, total) {
  return new Promise((resolve, reject) => {
    let sent = 0;
    const req = http.request(url, { agent: false, method: "POST", headers: { "content-type": "application/json" } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode, json: JSON.parse(text), sent }));
    });
    req.on("error", (e) => setTimeout(() => reject(e), 2000)); // unless the answer came first
    const chunk = Buffer.alloc(65536, " ");
    const pump = () => {
      while (sent < total) {
        sent += chunk.length;
        if (!req.write(chunk)) return req.once("drain", pump);
      }
      req.end();
    };
    pump();
    req.setTimeout(30_000, () => reject(new Error("no answer to the chunked upload")));
  });
}

/**
 * `postChunked` of an upload the server refuses before its end. The server then closes with
 * upload bytes unread, and TCP may answer the client's next bytes with a reset that discards
 * the refusal before it is read (ECONNRESET, no response): a transport race, not the Worker's
 * answer. Such an attempt is retried, at most 3 in all; any other outcome is returned as is.
 */
async function postRefused(url, total) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await postChunked(url, total);
    } catch (e) {
      if (e.code !== "ECONNRESET" || attempt === 3) throw e;
    }
  }
}

/** A 4xx with the contract's shape; `fields` are the detail fields expected (in order). */
function assertClientError(res, status, message, fields) {
  assert.equal(res.status, status, `status for ${JSON.stringify(res.json)}`);
  assert.equal(res.headers.get("content-type"), "application/json");
  assert.deepEqual(Object.keys(res.json).sort(), ["details", "error"]);
  assert.match(res.json.error, message);
  assert.ok(Array.isArray(res.json.details) && res.json.details.length > 0);
  for (const d of res.json.details) {
    assert.equal(typeof d.field, "string");
    assert.equal(typeof d.message, "string");
    assert.ok(d.message.length > 0);
  }
  if (fields)
    assert.deepEqual(
      res.json.details.map((d) => d.field),
      fields,
    );
}

describe("Worker with the committed model and wrangler.toml (defaults: 8 MiB, 10,000 customers, CORS *)", () => {
  let w;
  const stillGood = async () => {
    const r = await call(w.url, "/predict", { body: good });
    assert.equal(r.status, 200);
    assert.equal(r.json.churn_probability, local.predict(good).churn_probability);
  };
  before(async () => {
    w = await startWorker();
  });
  after(async () => {
    await w?.stop();
  });

  test("GET / and /health", async () => {
    const root = await call(w.url, "/", { method: "GET" });
    assert.equal(root.status, 200);
    assert.deepEqual(Object.keys(root.json), ["message", "model_version", "status"]);
    assert.equal(root.json.model_version, local.modelVersion);
    assert.equal(root.json.status, "running");
    const h = await call(w.url, "/health", { method: "GET" });
    assert.equal(h.status, 200);
    assert.deepEqual(Object.keys(h.json), ["status", "model_loaded", "model_version", "timestamp"]);
    assert.equal(h.json.status, "healthy");
    assert.equal(h.json.model_loaded, true);
    assert.equal(h.json.model_version, local.modelVersion);
    assert.match(h.json.timestamp, ISO);
    const head = await fetch(w.url + "/health", { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), "");
  });

  test("GET /model_info describes the served model file", async () => {
    const r = await call(w.url, "/model_info", { method: "GET" });
    assert.equal(r.status, 200);
    const info = local.info();
    assert.deepEqual(Object.keys(r.json), [
      "model_name",
      "model_version",
      "model_type",
      "model_params",
      "model_selection",
      "features_expected",
      "metrics",
      "policy",
      "trained_at",
    ]);
    assert.equal(r.json.model_name, info.name);
    assert.equal(r.json.model_version, local.modelVersion);
    assert.match(r.json.model_type, new RegExp(`${info.trees} trees`));
    assert.deepEqual(
      r.json.features_expected,
      local.schema().fields.map((f) => f.name),
    );
    assert.equal(r.json.features_expected.length, 19);
    assert.deepEqual(r.json.metrics, info.test_metrics);
    assert.deepEqual(r.json.policy, info.policy);
    assert.equal(r.json.trained_at, info.created_at);
  });

  test("POST /predict: the seed's shape, the core's result", async () => {
    for (const c of cases.slice(0, 40)) {
      const r = await call(w.url, "/predict", { body: c });
      assert.equal(r.status, 200);
      assert.deepEqual(Object.keys(r.json), [
        "churn_probability",
        "churn_prediction",
        "risk_level",
        "model_version",
        "prediction_timestamp",
      ]);
      const { prediction_timestamp, ...rest } = r.json;
      assert.match(prediction_timestamp, ISO);
      assert.deepEqual(rest, local.predict(c));
    }
    // ?raw=true adds the unrounded probability, ?explain=true the factors (default top 5).
    const r = await call(w.url, "/predict?raw=true&explain=true", { body: good });
    assert.ok(Object.is(r.json.churn_probability_raw, local.probability(good)));
    assert.equal(r.json.top_factors.length, 5);
    assert.deepEqual(r.json.top_factors, local.explain(good, 5).top_factors);
    const e2 = await call(w.url, "/predict?explain=true&top=2", { body: good });
    assert.deepEqual(Object.keys(e2.json), [
      "churn_probability",
      "churn_prediction",
      "risk_level",
      "model_version",
      "top_factors",
      "prediction_timestamp",
    ]);
    assert.deepEqual(e2.json.top_factors, local.explain(good, 2).top_factors);
    // JSON numbers and numeric strings score the same; extra fields (e.g. the target column) are
    // ignored, as the seed's pydantic model ignored them; missing ones are errors (below).
    const typed = {
      ...good,
      tenure: Number(good.tenure),
      MonthlyCharges: Number(good.MonthlyCharges),
      SeniorCitizen: Number(good.SeniorCitizen),
    };
    const t = await call(w.url, "/predict?raw=true", { body: { ...typed, Churn: "Yes", note: { any: "thing" } } });
    assert.equal(t.status, 200);
    assert.ok(Object.is(t.json.churn_probability_raw, local.probability(good)));
    // No Content-Type is read as JSON (the seed did the same), +json media types too.
    const n = await call(w.url, "/predict", { body: JSON.stringify(good), raw: true });
    assert.equal(n.status, 200);
    const vnd = await call(w.url, "/predict", { body: good, headers: { "content-type": "application/vnd.api+json; charset=utf-8" } });
    assert.equal(vnd.status, 200);
  });

  test("POST /batch_predict: ids, counts, per-row explain", async () => {
    const batch = cases.slice(0, 300);
    const r = await call(w.url, "/batch_predict", { body: { customers: batch } });
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.json), ["predictions", "total_customers", "high_risk_count", "model_version"]);
    assert.equal(r.json.total_customers, 300);
    assert.equal(r.json.model_version, local.modelVersion);
    const want = batch.map((c) => local.predict(c));
    assert.equal(r.json.high_risk_count, want.filter((p) => p.risk_level === "HIGH").length);
    assert.ok(r.json.high_risk_count > 0, "the slice has HIGH-risk customers");
    r.json.predictions.forEach((p, i) => {
      assert.deepEqual(p, { customer_id: batch[i].customerID, ...want[i] });
    });
    // Without the model's id column, customer_{i+1} as the seed did.
    const anon = batch.slice(0, 3).map(({ customerID, ...c }) => c);
    const a = await call(w.url, "/batch_predict?explain=true&top=3&raw=true", { body: { customers: anon } });
    assert.equal(a.status, 200);
    assert.deepEqual(
      a.json.predictions.map((p) => p.customer_id),
      ["customer_1", "customer_2", "customer_3"],
    );
    a.json.predictions.forEach((p, i) => {
      assert.deepEqual(p.top_factors, local.explain(anon[i], 3).top_factors);
      assert.ok(Object.is(p.churn_probability_raw, local.probability(anon[i])));
    });
  });

  test("bad JSON, bodies and content types: 400/415 naming the problem", async () => {
    const cases400 = [
      [{ body: '{"tenure": ', raw: true, headers: { "content-type": "application/json" } }, /^malformed JSON: /, ["body"]],
      [{ body: "{'a': 1}", raw: true, headers: { "content-type": "application/json" } }, /^malformed JSON: /, ["body"]],
      [{ body: "", raw: true, headers: { "content-type": "application/json" } }, /request body is empty/, ["body"]],
      [
        { body: new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), raw: true, headers: { "content-type": "application/json" } },
        /not valid UTF-8/,
        ["body"],
      ],
      [{ body: null }, /^expected an object with the customer's fields, got null$/, ["body"]],
      [{ body: [good] }, /^expected an object with the customer's fields, got an array$/, ["body"]],
      [{ body: 42 }, /^expected an object with the customer's fields, got a number$/, ["body"]],
      [{ body: "customer" }, /^expected an object with the customer's fields, got a string$/, ["body"]],
      [
        { body: "[".repeat(200_000) + "]".repeat(200_000), raw: true, headers: { "content-type": "application/json" } },
        /expected an object|malformed JSON/,
      ],
    ];
    for (const [req, message, fields] of cases400) {
      const r = await call(w.url, "/predict", req);
      assertClientError(r, 400, message, fields);
      await stillGood();
    }
    for (const type of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx"]) {
      const r = await call(w.url, "/predict", { body: JSON.stringify(good), raw: true, headers: { "content-type": type } });
      assertClientError(r, 415, /expected Content-Type: application\/json/, ["content-type"]);
    }
    await stillGood();
  });

  test("bad customers: 400 with the core's message and field", async () => {
    const { tenure, ...noTenure } = good;
    const matrix = [
      [noTenure, /^missing field: tenure$/, ["tenure"]],
      [{}, /missing field: gender/],
      [{ ...good, tenure: "abc" }, /^tenure: expected a number, got "abc"$/, ["tenure"]],
      [{ ...good, tenure: true }, /^tenure: expected a number, got true$/, ["tenure"]],
      [{ ...good, tenure: { nested: 1 } }, /^tenure: expected a number, got an object$/, ["tenure"]],
      [{ ...good, tenure: [1] }, /^tenure: expected a number, got an array$/, ["tenure"]],
      [{ ...good, Contract: ["One year"] }, /^Contract: expected a string, got an array$/, ["Contract"]],
      [{ ...good, Contract: "Weekly" }, /^Contract: unknown category "Weekly" \(expected one of: .*Month-to-month.*\)$/, ["Contract"]],
      [{ ...good, tenure: "NaN" }, /^tenure: expected a finite number/, ["tenure"]],
      [{ ...good, MonthlyCharges: "Infinity" }, /^MonthlyCharges: expected a finite number/, ["MonthlyCharges"]],
      [{ ...good, MonthlyCharges: "-Infinity" }, /^MonthlyCharges: expected a finite number/, ["MonthlyCharges"]],
      [{ ...good, TotalCharges: "1e400" }, /^TotalCharges: expected a finite number, got "1e400"$/, ["TotalCharges"]],
      [
        { ...good, Contract: "x".repeat(900_000) },
        /^Contract: expected a string, got a string of more than 4096 characters$/,
        ["Contract"],
      ],
      [{ ...good, tenure: "abc", Contract: "Weekly" }, /tenure: .*Contract: /, ["tenure", "Contract"]],
    ];
    for (const [customer, message, fields] of matrix) {
      for (const q of ["", "?explain=true", "?raw=true"]) {
        const r = await call(w.url, "/predict" + q, { body: customer });
        assertClientError(r, 400, message, fields);
      }
      await stillGood();
    }
    // A JSON number literal too big for a double parses as Infinity: refused by the core.
    const inf = JSON.stringify(good).replace(/"tenure":"[^"]*"/, '"tenure":1e400');
    assert.notEqual(inf, JSON.stringify(good));
    assertClientError(await call(w.url, "/predict", { body: inf, raw: true }), 400, /^tenure: expected a finite number, got Infinity$/, [
      "tenure",
    ]);
  });

  test("bad query parameters: 400", async () => {
    for (const [q, field] of [
      ["?explain=maybe", "explain"],
      ["?explain=true&top=0", "top"],
      ["?explain=true&top=abc", "top"],
      ["?explain=true&top=101", "top"],
      ["?explain=true&top=1.5", "top"],
      ["?raw=yes", "raw"],
    ]) {
      assertClientError(await call(w.url, "/predict" + q, { body: good }), 400, new RegExp(`^${field}: `), [field]);
    }
  });

  test("bad batches: 400 with row indexes, empty and non-array batches", async () => {
    const matrix = [
      [[good], /expected a JSON object \{"customers": \[\.\.\.\]\}, got an array/, ["body"]],
      [null, /got null/, ["body"]],
      [{ rows: [good] }, /^missing field: customers$/, ["customers"]],
      [{ customers: good }, /^customers: expected an array, got an object$/, ["customers"]],
      [{ customers: "x" }, /^customers: expected an array, got a string$/, ["customers"]],
      [{ customers: null }, /^customers: expected an array, got null$/, ["customers"]],
      [{ customers: [] }, /^customers: empty batch/, ["customers"]],
    ];
    for (const [body, message, fields] of matrix) {
      assertClientError(await call(w.url, "/batch_predict", { body }), 400, message, fields);
    }
    for (const q of ["", "?explain=true", "?raw=true"]) {
      const customers = [good, { ...good, Contract: "Weekly" }, good, null, { ...good, tenure: "abc", MonthlyCharges: "NaN" }];
      const r = await call(w.url, "/batch_predict" + q, { body: { customers } });
      assertClientError(r, 400, /^3 of 5 customers are invalid; first: row 1: Contract: unknown category "Weekly"/);
      assert.deepEqual(
        r.json.details.map((d) => [d.row, d.field]),
        [
          [1, "Contract"],
          [3, "customers"],
          [4, "tenure"],
          [4, "MonthlyCharges"],
        ],
      );
      assert.match(r.json.details[1].message, /expected an object with the customer's fields, got null/);
      const one = await call(w.url, "/batch_predict" + q, { body: { customers: [good, { ...good, tenure: true }] } });
      assertClientError(one, 400, /^row 1: tenure: expected a number, got true$/, ["tenure"]);
      assert.equal(one.json.details[0].row, 1);
    }
    await stillGood();
  });

  test("limits: body over 8 MiB and over 10,000 customers are 413, each naming its limit", async () => {
    const limit = 8_388_608;
    // A valid customer padded with whitespace to exactly the limit is accepted; one byte more is not.
    const base = JSON.stringify(good);
    const exact = base + " ".repeat(limit - Buffer.byteLength(base));
    assert.equal(Buffer.byteLength(exact), limit);
    const ok = await call(w.url, "/predict", { body: exact, raw: true, headers: { "content-type": "application/json" } });
    assert.equal(ok.status, 200);
    const over = await call(w.url, "/predict", { body: exact + " ", raw: true, headers: { "content-type": "application/json" } });
    assertClientError(over, 413, /^request body is larger than the limit of 8388608 bytes \(MAX_BODY_BYTES\)$/, ["body"]);
    assert.equal(over.json.details[0].message, "larger than 8388608 bytes (MAX_BODY_BYTES)");
    // 10,001 customers fit in well under the body limit when they are empty objects: refused by count.
    const many = await call(w.url, "/batch_predict", { body: { customers: Array.from({ length: 10_001 }, () => ({})) } });
    assertClientError(many, 413, /^customers: 10001 customers is more than the limit of 10000 per request \(MAX_BATCH_CUSTOMERS\)$/, [
      "customers",
    ]);
    assert.equal(many.json.details[0].message, "10001 customers is more than the limit of 10000 per request (MAX_BATCH_CUSTOMERS)");
    // 10,000 is within the count limit (then every row is invalid: a 400, not a 413).
    const tenK = await call(w.url, "/batch_predict", { body: { customers: Array.from({ length: 10_000 }, () => ({})) } });
    assertClientError(tenK, 400, /^10000 of 10000 customers are invalid/);
    await stillGood();
  });

  test("the limits agree: 10,000 Telco customers fit in the body limit however written; 10,001 hit the count limit", async () => {
    const limit = 8_388_608;
    const [header, ...lines] = readFileSync(new URL("../../data/telco_train.csv", import.meta.url), "utf8")
      .trim()
      .split("\n");
    const names = header.split(",");
    const rows = lines.map((l) => Object.fromEntries(l.split(",").map((v, j) => [names[j], v])));
    const longest = rows.reduce((a, b) => (JSON.stringify(b).length > JSON.stringify(a).length ? b : a));
    // The worst case: the longest Telco row 10,000 times, pretty-printed.
    const worst = JSON.stringify({ customers: Array.from({ length: 10_000 }, () => longest) }, null, 2);
    assert.ok(Buffer.byteLength(worst) > 7_000_000 && Buffer.byteLength(worst) <= limit, String(Buffer.byteLength(worst)));
    const r = await call(w.url, "/batch_predict", { body: worst, raw: true, headers: { "content-type": "application/json" } });
    assert.equal(r.status, 200, r.text.slice(0, 300));
    assert.equal(r.json.total_customers, 10_000);
    assert.equal(r.json.predictions[9_999].churn_probability, local.predict(longest).churn_probability);
    // 10,001 real customers are within the body limit, so it is the count that refuses them.
    const body = JSON.stringify({ customers: Array.from({ length: 10_001 }, (_, i) => rows[i % rows.length]) });
    assert.ok(Buffer.byteLength(body) < limit);
    const over = await call(w.url, "/batch_predict", { body, raw: true, headers: { "content-type": "application/json" } });
    assertClientError(over, 413, /more than the limit of 10000 per request \(MAX_BATCH_CUSTOMERS\)$/, ["customers"]);
    await stillGood();
  });

  test("404, 405 with Allow, CORS headers and preflight", async () => {
    for (const p of ["/nope", "/predict/", "/batch", "/Predict"]) {
      const r = await call(w.url, p, { method: "GET" });
      assertClientError(r, 404, /^not found: /, ["path"]);
      assert.equal(r.headers.get("access-control-allow-origin"), "*");
    }
    for (const [method, p, allow] of [
      ["GET", "/predict", "POST, OPTIONS"],
      ["PUT", "/batch_predict", "POST, OPTIONS"],
      ["POST", "/health", "GET, HEAD, OPTIONS"],
      ["DELETE", "/", "GET, HEAD, OPTIONS"],
    ]) {
      const r = await call(w.url, p, { method, body: method === "GET" ? undefined : good });
      assertClientError(r, 405, new RegExp(`^method ${method} not allowed on ${p.replace("/", "\\/")}`), ["method"]);
      assert.equal(r.headers.get("allow"), allow);
    }
    const ok = await call(w.url, "/predict", { body: good, headers: { origin: "https://crm.example" } });
    assert.equal(ok.headers.get("access-control-allow-origin"), "*");
    assert.match(ok.headers.get("x-request-id"), /^[0-9a-f-]{36}$/);
    const pre = await fetch(w.url + "/batch_predict", {
      method: "OPTIONS",
      headers: { origin: "https://crm.example", "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get("access-control-allow-origin"), "*");
    assert.match(pre.headers.get("access-control-allow-methods"), /POST/);
    assert.match(pre.headers.get("access-control-allow-headers"), /content-type/);
    await stillGood();
  });
});

describe("Worker with limits and CORS from vars (--var), as wrangler.toml [vars] sets them", () => {
  let w;
  before(async () => {
    w = await startWorker({
      vars: { MAX_BODY_BYTES: 5000, MAX_BATCH_CUSTOMERS: 3, CORS_ALLOW_ORIGIN: "https://a.example, https://b.example" },
    });
  });
  after(async () => {
    await w?.stop();
  });

  test("configured body and batch limits", async () => {
    const three = await call(w.url, "/batch_predict", { body: { customers: [cases[0], cases[1], cases[2]] } });
    assert.equal(three.status, 200);
    assert.equal(three.json.total_customers, 3);
    const four = await call(w.url, "/batch_predict", { body: { customers: [{}, {}, {}, {}] } });
    assertClientError(four, 413, /more than the limit of 3 per request/, ["customers"]);
    const big = await call(w.url, "/predict", { body: { ...good, pad: "x".repeat(5000) } });
    assertClientError(big, 413, /larger than the limit of 5000 bytes \(MAX_BODY_BYTES\)/, ["body"]);
  });

  test("CORS: only listed origins are echoed, with Vary: Origin", async () => {
    const a = await call(w.url, "/predict", { body: good, headers: { origin: "https://b.example" } });
    assert.equal(a.status, 200);
    assert.equal(a.headers.get("access-control-allow-origin"), "https://b.example");
    assert.match(a.headers.get("vary"), /Origin/);
    const other = await call(w.url, "/predict", { body: good, headers: { origin: "https://evil.example" } });
    assert.equal(other.status, 200);
    assert.equal(other.headers.get("access-control-allow-origin"), null);
    const pre = await fetch(w.url + "/predict", {
      method: "OPTIONS",
      headers: { origin: "https://a.example", "access-control-request-method": "POST" },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get("access-control-allow-origin"), "https://a.example");
    const preBad = await fetch(w.url + "/predict", {
      method: "OPTIONS",
      headers: { origin: "https://evil.example", "access-control-request-method": "POST" },
    });
    assert.equal(preBad.headers.get("access-control-allow-origin"), null);
    assert.equal(preBad.headers.get("access-control-allow-methods"), null);
  });
});

describe("Worker whose model file is broken: internal errors are 500 with a request id, logged", () => {
  let w;
  before(async () => {
    const dir = path.join(BUILD, "broken-model");
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, "model.bin"), "this is not a model file");
    w = await startWorker({ config: configWithModel("broken-model", path.join(dir, "model.bin")) });
  });
  after(async () => {
    await w?.stop();
  });

  test("500 {error, request_id}; /health 503; client errors stay 4xx", async () => {
    const r = await call(w.url, "/predict", { body: good });
    assert.equal(r.status, 500);
    assert.deepEqual(Object.keys(r.json), ["error", "request_id"]);
    assert.equal(r.json.error, "internal error");
    assert.equal(r.headers.get("x-request-id"), r.json.request_id);
    const h = await call(w.url, "/health", { method: "GET" });
    assert.equal(h.status, 503);
    assert.equal(h.json.model_loaded, false);
    assert.equal(h.json.status, "unhealthy");
    assertClientError(await call(w.url, "/nope", { method: "GET" }), 404, /not found/);
    assertClientError(await call(w.url, "/predict", { method: "GET" }), 405, /not allowed/);
    // The log names the request id and the cause.
    const deadline = Date.now() + 5000;
    while (!w.log().includes(r.json.request_id) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
    assert.ok(w.log().includes(r.json.request_id), w.log());
    assert.match(w.log(), /model failed to load: .*not a churn model file/);
  });
});

// Uploads without Content-Length are counted while they are read. Run on workerd directly
// (Miniflare): `wrangler dev`'s own proxy sometimes resets or answers 503 "Your worker restarted
// mid-request" when a Worker answers before reading a chunked upload to the end (see docs/WORKER.md).
describe("Worker on workerd via Miniflare (no wrangler dev proxy): streamed oversized bodies", () => {
  let w;
  // A 1 MiB limit (set as wrangler.toml [vars] would) keeps the uploads of this test small.
  before(async () => {
    w = await startMiniflare({ vars: { MAX_BODY_BYTES: "1048576" } });
  });
  after(async () => {
    await w?.stop();
  });

  test("chunked uploads over 1 MB are refused with 413 before the end, then it still scores", async () => {
    for (const total of [1_048_576 + 65_536, 4 * 1_048_576, 16 * 1_048_576]) {
      const r = await postRefused(w.url + "/batch_predict", total);
      assert.equal(r.status, 413);
      assert.match(r.json.error, /larger than the limit of 1048576 bytes \(MAX_BODY_BYTES\)/);
      if (total > 4 * 1_048_576) assert.ok(r.sent < total, `answered only after all ${r.sent} bytes`);
      const ok = await call(w.url, "/predict?raw=true", { body: good });
      assert.equal(ok.status, 200);
      assert.ok(Object.is(ok.json.churn_probability_raw, local.probability(good)));
    }
    // Under the limit, a chunked upload is read whole (whitespace only: malformed → 400).
    const small = await postChunked(w.url + "/predict", 65_536 * 4);
    assert.equal(small.status, 400);
    assert.match(small.json.error, /request body is empty/);
  });
});

describe("the same Worker self-hosted on a bare `workerd serve` (worker/selfhost.mjs)", () => {
  let child;
  let url;
  before(async () => {
    const { buildSelfHosted, WORKERD } = await import("../worker/selfhost.mjs");
    const { freePort } = await import("../worker/dev-server.mjs");
    const { spawn } = await import("node:child_process");
    const port = await freePort();
    const config = await buildSelfHosted({ port });
    child = spawn(WORKERD, ["serve", config], { detached: true, stdio: "ignore" });
    url = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 200; i++) {
      try {
        if ((await fetch(url + "/health")).ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error("workerd did not answer");
  });
  after(() => {
    if (child) process.kill(-child.pid, "SIGKILL");
  });

  test("serves the bundled model, scores like the package, refuses bad input", async () => {
    const h = await call(url, "/health", { method: "GET" });
    assert.equal(h.json.model_version, local.modelVersion);
    for (const c of cases.slice(0, 50)) {
      const r = await call(url, "/predict?raw=true&explain=true&top=3", { body: c });
      assert.ok(Object.is(r.json.churn_probability_raw, local.probability(c)));
      assert.deepEqual(r.json.top_factors, local.explain(c, 3).top_factors);
    }
    assertClientError(await call(url, "/predict", { body: { ...good, Contract: "Weekly" } }), 400, /unknown category "Weekly"/, [
      "Contract",
    ]);
    const chunked = await postRefused(url + "/predict", 8_388_608 + 1_048_576);
    assert.equal(chunked.status, 413);
    assert.match(chunked.json.error, /larger than the limit of 8388608 bytes \(MAX_BODY_BYTES\)/);
  });
});

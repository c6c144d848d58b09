// The HTTP layer of the churn Worker: routing, body limits, JSON in and out, CORS, error shapes.
// It holds no encoding, scoring, risk or explanation logic: every customer goes through the wasm
// core (`ChurnModel` from www/pkg), which validates it and names the field that is wrong.
//
// `createWorker(wasmModule, modelBytes)` runs once per isolate (module evaluation): it
// instantiates the precompiled wasm module and loads the model. If either fails, the Worker still
// starts and answers every request with 500 + request id (and /health with 503), each logged.
import { initSync, ChurnModel } from "../../pkg/churn.js";

const JSON_TYPE = "application/json";
// The two limits agree: 10,000 customers of the Telco schema take 4.8 MB as compact JSON and
// 7.5 MB at most (the longest row, pretty-printed), under 8 MiB; docs/WORKER.md#limits.
const DEFAULTS = { MAX_BODY_BYTES: 8_388_608, MAX_BATCH_CUSTOMERS: 10_000, CORS_ALLOW_ORIGIN: "*", ANALYTICS_INTERVAL_SECONDS: 60 };
const MAX_TOP = 100;

/** A client's mistake: becomes `{error, details}` with `status`, never a 500. */
class HttpError extends Error {
  constructor(status, message, details = [], headers = {}) {
    super(message);
    this.status = status;
    this.details = details;
    this.headers = headers;
  }
}

/** Reads the Worker's vars (wrangler.toml `[vars]`) once per isolate; bad values are a deploy error. */
function readConfig(env) {
  const limit = (name, least = 1) => {
    const raw = env?.[name] ?? DEFAULTS[name];
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n < least)
      throw new Error(`config: ${name} must be ${least === 1 ? "a positive integer" : "an integer >= 0"}, got ${JSON.stringify(raw)}`);
    return n;
  };
  const token = env?.MONITORING_TOKEN;
  const monitoring = String(env?.MONITORING ?? "on").trim();
  if (monitoring !== "on" && monitoring !== "off")
    throw new Error(`config: MONITORING must be "on" or "off", got ${JSON.stringify(monitoring)}`);
  const analytics = env?.MONITORING_ANALYTICS;
  const cors = String(env?.CORS_ALLOW_ORIGIN ?? DEFAULTS.CORS_ALLOW_ORIGIN).trim();
  return {
    maxBodyBytes: limit("MAX_BODY_BYTES"),
    maxBatch: limit("MAX_BATCH_CUSTOMERS"),
    // "off": no profile is kept (GET /monitoring answers 501).
    monitoring: monitoring === "on",
    // GET /monitoring needs `Authorization: Bearer <MONITORING_TOKEN>` when the secret is set.
    monitoringToken: typeof token === "string" && token !== "" ? token : null,
    // Workers Analytics Engine dataset binding (wrangler.toml), if any, and how often to write.
    analytics: analytics !== undefined && typeof analytics?.writeDataPoint === "function" ? analytics : null,
    analyticsIntervalMs: 1000 * limit("ANALYTICS_INTERVAL_SECONDS", 0),
    // "*" (any origin), "" (no CORS headers) or a comma-separated list of allowed origins.
    corsOrigins:
      cors === "*" || cors === ""
        ? cors
        : cors
            .split(",")
            .map((o) => o.trim())
            .filter(Boolean),
  };
}

function corsHeaders(config, request) {
  if (config.corsOrigins === "") return {};
  if (config.corsOrigins === "*") return { "access-control-allow-origin": "*" };
  const origin = request.headers.get("origin");
  const h = { vary: "Origin" };
  if (origin !== null && config.corsOrigins.includes(origin)) h["access-control-allow-origin"] = origin;
  return h;
}

// A body refused early is still read and thrown away up to this many times the body limit, so
// that the connection stays usable and the client reads its 4xx instead of a reset (workerd
// closes a connection whose request body was left unread). Beyond that, stop reading at once.
const DRAIN_FACTOR = 4;

/** Reads and discards the rest of a body, at most `bound` bytes; then gives up on it. */
async function drain(reader, bound) {
  let seen = 0;
  try {
    while (seen <= bound) {
      const { done, value } = await reader.read();
      if (done) return;
      seen += value.byteLength;
    }
    await reader.cancel();
  } catch {
    // the client went away: nothing to keep usable
  }
}

/** Discards the body of a request answered without reading it (404, 405, 415, declared 413). */
async function discardBody(request, config) {
  if (config === null || request.body === null || request.bodyUsed) return;
  const bound = DRAIN_FACTOR * config.maxBodyBytes;
  const declared = Number(request.headers.get("content-length") ?? 0);
  if (declared > bound) return; // too big to read just to be polite
  await drain(request.body.getReader(), bound);
}

/** Reads at most `limit` bytes of the body; more is a 413 whatever Content-Length claims. */
async function readBody(request, limit) {
  const tooLarge = () =>
    new HttpError(413, `request body is larger than the limit of ${limit} bytes (MAX_BODY_BYTES)`, [
      { field: "body", message: `larger than ${limit} bytes (MAX_BODY_BYTES)` },
    ]);
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) throw tooLarge();
  if (request.body === null) return new Uint8Array(0);
  // With a Content-Length within the limit the runtime delivers exactly that many bytes, so the
  // body is read in one call (no reader, no chunk list: fewer objects per request for the GC).
  if (declared !== null && /^[0-9]+$/.test(declared)) return new Uint8Array(await request.arrayBuffer());
  const reader = request.body.getReader();
  const chunks = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await drain(reader, DRAIN_FACTOR * limit - total);
      throw tooLarge();
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0];
  const body = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    body.set(c, at);
    at += c.byteLength;
  }
  return body;
}

// One strict UTF-8 decoder per isolate: decode() without `stream` keeps no state between calls.
const UTF8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The JSON body. As the seed's FastAPI service did, a request without Content-Type is read as
 * JSON; any other media type than application/json or *+json is refused with 415.
 */
async function readJson(request, config) {
  const type = request.headers.get("content-type");
  if (type !== null) {
    const media = type.split(";")[0].trim().toLowerCase();
    if (media !== JSON_TYPE && !/^application\/[^/]+\+json$/.test(media)) {
      throw new HttpError(415, `expected Content-Type: application/json, got ${JSON.stringify(type)}`, [
        { field: "content-type", message: `unsupported media type ${JSON.stringify(media)}` },
      ]);
    }
  }
  const bytes = await readBody(request, config.maxBodyBytes);
  let text;
  try {
    text = UTF8.decode(bytes);
  } catch {
    throw new HttpError(400, "request body is not valid UTF-8", [{ field: "body", message: "not valid UTF-8" }]);
  }
  if (text.trim() === "") throw new HttpError(400, "request body is empty: expected JSON", [{ field: "body", message: "empty" }]);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new HttpError(400, `malformed JSON: ${e.message}`, [{ field: "body", message: `malformed JSON: ${e.message}` }]);
  }
}

const NO_OPTIONS = Object.freeze({ explain: false, raw: false, top: 5 });

/** `?explain=true[&top=K]` and `?raw=true`. */
function readOptions(url) {
  if (url.search === "") return NO_OPTIONS; // no URLSearchParams object for a plain request
  const flag = (name) => {
    const v = url.searchParams.get(name);
    if (v === null || v === "false" || v === "0") return false;
    if (v === "" || v === "true" || v === "1") return true;
    throw new HttpError(400, `${name}: expected true or false, got ${JSON.stringify(v)}`, [
      { field: name, message: `expected true or false, got ${JSON.stringify(v)}` },
    ]);
  };
  const explain = flag("explain");
  const raw = flag("raw");
  let top = 5;
  const t = url.searchParams.get("top");
  if (t !== null) {
    top = /^[0-9]{1,3}$/.test(t) ? Number(t) : NaN;
    if (!(top >= 1 && top <= MAX_TOP)) {
      throw new HttpError(400, `top: expected an integer from 1 to ${MAX_TOP}, got ${JSON.stringify(t)}`, [
        { field: "top", message: `expected an integer from 1 to ${MAX_TOP}, got ${JSON.stringify(t)}` },
      ]);
    }
  }
  return { explain, raw, top };
}

/** Is this the core's validation Error (thrown with `details`)? Anything else is internal. */
function isInvalidInput(e) {
  return e instanceof Error && Array.isArray(e.details);
}

/**
 * The core's `details` for one customer; where the whole customer is wrong (not an object) the
 * core gives no field (`null`, or no details at all for a single customer), so the detail names
 * `whole` (the body, or the batch array).
 */
function detailsOf(details, message, whole) {
  return details.length > 0 ? details.map((d) => ({ field: d.field ?? whole, message: d.message })) : [{ field: whole, message }];
}

/**
 * One customer's result in the seed's shape, plus the optional explain/raw fields. `scorer` is
 * the model, or a profile of it (which also counts the customer; the raw probability of a plain
 * prediction comes from the model, uncounted).
 */
function scoreOne(scorer, model, customer, opts, timestamp) {
  let r;
  if (opts.explain) {
    const e = scorer.explain(customer, opts.top);
    r = {
      churn_probability: e.churn_probability,
      churn_prediction: e.churn_prediction,
      risk_level: e.risk_level,
      model_version: e.model_version,
    };
    if (opts.raw) r.churn_probability_raw = e.churn_probability_raw;
    r.top_factors = e.top_factors;
  } else {
    r = scorer.predict(customer);
    if (opts.raw) r.churn_probability_raw = model.probability(customer);
  }
  if (timestamp !== undefined) r.prediction_timestamp = timestamp;
  return r;
}

const ENCODER = new TextEncoder();

/**
 * Whether the request carries `Authorization: Bearer <token>`. Both sides are hashed (SHA-256)
 * and the digests compared without an early exit, so the time taken does not depend on where
 * (or whether) a guess first differs, nor on its length.
 */
async function bearerMatches(request, token) {
  const header = request.headers.get("authorization") ?? "";
  const m = /^Bearer[ ]+(.*)$/i.exec(header);
  const given = m === null ? "" : m[1].trim();
  const [a, b] = await Promise.all([
    crypto.subtle.digest("SHA-256", ENCODER.encode(given)),
    crypto.subtle.digest("SHA-256", ENCODER.encode(token)),
  ]);
  const x = new Uint8Array(a);
  const y = new Uint8Array(b);
  let diff = m === null ? 1 : 0;
  for (let i = 0; i < x.length; i++) diff |= x[i] ^ y[i];
  return diff === 0;
}

/**
 * Analytics Engine data point of the counts since the previous one (docs/WORKER.md#monitoring):
 * index the model version; blobs the model version and the isolate's id; doubles rows scored,
 * rows refused, HIGH, MEDIUM, LOW, then the scores in ten bins of width 0.1 (from the profile's
 * twenty bins of 0.05, summed in pairs).
 */
function countsOf(json) {
  const c = [json.rows, json.invalid_rows, json.risk.HIGH, json.risk.MEDIUM, json.risk.LOW];
  for (let k = 0; k < 20; k += 2) c.push(json.scores[k] + json.scores[k + 1]);
  return c;
}

export function createWorker(wasmModule, modelBytes) {
  let model = null;
  let schema = null;
  let info = null;
  let startupError = null;
  // What this isolate scored, counted by the core (fixed size: O(fields x bins) integers); null
  // when the model file carries no training profile (format versions 1 and 2).
  let profile = null;
  try {
    initSync({ module: wasmModule });
    model = new ChurnModel(new Uint8Array(modelBytes));
    schema = model.schema();
    info = model.info();
    if (model.referenceProfile() !== null) profile = model.newProfile();
  } catch (e) {
    startupError = e;
    console.error(`churn worker: model failed to load: ${e?.stack ?? e}`);
  }
  let config = null;
  // Set at the first request: in the module scope of a Worker the clock reads 0 and random
  // values may not be generated.
  let isolate = null;
  // The counts in the last Analytics Engine data point, and when it was written.
  let written = null;
  let writtenAt = 0;

  /** Writes the counts since the last data point, at most once per ANALYTICS_INTERVAL_SECONDS. */
  function writeAnalytics() {
    if (config.analytics === null || profile === null) return;
    const now = Date.now();
    if (written !== null && now - writtenAt < config.analyticsIntervalMs) return;
    const counts = countsOf(profile.toJSON());
    const delta = written === null ? counts : counts.map((c, k) => c - written[k]);
    written = counts;
    writtenAt = now;
    if (delta[0] === 0 && delta[1] === 0) return;
    try {
      config.analytics.writeDataPoint({ indexes: [model.modelVersion], blobs: [model.modelVersion, isolate.id], doubles: delta });
    } catch (e) {
      console.error(`churn worker: Analytics Engine write failed: ${e?.stack ?? e}`);
    }
  }

  const routes = {
    "/": {
      GET: () => ({ message: "Churn Prediction API", model_version: model.modelVersion, status: "running" }),
    },
    "/health": {
      GET: () => ({ status: "healthy", model_loaded: true, model_version: model.modelVersion, timestamp: new Date().toISOString() }),
    },
    "/model_info": {
      GET: () => ({
        model_name: info.name,
        model_version: info.version,
        model_type: `${info.model_type} (${info.model_description}, ${info.trees} trees)`,
        model_params: info.params,
        model_selection: info.selection,
        features_expected: schema.fields.map((f) => f.name),
        metrics: info.test_metrics,
        policy: info.policy,
        trained_at: info.created_at,
      }),
    },
    "/monitoring": {
      GET: async (request) => {
        if (config.monitoringToken !== null && !(await bearerMatches(request, config.monitoringToken))) {
          const message = "GET /monitoring needs Authorization: Bearer <MONITORING_TOKEN>";
          throw new HttpError(401, message, [{ field: "authorization", message: "missing or wrong bearer token" }], {
            "www-authenticate": 'Bearer realm="monitoring"',
          });
        }
        if (!config.monitoring) {
          throw new HttpError(501, 'monitoring is off (MONITORING = "off")', [{ field: "MONITORING", message: "off" }]);
        }
        if (profile === null) {
          throw new HttpError(
            501,
            "the served model file carries no training profile: retrain it with churn (format version 3) to monitor",
            [{ field: "model", message: `format version ${info.format_version} has no training profile` }],
          );
        }
        return {
          model_version: model.modelVersion,
          isolate_id: isolate.id,
          started_at: isolate.startedAt,
          rows: profile.rows,
          invalid_rows: profile.invalidRows,
          profile: profile.toJSON(),
        };
      },
    },
    "/predict": {
      POST: async (request, url) => {
        const opts = readOptions(url);
        const customer = await readJson(request, config);
        try {
          // The profile scores and counts (a refusal as invalid, by field) in the same call.
          return scoreOne(profile ?? model, model, customer, opts, new Date().toISOString());
        } catch (e) {
          if (!isInvalidInput(e)) throw e; // not the client's mistake: a 500
          throw new HttpError(400, e.message, detailsOf(e.details, e.message, "body"));
        }
      },
    },
    "/batch_predict": {
      POST: async (request, url) => {
        const opts = readOptions(url);
        const body = await readJson(request, config);
        if (body === null || typeof body !== "object" || Array.isArray(body)) {
          const got = kindOf(body);
          throw new HttpError(400, `expected a JSON object {"customers": [...]}, got ${got}`, [
            { field: "body", message: `expected an object, got ${got}` },
          ]);
        }
        const customers = body.customers;
        if (customers === undefined)
          throw new HttpError(400, "missing field: customers", [{ field: "customers", message: "missing field" }]);
        if (!Array.isArray(customers)) {
          const got = kindOf(customers);
          throw new HttpError(400, `customers: expected an array, got ${got}`, [
            { field: "customers", message: `expected an array, got ${got}` },
          ]);
        }
        if (customers.length === 0)
          throw new HttpError(400, "customers: empty batch (expected at least 1 customer)", [
            { field: "customers", message: "empty batch" },
          ]);
        if (customers.length > config.maxBatch) {
          const message = `${customers.length} customers is more than the limit of ${config.maxBatch} per request (MAX_BATCH_CUSTOMERS)`;
          throw new HttpError(413, `customers: ${message}`, [{ field: "customers", message }]);
        }
        // Plain batches go through the core in one call; explain/raw need one call per row.
        // The profile counts the scored rows of an accepted batch, and the refused rows of a
        // refused one (its good rows were not served: a corrected retry counts them): a plain
        // batch with `atomic`, an explained one through a profile of its own merged if accepted.
        const plain = !opts.explain && !opts.raw;
        const own = !plain && profile !== null ? model.newProfile() : null;
        let results;
        try {
          results = !plain
            ? customers.map((c, row) => {
                try {
                  return scoreOne(own ?? model, model, c, opts);
                } catch (e) {
                  if (!isInvalidInput(e)) throw e;
                  return { row, error: e.message, details: e.details };
                }
              })
            : profile !== null
              ? profile.predictBatch(customers, true)
              : model.predictBatch(customers);
          if (own !== null && results.every((r) => r.error === undefined)) profile.merge(own);
          else if (own !== null) for (const r of results) if (r.error !== undefined) profile.add(customers[r.row]);
        } finally {
          own?.free();
        }
        const details = [];
        let bad = 0;
        for (const r of results) {
          if (r.error === undefined) continue;
          bad += 1;
          for (const d of detailsOf(r.details, r.error, "customers")) details.push({ row: r.row, ...d });
        }
        if (bad > 0) {
          const firstBad = results.find((r) => r.error !== undefined);
          const first = `row ${firstBad.row}: ${firstBad.error}`;
          throw new HttpError(400, bad === 1 ? first : `${bad} of ${customers.length} customers are invalid; first: ${first}`, details);
        }
        const idColumn = schema.id_column;
        let high = 0;
        const predictions = results.map((r, i) => {
          const id = idColumn != null ? customers[i][idColumn] : undefined;
          if (r.risk_level === "HIGH") high += 1;
          return { customer_id: typeof id === "string" || typeof id === "number" ? String(id) : `customer_${i + 1}`, ...r };
        });
        return { predictions, total_customers: predictions.length, high_risk_count: high, model_version: model.modelVersion };
      },
    },
  };

  async function handle(request, env) {
    if (config === null) {
      config = readConfig(env);
      if (!config.monitoring) {
        profile?.free();
        profile = null;
      }
    }
    if (isolate === null) isolate = { id: crypto.randomUUID(), startedAt: new Date().toISOString() };
    const cors = corsHeaders(config, request);
    const url = new URL(request.url);
    const route = routes[url.pathname];
    if (route === undefined)
      throw new HttpError(
        404,
        `not found: ${url.pathname}`,
        [{ field: "path", message: `no such endpoint (endpoints: ${Object.keys(routes).join(", ")})` }],
        cors,
      );
    const methods = Object.keys(route);
    if (methods.includes("GET")) methods.push("HEAD");
    const allow = [...methods, "OPTIONS"].join(", ");
    if (request.method === "OPTIONS") {
      const h = { ...cors, allow };
      if (h["access-control-allow-origin"] !== undefined) {
        h["access-control-allow-methods"] = allow;
        h["access-control-allow-headers"] = request.headers.get("access-control-request-headers") ?? "content-type";
        h["access-control-max-age"] = "86400";
      }
      return new Response(null, { status: 204, headers: h });
    }
    const method = request.method === "HEAD" && route.GET ? "GET" : request.method;
    if (route[method] === undefined) {
      throw new HttpError(
        405,
        `method ${request.method} not allowed on ${url.pathname} (allowed: ${allow})`,
        [{ field: "method", message: `expected ${methods.join(" or ")}` }],
        { ...cors, allow },
      );
    }
    if (startupError !== null) throw startupError;
    const body = await route[method](request, url);
    return json(200, body, cors, request.method === "HEAD");
  }

  return {
    async fetch(request, env) {
      const requestId = request.headers.get("cf-ray") ?? crypto.randomUUID();
      try {
        return await respond(request, env, requestId);
      } finally {
        // Refused rows count too, so a data point follows a 400 as well as a 200.
        if (request.method === "POST" && config !== null) writeAnalytics();
      }
    },
  };

  async function respond(request, env, requestId) {
    try {
      const response = await handle(request, env);
      response.headers.set("x-request-id", requestId);
      return response;
    } catch (e) {
      if (e instanceof HttpError) {
        await discardBody(request, config);
        return json(
          e.status,
          { error: e.message, details: e.details },
          { ...e.headers, ...safeCors(config, request), "x-request-id": requestId },
        );
      }
      console.error(`churn worker: request ${requestId} ${request.method} ${request.url} failed: ${e?.stack ?? e}`);
      const path = new URL(request.url).pathname;
      if (path === "/health" && startupError !== null) {
        return json(
          503,
          { status: "unhealthy", model_loaded: false, error: "model failed to load", request_id: requestId },
          { ...safeCors(config, request), "x-request-id": requestId },
        );
      }
      return json(500, { error: "internal error", request_id: requestId }, { ...safeCors(config, request), "x-request-id": requestId });
    }
  }
}

/** "null", "an array", "an object", "a string", ... for messages about JSON values. */
function kindOf(v) {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v === "object" ? "an object" : `a ${typeof v}`;
}

function safeCors(config, request) {
  return config === null ? {} : corsHeaders(config, request);
}

function json(status, body, headers = {}, headOnly = false) {
  return new Response(headOnly ? null : JSON.stringify(body), { status, headers: { "content-type": JSON_TYPE, ...headers } });
}

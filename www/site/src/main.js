// The demo page: one customer (form from the model's schema, live score and "why" chart),
// a whole CSV (scored in a Web Worker), and the model card. Every number that is a score, a risk
// level, an explanation or a metric comes from the wasm core (`churn-wasm`, built into www/pkg);
// this file only lays them out.
import init, { ChurnModel, formatNumber } from "../../pkg/churn.js";
import wasmUrl from "../../pkg/churn_bg.wasm?url";
import defaultModelUrl from "../../worker/model.bin?url";
import { bars, histogram, pairedBars, rocCurve } from "./charts.js";
import { binCounts, binLabels } from "./drift.js";

const $ = (id) => document.getElementById(id);
const RISK_ORDER = { HIGH: 0, MEDIUM: 1, LOW: 2 };
const PAGE = 25;

const state = {
  model: null, // ChurnModel
  bytes: null, // its file, for the worker
  name: "",
  schema: null,
  info: null,
  firstPrediction: false,
  batch: null, // last batch result
  order: [], // row indices in display order
  sort: { key: "risk", dir: 1 },
  page: 0,
  job: 0,
  driftJob: 0,
};

// ---------------------------------------------------------------- model loading

const wasmReady = init({ module_or_path: wasmUrl });

async function start() {
  try {
    await wasmReady;
    const res = await fetch(defaultModelUrl);
    if (!res.ok) throw new Error(`could not fetch the bundled model (HTTP ${res.status})`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (!useModel(bytes, "the bundled Telco model")) return;
  } catch (e) {
    showModelError(`The page could not start: ${e.message}`);
  }
}

/** Loads a model file; on failure says why and keeps the current model. */
function useModel(bytes, name) {
  let model;
  try {
    model = new ChurnModel(bytes);
  } catch (e) {
    const keep = state.model ? ` The page keeps using ${state.name}.` : "";
    showModelError(`Could not load ${name}: ${e.message}.${keep}`);
    return false;
  }
  const previous = formValues();
  state.model?.free();
  Object.assign(state, { model, bytes, name, schema: model.schema(), info: model.info() });
  $("model-error").hidden = true;
  $("model-status").innerHTML = "";
  $("model-status").append(
    "Model ",
    strong(state.info.name),
    ", version ",
    code(model.modelVersion),
    ` (${name}, ${bytes.length.toLocaleString("en")} bytes).`,
  );
  buildForm(previous);
  renderCard();
  clearBatch();
  state.driftJob++; // a comparison with the previous model is no longer shown
  $("drift-result").hidden = true;
  $("drift-error").hidden = true;
  scoreForm();
  return true;
}

function showModelError(message) {
  const box = $("model-error");
  box.textContent = message;
  box.hidden = false;
}

async function loadModelFile(file) {
  if (!file) return;
  const bytes = new Uint8Array(await file.arrayBuffer());
  try {
    await wasmReady;
  } catch {
    return; // start() has said why the page cannot run
  }
  useModel(bytes, `“${file.name}”`);
}

// ---------------------------------------------------------------- single customer

function fieldId(k) {
  return `f-${k}`;
}

function formValues() {
  const out = {};
  state.schema?.fields.forEach((f, k) => {
    const el = $(fieldId(k));
    if (el) out[f.name] = el.value;
  });
  return out;
}

function hintFor(f) {
  if (f.kind === "categorical") {
    const u = f.unknown;
    const other = u && typeof u === "object" && "as_level" in u ? `; other values count as “${f.levels[u.as_level]}”` : "";
    return `${f.levels.length} categories seen in training${other}`;
  }
  const range = f.min !== undefined && f.min !== null ? `training range ${formatNumber(f.min)} – ${formatNumber(f.max)}` : "";
  const m = f.missing;
  let missing = "";
  if (m && typeof m === "object" && "replace" in m) missing = `blank = missing (scored as ${formatNumber(m.replace)})`;
  else if (m === "error") missing = "required";
  return [range, missing].filter(Boolean).join("; ");
}

function buildForm(previous) {
  const box = $("fields");
  box.innerHTML = "";
  state.schema.fields.forEach((f, k) => {
    const wrap = document.createElement("div");
    wrap.className = "field";
    const label = document.createElement("label");
    label.htmlFor = fieldId(k);
    label.textContent = f.name;
    let input;
    const old = previous[f.name];
    if (f.kind === "categorical") {
      input = document.createElement("select");
      for (const level of f.levels) input.append(new Option(level, level));
      input.value = old !== undefined && f.levels.includes(old) ? old : f.levels[0];
    } else {
      input = document.createElement("input");
      input.type = "text";
      input.inputMode = f.integer ? "numeric" : "decimal";
      input.autocomplete = "off";
      const m = f.missing;
      const fallback =
        m && typeof m === "object" && "replace" in m ? formatNumber(m.replace) : f.min !== undefined ? formatNumber(f.min) : "";
      input.value = old !== undefined ? old : fallback;
    }
    input.id = fieldId(k);
    input.name = f.name;
    input.dataset.field = f.name;
    const hint = document.createElement("p");
    hint.className = "hint";
    hint.id = `h-${k}`;
    hint.textContent = hintFor(f);
    const err = document.createElement("p");
    err.className = "field-error";
    err.id = `e-${k}`;
    err.dataset.field = f.name;
    input.setAttribute("aria-describedby", `h-${k} e-${k}`);
    input.addEventListener("input", scoreForm);
    input.addEventListener("change", scoreForm);
    wrap.append(label, input, hint, err);
    box.append(wrap);
  });
}

function clearFieldErrors() {
  state.schema.fields.forEach((_, k) => {
    $(`e-${k}`).textContent = "";
    $(fieldId(k)).removeAttribute("aria-invalid");
  });
}

function scoreForm() {
  const { model, schema } = state;
  if (!model) return;
  const customer = formValues();
  clearFieldErrors();
  let r;
  try {
    r = model.explain(customer, 5);
  } catch (e) {
    const details = Array.isArray(e.details) ? e.details : [];
    const names = schema.fields.map((f) => f.name);
    const placed = [];
    for (const d of details) {
      const k = names.indexOf(d.field);
      if (k < 0) continue;
      const err = $(`e-${k}`);
      err.textContent = err.textContent ? `${err.textContent}; ${d.message}` : d.message;
      $(fieldId(k)).setAttribute("aria-invalid", "true");
      placed.push(d.field);
    }
    $("result-probability").textContent = "–";
    $("result-prediction").textContent = "–";
    setBadge($("result-risk"), null);
    $("mini-probability").textContent = "–";
    setBadge($("mini-risk"), null);
    const problem = $("result-problem");
    problem.textContent = placed.length ? `Not scored: check ${placed.join(", ")}.` : `Not scored: ${e.message}`;
    problem.hidden = false;
    $("why").innerHTML = "";
    $("why-note").textContent = "";
    delete $("result").dataset.raw;
    return;
  }
  $("result-problem").hidden = true;
  const out = $("result");
  out.dataset.raw = formatNumber(r.churn_probability_raw);
  $("result-probability").textContent = formatNumber(r.churn_probability);
  $("result-prediction").textContent = r.churn_prediction;
  setBadge($("result-risk"), r.risk_level);
  $("result-version").textContent = r.model_version;
  $("mini-probability").textContent = formatNumber(r.churn_probability);
  setBadge($("mini-risk"), r.risk_level);
  const why = $("why");
  why.innerHTML = "";
  why.append(
    bars(
      r.top_factors.map((f) => ({
        label: `${f.field} = ${f.value === null ? "(missing)" : f.value}`,
        value: f.contribution,
        text: `${f.contribution >= 0 ? "+" : "−"}${Math.abs(f.contribution).toFixed(3)}`,
        data: { field: f.field, contribution: formatNumber(f.contribution), value: String(f.value) },
      })),
      { label: "Largest contributions to this customer's churn probability", signed: true },
    ),
  );
  $("why-note").textContent =
    `Average customer: ${r.base_value.toFixed(3)}. Red bars push the probability up, blue bars down; ` +
    "all contributions add up to this customer's probability.";
  if (!state.firstPrediction) {
    state.firstPrediction = true;
    document.body.dataset.firstPredictionMs = performance.now().toFixed(1);
  }
}

/** Puts one scored row's values into the form and scores it there (with its "why" chart). */
function explainRow(customer) {
  state.schema.fields.forEach((f, k) => {
    const el = $(fieldId(k));
    const v = customer[f.name] ?? "";
    if (el.tagName === "SELECT" && ![...el.options].some((o) => o.value === v)) el.append(new Option(v, v));
    el.value = v;
  });
  scoreForm();
  $("result").scrollIntoView({ block: "start" });
  $("result-h").setAttribute("tabindex", "-1");
  $("result-h").focus({ preventScroll: true });
}

function setBadge(el, risk) {
  el.className = risk ? `badge risk-${risk.toLowerCase()}` : "badge";
  el.textContent = risk ? `${risk} risk` : "–";
  if (risk) el.dataset.risk = risk;
  else delete el.dataset.risk;
}

// ---------------------------------------------------------------- batch

const worker = new Worker(new URL("./score-worker.js", import.meta.url), { type: "module" });
worker.onmessage = (ev) => {
  const m = ev.data;
  if (m.type === "drift-done" || m.type === "drift-error") {
    if (m.job === state.driftJob) showDrift(m);
    return;
  }
  if (m.job !== state.job) return; // a newer file or model replaced this job
  if (m.type === "progress") {
    $("batch-progress").value = m.done / m.total;
    $("batch-progress-label").textContent = `Scoring… ${m.done.toLocaleString("en")} of about ${m.total.toLocaleString("en")} rows`;
  } else if (m.type === "done") {
    $("batch-progress-box").hidden = true;
    showBatch(m.result);
  } else if (m.type === "customer") {
    if (m.customer) explainRow(m.customer);
  } else if (m.type === "error") {
    $("batch-progress-box").hidden = true;
    $("batch-error").textContent = `Could not score the file: ${m.message}`;
    $("batch-error").hidden = false;
  }
};
worker.onerror = (e) => {
  $("batch-progress-box").hidden = true;
  $("batch-error").textContent = `The scoring worker failed: ${e.message}`;
  $("batch-error").hidden = false;
};

function clearBatch() {
  state.job++;
  state.batch = null;
  $("batch-result").hidden = true;
  $("batch-error").hidden = true;
  $("batch-progress-box").hidden = true;
}

function scoreFile(file) {
  if (!file) return;
  if (!state.model) {
    $("batch-error").textContent = "No model is loaded yet: wait for it, or load a model file first.";
    $("batch-error").hidden = false;
    return;
  }
  clearBatch();
  $("batch-progress").value = 0;
  $("batch-progress-label").textContent = `Scoring ${file.name}…`;
  $("batch-progress-box").hidden = false;
  document.body.dataset.batchState = "running";
  // The worker gets its own copy of the model file and builds its own instance.
  worker.postMessage({ type: "score", job: state.job, modelBytes: state.bytes.slice().buffer, file });
}

function showBatch(res) {
  state.batch = res;
  const counts = { HIGH: 0, MEDIUM: 0, LOW: 0 };
  for (const r of res.risk) counts[r] = (counts[r] ?? 0) + 1;
  $("batch-summary").textContent =
    `${res.fileName}: ${res.rows.length.toLocaleString("en")} of ${res.total.toLocaleString("en")} rows scored` +
    (res.errors.length ? `, ${res.errors.length.toLocaleString("en")} with errors (listed below)` : "") +
    ` in ${(res.ms / 1000).toFixed(2)} s.`;
  const summary = $("batch-summary");
  summary.dataset.scored = res.rows.length;
  summary.dataset.total = res.total;
  summary.dataset.errors = res.errors.length;
  summary.dataset.ms = res.ms.toFixed(1);
  const list = $("risk-counts");
  list.innerHTML = "";
  for (const [risk, n] of Object.entries(counts)) {
    const li = document.createElement("li");
    li.dataset.risk = risk;
    li.dataset.count = n;
    const b = document.createElement("span");
    setBadge(b, risk);
    li.append(b, ` ${n.toLocaleString("en")}`);
    list.append(li);
  }
  const a = $("download");
  if (a.href.startsWith("blob:")) URL.revokeObjectURL(a.href);
  a.href = URL.createObjectURL(new Blob([res.csv], { type: "text/csv" }));
  a.download = `${res.fileName.replace(/\.csv$/i, "")}-scored.csv`;

  const policy = state.info.policy;
  const hist = $("histogram");
  hist.innerHTML = "";
  hist.append(
    histogram(res.probability, {
      label: `Histogram of the churn probabilities of ${res.rows.length} customers`,
      marks: [
        { at: policy.medium, label: "MEDIUM" },
        { at: policy.high, label: "HIGH" },
      ],
    }),
  );

  const mbox = $("metrics-box");
  mbox.hidden = !res.metrics;
  if (res.metrics) {
    $("metrics-target").textContent = res.target;
    const m = $("metrics");
    m.innerHTML = "";
    m.append(metricsTable(res.metrics));
    if (res.labelNote) m.append(para(`${res.labelNote[0].toUpperCase()}${res.labelNote.slice(1)}.`));
    if (res.metrics.roc?.length) m.append(rocCurve(res.metrics.roc, { label: `ROC curve on ${res.fileName}` }));
  }

  const ebox = $("errors-box");
  ebox.hidden = !res.errors.length;
  const ol = $("batch-errors");
  ol.innerHTML = "";
  for (const e of res.errors.slice(0, 500)) {
    const li = document.createElement("li");
    li.dataset.row = e.row;
    li.dataset.line = e.line;
    li.dataset.message = e.message;
    li.textContent = `Row ${e.row} (line ${e.line}${e.id ? `, ${state.schema.id_column} ${e.id}` : ""}): ${e.message}`;
    ol.append(li);
  }
  if (res.errors.length > 500) ol.append(para(`…and ${res.errors.length - 500} more.`));

  state.sort = { key: "risk", dir: 1 };
  sortRows();
  $("batch-result").hidden = false;
  document.body.dataset.batchState = "done";
}

const COLUMNS = [
  { key: "row", label: "Row" },
  { key: "id", label: "Customer" },
  { key: "probability", label: "Probability" },
  { key: "prediction", label: "Will churn" },
  { key: "risk", label: "Risk" },
  { key: null, label: "Explain" },
];

function sortRows() {
  const b = state.batch;
  const { key, dir } = state.sort;
  const idx = b.rows.map((_, k) => k);
  const byProb = (i, j) => b.probability[j] - b.probability[i];
  const cmp = {
    risk: (i, j) => RISK_ORDER[b.risk[i]] - RISK_ORDER[b.risk[j]] || byProb(i, j) || b.rows[i] - b.rows[j],
    probability: (i, j) => byProb(i, j) || b.rows[i] - b.rows[j],
    prediction: (i, j) => (b.prediction[i] === b.prediction[j] ? byProb(i, j) : b.prediction[i] === "Yes" ? -1 : 1),
    row: (i, j) => b.rows[i] - b.rows[j],
    id: (i, j) => b.ids[i].localeCompare(b.ids[j], "en", { numeric: true }),
  }[key];
  idx.sort((i, j) => dir * cmp(i, j));
  state.order = idx;
  state.page = 0;
  renderTable();
}

function renderTable() {
  const b = state.batch;
  const head = $("scored-table").tHead.rows[0];
  head.innerHTML = "";
  for (const c of COLUMNS) {
    const th = document.createElement("th");
    th.scope = "col";
    if (!c.key) {
      th.textContent = c.label;
      head.append(th);
      continue;
    }
    const btn = document.createElement("button");
    btn.type = "button";
    btn.textContent = c.key === "id" ? (state.batch.idHeader === "row" ? "Customer" : state.batch.idHeader) : c.label;
    if (state.sort.key === c.key) {
      th.setAttribute("aria-sort", state.sort.dir === 1 ? "ascending" : "descending");
      btn.append(state.sort.dir === 1 ? " ▲" : " ▼");
    }
    btn.addEventListener("click", () => {
      state.sort = state.sort.key === c.key ? { key: c.key, dir: -state.sort.dir } : { key: c.key, dir: 1 };
      sortRows();
      head.querySelectorAll("button")[COLUMNS.indexOf(c)]?.focus();
    });
    th.append(btn);
    head.append(th);
  }
  const body = $("scored-table").tBodies[0];
  body.innerHTML = "";
  const from = state.page * PAGE;
  for (const k of state.order.slice(from, from + PAGE)) {
    const tr = document.createElement("tr");
    const badge = document.createElement("span");
    setBadge(badge, b.risk[k]);
    const why = document.createElement("button");
    why.type = "button";
    why.className = "why-row";
    why.textContent = "Why?";
    why.setAttribute("aria-label", `Why: explain row ${b.rows[k]} in the form`);
    why.addEventListener("click", () => worker.postMessage({ type: "customer", job: state.job, index: k }));
    const cells = [String(b.rows[k]), b.idHeader === "row" ? "" : b.ids[k], formatNumber(b.probability[k]), b.prediction[k], badge, why];
    for (const v of cells) {
      const td = document.createElement("td");
      td.append(v);
      tr.append(td);
    }
    body.append(tr);
  }
  const pages = Math.max(1, Math.ceil(state.order.length / PAGE));
  $("page-info").textContent = `Page ${state.page + 1} of ${pages} (${state.order.length.toLocaleString("en")} rows)`;
  $("prev-page").disabled = state.page === 0;
  $("next-page").disabled = state.page >= pages - 1;
}

$("prev-page").addEventListener("click", () => {
  state.page = Math.max(0, state.page - 1);
  renderTable();
});
$("next-page").addEventListener("click", () => {
  state.page++;
  renderTable();
});

// ---------------------------------------------------------------- drift

function driftFile(file) {
  if (!file) return;
  state.driftJob++;
  $("drift-result").hidden = true;
  $("drift-error").hidden = true;
  if (!state.model) {
    $("drift-error").textContent = "No model is loaded yet: wait for it, or load a model file first.";
    $("drift-error").hidden = false;
    return;
  }
  document.body.dataset.driftState = "running";
  worker.postMessage({ type: "drift", job: state.driftJob, modelBytes: state.bytes.slice().buffer, file });
}

const pct = (x) => `${(100 * x).toFixed(1)}%`;

function showDrift(m) {
  document.body.dataset.driftState = m.type === "drift-done" ? "done" : "error";
  if (m.type === "drift-error") {
    $("drift-error").textContent = `Could not compare the file: ${m.message}`;
    $("drift-error").hidden = false;
    return;
  }
  const { drift, reference, current, fileName } = m.result;
  $("drift-summary").replaceChildren(
    `${fileName} against the training rows: `,
    span(`level level-${drift.level}`, drift.level.toUpperCase()),
    ` (${drift.rows.toLocaleString("en")} rows scored, ${drift.invalid_rows.toLocaleString("en")} refused).`,
  );
  const bands = ["HIGH", "MEDIUM", "LOW"].map((b) => `${b} ${pct(drift.score.risk[b].reference)} → ${pct(drift.score.risk[b].current)}`);
  $("drift-score").textContent = `Score: PSI ${drift.score.psi.toFixed(3)} (${drift.score.level}); ${bands.join(", ")}.`;
  $("drift-watch").textContent = String(reference.thresholds.watch);
  $("drift-drifted").textContent = String(reference.thresholds.drifted);
  $("drift-bars").replaceChildren(
    bars(
      drift.fields.map((f) => ({
        label: f.field,
        value: f.psi,
        text: `${f.psi.toFixed(3)} ${f.level}${f.unseen.current > 0 ? `, unseen ${pct(f.unseen.current)}` : ""}${f.invalid > 0 ? `, refused ${pct(f.invalid)}` : ""}`,
        data: { field: f.field, level: f.level, psi: String(f.psi) },
      })),
      { label: "Population stability index per field" },
    ),
  );
  const byName = (p) => Object.fromEntries(p.fields.map((f) => [f.name, f]));
  const ref = byName(reference),
    cur = byName(current);
  const figures = drift.fields.map((f) => {
    const fig = document.createElement("figure");
    fig.dataset.field = f.field;
    const cap = document.createElement("figcaption");
    cap.append(strong(f.field), ` PSI ${f.psi.toFixed(3)}, `, span(`level-${f.level}`, f.level));
    fig.append(
      cap,
      pairedBars(binLabels(ref[f.field]), binCounts(ref[f.field]), binCounts(cur[f.field]), {
        label: `${f.field}: training and recent rows`,
      }),
    );
    return fig;
  });
  $("drift-hists").replaceChildren(...figures);
  $("drift-result").hidden = false;
}

$("drift-file").addEventListener("change", (e) => {
  driftFile(e.target.files[0]);
  e.target.value = "";
});

// ---------------------------------------------------------------- model card

const METRIC_ROWS = [
  ["roc_auc", "ROC AUC"],
  ["pr_auc", "PR AUC"],
  ["accuracy", "Accuracy"],
  ["precision", "Precision"],
  ["recall", "Recall"],
  ["f1", "F1"],
  ["brier", "Brier score"],
  ["log_loss", "Log loss"],
];

function metricsTable(m) {
  const t = document.createElement("table");
  t.className = "kv metrics";
  addRow(t, "Rows", m.rows.toLocaleString("en"));
  for (const [k, label] of METRIC_ROWS) {
    if (typeof m[k] === "number") addRow(t, label, m[k].toFixed(4), k);
  }
  addRow(t, "Confusion", `TP ${m.tp} · FP ${m.fp} · TN ${m.tn} · FN ${m.fn}`);
  return t;
}

function renderCard() {
  const i = state.info;
  const box = $("card-body");
  box.innerHTML = "";
  const grid = document.createElement("div");
  grid.className = "card-grid";
  const about = document.createElement("div");
  about.append(h3("About"));
  const t = document.createElement("table");
  t.className = "kv";
  addRow(t, "Name", i.name);
  addRow(t, "Version", i.version);
  addRow(t, "Trained", i.created_at, "created_at");
  addRow(t, "Trainer", i.trainer);
  const fp = code(i.data_sha256);
  fp.className = "hash";
  addRow(t, "Training data (sha256)", fp, "data_sha256");
  addRow(
    t,
    "Rows",
    `${i.rows_total.toLocaleString("en")} (${i.rows_train.toLocaleString("en")} train, ${i.rows_test.toLocaleString("en")} held out)`,
  );
  // The settings come from the model card's one parameter list (whatever the model kind).
  const settings = Object.entries(i.params)
    .filter(([k]) => k !== "model_kind")
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  addRow(
    t,
    "Model",
    `${i.model_type} (${i.model_description}): ${i.trees} trees, ${i.nodes.toLocaleString("en")} nodes; ${settings}`,
    "model_type",
  );
  if (i.selection.length > 0) {
    const best = i.selection
      .map((c) => `${c.model_kind} ${c.cv_auc_mean.toFixed(4)} ± ${c.cv_auc_sd.toFixed(4)} (${c.nodes.toLocaleString("en")} nodes)`)
      .join("; ");
    addRow(t, "Model selection", `${i.selection[0].folds}-fold cross-validation ROC-AUC on the training rows: ${best}`, "selection");
  }
  addRow(t, "File", `format version ${i.format_version}, ${state.bytes.length.toLocaleString("en")} bytes`);
  about.append(t);
  about.append(h3("Risk policy"));
  const pol = document.createElement("table");
  pol.className = "kv";
  const q = i.policy;
  addRow(pol, "Will churn (Yes)", `probability > ${q.threshold}`, "threshold");
  const hi = span("", "HIGH"),
    me = span("", "MEDIUM"),
    lo = span("", "LOW");
  setBadge(hi, "HIGH");
  setBadge(me, "MEDIUM");
  setBadge(lo, "LOW");
  addRow(pol, hi, `probability ≥ ${q.high}`, "high");
  addRow(pol, me, `${q.medium} ≤ probability < ${q.high}`, "medium");
  addRow(pol, lo, `probability < ${q.medium}`);
  addRow(pol, "Shown to", `${q.decimals} decimals`);
  about.append(pol);
  grid.append(about);

  const perf = document.createElement("div");
  perf.append(h3("Held-out metrics"));
  if (i.test_metrics) perf.append(metricsTable(i.test_metrics));
  else perf.append(para("None stored: this model was trained on all rows (no held-out split)."));
  if (i.roc?.length) {
    const fig = document.createElement("figure");
    const cap = document.createElement("figcaption");
    cap.textContent = "ROC curve on the held-out rows";
    fig.append(cap, rocCurve(i.roc, { label: "ROC curve on the held-out rows" }));
    perf.append(fig);
  }
  grid.append(perf);

  const imp = document.createElement("div");
  imp.append(h3("Feature importance"));
  const items = i.features
    .map((f, k) => ({ label: f, value: i.importances[k] ?? 0, text: `${((i.importances[k] ?? 0) * 100).toFixed(1)}%`, data: { field: f } }))
    .sort((a, b) => b.value - a.value);
  imp.append(bars(items, { label: "Mean decrease in impurity per field (share of the total)" }));
  grid.append(imp);
  box.append(grid);
}

// ---------------------------------------------------------------- small DOM helpers

function addRow(table, key, value, name) {
  const tr = table.insertRow();
  const th = document.createElement("th");
  th.scope = "row";
  th.append(key);
  const td = tr.insertCell();
  td.append(value);
  if (name) td.dataset.key = name;
  tr.append(th, td);
}
function strong(text) {
  const e = document.createElement("strong");
  e.textContent = text;
  return e;
}
function code(text) {
  const e = document.createElement("code");
  e.textContent = text;
  return e;
}
function h3(text) {
  const e = document.createElement("h3");
  e.textContent = text;
  return e;
}
function para(text) {
  const e = document.createElement("p");
  e.textContent = text;
  return e;
}
function span(cls, text) {
  const e = document.createElement("span");
  e.className = cls;
  e.textContent = text;
  return e;
}

// ---------------------------------------------------------------- file pickers and drag-and-drop

$("model-file").addEventListener("change", (e) => {
  loadModelFile(e.target.files[0]);
  e.target.value = "";
});
$("csv-file").addEventListener("change", (e) => {
  scoreFile(e.target.files[0]);
  e.target.value = "";
});

// Drop anywhere: a .csv is scored, anything else is tried as a model file.
window.addEventListener("dragover", (e) => {
  e.preventDefault();
  document.body.classList.add("dragging");
});
window.addEventListener("dragleave", (e) => {
  if (!e.relatedTarget) document.body.classList.remove("dragging");
});
window.addEventListener("drop", (e) => {
  e.preventDefault();
  document.body.classList.remove("dragging");
  const file = e.dataTransfer?.files?.[0];
  if (!file) return;
  const isCsv = /\.csv$/i.test(file.name) || file.type === "text/csv";
  const onModelBox = e.target instanceof Node && $("model-drop").contains(e.target);
  const onDriftBox = e.target instanceof Node && $("drift-drop").contains(e.target);
  if (isCsv && onDriftBox) driftFile(file);
  else if (isCsv && !onModelBox) scoreFile(file);
  else loadModelFile(file);
});

// The phone-width result bar shows while the form is on screen and the result panel is not.
const seen = { form: false, result: false };
const observer = new IntersectionObserver((entries) => {
  for (const e of entries) seen[e.target.id] = e.isIntersecting;
  document.body.classList.toggle("show-mini", seen.form && !seen.result);
});
observer.observe($("form"));
observer.observe($("result"));

start();

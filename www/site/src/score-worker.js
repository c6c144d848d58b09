// Web Worker: scores a whole CSV off the page's main thread, so the page stays responsive.
// The work itself is batch.js; this file loads the wasm package, builds the model from the
// bytes the page sends, and posts progress and the result back.
import init, { ChurnModel } from "../../pkg/churn.js";
import wasmUrl from "../../pkg/churn_bg.wasm?url";
import { scoreCsv } from "./batch.js";
import { driftOfCsv } from "./drift.js";

let ready = null;
/** The last file's scored rows (field values), kept for "why" on one row; not sent in bulk. */
let last = { job: -1, customers: [] };

self.onmessage = async (ev) => {
  const { type, job, modelBytes, file, index } = ev.data;
  if (type === "customer") {
    self.postMessage({ type, job, customer: job === last.job ? (last.customers[index] ?? null) : null });
    return;
  }
  try {
    ready ??= init({ module_or_path: wasmUrl });
    await ready;
    const model = new ChurnModel(new Uint8Array(modelBytes));
    try {
      const text = await file.text();
      if (type === "drift") {
        self.postMessage({ type: "drift-done", job, result: driftOfCsv(model, text, file.name) });
        return;
      }
      const result = scoreCsv(model, text, file.name, (done, total) => self.postMessage({ type: "progress", job, done, total }));
      last = { job, customers: result.customers };
      delete result.customers;
      self.postMessage({ type: "done", job, result });
    } finally {
      model.free();
    }
  } catch (e) {
    self.postMessage({ type: type === "drift" ? "drift-error" : "error", job, message: e?.message ?? String(e) });
  }
};

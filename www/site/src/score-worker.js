// Web Worker: scores a whole CSV off the page's main thread, so the page stays responsive.
// The work itself is batch.js; this file loads the wasm package, builds the model from the
// bytes the page sends, and posts progress and the result back.
import init, { ChurnModel } from "../../pkg/churn.js";
import wasmUrl from "../../pkg/churn_bg.wasm?url";
import { scoreCsv } from "./batch.js";

let ready = null;

self.onmessage = async (ev) => {
  const { job, modelBytes, file } = ev.data;
  try {
    ready ??= init({ module_or_path: wasmUrl });
    await ready;
    const model = new ChurnModel(new Uint8Array(modelBytes));
    try {
      const text = await file.text();
      const result = scoreCsv(model, text, file.name, (done, total) => self.postMessage({ type: "progress", job, done, total }));
      self.postMessage({ type: "done", job, result });
    } finally {
      model.free();
    }
  } catch (e) {
    self.postMessage({ type: "error", job, message: e?.message ?? String(e) });
  }
};

// Scoring a whole CSV text with a loaded model, as `churn score --on-error skip` does: the Web
// Worker (score-worker.js) runs it off the page's main thread, and the Node tests run it directly
// against the CLI.
//
// It reads the text with the CLI's CSV rules (csv.js) and hands records to the core in chunks
// (`csvScorer`): the core finds the model's columns, encodes, scores, applies the risk policy,
// writes the scored lines, reports bad rows as `{row, line, id, message, details}` and keeps
// the metrics of rows with a usable label, with the same rules as `churn score` and
// `churn evaluate`. This file only moves records and reports progress.
import { readCsv } from "./csv.js";

const CHUNK = 2000;

/**
 * @param {import("../../pkg/churn.js").ChurnModel} model
 * @param {string} text the CSV file's text
 * @param {string} fileName for messages
 * @param {(done: number, total: number) => void} onProgress rows read so far, estimated total
 */
export function scoreCsv(model, text, fileName, onProgress = () => {}) {
  const started = performance.now();
  const records = readCsv(text);
  const first = records.next();
  if (first.done) {
    const names = model.schema().fields.map((f) => f.name);
    throw new Error(`${fileName} is empty: expected a header line with the columns ${names.join(", ")}`);
  }
  let scorer;
  try {
    scorer = model.csvScorer(first.value.fields);
  } catch (e) {
    throw new Error(`${fileName} ${e.message}`);
  }
  // A rough row count for the progress bar: the number of line breaks.
  let estimate = 0;
  for (let k = text.indexOf("\n"); k >= 0; k = text.indexOf("\n", k + 1)) estimate++;

  const out = [scorer.header()];
  const rows = [],
    ids = [],
    probability = [],
    prediction = [],
    risk = [],
    errors = [],
    customers = [];
  const names = model.schema().fields.map((f) => f.name);
  const header = first.value.fields.map((h) => h.replace(/^\uFEFF/, ""));
  const fieldCols = names.map((n) => header.indexOf(n));
  let rowNumber = 0,
    done = false,
    lastPost = 0;
  while (!done) {
    const chunk = [];
    while (chunk.length < CHUNK) {
      const r = records.next();
      if (r.done) {
        done = true;
        break;
      }
      chunk.push(r.value);
    }
    if (!chunk.length) continue;
    const s = scorer.score(chunk, rowNumber);
    out.push(s.csv);
    for (let k = 0; k < s.rows.length; k++) {
      const fields = chunk[s.rows[k] - rowNumber - 1].fields;
      const customer = {};
      for (let f = 0; f < names.length; f++) customer[names[f]] = fields[fieldCols[f]];
      rows.push(s.rows[k]);
      ids.push(s.ids[k]);
      probability.push(s.probability[k]);
      prediction.push(s.prediction[k]);
      risk.push(s.risk[k]);
      customers.push(customer);
    }
    for (const e of s.errors) errors.push(e);
    rowNumber += chunk.length;
    const now = performance.now();
    if (done || now - lastPost > 50) {
      lastPost = now;
      onProgress(rowNumber, Math.max(estimate, rowNumber));
    }
  }
  const metrics = scorer.hasTarget ? scorer.evaluation() : null;
  const labelNote = scorer.labelNote ?? null;
  const target = scorer.hasTarget ? model.schema().target.column : null;
  const idHeader = scorer.idHeader;
  scorer.free();
  return {
    fileName,
    idHeader,
    total: rowNumber,
    rows,
    ids,
    probability,
    prediction,
    risk,
    errors,
    customers, // each scored row's field values, as read (for "why" on one row)
    csv: out.join(""),
    target,
    metrics,
    labelNote,
    ms: performance.now() - started,
  };
}

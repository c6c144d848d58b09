// Scoring a whole CSV text with a loaded model, as `churn score --on-error skip` does: the Web
// Worker (score-worker.js) runs it off the page's main thread, and the Node tests run it directly
// against the CLI.
//
// It reads the text with the CLI's CSV rules (csv.js), hands rows to the core in chunks
// (`predictBatch`: the core's encoding, forest and risk policy, per-row errors instead of a
// throw), writes the same scored CSV as the CLI, and reports progress after chunks. When the
// file has the model's target column it also asks the core for the raw probabilities of those
// rows (`probabilities`) and their metrics (`evaluate`). Nothing here decides a probability, a
// risk level or a metric itself.
import { readCsv, csvField, formatFloat } from "./csv.js";

const CHUNK = 2000;

/**
 * @param {import("../../pkg/churn.js").ChurnModel} model
 * @param {string} text the CSV file's text
 * @param {string} fileName for messages
 * @param {(done: number, total: number) => void} onProgress rows read so far, estimated total
 */
export function scoreCsv(model, text, fileName, onProgress = () => {}) {
  const started = performance.now();
  const schema = model.schema();
  const names = schema.fields.map((f) => f.name);
  const records = readCsv(text);
  const first = records.next();
  if (first.done) throw new Error(`${fileName} is empty: expected a header line with the columns ${names.join(", ")}`);
  const header = first.value.fields.map((h) => h.replace(/^\uFEFF/, ""));
  const width = header.length;
  const col = (name) => header.indexOf(name);
  const fieldCols = names.map(col);
  const lacking = names.filter((_, k) => fieldCols[k] < 0);
  if (lacking.length) throw new Error(`${fileName} lacks column(s) the model needs: ${lacking.join(", ")}`);
  const idCol = schema.id_column == null ? -1 : col(schema.id_column);
  const target = schema.target;
  const targetCol = target ? col(target.column) : -1;
  // A rough row count for the progress bar: the number of line breaks.
  let estimate = 0;
  for (let k = text.indexOf("\n"); k >= 0; k = text.indexOf("\n", k + 1)) estimate++;

  const out = [
    [idCol >= 0 ? schema.id_column : "row", "churn_probability", "churn_prediction", "risk_level"].map(csvField).join(",") + "\n",
  ];
  const rows = [],
    ids = [],
    probability = [],
    prediction = [],
    risk = [],
    errors = [],
    customers = [];
  const raw = [],
    labels = [];
  let badLabels = 0,
    rowNumber = 0,
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
      rowNumber++;
      const { fields, line } = r.value;
      if (fields.length !== width) {
        errors.push({
          row: rowNumber,
          line,
          id: idCol >= 0 ? (fields[idCol] ?? "") : "",
          message: `has ${fields.length} fields, the header has ${width}`,
          details: [],
        });
        continue;
      }
      const customer = {};
      for (let k = 0; k < names.length; k++) customer[names[k]] = fields[fieldCols[k]];
      chunk.push({ customer, fields, line, row: rowNumber });
    }
    if (!chunk.length) continue;
    const scored = model.predictBatch(chunk.map((c) => c.customer));
    let lines = "";
    const good = [];
    scored.forEach((s, k) => {
      const c = chunk[k];
      if (s.error !== undefined) {
        // The core says "row <index in this batch>: <problem>"; the page counts rows itself.
        const message = String(s.error).replace(/^row \d+: /, "");
        errors.push({ row: c.row, line: c.line, id: idCol >= 0 ? c.fields[idCol] : "", message, details: s.details ?? [] });
        return;
      }
      const id = idCol >= 0 ? c.fields[idCol] : String(c.row);
      const p = formatFloat(s.churn_probability);
      lines += `${idCol >= 0 ? csvField(id) : id},${p},${s.churn_prediction},${s.risk_level}\n`;
      rows.push(c.row);
      ids.push(id);
      probability.push(s.churn_probability);
      customers.push(c.customer);
      prediction.push(s.churn_prediction);
      risk.push(s.risk_level);
      good.push(c);
    });
    out.push(lines);
    if (targetCol >= 0 && good.length) {
      // Labels as the CLI's `evaluate` reads them (trimmed, positive or negative); others are left out.
      const labelled = [];
      for (const c of good) {
        const v = c.fields[targetCol].trim();
        if (v === target.positive || v === target.negative) labelled.push([c, v === target.positive ? 1 : 0]);
        else badLabels++;
      }
      if (labelled.length) {
        const columns = {};
        names.forEach((name, k) => {
          columns[name] = labelled.map(([c]) => c.fields[fieldCols[k]]);
        });
        const p = model.probabilities(columns);
        labelled.forEach(([, y], k) => {
          raw.push(p[k]);
          labels.push(y);
        });
      }
    }
    const now = performance.now();
    if (done || now - lastPost > 50) {
      lastPost = now;
      onProgress(rowNumber, Math.max(estimate, rowNumber));
    }
  }
  errors.sort((a, b) => a.row - b.row);
  let metrics = null;
  if (targetCol >= 0 && raw.length) {
    metrics = model.evaluate(Float64Array.from(raw), Uint8Array.from(labels));
  }
  return {
    fileName,
    idHeader: idCol >= 0 ? schema.id_column : "row",
    total: rowNumber,
    rows,
    ids,
    probability,
    prediction,
    risk,
    errors,
    customers, // each scored row's field values, as read (for "why" on one row)
    csv: out.join(""),
    target: targetCol >= 0 ? target.column : null,
    metrics,
    badLabels,
    ms: performance.now() - started,
  };
}

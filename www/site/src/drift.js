// The Drift view's work: a whole CSV of recent customers counted into the core's profile
// (`ChurnModel.newProfile()`), then compared with the training rows' profile in the model file.
// The core reads every value, marks missing and unseen ones, counts refused rows by field and
// computes every figure (PSI, Jensen–Shannon distance, levels) as `churn monitor` does; this
// file only reads the CSV (csv.js, the CLI's rules) and moves records. Run by the page's Web
// Worker (score-worker.js) and, in the tests, directly in Node.
import { readCsv } from "./csv.js";

/**
 * @param {import("../../pkg/churn.js").ChurnModel} model
 * @param {string} text the CSV file's text
 * @param {string} fileName for messages
 * @returns {{fileName: string, drift: object, reference: object, current: object}}
 */
export function driftOfCsv(model, text, fileName) {
  if (model.referenceProfile() === null) {
    throw new Error("this model file carries no training profile (format version 3 or later is needed): retrain it with churn");
  }
  const records = readCsv(text);
  const first = records.next();
  if (first.done) throw new Error(`${fileName} is empty: expected a header line with the model's columns`);
  // The core checks the header (naming every missing column), as for scoring.
  try {
    model.csvScorer(first.value.fields).free();
  } catch (e) {
    throw new Error(`${fileName} ${e.message}`);
  }
  const header = first.value.fields.map((h) => h.replace(/^\uFEFF/, ""));
  const names = model.schema().fields.map((f) => f.name);
  const cols = names.map((n) => header.indexOf(n));
  const profile = model.newProfile();
  try {
    for (const r of records) {
      const customer = {};
      for (let f = 0; f < names.length; f++) customer[names[f]] = r.fields[cols[f]] ?? "";
      profile.add(customer);
    }
    if (profile.rows === 0) throw new Error(`${fileName}: no row could be scored (${profile.invalidRows} refused)`);
    return { fileName, drift: profile.drift(), reference: model.referenceProfile(), current: profile.toJSON() };
  } finally {
    profile.free();
  }
}

/** A field's bins, named: numeric ranges between the edges or the levels, then missing and unseen. */
export function binLabels(field) {
  const labels = field.levels
    ? [...field.levels]
    : field.edges.length === 0
      ? ["all"]
      : [
          `≤ ${field.edges[0]}`,
          ...field.edges.slice(1).map((e, k) => `${field.edges[k]}–${e}`),
          `> ${field.edges[field.edges.length - 1]}`,
        ];
  return [...labels, "missing", "unseen"];
}

/** A field's counts in the order of `binLabels`. */
export function binCounts(field) {
  return [...field.counts, field.missing, field.unseen];
}

// The page's batch scoring (www/site/src/batch.js, run by its Web Worker) against the native
// CLI on awkward CSV files, in Node: the scored CSV must equal `churn score --on-error skip`
// byte for byte and the listed errors must be the CLI's `line N: reason` lines. Needs
// target/release/churn (scripts/test.sh builds it first).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ChurnModel } from "../pkg/node.js";
import { scoreCsv } from "../site/src/batch.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const churn = join(root, "target", "release", "churn");
const modelPath = join(root, "tests", "fixtures", "golden.bin");
const work = join(root, "build", "page-test", "csv");
mkdirSync(work, { recursive: true });
const model = new ChurnModel(readFileSync(modelPath));

const [header, ...rows] = readFileSync(join(root, "data", "telco_test.csv"), "utf8")
  .trimEnd()
  .split("\n");
const cols = header.split(",");
const set = (line, name, value) => {
  const f = line.split(",");
  f[cols.indexOf(name)] = value;
  return f.join(",");
};
const withId = (line, id) => id + line.slice(line.indexOf(","));
const dropId = (line) => line.slice(line.indexOf(",") + 1);

/** Scores `text` with the CLI and with the page's code; compares output and errors. */
function compare(name, text) {
  const file = join(work, name);
  writeFileSync(file, text);
  if (!existsSync(churn)) throw new Error(`${churn} is missing: cargo build --release -p trainer`);
  const out = join(work, `${name}.out`),
    err = join(work, `${name}.err`);
  execFileSync("bash", ["-c", `"$0" score --model "$1" --data "$2" --out "$3" --on-error skip 2>"$4"`, churn, modelPath, file, out, err]);
  const cliErrors = readFileSync(err, "utf8")
    .split("\n")
    .filter((l) => l.startsWith("skipped: "))
    .map((l) => l.slice(`skipped: ${file}: `.length));
  const page = scoreCsv(model, text, name);
  assert.equal(page.csv, readFileSync(out, "utf8"), `${name}: scored CSV`);
  assert.deepEqual(
    page.errors.map((e) => `line ${e.line}: ${e.message}`),
    cliErrors,
    `${name}: errors`,
  );
  return page;
}

test("quoted, multi-line and odd ids; bad rows; blank lines: same output and errors as the CLI", () => {
  const r = rows.slice(0, 30);
  r[1] = withId(r[1], '"ID, with comma"');
  r[2] = withId(r[2], '"say ""hi"""');
  r[3] = withId(r[3], '"two\nlines"');
  r[4] = withId(r[4], '"ab"cd');
  r[5] = withId(r[5], 'un"quoted');
  r[6] = set(r[6], "tenure", "abc");
  r[7] = set(set(r[7], "Contract", "Weekly"), "gender", "");
  r[8] = set(r[8], "TotalCharges", " ");
  r[9] = r[9].split(",").slice(0, 5).join(",");
  r[10] = `${r[10]},extra`;
  r.splice(12, 0, "", "   ", "");
  const page = compare("awkward.csv", [header, ...r].join("\n") + "\n");
  assert.equal(page.errors.length, 5);
  assert.equal(page.rows.length + page.errors.length, page.total);
});

test("line endings: CRLF, lone CR, no final newline, a byte-order mark, leading blank lines", () => {
  const r = rows.slice(0, 12);
  r[4] = set(r[4], "tenure", "x");
  const crlf = compare("crlf.csv", [header, ...r, "", ""].join("\r\n"));
  compare("cr.csv", [header, ...r].join("\r"));
  compare("no-final-newline.csv", [header, ...r].join("\n"));
  compare("bom.csv", "\uFEFF" + [header, ...r].join("\n") + "\n");
  compare("leading-blank.csv", "\n\n" + [header, ...r].join("\n") + "\n");
  assert.equal(crlf.errors.length, 1);
});

test("no id column: rows are numbered as the CLI numbers them, errors included", () => {
  const r = rows.slice(0, 15).map(dropId);
  r[3] = set(r[3], "gender", "x"); // (set() counts from the id column: this hits the next one)
  r.splice(6, 0, "");
  const page = compare("no-id.csv", [dropId(header), ...r].join("\n") + "\n");
  assert.equal(page.idHeader, "row");
});

test("header only, an unterminated quote at the end", () => {
  const empty = compare("header-only.csv", header + "\n");
  assert.equal(empty.total, 0);
  compare("open-quote.csv", [header, ...rows.slice(0, 3), '"unterminated, id'].join("\n"));
});

test("the target column gives the object `churn evaluate --json` prints; unusable labels are counted on both", () => {
  const r = rows.slice();
  r[5] = set(r[5], "Churn", "Maybe");
  r[9] = set(r[9], "Churn", "");
  const text = [header, ...r].join("\n") + "\n";
  const file = join(work, "labels.csv");
  writeFileSync(file, text);
  const page = scoreCsv(model, text, "labels.csv");
  const native = JSON.parse(
    execFileSync(churn, ["evaluate", "--model", modelPath, "--data", file, "--json"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }),
  );
  assert.deepEqual(page.metrics, native);
  assert.equal(page.metrics.unusable_labels, 2);
  const note = execFileSync("bash", ["-c", `"$0" evaluate --model "$1" --data "$2" 2>&1 >/dev/null`, churn, modelPath, file], {
    encoding: "utf8",
  });
  assert.equal(note.trim(), `note: ${file}: ${page.labelNote}`);
  assert.match(page.labelNote, /^2 row\(s\) have a Churn that is neither "Yes" nor "No" \(the first at line 7: "Maybe"\)/);
});

test("row errors are structured: {row, line, id, message, details: [{row, field, message}]}", () => {
  const r = rows.slice(0, 6);
  r[1] = set(set(r[1], "tenure", "abc"), "Contract", "Weekly");
  r[3] = r[3].split(",").slice(0, 4).join(",");
  const page = scoreCsv(model, [header, ...r].join("\n") + "\n", "errors.csv");
  const id = (line) => line.slice(0, line.indexOf(","));
  assert.deepEqual(page.errors, [
    {
      row: 2,
      line: 3,
      id: id(r[1]),
      message:
        'tenure: expected a number, got "abc"; Contract: unknown category "Weekly" (expected one of: Month-to-month, One year, Two year)',
      details: [
        { row: 2, field: "tenure", message: 'expected a number, got "abc"' },
        { row: 2, field: "Contract", message: 'unknown category "Weekly" (expected one of: Month-to-month, One year, Two year)' },
      ],
    },
    {
      row: 4,
      line: 5,
      id: id(r[3]),
      message: "has 4 fields, the header has 21",
      details: [{ row: 4, field: null, message: "has 4 fields, the header has 21" }],
    },
  ]);
});

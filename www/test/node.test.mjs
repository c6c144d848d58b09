// The npm package in Node, from plain JS: parity with native scores bit for bit, the API
// contract, and the instance surviving every class of bad input.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { ChurnModel, formatNumber } from "../pkg/node.js";
import { modelBytes, cases, expected, goldens } from "./golden.mjs";

const model = new ChurnModel(modelBytes);
const NUMERIC = ["tenure", "MonthlyCharges", "TotalCharges", "SeniorCitizen"];

for (const g of goldens) {
  test(`${g.name}: raw probabilities and explanations equal native \`churn score --raw --explain 3\` bit for bit`, () => {
    const m = new ChurnModel(g.bytes);
    const expected = g.expected;
    assert.equal(cases.length, expected.length);
    for (let i = 0; i < cases.length; i++) {
      const want = Number(expected[i].churn_probability_raw);
      assert.equal(expected[i].customerID, cases[i].customerID);
      assert.ok(Object.is(m.probability(cases[i]), want), `row ${i}: ${m.probability(cases[i])} vs ${want}`);
      const r = m.predict(cases[i]);
      assert.deepEqual(r, {
        churn_probability: Number(expected[i].churn_probability),
        churn_prediction: expected[i].churn_prediction,
        risk_level: expected[i].risk_level,
        model_version: g.version,
      });
      const x = m.explain(cases[i], 3);
      assert.ok(Object.is(x.churn_probability_raw, want), `row ${i}: explain`);
      x.top_factors.forEach((f, k) => {
        assert.equal(f.field, expected[i][`why_${k + 1}`], `row ${i} factor ${k + 1}`);
        assert.ok(Object.is(f.contribution, Number(expected[i][`why_${k + 1}_contribution`])), `row ${i} factor ${k + 1}`);
      });
    }
  });
}

test("numbers given as JS numbers score like the same numbers as strings", () => {
  for (const c of cases.slice(0, 300)) {
    const typed = { ...c };
    for (const f of NUMERIC) if (c[f].trim() !== "") typed[f] = Number(c[f]);
    assert.ok(Object.is(model.probability(typed), model.probability(c)));
  }
});

test("columnar fast path equals row-by-row", () => {
  const cols = {};
  for (const f of model.schema().fields) {
    cols[f.name] =
      f.kind === "numeric"
        ? Float64Array.from(cases, (c) => (c[f.name].trim() === "" ? NaN : Number(c[f.name])))
        : cases.map((c) => c[f.name]);
  }
  const p = model.probabilities(cols);
  assert.equal(p.length, cases.length);
  for (let i = 0; i < cases.length; i++) {
    assert.ok(Object.is(p[i], Number(expected[i].churn_probability_raw)), `row ${i}`);
  }
});

test("columnar with plain arrays (strings, padding, holes, bad values) agrees with probability() row by row", () => {
  const rows = cases.slice(0, 200).map((c) => ({ ...c }));
  rows[3].Contract = " One year ";
  rows[5].tenure = "abc";
  rows[7].Contract = "Weekly";
  rows[9].PaymentMethod = true;
  rows[11].TotalCharges = null;
  rows[13].MonthlyCharges = " 70.5 ";
  rows[15].SeniorCitizen = 1;
  const cols = {};
  for (const f of model.schema().fields) cols[f.name] = rows.map((r) => r[f.name]);
  const p = model.probabilities(cols);
  let refused = 0;
  rows.forEach((r, i) => {
    let want;
    try {
      want = model.probability(r);
    } catch {
      want = NaN;
      refused++;
    }
    assert.ok(Object.is(p[i], want), `row ${i}: ${p[i]} vs ${want}`);
  });
  assert.equal(refused, 3);
});

test("predictBatch gives per-row errors without throwing", () => {
  const bad = { ...cases[0], Contract: "Weekly" };
  const out = model.predictBatch([cases[0], bad, cases[1]]);
  assert.equal(out.length, 3);
  assert.equal(out[0].churn_prediction, expected[0].churn_prediction);
  assert.equal(out[1].row, 1);
  // Structured: the message has no "row N: " prefix; each detail names its row and field.
  assert.equal(out[1].error, 'Contract: unknown category "Weekly" (expected one of: Month-to-month, One year, Two year)');
  assert.deepEqual(out[1].details, [
    { row: 1, field: "Contract", message: 'unknown category "Weekly" (expected one of: Month-to-month, One year, Two year)' },
  ]);
  assert.equal(out[2].churn_probability, Number(expected[1].churn_probability));
  const notObject = model.predictBatch([cases[0], 7]);
  assert.deepEqual(notObject[1].details, [{ row: 1, field: null, message: "expected an object with the customer's fields, got a number" }]);
  assert.throws(() => model.predictBatch("nope"), /expected an array of customers, got a string/);
});

test("explain adds up and names the customer's values (each model kind)", () => {
  for (const m of goldens.map((g) => new ChurnModel(g.bytes))) {
    for (const c of cases.slice(0, 200)) {
      const e = m.explain(c, 100);
      const sum = e.base_value + e.top_factors.reduce((s, f) => s + f.contribution, 0);
      assert.ok(Math.abs(sum - e.churn_probability_raw) <= 1e-12, `${m.info().model_kind}: ${sum} vs ${e.churn_probability_raw}`);
      assert.ok(Object.is(e.churn_probability_raw, m.probability(c)));
      for (const f of e.top_factors) assert.equal(f.value, c[f.field]);
    }
  }
  assert.equal(model.explain(cases[0]).top_factors.length, 5);
  assert.equal(model.explain(cases[0], 0).top_factors.length, 0);
  assert.equal(model.explain(cases[0], Infinity).top_factors.length, model.schema().fields.length);
  for (const [bad, got] of [
    [-1, "a negative number"],
    [-Infinity, "a negative number"],
    [2.5, "a fraction"],
    [NaN, "NaN"],
  ]) {
    assert.throws(() => model.explain(cases[0], bad), { message: `explain: top must be a whole number >= 0, got ${got}` }, String(bad));
  }
});

test("schema and info describe the model", () => {
  const s = model.schema();
  assert.equal(s.fields.length, 19);
  const tenure = s.fields.find((f) => f.name === "tenure");
  assert.equal(tenure.kind, "numeric");
  assert.equal(tenure.min, 0);
  assert.equal(tenure.max, 72);
  const contract = s.fields.find((f) => f.name === "Contract");
  assert.deepEqual([...contract.levels].sort(), ["Month-to-month", "One year", "Two year"]);
  assert.equal(s.id_column, "customerID");
  const info = model.info();
  assert.equal(info.version, "golden-1");
  assert.equal(info.trees, 30);
  assert.equal(info.model_kind, "rf");
  assert.equal(info.model_type, "RandomForest");
  assert.equal(info.params.model_kind, "rf");
  assert.equal(info.params.trees, 30);
  assert.equal(info.params.max_depth, 6);
  assert.deepEqual(info.policy, { threshold: 0.5, high: 0.7, medium: 0.4, decimals: 3 });
  assert.equal(model.modelVersion, "golden-1");
  const gbt = new ChurnModel(goldens[1].bytes).info();
  assert.equal(gbt.model_kind, "gbt");
  assert.equal(gbt.model_type, "GradientBoosting");
  assert.equal(gbt.params.learning_rate, 0.1);
  assert.equal(gbt.params.max_leaves, 8);
  assert.ok(gbt.trees >= 1 && gbt.trees <= 40, String(gbt.trees));
});

test("bad model bytes throw a clear Error", () => {
  assert.throws(() => new ChurnModel(new Uint8Array([1, 2, 3])), /not a churn model file/);
  assert.throws(() => new ChurnModel(modelBytes.slice(0, 100)), /truncated at byte 100/);
  const flipped = modelBytes.slice();
  flipped[500] ^= 1;
  assert.throws(() => new ChurnModel(flipped), /checksum mismatch/);
  assert.throws(() => ChurnModel.fromBytes(new Uint8Array()), {
    name: "Error",
    message: "truncated at byte 0: the 20-byte header is incomplete",
  });
});

test("the same instance survives every class of bad input", () => {
  const good = cases[5];
  const want = model.probability(good);
  const { tenure, ...noTenure } = good;
  const bad = [
    [noTenure, /missing field: tenure/],
    [{ ...good, tenure: "abc" }, /tenure: expected a number, got "abc"/],
    [{ ...good, tenure: true }, /tenure: expected a number, got true/],
    [{ ...good, Contract: "Weekly" }, /Contract: unknown category "Weekly"/],
    [{ ...good, tenure: NaN }, /tenure: expected a finite number, got NaN/],
    [{ ...good, tenure: Infinity }, /tenure: expected a finite number, got Infinity/],
    [{ ...good, tenure: "NaN" }, /tenure: expected a finite number/],
    [{ ...good, MonthlyCharges: "Infinity" }, /MonthlyCharges: expected a finite number/],
    [{ ...good, tenure: { nested: 1 } }, /tenure: expected a number, got an object/],
    [{ ...good, Contract: ["One year"] }, /Contract: expected a string, got an array/],
    [{ ...good, Contract: "x".repeat(10_000_000) }, /Contract: expected a string, got a string of more than 4096 characters/],
    [{ ...good, tenure: 10n }, /tenure: expected a number, got a bigint/],
    [{}, /missing field: gender/],
    [null, /expected an object with the customer's fields, got null/],
    [42, /expected an object with the customer's fields, got a number/],
    ["customer", /expected an object/],
    [[good], /expected an object with the customer's fields, got an array/],
    [undefined, /expected an object/],
  ];
  for (const [input, message] of bad) {
    for (const call of [(x) => model.predict(x), (x) => model.probability(x), (x) => model.explain(x)]) {
      assert.throws(() => call(input), message);
      assert.ok(Object.is(model.probability(good), want), "instance still scores correctly");
    }
  }
  // Errors carry details per field.
  try {
    model.predict({ ...good, tenure: "abc", Contract: "Weekly" });
    assert.fail("should throw");
  } catch (e) {
    assert.ok(e instanceof Error);
    assert.deepEqual(
      e.details.map((d) => d.field),
      ["tenure", "Contract"],
    );
  }
});

test("evaluate() returns the object `churn evaluate --json` prints, with the same label rule", async () => {
  const { execFileSync } = await import("node:child_process");
  const { readFileSync, writeFileSync, mkdirSync } = await import("node:fs");
  const churn = new URL("../../target/release/churn", import.meta.url).pathname;
  const data = new URL("../../data/telco_test.csv", import.meta.url).pathname;
  // Two unusable labels (one blank, one "maybe"): counted and left out on both surfaces.
  const [header, ...lines] = readFileSync(data, "utf8").trim().split("\n");
  const names = header.split(",");
  const rows = lines.map((l) => Object.fromEntries(l.split(",").map((v, j) => [names[j], v])));
  rows[3].Churn = "maybe";
  rows[10].Churn = " ";
  const dir = new URL("../../build/node-test/", import.meta.url).pathname;
  mkdirSync(dir, { recursive: true });
  const file = `${dir}/labels.csv`;
  writeFileSync(file, [header, ...rows.map((r) => names.map((n) => r[n]).join(","))].join("\n") + "\n");
  const native = JSON.parse(
    execFileSync(churn, ["evaluate", "--model", "../tests/fixtures/golden.bin", "--data", file, "--json"], {
      stdio: ["ignore", "pipe", "ignore"],
    }),
  );
  const p = Float64Array.from(rows, (r) => model.probability(r));
  const m = model.evaluate(
    p,
    rows.map((r) => r.Churn),
  );
  assert.deepEqual(m, native);
  assert.equal(m.unusable_labels, 2);
  assert.equal(m.rows, rows.length - 2);
  assert.ok(m.roc.length > 10 && m.roc.every((q) => q.fpr >= 0 && q.fpr <= 1));
  assert.throws(
    () =>
      model.evaluate(
        p,
        rows.slice(1).map((r) => r.Churn),
      ),
    /1409 probabilities but 1408 labels/,
  );
  assert.equal(model.evaluate(Float64Array.of(0.5), ["perhaps"]), null);
});

test("info() is the object `churn inspect --json` prints (each model kind, and format versions 1 and 2)", async () => {
  const { execFileSync } = await import("node:child_process");
  const churn = new URL("../../target/release/churn", import.meta.url).pathname;
  for (const f of ["golden.bin", "golden_gbt.bin", "format_v1.bin", "format_v2.bin"]) {
    const path = new URL(`../../tests/fixtures/${f}`, import.meta.url).pathname;
    const native = JSON.parse(execFileSync(churn, ["inspect", path, "--json"]));
    const info = new ChurnModel(readFileSync(path)).info();
    assert.deepEqual(info, native, f);
    assert.equal(info.format_version, { "format_v1.bin": 1, "format_v2.bin": 2 }[f] ?? 3);
    assert.equal(info.file_bytes, readFileSync(path).length);
  }
});

test("formatNumber writes numbers as `churn score` does (shortest round trip, no exponent)", () => {
  const cases = [
    [0.038, "0.038"],
    [1, "1"],
    [0, "0"],
    [-0, "-0"],
    [1e-7, "0.0000001"],
    [1.5e-10, "0.00000000015"],
    [1e21, "1000000000000000000000"],
    [1.25e22, "12500000000000000000000"],
    [-2.5e-8, "-0.000000025"],
    [0.1 + 0.2, "0.30000000000000004"],
    [Number.MIN_VALUE, `0.${"0".repeat(323)}5`],
    [Number.NaN, "NaN"],
    [Number.POSITIVE_INFINITY, "inf"],
  ];
  for (const [x, want] of cases) assert.equal(formatNumber(x), want, String(x));
});

test("the package stays within its size budget: .wasm + JS glue + snippets <= 85 KB gzip", () => {
  // A size regression is silent otherwise: formatting one f64 in the core, for instance, pulls
  // ~20 KB of float-printing code into the wasm. Same measure as scripts/build-pkg.sh. The limit
  // was 76,000 B until the profile type (ChurnProfile: counting, drift, JSON out) joined the
  // package: +9.3 KB gzip, measured and broken down in bench/RESULTS.md (2026-12-01).
  const pkg = new URL("../pkg/", import.meta.url);
  const snippets = readdirSync(new URL("snippets/", pkg), { recursive: true })
    .filter((f) => f.endsWith(".js"))
    .map((f) => readFileSync(new URL(`snippets/${f}`, pkg)));
  const all = Buffer.concat([readFileSync(new URL("churn_bg.wasm", pkg)), readFileSync(new URL("churn.js", pkg)), ...snippets]);
  const gz = gzipSync(all, { level: 9 }).length;
  assert.ok(snippets.length >= 1, "the snippet files are found");
  assert.ok(gz <= 85_000, `${gz} B gzip`);
});

// The npm package's profile (`ChurnModel.newProfile()` → `ChurnProfile`), in Node: the drift it
// reports equals `churn monitor --json` (target/release/churn, the native core) on the same rows,
// unshifted and after a documented shift; profiles of shards merge into the profile of all rows
// in any order; another model's profile is refused; bad customers are counted, never thrown
// through `add`; and counting 100,000 customers does not grow the wasm memory.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { ChurnModel, initSync } from "../pkg/node.js";
import { cases, goldens } from "./golden.mjs";

const fixtures = new URL("../../tests/fixtures/", import.meta.url).pathname;
const model = new ChurnModel(goldens[0].bytes);
const churn = new URL("../../target/release/churn", import.meta.url).pathname;
const dir = new URL("../../build/node-test/", import.meta.url).pathname;

/** The cases with 30 % of rows made new customers (tenure 0–6) and 5 % paying by a new method. */
function shifted() {
  return cases.map((c, i) => ({
    ...c,
    tenure: i % 10 < 3 ? String(i % 7) : c.tenure,
    PaymentMethod: i % 20 === 0 ? "Crypto wallet" : c.PaymentMethod,
  }));
}

function writeCsv(name, rows) {
  mkdirSync(dir, { recursive: true });
  const header = Object.keys(rows[0]);
  const file = `${dir}${name}`;
  writeFileSync(file, [header.join(","), ...rows.map((r) => header.map((h) => r[h]).join(","))].join("\n") + "\n");
  return file;
}

test("drift() is the object `churn monitor --json` prints for the same rows (as they are, and shifted)", () => {
  for (const [name, rows] of [
    ["cases.csv", cases],
    ["shifted.csv", shifted()],
  ]) {
    const file = writeCsv(name, rows);
    const native = JSON.parse(
      execFileSync(churn, ["monitor", "--model", goldens[0].file, "--data", file, "--json"], { stdio: ["ignore", "pipe", "ignore"] }),
    );
    delete native.outcome; // labels: the CLI's, not the profile's
    const p = model.newProfile();
    for (const r of rows) p.add(r);
    assert.deepEqual(p.drift(), native, name);
  }
  const p = model.newProfile();
  for (const r of shifted()) p.add(r);
  const d = p.drift();
  const by = Object.fromEntries(d.fields.map((f) => [f.field, f]));
  // The unknown PaymentMethod is refused by this model (unknown categories are errors): counted
  // as refused, as invalid and as unseen for that field, so the field shows it.
  assert.equal(d.invalid_rows, cases.filter((_, i) => i % 20 === 0).length);
  assert.ok(by.PaymentMethod.unseen.current > 0.04 && by.PaymentMethod.unseen.reference === 0);
  assert.ok(by.tenure.psi > by.gender.psi);
  assert.equal(d.fields[0].psi, Math.max(...d.fields.map((f) => f.psi)));
});

test("profiles of shards merge into the profile of all rows, in any order; rows and invalidRows count", () => {
  const rows = [...cases, { ...cases[0], tenure: "abc" }, 42, null, { ...cases[1], Contract: "Weekly" }];
  const all = model.newProfile();
  for (const r of rows) all.add(r);
  const shards = [rows.slice(0, 7), rows.slice(7, 60), rows.slice(60)].map((part) => {
    const p = model.newProfile();
    for (const r of part) p.add(r);
    return p;
  });
  for (const order of [
    [0, 1, 2],
    [2, 1, 0],
    [1, 2, 0],
  ]) {
    const m = model.newProfile();
    for (const k of order) m.merge(shards[k]);
    assert.deepEqual(m.toJSON(), all.toJSON());
  }
  assert.equal(all.rows, cases.length);
  assert.equal(all.invalidRows, 4);
  assert.equal(all.rows + all.invalidRows, rows.length);
  // predictBatch counts the same as add, and returns what the model's predictBatch returns.
  const batch = model.newProfile();
  assert.deepEqual(batch.predictBatch(rows), model.predictBatch(rows));
  assert.deepEqual(batch.toJSON(), all.toJSON());
  // atomic: a batch with refusals counts only them.
  const atomic = model.newProfile();
  atomic.predictBatch(rows, true);
  assert.equal(atomic.rows, 0);
  assert.equal(atomic.invalidRows, 4);
  // explain counts as add does, in the same pass, and returns what the model's explain returns.
  const explained = model.newProfile();
  for (const r of rows) {
    try {
      assert.deepEqual(explained.explain(r, 3), model.explain(r, 3));
    } catch (e) {
      assert.throws(() => model.explain(r, 3), { message: e.message });
    }
  }
  assert.deepEqual(explained.toJSON(), all.toJSON());
  // predict counts too, and throws the model's Error for a refused customer (after counting it).
  const one = model.newProfile();
  assert.deepEqual(one.predict(cases[0]), model.predict(cases[0]));
  assert.throws(() => one.predict({ ...cases[0], tenure: "abc" }), { message: 'tenure: expected a number, got "abc"' });
  assert.equal(one.rows, 1);
  assert.equal(one.invalidRows, 1);
  const json = one.toJSON();
  assert.equal(json.fields.find((f) => f.name === "tenure").invalid, 1);
  assert.equal(JSON.stringify(one), JSON.stringify(json));
});

test("another model's profile is refused; a model file without a training profile says so", () => {
  const gbt = new ChurnModel(goldens[1].bytes);
  const p = model.newProfile();
  p.add(cases[0]);
  const before = p.toJSON();
  assert.throws(() => p.merge(gbt.newProfile()), { message: "merge: the profiles come from different models" });
  assert.deepEqual(p.toJSON(), before, "a refused merge changes nothing");
  assert.throws(() => p.merge({ rows: 1 }), /expected instance of ChurnProfile|ChurnProfile/);
  const v1 = new ChurnModel(readFileSync(`${fixtures}format_v1.bin`));
  assert.equal(v1.referenceProfile(), null);
  assert.throws(() => v1.newProfile(), {
    message: "this model file carries no training profile (format version 3 or later is needed to monitor): retrain it with this churn",
  });
  const ref = model.referenceProfile();
  assert.equal(ref.format, "churn-profile/1");
  assert.deepEqual(ref.model, { name: "golden", version: "golden-1" });
  assert.equal(
    ref.scores.reduce((a, b) => a + b, 0),
    ref.rows,
  );
  // The reference has the bins of every new profile.
  assert.deepEqual(
    ref.fields.map((f) => [f.name, f.edges ?? f.levels]),
    model
      .newProfile()
      .toJSON()
      .fields.map((f) => [f.name, f.edges ?? f.levels]),
  );
});

test("counting 100,000 customers grows neither the wasm memory nor the profile", () => {
  const p = model.newProfile();
  const memory = initSync({ module: new Uint8Array(0) }).memory; // already initialised: the live instance's exports
  for (let i = 0; i < 2000; i++) p.add(cases[i % cases.length]);
  const size = JSON.stringify(p).length;
  const pages = memory.buffer.byteLength;
  const bad = { ...cases[0], tenure: "abc", Contract: "Weekly" };
  for (let i = 0; i < 100_000; i++) p.add(i % 50 === 0 ? bad : cases[i % cases.length]);
  assert.equal(memory.buffer.byteLength, pages);
  // The counts grow in digits only.
  assert.ok(JSON.stringify(p).length < size + 2000, `${JSON.stringify(p).length} vs ${size}`);
  assert.equal(p.rows + p.invalidRows, 102_000);
});

// Golden parity in workerd: the Worker (its real entry code and wrangler.toml rules, bundled by
// `wrangler dev --local`) serving each golden model (tests/fixtures/golden.bin, a random forest,
// and golden_gbt.bin, gradient-boosted trees) answers every golden case exactly as native
// `churn score --raw --explain 3` did (tests/fixtures/golden*_expected.csv): rounded and raw
// probability (`?raw=true` adds `churn_probability_raw`, compared bit for bit), prediction, risk
// level and the top 3 factors (field, value, contribution bit for bit), through /predict and
// /batch_predict, with and without `?explain=true`.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker, configWithModel } from "../worker/dev-server.mjs";
import { cases, goldens } from "./golden.mjs";

for (const g of goldens) describe(g.name, () => suite(g));

function suite({ file, version, expected }) {
  let w;

  before(async () => {
    w = await startWorker({ config: configWithModel("golden", file) });
  });
  after(async () => {
    await w?.stop();
  });

  async function post(pathname, body) {
    const r = await fetch(w.url + pathname, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const json = await r.json();
    assert.equal(r.status, 200, `${pathname}: ${JSON.stringify(json).slice(0, 300)}`);
    return json;
  }

  /** The three factors native wrote for row i, as the Worker should return them. */
  function factors(i) {
    const e = expected[i];
    return [1, 2, 3].map((k) => ({ field: e[`why_${k}`], value: e[`why_${k}_value`], contribution: Number(e[`why_${k}_contribution`]) }));
  }

  function assertRow(got, i, { raw, explain }) {
    const want = expected[i];
    const where = `row ${i} (${want.customerID})`;
    assert.ok(
      Object.is(got.churn_probability, Number(want.churn_probability)),
      `${where}: ${got.churn_probability} vs ${want.churn_probability}`,
    );
    assert.equal(got.churn_prediction, want.churn_prediction, where);
    assert.equal(got.risk_level, want.risk_level, where);
    assert.equal(got.model_version, version, where);
    if (raw)
      assert.ok(
        Object.is(got.churn_probability_raw, Number(want.churn_probability_raw)),
        `${where}: raw ${got.churn_probability_raw} vs ${want.churn_probability_raw}`,
      );
    else assert.equal(got.churn_probability_raw, undefined);
    if (explain) {
      assert.equal(got.top_factors.length, 3, where);
      got.top_factors.forEach((f, k) => {
        const w = factors(i)[k];
        assert.equal(f.field, w.field, `${where} factor ${k + 1}`);
        assert.equal(f.value, w.value, `${where} factor ${k + 1}`);
        assert.ok(Object.is(f.contribution, w.contribution), `${where} factor ${k + 1}: ${f.contribution} vs ${w.contribution}`);
      });
    } else assert.equal(got.top_factors, undefined);
  }

  test("fixtures line up", () => {
    assert.equal(cases.length, 1417);
    assert.equal(expected.length, cases.length);
    cases.forEach((c, i) => {
      assert.equal(c.customerID, expected[i].customerID);
    });
  });

  test("POST /predict?explain=true&top=3&raw=true equals native for every golden case", async () => {
    const inFlight = 8;
    let next = 0;
    const worker = async () => {
      while (next < cases.length) {
        const i = next++;
        assertRow(await post("/predict?explain=true&top=3&raw=true", cases[i]), i, { raw: true, explain: true });
      }
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
  });

  test("POST /batch_predict (plain, raw, explain) equals native for every golden case", async () => {
    for (const [query, opts] of [
      ["", { raw: false, explain: false }],
      ["?raw=true", { raw: true, explain: false }],
      ["?explain=true&top=3&raw=true", { raw: true, explain: true }],
    ]) {
      for (let start = 0; start < cases.length; start += 500) {
        const batch = cases.slice(start, start + 500);
        const r = await post("/batch_predict" + query, { customers: batch });
        assert.equal(r.total_customers, batch.length);
        assert.equal(r.predictions.length, batch.length);
        assert.equal(r.high_risk_count, expected.slice(start, start + 500).filter((e) => e.risk_level === "HIGH").length);
        r.predictions.forEach((p, k) => {
          assert.equal(p.customer_id, batch[k].customerID);
          assertRow(p, start + k, opts);
        });
      }
    }
  });

  test("numeric fields sent as JSON numbers score bit-identically", async () => {
    const numeric = ["SeniorCitizen", "tenure", "MonthlyCharges", "TotalCharges"];
    const rows = cases.slice(0, 1409).map((c) => {
      const typed = { ...c };
      for (const f of numeric) if (c[f].trim() !== "") typed[f] = Number(c[f]);
      return typed;
    });
    for (let start = 0; start < rows.length; start += 500) {
      const r = await post("/batch_predict?raw=true", { customers: rows.slice(start, start + 500) });
      r.predictions.forEach((p, k) => {
        assertRow(p, start + k, { raw: true, explain: false });
      });
    }
  });
}

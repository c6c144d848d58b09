// Wrong uses of churn-wasm that must not compile (www/test/types.test.mjs compiles this file
// under `tsc --strict`): each `@ts-expect-error` line must be an error, or tsc reports the
// directive as unused (TS2578) and the test fails, so a type that lets any of them through is caught.
import { ChurnModel } from "churn-wasm";
import wasm from "churn-wasm/churn_bg.wasm";

declare const bytes: Uint8Array;
const model = new ChurnModel(bytes);
const customer = { tenure: 2, Contract: "One year" };

export function wrong(): void {
  // @ts-expect-error a path is not the model's bytes
  new ChurnModel("model.bin");
  // @ts-expect-error a string is not a customer
  model.predict("not a customer");
  // @ts-expect-error a boolean is no field value
  model.predict({ tenure: true });
  // @ts-expect-error a batch is an array
  model.predictBatch(42);
  // @ts-expect-error top is a number
  model.explain(customer, "3");
  const r = model.predict(customer);
  // @ts-expect-error churn_probability is a number
  r.churn_probability.toUpperCase();
  // @ts-expect-error no such risk level
  const critical: "CRITICAL" = r.risk_level;
  // @ts-expect-error no such field in a factor
  model.explain(customer).top_factors[0].weight;
  const s = model.schema();
  // @ts-expect-error misspelt
  s.feilds.length;
  // @ts-expect-error levels only on a categorical field
  s.fields[0].levels;
  const f = s.fields[0];
  // @ts-expect-error a numeric field has no levels
  if (f.kind === "numeric") f.levels;
  // @ts-expect-error the kinds are numeric and categorical
  if (f.kind === "text") return;
  const info = model.info();
  // @ts-expect-error the kinds are rf and gbt
  if (info.model_kind === "xgboost") return;
  // @ts-expect-error learning_rate belongs to gbt only
  info.params.learning_rate;
  // @ts-expect-error schema() is not info()
  const i2: typeof info = model.schema();
  const batch = model.predictBatch([customer]);
  // @ts-expect-error a row may be a prediction: narrow with "error" in r
  batch[0].error;
  const ev = model.evaluate([0.5], ["Yes"]);
  // @ts-expect-error evaluate may be null
  ev.rows;
  // @ts-expect-error roc_auc may be null (one class only)
  ev?.roc_auc.toFixed(3);
  // @ts-expect-error labels are the target column's text
  model.evaluate([0.5], [1]);
  const chunk = model.csvScorer(["a"]).score([{ fields: ["1"], line: 2 }], 0);
  // @ts-expect-error a detail's field may be null
  chunk.errors[0].details[0].field.length;
  // @ts-expect-error records are {fields, line}
  model.csvScorer(["a"]).score([["1"]], 0);
  // @ts-expect-error modelVersion is read-only
  model.modelVersion = "x";
  const profile = model.newProfile();
  // @ts-expect-error merge takes a ChurnProfile
  profile.merge({ rows: 1 });
  // @ts-expect-error no such drift level
  const alarm: "alarm" = profile.drift().level;
  // @ts-expect-error a categorical field's bins are levels, maybe absent
  profile.toJSON().fields[0].levels.length;
  // @ts-expect-error rows is read-only
  profile.rows = 0;
  console.log(alarm);
  // @ts-expect-error the wasm import is a WebAssembly.Module
  const n: number = wasm;
  console.log(critical, i2, n);
}

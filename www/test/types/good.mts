// Uses every documented field of churn-wasm's types under `tsc --strict` (www/test/types.test.mjs):
// each must compile, and `known(x)` fails to compile if x's type is `any`.
import init, { ChurnModel, type ChurnProfile, type CsvScorer, formatNumber, initSync } from "churn-wasm";
import type {
  BatchResult,
  Candidate,
  CsvChunk,
  Customer,
  Drift,
  Evaluation,
  Explanation,
  Factor,
  Field,
  InputError,
  ModelInfo,
  Prediction,
  ProfileJSON,
  RowError,
  Schema,
} from "churn-wasm";
import wasm from "churn-wasm/churn_bg.wasm";
import * as web from "churn-wasm/web";

type IsAny<T> = 0 extends 1 & T ? true : false;
/** Returns x; a second argument (impossible to give) is required when x is `any`. */
function known<T>(x: T, ..._notAny: IsAny<T> extends true ? [never] : []): T {
  return x;
}

declare const bytes: Uint8Array;
declare const buffer: ArrayBuffer;

export async function main(): Promise<number> {
  await init();
  await init({ module_or_path: wasm });
  initSync({ module: wasm });
  web.initSync({ module: wasm });
  const model: ChurnModel = new ChurnModel(bytes);
  ChurnModel.fromBytes(buffer).free();
  ChurnModel.fromBytes([1, 2, 3]).free();
  {
    using scoped = new ChurnModel(bytes);
    known<string>(scoped.modelVersion);
  }

  const customer: Customer = { customerID: "0001-A", tenure: 2, MonthlyCharges: "70.5", TotalCharges: null, Contract: "Month-to-month" };
  const p: Prediction = model.predict(customer);
  const probability: number = known(p.churn_probability);
  const churn: "Yes" | "No" = known(p.churn_prediction);
  const risk: "HIGH" | "MEDIUM" | "LOW" = known(p.risk_level);
  const version: string = known(p.model_version);
  const raw: number = known(model.probability(customer));

  const e: Explanation = model.explain(customer, 3);
  known<number>(e.churn_probability_raw + e.base_value + e.churn_probability);
  const factors: Factor[] = known(e.top_factors);
  for (const f of factors) known<string>(f.field) && known<string | number | null>(f.value) && known<number>(f.contribution);

  const batch: BatchResult[] = model.predictBatch([customer, { tenure: "abc" }]);
  for (const r of batch) {
    if ("error" in r) {
      const bad: RowError = r;
      known<number>(bad.row);
      known<string>(bad.error);
      for (const d of bad.details) known<number>(d.row) && known<string | null>(d.field) && known<string>(d.message);
    } else {
      known<number>(r.churn_probability);
    }
  }
  known<Float64Array>(model.probabilities({ tenure: Float64Array.of(1, 2), Contract: ["One year", "Two year"] }));

  try {
    model.predict(customer);
  } catch (err) {
    if (err instanceof Error && "details" in err) {
      const input = err as InputError;
      for (const d of input.details) known<string>(d.field) && known<string>(d.message);
    }
  }

  const s: Schema = model.schema();
  known<string | null>(s.id_column);
  known<string>(s.target.column + s.target.positive + s.target.negative);
  for (const f of s.fields as Field[]) {
    known<string>(f.name);
    if (f.kind === "numeric") {
      known<number | null>(f.min);
      known<number | null>(f.max);
      known<boolean>(f.integer);
      known<number | undefined>(f.missing === "error" ? undefined : f.missing.replace);
    } else {
      known<string[]>(f.levels);
      known<number | undefined>(f.unknown === "error" ? undefined : f.unknown.as_level);
    }
  }

  const info: ModelInfo = model.info();
  known<string>(info.name + info.version + info.created_at + info.trainer + info.data_sha256);
  known<number>(info.rows_total + info.rows_train + info.rows_test);
  known<number>(info.params.trees + info.params.max_depth + info.params.min_samples_leaf + info.params.seed + info.params.test_fraction);
  if (info.params.model_kind === "rf") known<number>(info.params.min_samples_split + info.params.mtry);
  else known<number>(info.params.learning_rate + info.params.max_leaves + info.params.l2);
  if (info.test_metrics) known<number | null>(info.test_metrics.roc_auc);
  known<number[]>(info.importances);
  for (const pt of info.roc) known<number>(pt.fpr + pt.tpr) && known<number | null>(pt.threshold);
  known<number>(info.policy.threshold + info.policy.high + info.policy.medium + info.policy.decimals);
  const best: Candidate | undefined = info.selection[0];
  if (best)
    known<number | null>(best.cv_auc_mean) &&
      known<number | null>(best.cv_auc_sd) &&
      known<number>(best.folds + best.nodes + best.fit_seconds);
  known<number>(info.format_version);
  known<number | null>(info.file_bytes);
  const kind: "rf" | "gbt" = known(info.model_kind);
  const type: "RandomForest" | "GradientBoosting" = known(info.model_type);
  known<string>(info.model_description);
  known<number>(info.trees + info.nodes + info.leaves + info.max_depth + info.base_value);
  known<string[]>(info.features);
  known<Schema>(info.schema);

  const ev: Evaluation | null = model.evaluate(Float64Array.of(0.2, 0.9), ["No", "Yes"]);
  if (ev) {
    known<number>(ev.rows + ev.unusable_labels + ev.accuracy + ev.precision + ev.recall + ev.f1 + ev.brier + ev.log_loss);
    known<number>(ev.tp + ev.fp + ev.tn + ev.fn);
    known<number | null>(ev.roc_auc);
    known<number | null>(ev.pr_auc);
    known<number>(ev.roc.length);
  }

  const scorer: CsvScorer = model.csvScorer(["customerID", "tenure"]);
  known<string>(scorer.header() + scorer.idHeader);
  known<string | undefined>(scorer.missingId);
  known<string | undefined>(scorer.labelNote);
  known<boolean>(scorer.hasTarget);
  const chunk: CsvChunk = scorer.score([{ fields: ["0001-A", "2"], line: 2 }], 0);
  known<string>(chunk.csv);
  known<Float64Array>(chunk.rows) && known<Float64Array>(chunk.raw) && known<Float64Array>(chunk.probability);
  known<string[]>(chunk.ids);
  known<("Yes" | "No")[]>(chunk.prediction);
  known<("HIGH" | "MEDIUM" | "LOW")[]>(chunk.risk);
  for (const err of chunk.errors) {
    known<number>(err.row + err.line);
    known<string>(err.id + err.message);
    for (const d of err.details) known<string | null>(d.field);
  }
  known<Evaluation | null>(scorer.evaluation());
  scorer.free();

  const profile: ChurnProfile = model.newProfile();
  known<boolean>(profile.add(customer));
  known<Prediction>(profile.predict(customer));
  known<Explanation>(profile.explain(customer, 3));
  known<BatchResult[]>(profile.predictBatch([customer], true));
  profile.merge(model.newProfile());
  known<number>(profile.rows + profile.invalidRows);
  const pj: ProfileJSON = profile.toJSON();
  known<"churn-profile/1">(pj.format);
  known<string>(pj.model.name + pj.model.version);
  for (const f of pj.fields) known<number[] | undefined>(f.edges) && known<string[] | undefined>(f.levels) && known<number[]>(f.counts);
  known<number>(pj.risk.HIGH + pj.scores[0] + pj.invalid_rows);
  known<ProfileJSON | null>(model.referenceProfile());
  const drift: Drift = profile.drift();
  known<"stable" | "watch" | "drifted">(drift.level);
  known<number>(drift.score.psi + drift.score.risk.HIGH.current + drift.rows);
  for (const f of drift.fields) known<number>(f.psi + f.js + f.missing.reference + f.unseen.current + f.invalid) && known<string>(f.field);
  profile.free();

  known<string>(formatNumber(probability));
  model.free();
  return [churn, risk, version, kind, type].length + raw;
}

// The package's result types: the contract of `churn-wasm`. wasm-bindgen puts this text at the top
// of pkg/churn.d.ts (`typescript_custom_section` in wasm.rs), and the methods' parameters and results
// name these types (`unchecked_param_type`/`unchecked_return_type`). The shapes are built in
// `doc.rs` (info, schema, metrics) and `wasm.rs` (predictions, row errors, CSV chunks);
// www/test/types.test.mjs checks with `tsc` that what the core returns for the golden models is
// exactly these types (no key missing, none extra, no other type), and that wrong uses fail to compile.
// JSON has no NaN or infinity: such a number reads as `null`, as in `churn inspect --json`.

/**
 * A customer: one property per model field, named as the CSV column (`model.schema().fields`).
 * A numeric field takes a number or a numeric string (`""` or `null` is a missing value); a
 * categorical field takes its level's text (or a number, for integer-coded levels). Properties
 * the model does not use are ignored; a missing field is an error.
 */
export type Customer = Record<string, string | number | null>;

/** `"Yes"` when the probability is at or above the policy's threshold. */
export type ChurnPrediction = "Yes" | "No";

/** The policy's risk band of the rounded probability. */
export type RiskLevel = "HIGH" | "MEDIUM" | "LOW";

/** One customer scored with the model's policy (`predict`, and each good row of `predictBatch`). */
export interface Prediction {
  /** The probability of churn, rounded to the policy's `decimals`. */
  churn_probability: number;
  churn_prediction: ChurnPrediction;
  risk_level: RiskLevel;
  /** The model card's version (`model.modelVersion`). */
  model_version: string;
}

/** A field's share of one customer's probability (path attribution). */
export interface Factor {
  /** The field's name. */
  field: string;
  /** The customer's value of the field, as it was given (`null` when missing). */
  value: string | number | null;
  /** What this field added to (or, negative, took from) the probability. */
  contribution: number;
}

/** A prediction and why (`explain`). */
export interface Explanation extends Prediction {
  /** The unrounded probability, bit-identical on every surface (`probability()`). */
  churn_probability_raw: number;
  /** The model's average output: `base_value + Σ every field's contribution = churn_probability_raw`. */
  base_value: number;
  /** The largest contributions by absolute value, largest first (`top` of them). */
  top_factors: Factor[];
}

/** What is wrong with one field of a customer (the `details` of a thrown {@link InputError}). */
export interface FieldProblem {
  field: string;
  message: string;
}

/**
 * The `Error` that `predict`, `probability` and `explain` throw for a customer the model refuses:
 * `message` names every problem (`tenure: expected a number, got "abc"`), `details` lists them
 * per field (empty when the customer is not an object at all). Narrow a caught value with
 * `e instanceof Error && "details" in e`.
 */
export interface InputError extends Error {
  details: FieldProblem[];
}

/** One problem of one row of a batch; `field` is `null` when the whole row is wrong (not an object). */
export interface RowProblem {
  /** The row's index in the batch (from 0). */
  row: number;
  field: string | null;
  message: string;
}

/** A customer of `predictBatch` that could not be scored, in its place. */
export interface RowError {
  /** The row's index in the batch (from 0). */
  row: number;
  /** Every problem of the row in one message, as `predict` would throw it. */
  error: string;
  details: RowProblem[];
}

/** An element of `predictBatch`'s result: tell them apart with `"error" in r`. */
export type BatchResult = Prediction | RowError;

/**
 * Columns for `probabilities()`: every field name to an array of equal length, a `Float64Array`
 * or a number array (NaN or null = missing) or an array of the values as a customer has them.
 */
export type Columns = Record<string, Float64Array | ArrayLike<string | number | null>>;

/** A numeric field of the schema. */
export interface NumericField {
  name: string;
  kind: "numeric";
  /** What a missing value (blank string, null) becomes: refused, or replaced by a number (the training median). */
  missing: "error" | { replace: number };
  /** The smallest and largest value seen in training (for forms and docs; not enforced). */
  min: number | null;
  max: number | null;
  /** Every training value was a whole number. */
  integer: boolean;
}

/** A categorical field of the schema. */
export interface CategoricalField {
  name: string;
  kind: "categorical";
  /** The levels, in code order. */
  levels: string[];
  /** A value that is no level: refused (listing the levels), or scored as the level with this index. */
  unknown: "error" | { as_level: number };
}

/** A field of the schema: tell the kinds apart with `field.kind`. */
export type Field = NumericField | CategoricalField;

/** The target column and its two values (the label rule of `evaluate`). */
export interface Target {
  column: string;
  /** The value meaning "churned" (e.g. `Yes`, `1`). */
  positive: string;
  negative: string;
}

/** The model's input (`schema()`, and `info().schema`). */
export interface Schema {
  /** The fields a customer must have, in the model's order. */
  fields: Field[];
  /** The column that identifies a customer (e.g. `customerID`), if the training file had one. */
  id_column: string | null;
  target: Target;
}

/** The kind of trees: a random forest or gradient-boosted trees. */
export type ModelKind = "rf" | "gbt";

/** A random forest's settings. */
export interface ForestParams {
  model_kind: "rf";
  trees: number;
  max_depth: number;
  min_samples_leaf: number;
  min_samples_split: number;
  mtry: number;
}

/** Gradient-boosted trees' settings. */
export interface BoostedParams {
  model_kind: "gbt";
  trees: number;
  learning_rate: number;
  max_leaves: number;
  max_depth: number;
  min_samples_leaf: number;
  l2: number;
}

/** A model kind's settings: tell them apart with `model_kind`. */
export type KindParams = ForestParams | BoostedParams;

/** The settings a model was trained with. */
export type TrainParams = KindParams & {
  seed: number;
  /** The share of rows held out for `test_metrics`. */
  test_fraction: number;
};

/** A candidate of model selection (cross-validation), best first in `info().selection`. */
export type Candidate = KindParams & {
  /** Mean and standard deviation of ROC-AUC over the folds. */
  cv_auc_mean: number | null;
  cv_auc_sd: number | null;
  folds: number;
  /** Mean nodes of the fold models. */
  nodes: number;
  /** Mean fit time of one fold, in seconds. */
  fit_seconds: number;
};

/** A point of a ROC curve. */
export interface RocPoint {
  fpr: number;
  tpr: number;
  /** The score from which rows count as positive (`null` for the first point, +∞). */
  threshold: number | null;
}

/** Classification metrics at the policy's threshold. */
export interface Metrics {
  /** Rows measured. */
  rows: number;
  /** `null` when only one class is present. */
  roc_auc: number | null;
  /** Average precision; `null` without positives. */
  pr_auc: number | null;
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
  brier: number;
  log_loss: number;
  tp: number;
  fp: number;
  tn: number;
  fn: number;
}

/** `evaluate()`'s result: the object `churn evaluate --json` prints. */
export interface Evaluation extends Metrics {
  /** Rows whose label was neither the positive nor the negative value (left out). */
  unusable_labels: number;
  /** The ROC curve, at most 200 points. */
  roc: RocPoint[];
}

/** The risk policy stored in the model file. */
export interface Policy {
  /** `churn_prediction` is `"Yes"` at or above this probability. */
  threshold: number;
  /** `HIGH` at or above this, `MEDIUM` at or above `medium`, else `LOW`. */
  high: number;
  medium: number;
  /** `churn_probability` is rounded to this many decimals. */
  decimals: number;
}

/** What is in a model (`info()`): the object `churn inspect --json` prints. */
export interface ModelInfo {
  name: string;
  /** Shown as `model_version`. */
  version: string;
  /** RFC 3339 time of training (UTC). */
  created_at: string;
  /** e.g. `churn 0.1.0`. */
  trainer: string;
  /** sha256 of the training file, hex. */
  data_sha256: string;
  rows_total: number;
  rows_train: number;
  rows_test: number;
  params: TrainParams;
  /** Held-out metrics (`null` when trained on all rows). */
  test_metrics: Metrics | null;
  /** Each field's share of the trees' gain, in schema order (summing to 1). */
  importances: number[];
  /** The held-out ROC curve (empty without held-out rows). */
  roc: RocPoint[];
  policy: Policy;
  /** Model selection's leaderboard, best first (empty when the settings were given). */
  selection: Candidate[];
  /** The file's format version. */
  format_version: number;
  /** The file's size in bytes. */
  file_bytes: number | null;
  model_kind: ModelKind;
  model_type: "RandomForest" | "GradientBoosting";
  /** How the trees make a probability, in words. */
  model_description: string;
  trees: number;
  nodes: number;
  leaves: number;
  max_depth: number;
  /** The model's average output (see {@link Explanation.base_value}). */
  base_value: number;
  /** The field names, in schema order. */
  features: string[];
  schema: Schema;
}

/** A CSV record for `CsvScorer.score`: its cells and its line number in the file. */
export interface CsvRecord {
  fields: string[];
  line: number;
}

/** A row of a CSV chunk that could not be scored. */
export interface CsvRowError {
  /** The data row's number (from 1). */
  row: number;
  /** The line in the file. */
  line: number;
  /** The row's id (its id column, or its row number). */
  id: string;
  message: string;
  details: { row: number; field: string | null; message: string }[];
}

/**
 * `CsvScorer.score`'s result for a chunk: the scored lines of the good rows (`csv`, as `churn
 * score` writes them), then one entry per good row in each array, and the bad rows.
 */
export interface CsvChunk {
  csv: string;
  /** Each good row's number (from 1). */
  rows: Float64Array;
  ids: string[];
  /** Unrounded probabilities. */
  raw: Float64Array;
  /** Rounded probabilities. */
  probability: Float64Array;
  prediction: ChurnPrediction[];
  risk: RiskLevel[];
  errors: CsvRowError[];
}

/** One field's counts in a {@link ProfileJSON}. */
export interface FieldProfileJSON {
  /** The field's name. */
  name: string;
  /** Numeric fields: the bin edges (the training rows' deciles); a value goes to the first bin whose edge is >= it, or the last. */
  edges?: number[];
  /** Categorical fields: the levels, one bin each. */
  levels?: string[];
  /** Rows per bin: `edges.length + 1` bins, or one per level. */
  counts: number[];
  /** Blank or null values. */
  missing: number;
  /** Categories never seen in training. */
  unseen: number;
  /** Rows refused because of this field. */
  invalid: number;
}

/**
 * A profile's counts (`ChurnProfile.toJSON()`, `ChurnModel.referenceProfile()`, the Worker's
 * `GET /monitoring` `profile`): what `ChurnProfile.merge` and `churn monitor --from` read.
 */
export interface ProfileJSON {
  format: "churn-profile/1";
  /** The model it counts for: merging or comparing with another model's profile throws. */
  model: { name: string; version: string };
  /** Rows scored. */
  rows: number;
  /** Rows refused (each also counted in the `invalid` of every field at fault). */
  invalid_rows: number;
  fields: FieldProfileJSON[];
  /** Scores per bin of width 1/20 (`[k/20, (k+1)/20)`, the last closed). */
  scores: number[];
  /** Rows per risk band. */
  risk: { HIGH: number; MEDIUM: number; LOW: number };
  /** The model's PSI levels: below `watch` stable, from `drifted` drifted. */
  thresholds: { watch: number; drifted: number };
}

/** How far a distribution moved: population stability index below the model's `watch` threshold (0.1 by default) is stable, from `drifted` (0.2) drifted. */
export type DriftLevel = "stable" | "watch" | "drifted";

/** A rate in the training rows and in the profiled ones. */
export interface RatePair {
  reference: number;
  current: number;
}

/** One field of {@link Drift}. */
export interface FieldDrift {
  field: string;
  /** Population stability index over the bins plus missing and unseen. */
  psi: number;
  /** Jensen-Shannon distance (base 2, in [0, 1]). */
  js: number;
  level: DriftLevel;
  missing: RatePair;
  unseen: RatePair;
  /** Share of the profiled rows refused because of this field. */
  invalid: number;
}

/** `ChurnProfile.drift()`: the object `churn monitor --json` prints (without `outcome`). */
export interface Drift {
  /** The worst level of the fields and the score. */
  level: DriftLevel;
  rows: number;
  invalid_rows: number;
  score: { psi: number; level: DriftLevel; risk: { HIGH: RatePair; MEDIUM: RatePair; LOW: RatePair } };
  /** Most drifted first. */
  fields: FieldDrift[];
}

/** The model file's bytes: Node's `readFileSync(path)`, `new Uint8Array(await (await fetch(url)).arrayBuffer())`. */
export type ModelBytes = Uint8Array | ArrayBuffer | number[];

//! # inference-wasm: the one scoring core
//!
//! Everything that turns a customer into a churn probability lives here, once:
//! the model file format ([`artifact`]), the input schema and its encoders ([`schema`]),
//! the flat forest and its traversal ([`forest`]), the risk policy ([`policy`]),
//! per-prediction explanations ([`Model::explain`]) and evaluation metrics ([`metrics`]).
//! The `churn` CLI, the wasm package, the demo page and the Worker all call this crate, so
//! every surface gives bit-identical probabilities and the same decisions.
//!
//! The crate has no file system, no data-frame library and no trainer: it builds natively as
//! an rlib and for `wasm32-unknown-unknown` (where the `wasm` module adds JS bindings).

pub mod artifact;
pub mod card;
pub mod doc;
pub mod forest;
pub mod json;
pub mod metrics;
pub mod output;
pub mod policy;
pub mod profile;
pub mod pyfunc;
pub mod schema;
pub mod value;
#[cfg(target_arch = "wasm32")]
pub mod wasm;

pub use artifact::{Artifact, ArtifactError, FORMAT_VERSION, OLDEST_FORMAT_VERSION};
pub use card::{BoostSettings, Candidate, ForestSettings, KindParams, ModelCard, Param, TrainParams};
pub use doc::Doc;
pub use forest::{
    sigmoid, Boosted, BuildNode, CompiledForest, Ensemble, Forest, ForestError, Link, ModelKind, NodeView,
};
pub use metrics::{Metrics, RocPoint};
pub use output::{CsvLayout, Evaluation, Record, RowError, ScoredColumns};
pub use policy::{Decision, Risk, RiskPolicy};
pub use profile::{DriftThresholds, Mark, Profile};
pub use schema::{CategoricalField, Field, FieldKind, Missing, NumericField, Schema, Target, Unknown};
pub use value::{FieldError, InputError, OwnedValue, Problem, Value};

pub use schema::Encoders;

/// A loaded, validated model, ready to score.
#[derive(Clone, Debug)]
pub struct Model {
    artifact: Artifact,
    forest: CompiledForest,
    encoders: Encoders,
    file: Option<FileFacts>,
}

/// What a loaded model file was: its size and its own format version (an older version loads
/// too).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FileFacts {
    pub bytes: u64,
    pub version: u16,
}

/// One field's share of a prediction.
#[derive(Clone, Debug, PartialEq)]
pub struct Contribution {
    /// Index of the field in the schema.
    pub field: usize,
    /// The feature value the model saw (the number, or the category's code).
    pub feature: f64,
    pub contribution: f64,
}

/// A prediction with its reasons: `base_value + Σ contributions == probability` (to 1e-12).
#[derive(Clone, Debug, PartialEq)]
pub struct Explanation {
    pub probability: f64,
    pub base_value: f64,
    /// Sorted by |contribution|, largest first; `top` entries at most.
    pub contributions: Vec<Contribution>,
}

/// One column for [`Model::probabilities_columnar`].
#[derive(Clone, Copy, Debug)]
pub enum Column<'a> {
    /// Numbers; NaN means missing (a typed array has no other way to say it).
    Numbers(&'a [f64]),
    /// Strings (categorical values, or numbers written as text).
    Texts(&'a [&'a str]),
    /// Any values, one per row (the JS bindings pass exact levels as [`Value::Level`]).
    Values(&'a [Value<'a>]),
}

impl Model {
    /// Loads a model file (see [`Artifact::from_bytes`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Model, ArtifactError> {
        let mut model = Model::new(Artifact::from_bytes(bytes)?)?;
        // It decoded, so the 20-byte header is there.
        model.file = Some(FileFacts { bytes: bytes.len() as u64, version: u16::from_le_bytes([bytes[8], bytes[9]]) });
        Ok(model)
    }

    /// Validates an artifact and prepares it for scoring.
    pub fn new(artifact: Artifact) -> Result<Model, ArtifactError> {
        artifact.validate()?;
        let forest = artifact.ensemble.compile().map_err(|e| ArtifactError::Invalid(e.to_string()))?;
        let encoders = Encoders::new(&artifact.schema);
        Ok(Model { artifact, forest, encoders, file: None })
    }

    pub fn artifact(&self) -> &Artifact {
        &self.artifact
    }
    pub fn schema(&self) -> &Schema {
        &self.artifact.schema
    }
    pub fn policy(&self) -> &RiskPolicy {
        &self.artifact.policy
    }
    pub fn card(&self) -> &ModelCard {
        &self.artifact.card
    }
    /// The compiled trees (either kind: scoring and explaining never branch on it).
    pub fn forest(&self) -> &CompiledForest {
        &self.forest
    }
    /// The file it was loaded from (none for a model built in memory).
    pub fn file(&self) -> Option<FileFacts> {
        self.file
    }
    pub fn kind(&self) -> ModelKind {
        self.artifact.ensemble.kind()
    }
    pub fn n_features(&self) -> usize {
        self.artifact.schema.fields.len()
    }

    /// Encodes one record into `out` (length [`Model::n_features`]). `get(i, name)` returns
    /// the record's value for field `i`. Every field is checked; all problems are reported.
    pub fn encode<'a>(&self, get: impl FnMut(usize, &str) -> Value<'a>, out: &mut [f64]) -> Result<(), InputError> {
        self.encoders.encode(&self.artifact.schema, get, out)
    }

    /// [`Model::encode`], also saying for each field whether its value was missing or an
    /// unseen category (`marks`, length [`Model::n_features`]), for profiles.
    pub fn encode_marked<'a>(
        &self,
        mut get: impl FnMut(usize, &str) -> Value<'a>,
        out: &mut [f64],
        marks: &mut [Mark],
    ) -> Result<(), InputError> {
        self.encode(&mut get, out)?;
        let fields = &self.schema().fields;
        for (i, m) in marks.iter_mut().enumerate() {
            *m = profile::mark(self.schema(), i, get(i, &fields[i].name), out[i]);
        }
        Ok(())
    }

    /// Probability of churn for an encoded feature vector.
    pub fn probability(&self, features: &[f64]) -> f64 {
        self.forest.probability(features)
    }

    /// Encodes and scores one record: the raw probability.
    pub fn probability_of<'a>(&self, get: impl FnMut(usize, &str) -> Value<'a>) -> Result<f64, InputError> {
        let mut x = vec![0.0; self.n_features()];
        self.encode(get, &mut x)?;
        Ok(self.forest.probability(&x))
    }

    /// Encodes, scores and applies the risk policy.
    pub fn score<'a>(&self, get: impl FnMut(usize, &str) -> Value<'a>) -> Result<Decision, InputError> {
        Ok(self.artifact.policy.decide(self.probability_of(get)?))
    }

    /// The policy's decision for a probability.
    pub fn decide(&self, p: f64) -> Decision {
        self.artifact.policy.decide(p)
    }

    /// Explains one record: per-field contributions (path attribution, see
    /// [`CompiledForest::contributions`]), the `top` largest by absolute value.
    pub fn explain<'a>(
        &self,
        get: impl FnMut(usize, &str) -> Value<'a>,
        top: usize,
    ) -> Result<Explanation, InputError> {
        let mut x = vec![0.0; self.n_features()];
        self.encode(get, &mut x)?;
        Ok(self.explain_features(&x, top))
    }

    /// [`Model::explain`] for an encoded feature vector.
    pub fn explain_features(&self, x: &[f64], top: usize) -> Explanation {
        let mut c = vec![0.0; self.n_features()];
        let probability = self.forest.contributions(x, &mut c);
        // Largest |contribution| first; ties keep schema order (the sort is stable).
        let contributions = schema::order_by(c.len(), &|a, b| c[b].abs().total_cmp(&c[a].abs()))
            .into_iter()
            .take(top)
            .map(|field| Contribution { field, feature: x[field], contribution: c[field] })
            .collect();
        Explanation { probability, base_value: self.forest.base_value(), contributions }
    }

    /// Columnar fast path: `columns[i]` holds field `i` for every row. Writes each row's raw
    /// probability into `out` (NaN for a row that fails validation) and returns the failures
    /// as (row index, error).
    pub fn probabilities_columnar(
        &self,
        columns: &[Column<'_>],
        out: &mut [f64],
    ) -> Result<Vec<(usize, InputError)>, String> {
        let nf = self.n_features();
        if columns.len() != nf {
            return Err(format!("expected {nf} columns (one per field), got {}", columns.len()));
        }
        let rows = out.len();
        for (i, c) in columns.iter().enumerate() {
            let len = match c {
                Column::Numbers(v) => v.len(),
                Column::Texts(v) => v.len(),
                Column::Values(v) => v.len(),
            };
            if len != rows {
                let name = &self.artifact.schema.fields[i].name;
                return Err(format!("column {name} has {len} rows, expected {rows}"));
            }
        }
        let mut matrix = vec![0.0; rows * nf];
        let mut failures = Vec::new();
        for r in 0..rows {
            let cell = |i: usize, _: &str| match columns[i] {
                Column::Numbers(v) if v[r].is_nan() => Value::Null,
                Column::Numbers(v) => Value::Number(v[r]),
                Column::Texts(v) => Value::Text(v[r]),
                Column::Values(v) => v[r],
            };
            if let Err(e) = self.encode(cell, &mut matrix[r * nf..(r + 1) * nf]) {
                failures.push((r, e));
            }
        }
        self.forest.probabilities(&matrix, out);
        for (r, _) in &failures {
            out[*r] = f64::NAN;
        }
        Ok(failures)
    }
}

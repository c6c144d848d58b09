//! The model card: what was trained, on what, with which settings, how well it did.

use bincode::{Decode, Encode};

use crate::forest::ModelKind;
use crate::metrics::{Metrics, RocPoint};

/// Decoded by hand (`artifact.rs`), field by field in this order, so that format versions 1 and 2
/// share one decoder.
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Clone, Debug, PartialEq, Encode)]
pub struct ModelCard {
    pub name: String,
    /// Version string shown as `model_version` on every surface.
    pub version: String,
    /// RFC 3339 time of training (UTC).
    pub created_at: String,
    /// e.g. `churn 0.1.0`.
    pub trainer: String,
    /// sha256 of the training file's bytes, hex.
    pub data_sha256: String,
    pub rows_total: u64,
    pub rows_train: u64,
    pub rows_test: u64,
    pub params: TrainParams,
    /// Held-out metrics (absent when trained on all rows).
    pub test_metrics: Option<Metrics>,
    /// Share of the trees' gain (impurity or loss decrease) per field, summing to 1, in schema
    /// order.
    pub importances: Vec<f64>,
    /// ROC curve on the held-out rows (empty when there are none).
    pub roc: Vec<RocPoint>,
    /// Model selection's leaderboard, best first (empty when the settings were given).
    pub selection: Vec<Candidate>,
}

/// The settings a model was trained with: its kind's settings, the seed, the held-out share.
/// (Format version 1 stored `ForestSettings` where `kind` is, without the kind's index.)
#[derive(Clone, Debug, PartialEq, Encode)]
pub struct TrainParams {
    pub kind: KindParams,
    pub seed: u64,
    pub test_fraction: f64,
}

/// One model kind's settings. The one list of parameter names and values is
/// [`KindParams::entries`]: the CLI, the registry, MLflow and the JS `info()` all show it.
#[derive(Clone, Debug, PartialEq, Encode, Decode)]
pub enum KindParams {
    Forest(ForestSettings),
    Boosted(BoostSettings),
}

#[derive(Clone, Debug, PartialEq, Encode, Decode)]
pub struct ForestSettings {
    pub trees: u32,
    pub max_depth: u32,
    pub min_samples_leaf: u32,
    pub min_samples_split: u32,
    pub mtry: u32,
}

#[derive(Clone, Debug, PartialEq, Encode, Decode)]
pub struct BoostSettings {
    /// Trees (boosting rounds) kept.
    pub trees: u32,
    pub learning_rate: f64,
    /// Leaves per tree, at most (trees grow best leaf first).
    pub max_leaves: u32,
    pub max_depth: u32,
    pub min_samples_leaf: u32,
    /// L2 penalty on leaf values (added to the hessian sum).
    pub l2: f64,
}

/// One entry of the model-selection leaderboard.
#[derive(Clone, Debug, PartialEq, Encode, Decode)]
pub struct Candidate {
    pub params: KindParams,
    /// Mean and standard deviation of ROC-AUC over the cross-validation folds.
    pub cv_auc_mean: f64,
    pub cv_auc_sd: f64,
    pub folds: u32,
    /// Mean nodes of the fold models: the size of the model this choice makes.
    pub nodes: u64,
    /// Mean fit time of one fold, seconds.
    pub fit_seconds: f64,
}

/// A parameter's value, for listing.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Param {
    Text(&'static str),
    Count(u64),
    Number(f64),
}

impl std::fmt::Display for Param {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Param::Text(s) => f.write_str(s),
            Param::Count(n) => write!(f, "{n}"),
            Param::Number(x) => write!(f, "{x}"),
        }
    }
}

impl KindParams {
    pub fn kind(&self) -> ModelKind {
        match self {
            KindParams::Forest(_) => ModelKind::RandomForest,
            KindParams::Boosted(_) => ModelKind::GradientBoosting,
        }
    }

    /// Name and value of every setting, `model_kind` first: the one parameter list.
    pub fn entries(&self) -> Vec<(&'static str, Param)> {
        let mut e = vec![("model_kind", Param::Text(self.kind().short()))];
        match self {
            KindParams::Forest(f) => e.extend([
                ("trees", Param::Count(f.trees.into())),
                ("max_depth", Param::Count(f.max_depth.into())),
                ("min_samples_leaf", Param::Count(f.min_samples_leaf.into())),
                ("min_samples_split", Param::Count(f.min_samples_split.into())),
                ("mtry", Param::Count(f.mtry.into())),
            ]),
            KindParams::Boosted(b) => e.extend([
                ("trees", Param::Count(b.trees.into())),
                ("learning_rate", Param::Number(b.learning_rate)),
                ("max_leaves", Param::Count(b.max_leaves.into())),
                ("max_depth", Param::Count(b.max_depth.into())),
                ("min_samples_leaf", Param::Count(b.min_samples_leaf.into())),
                ("l2", Param::Number(b.l2)),
            ]),
        }
        e
    }

    /// `key=value` pairs after the kind, e.g. `trees=100 max_depth=7 ...`.
    pub fn summary(&self) -> String {
        self.entries().iter().skip(1).map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
    }

    pub fn trees(&self) -> u32 {
        match self {
            KindParams::Forest(f) => f.trees,
            KindParams::Boosted(b) => b.trees,
        }
    }
}

impl TrainParams {
    /// [`KindParams::entries`], then `seed` and `test_fraction`.
    pub fn entries(&self) -> Vec<(&'static str, Param)> {
        let mut e = self.kind.entries();
        e.push(("seed", Param::Count(self.seed)));
        e.push(("test_fraction", Param::Number(self.test_fraction)));
        e
    }
}

#[cfg(feature = "serde")]
mod json {
    use serde::ser::{SerializeMap, Serializer};
    use serde::Serialize;

    use super::*;

    /// Writes parameter entries into a JSON object being built.
    fn put<M: SerializeMap>(m: &mut M, e: Vec<(&'static str, Param)>) -> Result<(), M::Error> {
        for (k, v) in e {
            match v {
                Param::Text(t) => m.serialize_entry(k, t)?,
                Param::Count(n) => m.serialize_entry(k, &n)?,
                Param::Number(x) => m.serialize_entry(k, &x)?,
            }
        }
        Ok(())
    }

    /// A flat object of [`TrainParams::entries`].
    impl Serialize for TrainParams {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut m = s.serialize_map(None)?;
            put(&mut m, self.entries())?;
            m.end()
        }
    }

    /// A flat object of [`KindParams::entries`].
    impl Serialize for KindParams {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut m = s.serialize_map(None)?;
            put(&mut m, self.entries())?;
            m.end()
        }
    }

    /// The settings' entries, then the cross-validation figures.
    impl Serialize for Candidate {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut m = s.serialize_map(None)?;
            put(&mut m, self.params.entries())?;
            m.serialize_entry("cv_auc_mean", &self.cv_auc_mean)?;
            m.serialize_entry("cv_auc_sd", &self.cv_auc_sd)?;
            m.serialize_entry("folds", &self.folds)?;
            m.serialize_entry("nodes", &self.nodes)?;
            m.serialize_entry("fit_seconds", &self.fit_seconds)?;
            m.end()
        }
    }
}

//! The model card: what was trained, on what, how well it did.

use bincode::{Decode, Encode};

use crate::metrics::{Metrics, RocPoint};

#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Clone, Debug, PartialEq, Encode, Decode)]
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
    /// Mean decrease in impurity per field, normalised to sum to 1, in schema order.
    pub importances: Vec<f64>,
    /// ROC curve on the held-out rows (empty when there are none).
    pub roc: Vec<RocPoint>,
}

#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Clone, Debug, PartialEq, Encode, Decode)]
pub struct TrainParams {
    pub trees: u32,
    pub max_depth: u32,
    pub min_samples_leaf: u32,
    pub min_samples_split: u32,
    pub mtry: u32,
    pub seed: u64,
    pub test_fraction: f64,
}

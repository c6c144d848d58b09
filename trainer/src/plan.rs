//! `churn train`'s flags, checked once, before any work: the validated plan every later layer
//! (read → fit → gate → write → record → report) takes instead of the raw flags.
//!
//! Checks that need the data (`--mtry` against the number of features, the classes of the
//! training rows) are made where the data is known, in the fit layer.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use inference_wasm::{DriftThresholds, RiskPolicy};

use crate::cli::{ModelArg, TrainArgs, UnknownArg};
use crate::cmd_registry::RecordPlan;
use crate::output::threads;
use crate::select::Fixed;

/// What `churn train` will do.
pub struct TrainPlan {
    pub data: PathBuf,
    pub out: PathBuf,
    /// Columns: target, positive value, id, dropped and kept columns, unknown-category rule.
    pub target: Option<String>,
    pub positive: Option<String>,
    pub id: Option<String>,
    pub drop: Vec<String>,
    pub features: Vec<String>,
    pub unknown_most_frequent: bool,
    /// The search space: kinds and the settings the flags fix.
    pub fixed: Fixed,
    pub time_budget: Duration,
    pub seed: u64,
    pub test_fraction: f64,
    pub verify_rows: Option<usize>,
    pub policy: RiskPolicy,
    /// PSI levels stored with the reference profile.
    pub drift: DriftThresholds,
    pub min_auc: Option<f64>,
    pub name: String,
    pub model_version: Option<String>,
    pub threads: usize,
    /// `--json`: one JSON object on stdout, no progress or notes on stderr.
    pub json: bool,
    /// Where the run is recorded (`None` with `--no-registry`).
    pub record: Option<RecordPlan>,
}

impl TrainPlan {
    /// Checks every flag (messages name the flag and the value given).
    pub fn from_args(a: TrainArgs) -> Result<TrainPlan> {
        let policy = RiskPolicy { threshold: a.threshold, high: a.high, medium: a.medium, decimals: a.decimals };
        policy.validate().map_err(|m| {
            anyhow!(
                "risk policy: {m}; got --threshold {} --medium {} --high {} --decimals {}",
                a.threshold,
                a.medium,
                a.high,
                a.decimals
            )
        })?;
        if !(0.0..1.0).contains(&a.test_fraction) {
            bail!("--test-fraction must be in [0, 1), got {}", a.test_fraction);
        }
        if a.min_auc.is_some() && a.test_fraction == 0.0 {
            bail!("--min-auc needs held-out rows to measure; use --test-fraction > 0");
        }
        let drift = DriftThresholds { watch: a.psi_watch, drifted: a.psi_drifted };
        drift.validate().map_err(|m| anyhow!("--psi-watch/--psi-drifted: {m}"))?;
        let record = RecordPlan::from_args(&a)?;
        let budget = a.time_budget;
        if !(budget.is_finite() && budget >= 0.0) {
            bail!("--time-budget must be a number of seconds >= 0, got {budget}");
        }
        if let Some(lr) = a.learning_rate {
            if !(lr > 0.0 && lr <= 1.0) {
                bail!("--learning-rate must be in (0, 1], got {lr}");
            }
        }
        let fixed = Fixed {
            forest: a.model != ModelArg::Gbt,
            boost: a.model != ModelArg::Rf,
            trees: a.trees.map(|v| v as usize),
            max_depth: a.max_depth.map(|v| v as usize),
            min_samples_leaf: a.min_samples_leaf.map(|v| v as usize),
            min_samples_split: a.min_samples_split.map(|v| v as usize),
            mtry: a.mtry.map(|v| v as usize),
            learning_rate: a.learning_rate,
            max_leaves: a.max_leaves.map(|v| v as usize),
            l2: None,
        };
        Ok(TrainPlan {
            name: a.name.clone().or_else(|| a.register.clone()).unwrap_or_else(|| "churn-model".into()),
            data: a.data,
            out: a.out,
            target: a.target,
            positive: a.positive,
            id: a.id,
            drop: a.drop,
            features: a.features,
            unknown_most_frequent: a.unknown_category == UnknownArg::MostFrequent,
            fixed,
            time_budget: Duration::from_secs_f64(budget),
            seed: a.seed,
            test_fraction: a.test_fraction,
            verify_rows: a.verify_rows.map(|n| n as usize),
            policy,
            drift,
            min_auc: a.min_auc,
            model_version: a.model_version,
            threads: threads(a.threads),
            json: a.json,
            record,
        })
    }
}

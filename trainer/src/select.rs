//! Model selection: which kind and settings, chosen by cross-validation on the training rows.
//!
//! A small search ([`candidates`]): random forests and gradient-boosted trees at a few
//! well-known settings, narrowed by whatever the user fixed on the command line. Each candidate
//! is fitted on k − 1 stratified folds and scored (ROC-AUC) on the k-th; a boosted candidate
//! stops early on a tenth of its fitting rows (never on the scored fold), and the final model's
//! number of trees is the mean of the folds' best, scaled by how many more rows the final fit
//! has than a fold's fit (all training rows against k − 1 folds less the tenth: 1.39× at k = 5):
//! more rows carry more rounds before the model starts fitting noise.
//! The choice: the best mean ROC-AUC, then, among candidates whose paired fold-by-fold
//! difference to the best is within one standard error, the smallest model (fewest nodes: also
//! the fastest to score). Candidates whose model would pass the file-size cap are not chosen. The search
//! stops starting candidates when the time budget is spent (the first always runs).

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use inference_wasm::{BoostSettings, Candidate, ForestSettings, KindParams, Metrics};

use crate::boost::{self, Binned, BoostParams};
use crate::data::{gather_rows, par_map, SplitMix64};
use crate::output::Spans;
use crate::train::{self, ForestParams};

/// Nodes that make a file of about 1 MB (5.4–8 bytes a node): larger candidates are not chosen.
pub const MAX_CHOSEN_NODES: u64 = 125_000;

/// One setting of one kind, as searched.
#[derive(Clone, Debug, PartialEq)]
pub enum Spec {
    Forest(ForestParams),
    /// Boosting settings; `fixed_trees` when the user gave `--trees` (no early stopping).
    Boost {
        params: BoostParams,
        fixed_trees: bool,
    },
}

impl Spec {
    fn label(&self) -> String {
        match self {
            Spec::Forest(p) => format!(
                "rf trees={} max_depth={} min_samples_leaf={} mtry={}",
                p.trees, p.max_depth, p.min_samples_leaf, p.mtry
            ),
            Spec::Boost { params: p, .. } => format!(
                "gbt learning_rate={} max_leaves={} max_depth={} min_samples_leaf={}",
                p.learning_rate, p.max_leaves, p.max_depth, p.min_samples_leaf
            ),
        }
    }
}

/// What the user fixed; `None` leaves a setting to the search.
#[derive(Clone, Debug, Default)]
pub struct Fixed {
    pub forest: bool,
    pub boost: bool,
    pub trees: Option<usize>,
    pub max_depth: Option<usize>,
    pub min_samples_leaf: Option<usize>,
    pub min_samples_split: Option<usize>,
    pub mtry: Option<usize>,
    pub learning_rate: Option<f64>,
    pub max_leaves: Option<usize>,
    pub l2: Option<f64>,
}

/// The search space for `n_features` features: the kinds allowed by `fixed`, each at its
/// settings with the user's fixed values applied (duplicates removed).
pub fn candidates(fixed: &Fixed, n_features: usize, seed: u64) -> Vec<Spec> {
    let sqrt = ((n_features as f64).sqrt().floor() as usize).max(1);
    let mut out: Vec<Spec> = Vec::new();
    if fixed.boost {
        // (learning rate, leaves, depth): scikit-learn HistGradientBoosting's defaults; its
        // GradientBoosting's depth-3 trees; shallow depth-2 trees with a smaller rate, for data
        // whose signal is mostly additive; and stumps, an additive model (one learned curve per
        // field, no interactions: what a logistic regression wins with, without its linearity).
        for (lr, leaves, depth, rounds) in [(0.1, 31, 12, 500), (0.1, 8, 3, 800), (0.05, 4, 2, 1500), (0.1, 2, 1, 2000)]
        {
            let params = BoostParams {
                max_trees: fixed.trees.unwrap_or(rounds),
                learning_rate: fixed.learning_rate.unwrap_or(lr),
                max_leaves: fixed.max_leaves.unwrap_or(leaves),
                max_depth: fixed.max_depth.unwrap_or(depth),
                min_samples_leaf: fixed.min_samples_leaf.unwrap_or(20),
                l2: fixed.l2.unwrap_or(1.0),
                patience: 30,
            };
            out.push(Spec::Boost { params, fixed_trees: fixed.trees.is_some() });
        }
    }
    if fixed.forest {
        // This tool's long-standing default (shallow, large leaves), and deeper trees with more
        // features per split for data with more structure.
        for (depth, leaf, mtry) in [(7, 20, sqrt), (12, 5, sqrt.max(n_features / 3))] {
            out.push(Spec::Forest(ForestParams {
                trees: fixed.trees.unwrap_or(100),
                max_depth: fixed.max_depth.unwrap_or(depth).min(u16::MAX as usize) as u16,
                min_samples_leaf: fixed.min_samples_leaf.unwrap_or(leaf),
                min_samples_split: fixed.min_samples_split.unwrap_or(2),
                mtry: fixed.mtry.unwrap_or(mtry).min(n_features),
                seed,
                verify_rows: None,
                unchecked: false,
            }));
        }
    }
    let mut unique: Vec<Spec> = Vec::new();
    for c in out {
        if !unique.contains(&c) {
            unique.push(c);
        }
    }
    unique
}

/// A candidate's cross-validation results.
#[derive(Clone, Debug)]
pub struct Scored {
    pub spec: Spec,
    pub aucs: Vec<f64>,
    pub nodes: f64,
    pub fit_seconds: f64,
    /// Boosting: the final model's trees: the folds' mean best, scaled to all the rows.
    pub trees: usize,
}

impl Scored {
    pub fn mean(&self) -> f64 {
        self.aucs.iter().sum::<f64>() / self.aucs.len() as f64
    }

    pub fn sd(&self) -> f64 {
        sd(&self.aucs)
    }

    /// The settings the final model is trained with (boosting: the trees the folds kept).
    pub fn final_spec(&self) -> Spec {
        match &self.spec {
            Spec::Boost { params, fixed_trees } => Spec::Boost {
                params: BoostParams { max_trees: self.trees, ..params.clone() },
                fixed_trees: *fixed_trees,
            },
            s => s.clone(),
        }
    }

    /// The leaderboard entry. `timed` false records fit time 0, for byte-reproducible files
    /// (`SOURCE_DATE_EPOCH` set: the same data and flags give the same file).
    pub fn to_candidate(&self, timed: bool) -> Candidate {
        Candidate {
            params: kind_params(&self.final_spec()),
            cv_auc_mean: self.mean(),
            cv_auc_sd: self.sd(),
            folds: self.aucs.len() as u32,
            nodes: self.nodes.round() as u64,
            fit_seconds: if timed { self.fit_seconds } else { 0.0 },
        }
    }
}

fn sd(v: &[f64]) -> f64 {
    if v.len() < 2 {
        return 0.0;
    }
    let m = v.iter().sum::<f64>() / v.len() as f64;
    (v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (v.len() - 1) as f64).sqrt()
}

/// The model card's record of a setting.
pub fn kind_params(spec: &Spec) -> KindParams {
    match spec {
        Spec::Forest(p) => KindParams::Forest(ForestSettings {
            trees: p.trees as u32,
            max_depth: p.max_depth as u32,
            min_samples_leaf: p.min_samples_leaf as u32,
            min_samples_split: p.min_samples_split as u32,
            mtry: p.mtry as u32,
        }),
        Spec::Boost { params: p, .. } => KindParams::Boosted(BoostSettings {
            trees: p.max_trees as u32,
            learning_rate: p.learning_rate,
            max_leaves: p.max_leaves as u32,
            max_depth: p.max_depth as u32,
            min_samples_leaf: p.min_samples_leaf as u32,
            l2: p.l2,
        }),
    }
}

/// Folds for `n` rows: 5, or 3 above 50,000 rows (each fit then has plenty of rows, and the
/// search three fifths of the cost).
pub fn fold_count(n: usize) -> usize {
    if n > 50_000 {
        3
    } else {
        5
    }
}

/// Stratified fold of every row: each class shuffled (seeded) and dealt round robin.
pub fn stratified_folds(y: &[bool], k: usize, seed: u64) -> Vec<usize> {
    let mut fold = vec![0; y.len()];
    for idx in crate::data::shuffled_by_class(y, seed ^ 0xF01D_F01D_F01D_F01D) {
        for (i, &r) in idx.iter().enumerate() {
            fold[r] = i % k;
        }
    }
    fold
}

/// The search's inputs: encoded training rows, their labels, the binned form for boosting.
pub struct Data<'a> {
    pub x: &'a [f64],
    pub n_features: usize,
    pub y: &'a [bool],
    pub binned: Option<&'a Binned>,
}

/// Scores every candidate by k-fold cross-validation, in order, until the budget is spent.
/// Returns the scored ones (at least the first) and how many were skipped for time.
/// `progress(done, total, label)` reports fits as they finish.
pub fn search(
    data: &Data,
    specs: &[Spec],
    seed: u64,
    threads: usize,
    budget: Duration,
    progress: &(dyn Fn(usize, usize, &str) + Sync),
) -> Result<(Vec<Scored>, usize)> {
    let n = data.y.len();
    let k = fold_count(n);
    let positives = data.y.iter().filter(|&&b| b).count();
    if positives < k || n - positives < k {
        // (`churn train` falls back to one setting before it gets here.)
        bail!(
            "model selection needs at least {k} churners and {k} others among the training rows for \
             {k}-fold cross-validation (have {positives} and {})",
            n - positives
        );
    }
    let folds = stratified_folds(data.y, k, seed);
    let started = Instant::now();
    let total = specs.len() * k;
    let done = std::sync::atomic::AtomicUsize::new(0);
    let mut scored = Vec::new();
    let mut skipped = 0;
    let mut last = Duration::ZERO;
    for (i, spec) in specs.iter().enumerate() {
        // Stop when this candidate would likely end past the budget (the first always runs).
        if i > 0 && started.elapsed() + last > budget {
            skipped = specs.len() - i;
            break;
        }
        let t0 = Instant::now();
        let label = spec.label();
        let jobs: Vec<usize> = (0..k).collect();
        let results = par_map(&jobs, threads, |&j| -> Result<Fold> {
            let fit_started = Instant::now();
            let train: Vec<usize> = (0..n).filter(|&r| folds[r] != j).collect();
            let valid: Vec<usize> = (0..n).filter(|&r| folds[r] == j).collect();
            let yv: Vec<bool> = valid.iter().map(|&r| data.y[r]).collect();
            let nf = data.n_features;
            // The model, its trees, and the rows it was fitted on.
            let (model, trees, fit_count) = match spec {
                Spec::Forest(fp) => {
                    let xt = gather_rows(data.x, nf, &train);
                    let yt: Vec<bool> = train.iter().map(|&r| data.y[r]).collect();
                    let fp = ForestParams { unchecked: true, seed: fp.seed ^ (j as u64 + 1), ..fp.clone() };
                    let trained = train::train(&xt, nf, &yt, &fp, 1, &|_| {}, &mut Spans::off())?;
                    (trained.forest.compile()?, fp.trees, train.len())
                }
                Spec::Boost { params, fixed_trees } => {
                    let b = data.binned.expect("boosting candidates come with the binned rows");
                    // Early stopping watches a tenth of the fold's training rows, never the
                    // held-out fold itself (that would flatter boosting against the forest).
                    let (fit_rows, stop_rows): (Vec<usize>, Vec<usize>) = if *fixed_trees {
                        (train, Vec::new())
                    } else {
                        train.iter().partition(|&&r| {
                            SplitMix64(seed ^ (r as u64).wrapping_mul(0x2545_F491_4F6C_DD1D)).next() % 10 != 0
                        })
                    };
                    let fit = boost::fit(b, data.y, &fit_rows, &stop_rows, params, &mut |_| {})?;
                    (fit.export(b)?.compile()?, fit.n_trees(), fit_rows.len())
                }
            };
            // The held-out fold, scored by the core (either kind), as the written model would be.
            let mut p = vec![0.0; valid.len()];
            model.probabilities(&gather_rows(data.x, nf, &valid), &mut p);
            let nodes = model.shape().0;
            let auc = Metrics::compute(&p, &yv, 0.5).roc_auc;
            let d = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            progress(d, total, &label);
            Ok(Fold {
                auc,
                nodes: nodes as f64,
                seconds: fit_started.elapsed().as_secs_f64(),
                trees: trees as f64,
                rows: fit_count as f64,
            })
        });
        let results = results.into_iter().collect::<Result<Vec<_>>>()?;
        let mean = |f: fn(&Fold) -> f64| results.iter().map(f).sum::<f64>() / k as f64;
        let grow = growth(spec, n, mean(|r| r.rows));
        scored.push(Scored {
            spec: spec.clone(),
            aucs: results.iter().map(|r| r.auc).collect(),
            nodes: mean(|r| r.nodes) * grow,
            fit_seconds: mean(|r| r.seconds),
            trees: ((mean(|r| r.trees) * grow).round() as usize).max(1),
        });
        last = t0.elapsed();
    }
    Ok((scored, skipped))
}

/// How many times a fold's trees (and nodes) the final model gets: for early-stopped boosting,
/// the final fit's `n` rows over the rows a fold's fit had, since a model fitted on more rows
/// takes more rounds before it starts fitting noise; 1 otherwise (fixed trees, forests).
fn growth(spec: &Spec, n: usize, fold_fit_rows: f64) -> f64 {
    match spec {
        Spec::Boost { fixed_trees: false, .. } if fold_fit_rows > 0.0 => n as f64 / fold_fit_rows,
        _ => 1.0,
    }
}

/// One fold's fit: held-out ROC-AUC, nodes, seconds, trees kept, rows fitted on.
struct Fold {
    auc: f64,
    nodes: f64,
    seconds: f64,
    trees: f64,
    rows: f64,
}

/// Index of the chosen candidate (see the module docs), and the leaderboard order (best mean
/// first).
pub fn choose(scored: &[Scored]) -> (usize, Vec<usize>) {
    let mut order: Vec<usize> = (0..scored.len()).collect();
    order.sort_by(|&a, &b| scored[b].mean().total_cmp(&scored[a].mean()).then(a.cmp(&b)));
    let allowed = |i: usize| scored[i].nodes <= MAX_CHOSEN_NODES as f64;
    let best = order.iter().copied().find(|&i| allowed(i)).unwrap_or(order[0]);
    let within = |i: usize| {
        let diffs: Vec<f64> = scored[best].aucs.iter().zip(&scored[i].aucs).map(|(a, b)| a - b).collect();
        let mean = diffs.iter().sum::<f64>() / diffs.len() as f64;
        mean <= sd(&diffs) / (diffs.len() as f64).sqrt()
    };
    let chosen = order
        .iter()
        .copied()
        .filter(|&i| i == best || (allowed(i) && within(i)))
        // Fewest nodes (the smaller and faster-scoring model); ties keep leaderboard order, so
        // the choice never depends on measured times and the same data gives the same model.
        .min_by(|&a, &b| scored[a].nodes.total_cmp(&scored[b].nodes))
        .unwrap_or(best);
    (chosen, order)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scored(aucs: &[f64], nodes: f64) -> Scored {
        Scored {
            spec: Spec::Forest(ForestParams {
                trees: 1,
                max_depth: 1,
                min_samples_leaf: 1,
                min_samples_split: 2,
                mtry: 1,
                seed: 0,
                verify_rows: None,
                unchecked: true,
            }),
            aucs: aucs.to_vec(),
            nodes,
            fit_seconds: 1.0,
            trees: 1,
        }
    }

    #[test]
    fn the_smaller_model_wins_within_one_standard_error() {
        // b is worse on every fold by a wide margin: a wins although larger.
        let a = scored(&[0.90, 0.91, 0.92], 1000.0);
        let b = scored(&[0.80, 0.81, 0.82], 10.0);
        assert_eq!(choose(&[a.clone(), b]).0, 0);
        // c is as good within noise (differences +-): the smaller c wins.
        let c = scored(&[0.905, 0.905, 0.921], 10.0);
        let (chosen, order) = choose(&[a.clone(), c]);
        assert_eq!(chosen, 1);
        assert_eq!(order, vec![1, 0]);
        // Too large to be chosen: the best allowed one is.
        let huge = scored(&[0.99, 0.99, 0.99], (MAX_CHOSEN_NODES + 1) as f64);
        assert_eq!(choose(&[huge, a]).0, 1);
    }

    #[test]
    fn early_stopped_boosting_grows_to_the_final_fit_rows() {
        let specs = candidates(&Fixed { forest: true, boost: true, ..Fixed::default() }, 9, 1);
        let boost = specs.iter().find(|s| matches!(s, Spec::Boost { .. })).unwrap();
        let forest = specs.iter().find(|s| matches!(s, Spec::Forest(_))).unwrap();
        // 5 folds of 1,000 rows: a fold fits on 800 less the tenth that watches for the stop.
        let g = growth(boost, 1000, 720.0);
        assert!((g - 1000.0 / 720.0).abs() < 1e-12, "{g}");
        assert_eq!(growth(forest, 1000, 800.0), 1.0);
        let Spec::Boost { params, .. } = boost.clone() else { unreachable!() };
        assert_eq!(growth(&Spec::Boost { params, fixed_trees: true }, 1000, 800.0), 1.0);
    }

    #[test]
    fn folds_are_stratified_and_seeded() {
        let y: Vec<bool> = (0..103).map(|i| i % 4 == 0).collect();
        let f = stratified_folds(&y, 5, 1);
        for k in 0..5 {
            let pos = (0..103).filter(|&r| f[r] == k && y[r]).count();
            assert!((5..=6).contains(&pos), "{pos}");
        }
        assert_eq!(f, stratified_folds(&y, 5, 1));
        assert_ne!(f, stratified_folds(&y, 5, 2));
    }

    #[test]
    fn fixed_flags_narrow_the_search() {
        let all = candidates(&Fixed { forest: true, boost: true, ..Fixed::default() }, 16, 42);
        assert_eq!(all.len(), 6);
        let only = candidates(
            &Fixed { forest: true, max_depth: Some(5), min_samples_leaf: Some(3), mtry: Some(4), ..Fixed::default() },
            16,
            42,
        );
        assert_eq!(only.len(), 1, "{only:?}");
        let boost = candidates(&Fixed { boost: true, trees: Some(50), ..Fixed::default() }, 16, 42);
        assert!(boost.iter().all(|s| matches!(s, Spec::Boost { params, fixed_trees: true } if params.max_trees == 50)));
    }
}

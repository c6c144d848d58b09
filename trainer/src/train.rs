//! Training: smartcore probability forests on all cores, converted to the core's flat forest
//! and checked against smartcore's own predictions before anything is written.
//!
//! Why `RandomForestRegressor` on 0/1 labels (see DESIGN.md): MSE on 0/1 targets is the Gini
//! criterion, every leaf holds its in-bag churn rate (a real probability, not a vote), and its
//! split search has no defect on tied values, unlike smartcore 0.7's classifier.
//!
//! Parallelism: the forest is cut into fixed chunks of [`CHUNK_TREES`] trees, each trained with
//! its own seed derived from the user's seed and the chunk number. The chunk layout depends only
//! on the tree count, so the result is the same whatever the number of cores.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::{anyhow, bail, Context, Result};
use inference_wasm::{BuildNode, Forest};
use serde::Deserialize;
use smartcore::ensemble::random_forest_regressor::{
    RandomForestRegressor, RandomForestRegressorParameters,
};
use smartcore::linalg::basic::matrix::DenseMatrix;

use crate::cmd_train::Spans;
use crate::data::SplitMix64;

/// Training rows the exported forest is checked on against smartcore (evenly spread).
const CHECK_ROWS: usize = 2048;

/// Trees per independently seeded chunk.
pub const CHUNK_TREES: usize = 50;

#[derive(Clone, Debug)]
pub struct ForestParams {
    pub trees: usize,
    pub max_depth: u16,
    pub min_samples_leaf: usize,
    pub min_samples_split: usize,
    pub mtry: usize,
    pub seed: u64,
}

pub struct Trained {
    pub forest: Forest,
    /// Mean decrease in impurity per feature, summing to 1.
    pub importances: Vec<f64>,
}

type Rf = RandomForestRegressor<f64, f64, DenseMatrix<f64>, Vec<f64>>;

// Mirrors of smartcore's serde form (its trees are private; the `serde` feature exposes them).
#[derive(Deserialize)]
struct SForest {
    forest_regressor: Option<SBase>,
}
#[derive(Deserialize)]
struct SBase {
    trees: Option<Vec<STree>>,
}
#[derive(Deserialize)]
struct STree {
    nodes: Vec<SNode>,
}
#[derive(Deserialize)]
struct SNode {
    output: f64,
    split_feature: usize,
    split_value: Option<f64>,
    true_child: Option<usize>,
    false_child: Option<usize>,
}

fn chunk_seed(seed: u64, chunk: usize) -> u64 {
    let mut s = SplitMix64(seed.wrapping_add((chunk as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)));
    s.next()
}

/// Trains the forest on `x` (row-major, `n_features` per row) and labels `y`.
/// `progress(k)` is called as chunks finish with the number of trees done so far.
pub fn train(
    x: &[f64],
    n_features: usize,
    y: &[bool],
    p: &ForestParams,
    threads: usize,
    progress: &(dyn Fn(usize) + Sync),
    spans: &mut Spans,
) -> Result<Trained> {
    let rows = y.len();
    if rows < 2 {
        bail!("need at least 2 training rows, got {rows}");
    }
    // Column-major: smartcore's split search reads one feature of many rows at a time
    // (`x[(row, j)]` for rows in sorted order), so a column is one contiguous block in cache.
    // The values are the same, so the forest is too.
    let by_column: Vec<f64> = (0..n_features).flat_map(|j| (0..rows).map(move |r| x[r * n_features + j])).collect();
    let matrix = DenseMatrix::new(rows, n_features, by_column, true)
        .map_err(|e| anyhow!("building the training matrix: {e}"))?;
    let yf: Vec<f64> = y.iter().map(|&b| if b { 1.0 } else { 0.0 }).collect();
    // The rows the export is checked on (smartcore's own predict is slow: all rows up to
    // CHECK_ROWS, else every k-th row).
    let stride = rows.div_ceil(CHECK_ROWS);
    let check_x: Vec<f64> =
        (0..rows).step_by(stride).flat_map(|r| x[r * n_features..(r + 1) * n_features].iter().copied()).collect();
    let check = DenseMatrix::new(check_x.len() / n_features, n_features, check_x.clone(), false)
        .map_err(|e| anyhow!("building the check matrix: {e}"))?;
    let chunks = p.trees.div_ceil(CHUNK_TREES);
    spans.mark("matrices");
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    type ChunkOut = (Vec<Vec<BuildNode>>, Vec<f64>, Vec<f64>);
    let results: Mutex<Vec<Option<Result<ChunkOut>>>> = Mutex::new((0..chunks).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads.clamp(1, chunks.max(1)) {
            s.spawn(|| loop {
                let c = next.fetch_add(1, Ordering::Relaxed);
                if c >= chunks {
                    break;
                }
                let n = CHUNK_TREES.min(p.trees - c * CHUNK_TREES);
                let out = train_chunk(&matrix, &yf, &check, n_features, p, n, chunk_seed(p.seed, c))
                    .with_context(|| format!("training trees {}..{}", c * CHUNK_TREES, c * CHUNK_TREES + n));
                results.lock().unwrap()[c] = Some(out);
                progress(done.fetch_add(n, Ordering::Relaxed) + n);
            });
        }
    });
    spans.mark("fit+predict+read");
    let mut trees = Vec::with_capacity(p.trees);
    let mut predictions = Vec::with_capacity(chunks);
    let mut importances = vec![0.0; n_features];
    for r in results.into_inner().unwrap() {
        let (t, pred, imp) = r.expect("every chunk ran")?;
        for (a, b) in importances.iter_mut().zip(&imp) {
            *a += b * t.len() as f64;
        }
        trees.extend(t);
        predictions.push(pred);
    }
    let total: f64 = importances.iter().sum();
    if total > 0.0 {
        importances.iter_mut().for_each(|v| *v /= total);
    }
    let forest = Forest::build(n_features as u32, &trees).context("converting the trees")?;
    spans.mark("convert");
    verify(&forest, &check_x, n_features, &predictions, threads)?;
    spans.mark("verify");
    Ok(Trained { forest, importances })
}

/// One chunk: fit, read the trees out, and keep smartcore's own predictions for the check.
fn train_chunk(
    x: &DenseMatrix<f64>,
    y: &Vec<f64>,
    check: &DenseMatrix<f64>,
    n_features: usize,
    p: &ForestParams,
    n_trees: usize,
    seed: u64,
) -> Result<(Vec<Vec<BuildNode>>, Vec<f64>, Vec<f64>)> {
    let params = RandomForestRegressorParameters::default()
        .with_n_trees(n_trees)
        // smartcore counts the root as level 1; our depth counts splits (as scikit-learn does).
        .with_max_depth(p.max_depth.saturating_add(1))
        .with_min_samples_leaf(p.min_samples_leaf)
        .with_min_samples_split(p.min_samples_split)
        .with_m(p.mtry.min(n_features))
        .with_seed(seed);
    let rf = Rf::fit(x, y, params).map_err(|e| anyhow!("smartcore: {e}"))?;
    let predicted = rf.predict(check).map_err(|e| anyhow!("smartcore predict: {e}"))?;
    let importances = rf.compute_feature_importances().map_err(|e| anyhow!("smartcore importances: {e}"))?;
    let s: SForest = serde_json::to_value(&rf)
        .and_then(serde_json::from_value)
        .context("reading smartcore's trees")?;
    let trees = s
        .forest_regressor
        .and_then(|f| f.trees)
        .context("smartcore returned no trees")?
        .into_iter()
        .map(|t| {
            t.nodes
                .into_iter()
                .map(|n| match (n.true_child, n.false_child, n.split_value) {
                    (Some(left), Some(right), Some(threshold)) => Ok(BuildNode::Split {
                        feature: n.split_feature as u32,
                        threshold,
                        value: n.output,
                        left,
                        right,
                    }),
                    (None, None, _) => Ok(BuildNode::Leaf { value: n.output }),
                    _ => bail!("smartcore node with one child"),
                })
                .collect::<Result<Vec<_>>>()
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((trees, predicted, importances))
}

/// The exported forest must give, for every checked training row and every chunk, exactly (bit
/// for bit) the mean smartcore predicts for that chunk: same trees, same leaves, same summation
/// order.
/// Chunks are checked on all threads, with the core's batch path (bit-identical to scoring one
/// row at a time).
fn verify(forest: &Forest, x: &[f64], n_features: usize, predictions: &[Vec<f64>], threads: usize) -> Result<()> {
    let compiled = forest.compile().context("the converted forest does not load")?;
    let rows = predictions.first().map_or(0, |p| p.len());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let check = || -> Result<()> {
        let mut got = vec![0.0; rows];
        loop {
            let c = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(pred) = predictions.get(c) else { return Ok(()) };
            let start = c * CHUNK_TREES;
            let end = (start + CHUNK_TREES).min(compiled.n_trees());
            compiled.means_over(start..end, &x[..rows * n_features], &mut got);
            if let Some(r) = (0..rows).find(|&r| got[r].to_bits() != pred[r].to_bits()) {
                bail!(
                    "internal check failed: the flat forest gives {} for training row {r} in trees {start}..{end}, smartcore {}; no file written",
                    got[r],
                    pred[r]
                );
            }
        }
    };
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads.clamp(1, predictions.len().max(1))).map(|_| s.spawn(|| check())).collect();
        handles.into_iter().try_for_each(|h| h.join().expect("verification thread panicked"))
    })
}

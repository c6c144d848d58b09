//! Training: a probability forest (smartcore 0.7's random forest regressor on 0/1 labels, grown
//! by `grow.rs`), converted to the core's flat forest and checked against the fitted trees'
//! own predictions before anything is written.
//!
//! Why a regressor on 0/1 labels (see docs/TRAINING.md): MSE on 0/1 targets is the Gini
//! criterion, every leaf holds its in-bag churn rate (a real probability, not a vote), and its
//! split search has no defect on tied values, unlike smartcore 0.7's classifier.
//!
//! Seeds: the forest is cut into fixed chunks of [`CHUNK_TREES`] trees, each with its own seed
//! derived from the user's seed and the chunk number, as one smartcore forest each (so the
//! trees are those `churn train` fitted with smartcore itself). The layout depends only on the
//! tree count; trees are grown one per task on all threads, so the result is the same whatever
//! the number of cores.

use std::borrow::Cow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use inference_wasm::{BuildNode, Forest};
use rand::rngs::SmallRng;
use rand::SeedableRng;

use crate::data::{par_map, SplitMix64};
use crate::grow::{self, Columns, Tree, TreeParams, Workspace};
use crate::output::Spans;
use crate::smartcore_rf;

/// Trees per independently seeded chunk.
pub const CHUNK_TREES: usize = 50;

#[derive(Clone, Debug, PartialEq)]
pub struct ForestParams {
    pub trees: usize,
    pub max_depth: u16,
    pub min_samples_leaf: usize,
    pub min_samples_split: usize,
    pub mtry: usize,
    pub seed: u64,
    /// Check the export against the fitted trees on this many evenly spread training rows, not
    /// on every row (None).
    pub verify_rows: Option<usize>,
    /// Skip the check (model selection's fold fits, which are never written).
    pub unchecked: bool,
}

pub struct Trained {
    pub forest: Forest,
    /// Mean decrease in impurity per feature, summing to 1.
    pub importances: Vec<f64>,
}

fn chunk_seed(seed: u64, chunk: usize) -> u64 {
    let mut s = SplitMix64(seed.wrapping_add((chunk as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)));
    s.next()
}

/// Trains the forest on `x` (row-major, `n_features` per row) and labels `y`.
/// `progress(k)` is called as trees finish with the number of trees done so far.
pub fn train(
    x: &[f64],
    n_features: usize,
    y: &[bool],
    p: &ForestParams,
    threads: usize,
    progress: &(dyn Fn(usize) + Sync),
    spans: &mut Spans,
) -> Result<Trained> {
    train_with(x, n_features, y, p, threads, progress, spans, grow::DENSE_MAX)
}

/// [`train`] with the distinct-value count above which a column keeps a value-ordered list.
#[allow(clippy::too_many_arguments)]
fn train_with(
    x: &[f64],
    n_features: usize,
    y: &[bool],
    p: &ForestParams,
    threads: usize,
    progress: &(dyn Fn(usize) + Sync),
    spans: &mut Spans,
    dense_max: usize,
) -> Result<Trained> {
    let rows = y.len();
    if rows < 2 {
        bail!("need at least 2 training rows, got {rows}");
    }
    if n_features == 0 {
        bail!("need at least one feature");
    }
    let threads = threads.max(1);
    if std::env::var_os("CHURN_RF_ENGINE").is_some_and(|v| v == "smartcore") {
        return train_smartcore(x, n_features, y, p, threads, progress, spans);
    }
    let cols = Columns::new(x, n_features, y, threads, dense_max)?;
    spans.mark("rank columns");
    let timings = spans.started();
    let tp = TreeParams {
        // smartcore counts the root as level 1; our depth counts splits (as scikit-learn does).
        max_depth: p.max_depth.saturating_add(1),
        min_samples_leaf: p.min_samples_leaf,
        min_samples_split: p.min_samples_split,
        mtry: p.mtry.min(n_features),
    };
    let chunks = p.trees.div_ceil(CHUNK_TREES);
    let trees_in = |c: usize| CHUNK_TREES.min(p.trees - c * CHUNK_TREES);
    // Each chunk's bootstrap generator, and the index of its next tree: a tree's bag is drawn
    // under the chunk's lock, in tree order, as smartcore draws them one after another.
    let bags: Vec<Mutex<(Option<SmallRng>, usize)>> = (0..chunks).map(|_| Mutex::new((None, 0))).collect();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<Tree>>>> = Mutex::new((0..p.trees).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads.min(p.trees.max(1)) {
            s.spawn(|| {
                let mut ws = Workspace::default();
                let mut counts = Vec::new();
                loop {
                    let g = next.fetch_add(1, Ordering::Relaxed);
                    if g >= p.trees {
                        break;
                    }
                    let c = g / CHUNK_TREES;
                    let started = Instant::now();
                    let t = {
                        let mut bag = bags[c].lock().unwrap();
                        let (rng, t) = &mut *bag;
                        let rng = rng.get_or_insert_with(|| SmallRng::seed_from_u64(chunk_seed(p.seed, c)));
                        grow::bootstrap(rng, rows, &mut counts);
                        *t += 1;
                        *t - 1
                    };
                    // smartcore seeds each tree with the forest's seed plus the tree's index.
                    let seed = chunk_seed(p.seed, c).wrapping_add(t as u64);
                    let tree = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        grow::grow(&cols, &counts, &tp, seed, &mut ws)
                    }))
                    .map_err(|_| anyhow!("internal error: a panic while growing tree {}", c * CHUNK_TREES + t));
                    if let Some(t0) = timings {
                        eprintln!("timing   tree {c}.{t} on {:?}: {}", std::thread::current().id(), span(t0, started));
                    }
                    results.lock().unwrap()[c * CHUNK_TREES + t] = Some(tree);
                    progress(done.fetch_add(1, Ordering::Relaxed) + 1);
                }
            });
        }
    });
    drop(cols);
    let fitted: Vec<Tree> =
        results.into_inner().unwrap().into_iter().map(|r| r.expect("every tree was grown")).collect::<Result<_>>()?;
    spans.mark("fit");
    let mut importances = vec![0.0; n_features];
    let mut trees = Vec::with_capacity(p.trees);
    for c in 0..chunks {
        let chunk = &fitted[c * CHUNK_TREES..c * CHUNK_TREES + trees_in(c)];
        let imp = grow::forest_importances(chunk, n_features);
        for (a, b) in importances.iter_mut().zip(&imp) {
            *a += b * chunk.len() as f64;
        }
        trees.extend(chunk.iter().map(build_nodes));
    }
    let total: f64 = importances.iter().sum();
    if total > 0.0 {
        importances.iter_mut().for_each(|v| *v /= total);
    }
    let forest = Forest::build(n_features as u32, &trees).context("converting the trees")?;
    drop(trees);
    spans.mark("convert");
    if !p.unchecked {
        // The rows the export is checked on: every row, or every k-th row if fewer are asked for.
        let stride = p.verify_rows.map_or(1, |n| rows.div_ceil(n.max(1)));
        let check_x: Cow<[f64]> = if stride == 1 {
            Cow::Borrowed(x)
        } else {
            (0..rows).step_by(stride).flat_map(|r| x[r * n_features..(r + 1) * n_features].iter().copied()).collect()
        };
        let expected = |c: usize| {
            let end = ((c + 1) * CHUNK_TREES).min(fitted.len());
            chunk_means(&fitted[c * CHUNK_TREES..end], &check_x, n_features)
        };
        verify(&forest, &check_x, n_features, stride, threads, &expected)?;
    }
    spans.mark("verify");
    Ok(Trained { forest, importances })
}

/// [`train`] by smartcore itself (`CHURN_RF_ENGINE=smartcore`): one smartcore forest per chunk,
/// chunks on all threads, the export checked against smartcore's own predictions on the check
/// rows. Slower and larger (see docs/TRAINING.md); the same model.
fn train_smartcore(
    x: &[f64],
    n_features: usize,
    y: &[bool],
    p: &ForestParams,
    threads: usize,
    progress: &(dyn Fn(usize) + Sync),
    spans: &mut Spans,
) -> Result<Trained> {
    let rows = y.len();
    let stride = if p.unchecked { rows } else { p.verify_rows.map_or(1, |n| rows.div_ceil(n.max(1))) };
    let check_x: Vec<f64> =
        (0..rows).step_by(stride).flat_map(|r| x[r * n_features..(r + 1) * n_features].iter().copied()).collect();
    let chunks: Vec<usize> = (0..p.trees.div_ceil(CHUNK_TREES)).collect();
    let done = AtomicUsize::new(0);
    let out = par_map(&chunks, threads, |&c| {
        let n = CHUNK_TREES.min(p.trees - c * CHUNK_TREES);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            smartcore_rf::smartcore_chunk(x, n_features, y, &check_x, p, n, chunk_seed(p.seed, c))
        }))
        .unwrap_or_else(|_| Err(anyhow!("smartcore panicked while fitting")));
        progress(done.fetch_add(n, Ordering::Relaxed) + n);
        r.with_context(|| format!("training trees {}..{}", c * CHUNK_TREES, c * CHUNK_TREES + n))
    });
    spans.mark("fit+predict+read");
    let (mut trees, mut predictions, mut importances) = (Vec::new(), Vec::new(), vec![0.0; n_features]);
    for r in out {
        let (t, pred, imp) = r?;
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
    if !p.unchecked {
        verify(&forest, &check_x, n_features, stride, threads, &|c| predictions[c].clone())?;
    }
    spans.mark("verify");
    Ok(Trained { forest, importances })
}

/// A grown tree in the core's build form.
fn build_nodes(tree: &Tree) -> Vec<BuildNode> {
    tree.iter()
        .map(|n| match n.split {
            Some((feature, threshold, left, right)) => {
                BuildNode::Split { feature: feature as u32, threshold, value: n.output, left, right }
            }
            None => BuildNode::Leaf { value: n.output },
        })
        .collect()
}

/// "start .. end ms (duration)" since `t0`, for the CHURN_TIMINGS lines.
fn span(t0: Instant, started: Instant) -> String {
    let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e3;
    let now = Instant::now();
    format!("{:7.2} .. {:7.2} ms ({:6.2} ms)", ms(t0, started), ms(t0, now), ms(started, now))
}

/// The mean of `trees`' leaf values for each row of `x`, as smartcore's `predict` computes it
/// (`predict_mean`: summed in tree order from 0, divided by the tree count).
fn chunk_means(trees: &[Tree], x: &[f64], n_features: usize) -> Vec<f64> {
    let walks: Vec<grow::Walk> = trees.iter().map(grow::Walk::new).collect();
    x.chunks_exact(n_features)
        .map(|row| walks.iter().fold(0.0, |sum, t| sum + t.leaf(row)) / trees.len() as f64)
        .collect()
}

/// The exported forest must give, for every checked training row and every chunk, exactly (bit
/// for bit) the mean the fitted trees give for that chunk (`expected(c)`, as smartcore's
/// `predict` computes it): same trees, same leaves, same summation order. The check rows `x` are
/// every `stride`-th training row. Chunks are checked on all threads, with the core's batch path
/// (bit-identical to scoring one row at a time).
fn verify(
    forest: &Forest,
    x: &[f64],
    n_features: usize,
    stride: usize,
    threads: usize,
    expected: &(dyn Fn(usize) -> Vec<f64> + Sync),
) -> Result<()> {
    let compiled = forest.compile().context("the converted forest does not load")?;
    let rows = x.len() / n_features;
    let chunks: Vec<usize> = (0..compiled.n_trees().div_ceil(CHUNK_TREES)).collect();
    // The first mismatch in chunk order is the one reported.
    par_map(&chunks, threads, |&c| -> Result<()> {
        let pred = expected(c);
        let (start, end) = (c * CHUNK_TREES, ((c + 1) * CHUNK_TREES).min(compiled.n_trees()));
        let mut got = vec![0.0; rows];
        compiled.means_over(start..end, x, &mut got);
        if pred.len() != rows {
            bail!("internal check failed: {} predictions for {rows} rows in trees {start}..{end}", pred.len());
        }
        if let Some(r) = (0..rows).find(|&r| got[r].to_bits() != pred[r].to_bits()) {
            bail!(
                "internal check failed: the flat forest gives {} for training row {} in trees {start}..{end}, the fitted trees {}; no file written",
                got[r],
                r * stride,
                pred[r]
            );
        }
        Ok(())
    })
    .into_iter()
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small problem with ties, a constant column and a clear signal.
    fn data(rows: usize) -> (Vec<f64>, Vec<bool>) {
        let mut rng = SplitMix64(7);
        let mut x = Vec::with_capacity(rows * 4);
        let mut y = Vec::with_capacity(rows);
        for _ in 0..rows {
            let a = (rng.next() % 100) as f64 / 10.0;
            let b = (rng.next() % 3) as f64;
            let noise = (rng.next() % 1000) as f64 / 1000.0;
            x.extend([a, b, 1.0, noise]);
            y.push(a + 2.0 * b + 3.0 * noise > 7.0);
        }
        (x, y)
    }

    fn params(trees: usize) -> ForestParams {
        ForestParams {
            trees,
            max_depth: 5,
            min_samples_leaf: 3,
            min_samples_split: 6,
            mtry: 2,
            seed: 42,
            verify_rows: None,
            unchecked: false,
        }
    }

    /// Imbalanced labels, negative values, 0.0 and -0.0, a column of ~all-distinct values.
    fn data2(rows: usize) -> (Vec<f64>, Vec<bool>) {
        let mut rng = SplitMix64(11);
        let mut x = Vec::with_capacity(rows * 5);
        let mut y = Vec::with_capacity(rows);
        for _ in 0..rows {
            let cont = (rng.next() % 1_000_000) as f64 / 7.0 - 50_000.0;
            let zero = [-1.5, -0.0, 0.0, 2.25][(rng.next() % 4) as usize];
            let cat = (rng.next() % 7) as f64;
            let bin = (rng.next() % 2) as f64;
            let small = (rng.next() % 40) as f64 * 0.25;
            x.extend([cont, zero, cat, bin, small]);
            let risk = (cont > 20_000.0) as u64 + (cat == 3.0) as u64 + (zero > 0.0) as u64 + (small < 3.0) as u64;
            y.push(rng.next() % 10 < 1 + 2 * risk);
        }
        (x, y)
    }

    fn same_nodes(a: &[Vec<BuildNode>], b: &[Vec<BuildNode>]) -> Result<(), String> {
        if a.len() != b.len() {
            return Err(format!("{} trees vs {}", a.len(), b.len()));
        }
        for (t, (ta, tb)) in a.iter().zip(b).enumerate() {
            if ta.len() != tb.len() {
                return Err(format!("tree {t}: {} nodes vs {}", ta.len(), tb.len()));
            }
            for (i, (na, nb)) in ta.iter().zip(tb).enumerate() {
                let same = match (na, nb) {
                    (BuildNode::Leaf { value: va }, BuildNode::Leaf { value: vb }) => va.to_bits() == vb.to_bits(),
                    (
                        BuildNode::Split { feature: fa, threshold: ha, value: va, left: la, right: ra },
                        BuildNode::Split { feature: fb, threshold: hb, value: vb, left: lb, right: rb },
                    ) => {
                        fa == fb && ha.to_bits() == hb.to_bits() && va.to_bits() == vb.to_bits() && (la, ra) == (lb, rb)
                    }
                    _ => false,
                };
                if !same {
                    return Err(format!("tree {t} node {i}: {na:?} vs {nb:?}"));
                }
            }
        }
        Ok(())
    }

    fn same_bits(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
    }

    /// One chunk grown here, one tree after another as smartcore does.
    fn grown_chunk(cols: &Columns, p: &ForestParams, n_trees: usize, seed: u64) -> Vec<Tree> {
        let tp = TreeParams {
            max_depth: p.max_depth.saturating_add(1),
            min_samples_leaf: p.min_samples_leaf,
            min_samples_split: p.min_samples_split,
            mtry: p.mtry.min(cols.n_features()),
        };
        let mut rng = SmallRng::seed_from_u64(seed);
        let (mut counts, mut ws) = (Vec::new(), Workspace::default());
        (0..n_trees)
            .map(|t| {
                grow::bootstrap(&mut rng, cols.rows(), &mut counts);
                grow::grow(cols, &counts, &tp, seed.wrapping_add(t as u64), &mut ws)
            })
            .collect()
    }

    /// The trees, the importances and the predictions are smartcore's own (unpatched
    /// smartcore 0.7.0 fitted as `churn train` fitted it before `grow.rs`), bit for bit, over
    /// settings that reach every stopping rule, with the columns split between the two
    /// searches (histogram of ranks, value-ordered list) at the default 256 values, at 8 (more
    /// columns as lists), and at 0 (every column a list).
    #[test]
    fn grown_trees_are_smartcores() {
        let settings: [(u16, usize, usize, usize); 12] = [
            // depth, leaf, split, mtry
            (5, 3, 6, 2),
            (0, 1, 2, 2),
            (1, 1, 2, 4),
            (3, 20, 2, 1),
            (7, 20, 2, 4),
            (12, 1, 2, 3),
            (30, 1, 2, 9),
            (6, 5, 50, 2),
            (4, 40, 80, 5),
            (8, 2, 2, 0),
            (10, 150, 2, 3),
            (7, 1, 700, 2),
        ];
        let sets = [("data", 4, data(400)), ("data2", 5, data2(1500))];
        let mut compared = 0;
        let mut splits = 0;
        for (name, nf, (x, y)) in &sets {
            for dense_max in [grow::DENSE_MAX, 8, 0] {
                let cols = Columns::new(x, *nf, y, 2, dense_max).unwrap();
                for (i, &(max_depth, min_samples_leaf, min_samples_split, mtry)) in settings.iter().enumerate() {
                    let seed = [0, 42, u64::MAX][i % 3];
                    let p = ForestParams { max_depth, min_samples_leaf, min_samples_split, mtry, seed, ..params(7) };
                    let what = format!("{name}, dense_max {dense_max}, {p:?}");
                    let (want, want_pred, want_imp) = smartcore_rf::smartcore_chunk(x, *nf, y, x, &p, 7, seed).unwrap();
                    let got = grown_chunk(&cols, &p, 7, seed);
                    let got_nodes: Vec<Vec<BuildNode>> = got.iter().map(build_nodes).collect();
                    if let Err(e) = same_nodes(&got_nodes, &want) {
                        panic!("{what}: {e}");
                    }
                    assert!(same_bits(&chunk_means(&got, x, *nf), &want_pred), "{what}: predictions");
                    assert!(same_bits(&grow::forest_importances(&got, *nf), &want_imp), "{what}: importances");
                    compared += 1;
                    splits += got.iter().flatten().filter(|n| n.split.is_some()).count();
                }
            }
        }
        assert_eq!(compared, 72);
        assert!(splits > 5000, "the trees have splits ({splits})");
    }

    /// The whole `train` (chunk seeds, trees grown on several threads, importances, export)
    /// gives the forest `churn train` built from smartcore's chunks.
    #[test]
    fn train_gives_smartcores_forest() {
        let (x, y) = data2(1200);
        let p = ForestParams { max_depth: 7, min_samples_leaf: 2, min_samples_split: 2, mtry: 2, ..params(120) };
        let mut trees = Vec::new();
        let mut importances = vec![0.0; 5];
        for c in 0..3 {
            let n = CHUNK_TREES.min(120 - c * CHUNK_TREES);
            let (t, _, imp) = smartcore_rf::smartcore_chunk(&x, 5, &y, &x, &p, n, chunk_seed(p.seed, c)).unwrap();
            for (a, b) in importances.iter_mut().zip(&imp) {
                *a += b * n as f64;
            }
            trees.extend(t);
        }
        let total: f64 = importances.iter().sum();
        importances.iter_mut().for_each(|v| *v /= total);
        let want = Forest::build(5, &trees).unwrap();
        for threads in [1, 2, 3] {
            for dense_max in [grow::DENSE_MAX, 0] {
                let mut spans = Spans::new(Instant::now());
                let got = train_with(&x, 5, &y, &p, threads, &|_| {}, &mut spans, dense_max).unwrap();
                assert!(got.forest == want, "{threads} threads, dense_max {dense_max}: another forest");
                assert!(same_bits(&got.importances, &importances), "{threads} threads: importances");
            }
        }
    }

    #[test]
    fn nan_is_an_error_not_a_panic() {
        let (mut x, y) = data(50);
        x[4 * 7 + 2] = f64::NAN;
        let mut spans = Spans::new(Instant::now());
        let err = train(&x, 4, &y, &params(3), 2, &|_| {}, &mut spans).err().unwrap().to_string();
        assert!(err.contains("training row 7 feature 2 is NaN"), "{err}");
    }

    #[test]
    fn tree_reader_reads_what_serde_json_sees() {
        let (x, y) = data(300);
        let (trees, predicted, _) = smartcore_rf::smartcore_chunk(&x, 4, &y, &x, &params(7), 7, 3).unwrap();
        // The same trees through a full JSON document of smartcore's serde form.
        let doc = smartcore_rf::smartcore_json(&x, 4, &y, &params(7), 7, 3);
        let json_trees = doc["forest_regressor"]["trees"].as_array().unwrap();
        assert_eq!(trees.len(), json_trees.len());
        let mut splits = 0;
        for (tree, jt) in trees.iter().zip(json_trees) {
            let nodes = jt["nodes"].as_array().unwrap();
            assert_eq!(tree.len(), nodes.len());
            for (node, jn) in tree.iter().zip(nodes) {
                let output = jn["output"].as_f64().unwrap();
                match *node {
                    BuildNode::Split { feature, threshold, value, left, right } => {
                        splits += 1;
                        assert_eq!(feature as u64, jn["split_feature"].as_u64().unwrap());
                        assert_eq!(threshold.to_bits(), jn["split_value"].as_f64().unwrap().to_bits());
                        assert_eq!(value.to_bits(), output.to_bits());
                        assert_eq!(left as u64, jn["true_child"].as_u64().unwrap());
                        assert_eq!(right as u64, jn["false_child"].as_u64().unwrap());
                    }
                    BuildNode::Leaf { value } => {
                        assert_eq!(value.to_bits(), output.to_bits());
                        assert!(jn["true_child"].is_null() && jn["false_child"].is_null());
                    }
                }
            }
        }
        assert!(splits > 7, "the trees have splits ({splits})");
        assert_eq!(predicted.len(), 300);
    }

    #[test]
    fn verify_catches_one_changed_prediction() {
        let (x, y) = data(300);
        let mut spans = Spans::new(Instant::now());
        let p = ForestParams { verify_rows: Some(100), ..params(60) };
        let trained = train(&x, 4, &y, &p, 2, &|_| {}, &mut spans).unwrap();
        let compiled = trained.forest.compile().unwrap();
        // Every 3rd row, as train() checks with verify_rows = 100 of 300.
        let check: Vec<f64> = x.chunks(4).step_by(3).flatten().copied().collect();
        let per_chunk = |range: std::ops::Range<usize>| {
            let mut out = vec![0.0; 100];
            compiled.means_over(range, &check, &mut out);
            out
        };
        let mut predictions = [per_chunk(0..50), per_chunk(50..60)];
        verify(&trained.forest, &check, 4, 3, 2, &|c| predictions[c].clone()).unwrap();
        // One ulp off in the second chunk's 8th check row (training row 21).
        predictions[1][7] = f64::from_bits(predictions[1][7].to_bits() + 1);
        let err = verify(&trained.forest, &check, 4, 3, 2, &|c| predictions[c].clone()).unwrap_err().to_string();
        assert!(err.contains("training row 21 in trees 50..60"), "{err}");
    }

    /// The export check runs on training rows; this one runs on rows smartcore never saw: other
    /// draws, values beyond the training range, and every split threshold itself (where `<=`
    /// against `<` would show). smartcore's own predictions and the core's agree bit for bit.
    #[test]
    fn the_export_predicts_unseen_rows_as_smartcore_does() {
        let (x, y) = data2(2000);
        let (train_x, train_y) = (&x[..1200 * 5], &y[..1200]);
        let p = ForestParams { max_depth: 9, min_samples_leaf: 1, min_samples_split: 2, mtry: 3, ..params(30) };
        let (trees, _, _) = smartcore_rf::smartcore_chunk(train_x, 5, train_y, train_x, &p, 30, 9).unwrap();
        let mut unseen: Vec<f64> = x[1200 * 5..].to_vec();
        unseen.extend([1e12, 1e12, 1e12, 1e12, 1e12, -1e12, -1e12, -1e12, -1e12, -1e12]);
        let base: Vec<f64> = x[1300 * 5..1301 * 5].to_vec();
        let mut at_thresholds = 0;
        for tree in &trees {
            for node in tree {
                if let BuildNode::Split { feature, threshold, .. } = *node {
                    for v in [threshold, f64::from_bits(threshold.to_bits() + 1)] {
                        let mut row = base.clone();
                        row[feature as usize] = v;
                        unseen.extend(row);
                    }
                    at_thresholds += 1;
                }
            }
        }
        assert!(at_thresholds > 100, "{at_thresholds}");
        let (_, predicted, _) = smartcore_rf::smartcore_chunk(train_x, 5, train_y, &unseen, &p, 30, 9).unwrap();
        let forest = Forest::build(5, &trees).unwrap();
        verify(&forest, &unseen, 5, 1, 2, &|_| predicted.clone()).unwrap();
        // And the check would see a difference there.
        let mut off = predicted.clone();
        off[900] = f64::from_bits(off[900].to_bits() + 1);
        assert!(verify(&forest, &unseen, 5, 1, 2, &|_| off.clone()).is_err());
    }

    #[test]
    fn the_forest_is_the_same_for_any_thread_count() {
        // 120 trees: two full chunks and a partial one.
        let (x, y) = data(400);
        let run = |threads| {
            let mut spans = Spans::new(Instant::now());
            train(&x, 4, &y, &params(120), threads, &|_| {}, &mut spans).unwrap()
        };
        let one = run(1);
        assert_eq!(one.forest.tree_sizes.len(), 120);
        for threads in [2, 3, 8] {
            let other = run(threads);
            assert!(one.forest == other.forest, "{threads} threads give another forest");
            assert_eq!(one.importances, other.importances);
        }
    }
}

//! Gradient-boosted trees for log loss, histogram-based, grown best leaf first.
//!
//! The method of LightGBM and scikit-learn's `HistGradientBoostingClassifier`: every feature is
//! cut into at most [`MAX_BINS`] bins once (cut points at its training quantiles, midway between
//! neighbouring values); each round fits one tree to the gradient and hessian of the log loss
//! (g = p − y, h = p(1 − p)) from per-leaf histograms (the larger child's by subtraction), splits
//! the leaf with the largest gain until `max_leaves`, and sets each leaf to the Newton step
//! −ΣG / (ΣH + λ) times the learning rate. Deterministic: no sampling, sums in row order, one
//! thread per fit (model selection runs fits side by side instead).
//!
//! The exported model ([`inference_wasm::Boosted`]) routes `x <= threshold` with the cut points
//! as thresholds, which sends every training value where its bin went; it adds the same leaf
//! values in the same order from the same base, so the core reproduces the training margins bit
//! for bit (checked before anything is written: [`check_export`]).

use anyhow::{bail, Result};
use inference_wasm::{sigmoid, Boosted, BuildNode};

/// Largest leaf output written (margin units; e^16 ≈ 9·10⁶ in odds), far inside the format's
/// ±1024 (`inference_wasm::forest::MAX_BOOSTED_VALUE`).
const MAX_LEAF_STEP: f64 = 16.0;

/// Bins per feature, at most (codes fit in a byte).
pub const MAX_BINS: usize = 256;

/// Settings of one boosted model.
#[derive(Clone, Debug, PartialEq)]
pub struct BoostParams {
    /// Rounds (trees), at most; early stopping may keep fewer.
    pub max_trees: usize,
    pub learning_rate: f64,
    pub max_leaves: usize,
    pub max_depth: usize,
    pub min_samples_leaf: usize,
    pub l2: f64,
    /// Stop when the validation loss has not improved for this many rounds.
    pub patience: usize,
}

/// The training matrix cut into bins: codes row after row, and each feature's cut points.
pub struct Binned {
    pub n_features: usize,
    /// `codes[r * n_features + f]`: the bin of row `r`'s feature `f`.
    codes: Vec<u8>,
    /// Per feature: ascending cut points; bin `b` holds values in (cuts[b-1], cuts[b]].
    cuts: Vec<Vec<f64>>,
}

impl Binned {
    /// Bins `x` (row-major, `n_features` per row, no NaN: the core's encoders fill blanks).
    pub fn new(x: &[f64], n_features: usize) -> Binned {
        let rows = x.len() / n_features.max(1);
        let mut cuts = Vec::with_capacity(n_features);
        let mut column = Vec::with_capacity(rows);
        for f in 0..n_features {
            column.clear();
            column.extend((0..rows).map(|r| x[r * n_features + f]));
            column.sort_by(f64::total_cmp);
            cuts.push(cut_points(&column));
        }
        let mut codes = vec![0u8; rows * n_features];
        for r in 0..rows {
            for f in 0..n_features {
                let v = x[r * n_features + f];
                codes[r * n_features + f] = cuts[f].partition_point(|&c| c < v) as u8;
            }
        }
        Binned { n_features, codes, cuts }
    }

    fn code(&self, r: usize, f: usize) -> usize {
        self.codes[r * self.n_features + f] as usize
    }
}

/// Cut points for sorted values: between every two distinct values when there are at most
/// [`MAX_BINS`], else at (about) equal-count quantiles. A cut lies midway between the largest
/// value below it and the smallest above it (or on the lower one when no double lies between).
fn cut_points(sorted: &[f64]) -> Vec<f64> {
    let mut distinct: Vec<f64> = sorted.to_vec();
    distinct.dedup_by(|a, b| a == b);
    let mid = |a: f64, b: f64| {
        let m = a + (b - a) / 2.0;
        if m >= a && m < b {
            m
        } else {
            a
        }
    };
    if distinct.len() <= MAX_BINS {
        return distinct.windows(2).map(|w| mid(w[0], w[1])).collect();
    }
    let n = sorted.len();
    let mut cuts: Vec<f64> = Vec::with_capacity(MAX_BINS - 1);
    for k in 1..MAX_BINS {
        let i = k * n / MAX_BINS;
        let lo = sorted[i - 1];
        // The next distinct value above `lo`.
        let j = sorted.partition_point(|&v| v <= lo);
        if j >= n {
            break;
        }
        let c = mid(lo, sorted[j]);
        if cuts.last().is_none_or(|&last| c > last) {
            cuts.push(c);
        }
    }
    cuts
}

/// A tree as grown: nodes in creation order, the root first.
#[derive(Clone, Debug)]
struct Tree {
    nodes: Vec<TNode>,
}

#[derive(Clone, Copy, Debug)]
struct TNode {
    /// (feature, bin): rows with code <= bin go left. None for a leaf.
    split: Option<(usize, usize)>,
    left: usize,
    right: usize,
    /// A leaf's output; for a split, the mean output of its training rows (set at the end).
    value: f64,
    rows: usize,
}

impl Tree {
    fn leaf_of(&self, b: &Binned, r: usize) -> usize {
        let mut i = 0;
        while let Some((f, bin)) = self.nodes[i].split {
            i = if b.code(r, f) <= bin { self.nodes[i].left } else { self.nodes[i].right };
        }
        i
    }
}

/// A fitted boosted model (in the trainer's form) and what the fit saw.
pub struct BoostFit {
    pub base: f64,
    trees: Vec<Tree>,
    /// Margins of the training rows after every kept tree (base + Σ outputs in tree order).
    pub train_margins: Vec<f64>,
    /// Total split gain per feature.
    pub gains: Vec<f64>,
}

impl BoostFit {
    pub fn n_trees(&self) -> usize {
        self.trees.len()
    }

    /// The model in the core's wire form.
    pub fn export(&self, b: &Binned) -> Result<Boosted> {
        let trees: Vec<Vec<BuildNode>> = self
            .trees
            .iter()
            .map(|t| {
                t.nodes
                    .iter()
                    .map(|n| match n.split {
                        Some((f, bin)) => BuildNode::Split {
                            feature: f as u32,
                            threshold: b.cuts[f][bin],
                            value: n.value,
                            left: n.left,
                            right: n.right,
                        },
                        None => BuildNode::Leaf { value: n.value },
                    })
                    .collect()
            })
            .collect();
        Ok(Boosted::build(b.n_features as u32, self.base, &trees)?)
    }
}

/// Histogram cell: sums of gradients and hessians, and the row count, of one bin.
#[derive(Clone, Copy, Default)]
struct Cell {
    g: f64,
    h: f64,
    n: u32,
}

/// A leaf waiting to be split (or not).
struct Open {
    node: usize,
    /// Its rows: `order[start..end]`.
    start: usize,
    end: usize,
    depth: usize,
    g: f64,
    h: f64,
    hist: Vec<Cell>,
    best: Option<Split>,
}

#[derive(Clone, Copy)]
struct Split {
    gain: f64,
    feature: usize,
    bin: usize,
}

/// Fits on rows `train` (indices into `b` and `y`); with `valid` rows (early stopping), keeps
/// the round with the lowest log loss on them and stops `patience` rounds after it.
/// `on_round(k)` is called after each round.
pub fn fit(
    b: &Binned,
    y: &[bool],
    train: &[usize],
    valid: &[usize],
    p: &BoostParams,
    on_round: &mut dyn FnMut(usize),
) -> Result<BoostFit> {
    let n = train.len();
    let positives = train.iter().filter(|&&r| y[r]).count();
    if positives == 0 || positives == n {
        bail!("the training rows must contain both classes ({positives} of {n} are churners)");
    }
    if p.max_leaves < 2 || p.learning_rate <= 0.0 || !p.learning_rate.is_finite() || p.l2 < 0.0 {
        bail!("invalid boosting settings: {p:?}");
    }
    let rate = positives as f64 / n as f64;
    let base = (rate / (1.0 - rate)).ln();
    let nf = b.n_features;
    let mut margins = vec![base; n];
    let mut vmargins = vec![base; valid.len()];
    let mut best_loss = log_loss(valid, y, &vmargins);
    let mut best_round = 0usize;
    let mut trees: Vec<Tree> = Vec::new();
    // Split gain per feature, per tree (the trees early stopping drops do not count).
    let mut tree_gains: Vec<Vec<f64>> = Vec::new();
    let mut grad = vec![0.0; n];
    let mut hess = vec![0.0; n];
    // Positions 0..n into `train`, regrouped per leaf as the tree grows.
    let mut order: Vec<u32> = Vec::with_capacity(n);
    let mut scratch: Vec<u32> = Vec::with_capacity(n);
    for round in 0..p.max_trees {
        for (i, &r) in train.iter().enumerate() {
            let q = sigmoid(margins[i]);
            grad[i] = q - if y[r] { 1.0 } else { 0.0 };
            hess[i] = (q * (1.0 - q)).max(1e-16);
        }
        order.clear();
        order.extend(0..n as u32);
        let mut gains = vec![0.0; nf];
        let (tree, leaves) = grow(b, train, &grad, &hess, &mut order, &mut scratch, p, &mut gains);
        tree_gains.push(gains);
        // Leaf outputs to the training rows (each leaf's rows are a range of `order`), in tree
        // order after the earlier trees.
        for (node, start, end) in leaves {
            let v = tree.nodes[node].value;
            for &i in &order[start..end] {
                margins[i as usize] += v;
            }
        }
        for (i, &r) in valid.iter().enumerate() {
            vmargins[i] += tree.nodes[tree.leaf_of(b, r)].value;
        }
        trees.push(tree);
        on_round(round + 1);
        if !valid.is_empty() {
            let loss = log_loss(valid, y, &vmargins);
            if loss < best_loss - 1e-12 {
                best_loss = loss;
                best_round = round + 1;
            } else if round + 1 - best_round >= p.patience {
                break;
            }
        }
    }
    if !valid.is_empty() && best_round < trees.len() {
        // Back to the best round. The training margins are recomputed in tree order
        // (subtracting the later trees might not give back the same bits).
        trees.truncate(best_round);
        tree_gains.truncate(best_round);
        margins.fill(base);
        for t in &trees {
            for (i, &r) in train.iter().enumerate() {
                margins[i] += t.nodes[t.leaf_of(b, r)].value;
            }
        }
        if trees.is_empty() {
            // Not one round helped: a single leaf of 0 (the prior alone) is the model; the margins
            // stay `base` (base + 0.0 is base).
            trees.push(Tree { nodes: vec![TNode { split: None, left: 0, right: 0, value: 0.0, rows: n }] });
        }
    }
    let mut gains = vec![0.0; nf];
    for g in &tree_gains {
        gains.iter_mut().zip(g).for_each(|(a, b)| *a += b);
    }
    let total: f64 = gains.iter().sum();
    if total > 0.0 {
        gains.iter_mut().for_each(|g| *g /= total);
    }
    Ok(BoostFit { base, trees, train_margins: margins, gains })
}

/// Mean log loss of `margins` for rows `rows` (0 for no rows).
fn log_loss(rows: &[usize], y: &[bool], margins: &[f64]) -> f64 {
    if rows.is_empty() {
        return 0.0;
    }
    let mut s = 0.0;
    for (&r, &m) in rows.iter().zip(margins) {
        // log(1 + e^-m) for a churner, log(1 + e^m) otherwise, computed stably.
        let z = if y[r] { -m } else { m };
        s += if z > 0.0 { z + (-z).exp().ln_1p() } else { z.exp().ln_1p() };
    }
    s / rows.len() as f64
}

/// Grows one tree on the gradients, best leaf first. Returns it with its leaves as
/// (node, start, end): the leaf's rows are positions `order[start..end]` into `train`.
#[allow(clippy::too_many_arguments)]
fn grow(
    b: &Binned,
    train: &[usize],
    grad: &[f64],
    hess: &[f64],
    order: &mut [u32],
    scratch: &mut Vec<u32>,
    p: &BoostParams,
    gains: &mut [f64],
) -> (Tree, Vec<(usize, usize, usize)>) {
    let nf = b.n_features;
    let (g, h) = (grad.iter().sum::<f64>(), hess.iter().sum::<f64>());
    let mut nodes = vec![TNode { split: None, left: 0, right: 0, value: 0.0, rows: order.len() }];
    let mut root = Open {
        node: 0,
        start: 0,
        end: order.len(),
        depth: 0,
        g,
        h,
        hist: vec![Cell::default(); nf * MAX_BINS],
        best: None,
    };
    histogram(b, train, grad, hess, &order[..], &mut root.hist);
    root.best = best_split(b, &root, p);
    let mut open = vec![root];
    let mut leaves = 1;
    while leaves < p.max_leaves {
        // The open leaf with the largest gain (the first of equals).
        let Some(k) = (0..open.len()).filter(|&k| open[k].best.is_some()).reduce(|a, c| {
            if open[c].best.unwrap().gain > open[a].best.unwrap().gain {
                c
            } else {
                a
            }
        }) else {
            break;
        };
        let parent = open.swap_remove(k);
        let s = parent.best.unwrap();
        gains[s.feature] += s.gain;
        // Stable partition of the parent's rows: left (code <= bin) first.
        let rows = &mut order[parent.start..parent.end];
        scratch.clear();
        let mut w = 0;
        for i in 0..rows.len() {
            let pos = rows[i];
            if b.code(train[pos as usize], s.feature) <= s.bin {
                rows[w] = pos;
                w += 1;
            } else {
                scratch.push(pos);
            }
        }
        rows[w..].copy_from_slice(scratch);
        let mid = parent.start + w;
        let (l, r) = (nodes.len(), nodes.len() + 1);
        nodes[parent.node].split = Some((s.feature, s.bin));
        nodes[parent.node].left = l;
        nodes[parent.node].right = r;
        nodes.push(TNode { split: None, left: 0, right: 0, value: 0.0, rows: mid - parent.start });
        nodes.push(TNode { split: None, left: 0, right: 0, value: 0.0, rows: parent.end - mid });
        let sums =
            |range: &[u32]| range.iter().fold((0.0, 0.0), |(a, c), &i| (a + grad[i as usize], c + hess[i as usize]));
        let (gl, hl) = sums(&order[parent.start..mid]);
        let (gr, hr) = sums(&order[mid..parent.end]);
        // The smaller child's histogram from its rows, the larger one's by subtraction.
        let left_smaller = mid - parent.start <= parent.end - mid;
        let small = if left_smaller { parent.start..mid } else { mid..parent.end };
        let mut small_hist = vec![Cell::default(); nf * MAX_BINS];
        histogram(b, train, grad, hess, &order[small.clone()], &mut small_hist);
        let mut large_hist = parent.hist;
        for (c, s) in large_hist.iter_mut().zip(&small_hist) {
            c.g -= s.g;
            c.h -= s.h;
            c.n -= s.n;
        }
        let (lh, rh) = if left_smaller { (small_hist, large_hist) } else { (large_hist, small_hist) };
        let depth = parent.depth + 1;
        for (node, start, end, g, h, hist) in [(l, parent.start, mid, gl, hl, lh), (r, mid, parent.end, gr, hr, rh)] {
            let mut o = Open { node, start, end, depth, g, h, hist, best: None };
            o.best = best_split(b, &o, p);
            open.push(o);
        }
        leaves += 1;
    }
    // Leaf values: the Newton step, shrunk, capped at ±MAX_LEAF_STEP (only ever reached by a
    // large leaf of confidently wrong rows). Then every split's mean output over its rows.
    for o in &open {
        nodes[o.node].value = (-p.learning_rate * o.g / (o.h + p.l2)).clamp(-MAX_LEAF_STEP, MAX_LEAF_STEP);
    }
    fill_split_values(&mut nodes, 0);
    (Tree { nodes }, open.iter().map(|o| (o.node, o.start, o.end)).collect())
}

/// Sets each split's value to the row-weighted mean of its children's; returns the node's.
fn fill_split_values(nodes: &mut [TNode], i: usize) -> f64 {
    if nodes[i].split.is_none() {
        return nodes[i].value;
    }
    let (l, r) = (nodes[i].left, nodes[i].right);
    let (vl, vr) = (fill_split_values(nodes, l), fill_split_values(nodes, r));
    let (nl, nr) = (nodes[l].rows as f64, nodes[r].rows as f64);
    let v = (vl * nl + vr * nr) / (nl + nr);
    nodes[i].value = v;
    v
}

fn histogram(b: &Binned, train: &[usize], grad: &[f64], hess: &[f64], rows: &[u32], hist: &mut [Cell]) {
    let nf = b.n_features;
    for &pos in rows {
        let r = train[pos as usize];
        let (g, h) = (grad[pos as usize], hess[pos as usize]);
        let codes = &b.codes[r * nf..(r + 1) * nf];
        for (f, &c) in codes.iter().enumerate() {
            let cell = &mut hist[f * MAX_BINS + c as usize];
            cell.g += g;
            cell.h += h;
            cell.n += 1;
        }
    }
}

/// The best split of a leaf, if any passes the limits and gains anything.
fn best_split(b: &Binned, o: &Open, p: &BoostParams) -> Option<Split> {
    let n = (o.end - o.start) as u32;
    let min_leaf = p.min_samples_leaf.max(1) as u32;
    if o.depth >= p.max_depth || n < 2 * min_leaf {
        return None;
    }
    let parent_score = o.g * o.g / (o.h + p.l2);
    let mut best: Option<Split> = None;
    for f in 0..b.n_features {
        let bins = b.cuts[f].len() + 1;
        let hist = &o.hist[f * MAX_BINS..f * MAX_BINS + bins];
        let (mut gl, mut hl, mut nl) = (0.0, 0.0, 0u32);
        for (bin, c) in hist[..bins - 1].iter().enumerate() {
            gl += c.g;
            hl += c.h;
            nl += c.n;
            if nl < min_leaf {
                continue;
            }
            if n - nl < min_leaf {
                break;
            }
            let (gr, hr) = (o.g - gl, o.h - hl);
            if hl < 1e-3 || hr < 1e-3 {
                continue;
            }
            let gain = gl * gl / (hl + p.l2) + gr * gr / (hr + p.l2) - parent_score;
            if gain > 1e-9 && best.is_none_or(|s| gain > s.gain) {
                best = Some(Split { gain, feature: f, bin });
            }
        }
    }
    best
}

/// The exported model must give every training row the probability the fit computed for it,
/// bit for bit (same base, same leaves, same order of additions, same sigmoid).
pub fn check_export(model: &Boosted, x: &[f64], fit: &BoostFit, train: &[usize]) -> Result<()> {
    let compiled = model.compile()?;
    let nf = model.n_features as usize;
    for (i, &r) in train.iter().enumerate() {
        let got = compiled.probability(&x[r * nf..(r + 1) * nf]);
        let want = sigmoid(fit.train_margins[i]);
        if got.to_bits() != want.to_bits() {
            bail!(
                "internal check failed: the exported boosted model gives {got} for training row {r}, the fit {want}; no file written"
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::SplitMix64;

    fn data(rows: usize) -> (Vec<f64>, Vec<bool>) {
        let mut rng = SplitMix64(11);
        let mut x = Vec::new();
        let mut y = Vec::new();
        for _ in 0..rows {
            let a = (rng.next() % 1000) as f64 / 10.0;
            let c = (rng.next() % 4) as f64;
            let noise = (rng.next() % 1000) as f64 / 1000.0;
            x.extend([a, c, 5.0, noise]);
            // An interaction: churn when a is high and c is 0 or 3, with noise.
            y.push((a > 60.0 && (c == 0.0 || c == 3.0)) ^ (noise < 0.1));
        }
        (x, y)
    }

    fn params() -> BoostParams {
        BoostParams {
            max_trees: 60,
            learning_rate: 0.2,
            max_leaves: 8,
            max_depth: 6,
            min_samples_leaf: 5,
            l2: 1.0,
            patience: 10,
        }
    }

    #[test]
    fn cut_points_separate_every_value_when_few() {
        let v = [1.0, 1.0, 2.0, 3.0, 3.0, 10.0];
        assert_eq!(cut_points(&v), vec![1.5, 2.5, 6.5]);
        // Neighbouring doubles: the cut sits on the lower one.
        let a = 1.0f64;
        let next = f64::from_bits(a.to_bits() + 1);
        assert_eq!(cut_points(&[a, next]), vec![a]);
        // Many values: at most MAX_BINS - 1 cuts, ascending.
        let many: Vec<f64> = (0..10_000).map(|i| (i % 3000) as f64).collect::<Vec<_>>();
        let mut sorted = many.clone();
        sorted.sort_by(f64::total_cmp);
        let c = cut_points(&sorted);
        assert!(c.len() < MAX_BINS && c.len() > 200, "{}", c.len());
        assert!(c.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn bins_route_like_thresholds() {
        let (x, _) = data(2000);
        let b = Binned::new(&x, 4);
        for r in 0..2000 {
            for f in 0..4 {
                let code = b.code(r, f);
                for (bin, &cut) in b.cuts[f].iter().enumerate() {
                    assert_eq!(code <= bin, x[r * 4 + f] <= cut, "row {r} feature {f} bin {bin}");
                }
            }
        }
    }

    #[test]
    fn learns_an_interaction_and_exports_bit_for_bit() {
        let (x, y) = data(3000);
        let b = Binned::new(&x, 4);
        let train: Vec<usize> = (0..2400).collect();
        let valid: Vec<usize> = (2400..3000).collect();
        let fit = fit(&b, &y, &train, &valid, &params(), &mut |_| {}).unwrap();
        assert!(fit.n_trees() >= 5 && fit.n_trees() <= 60, "{}", fit.n_trees());
        let model = fit.export(&b).unwrap();
        check_export(&model, &x, &fit, &train).unwrap();
        let c = model.compile().unwrap();
        // It found the signal: the held-out AUC is high.
        let p: Vec<f64> = valid.iter().map(|&r| c.probability(&x[r * 4..r * 4 + 4])).collect();
        let yv: Vec<bool> = valid.iter().map(|&r| y[r]).collect();
        let auc = inference_wasm::Metrics::compute(&p, &yv, 0.5).roc_auc;
        assert!(auc > 0.85, "{auc}");
        // The constant feature is never used.
        assert_eq!(fit.gains[2], 0.0);
    }

    #[test]
    fn one_changed_leaf_fails_the_check() {
        let (x, y) = data(500);
        let b = Binned::new(&x, 4);
        let train: Vec<usize> = (0..500).collect();
        let fit = fit(&b, &y, &train, &[], &BoostParams { max_trees: 5, ..params() }, &mut |_| {}).unwrap();
        let mut model = fit.export(&b).unwrap();
        check_export(&model, &x, &fit, &train).unwrap();
        let leaf = model.split_feature.iter().position(|&k| k == 0).unwrap();
        model.values[leaf] += 1e-9;
        let err = check_export(&model, &x, &fit, &train).unwrap_err().to_string();
        assert!(err.contains("internal check failed"), "{err}");
    }

    #[test]
    fn one_class_is_refused() {
        let (x, _) = data(100);
        let b = Binned::new(&x, 4);
        let y = vec![false; 100];
        let train: Vec<usize> = (0..100).collect();
        let err = fit(&b, &y, &train, &[], &params(), &mut |_| {}).err().unwrap().to_string();
        assert!(err.contains("both classes"), "{err}");
    }
}

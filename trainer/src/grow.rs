//! The random forest's trees, grown by smartcore 0.7.0's algorithm (`ensemble/base_forest.rs`,
//! `tree/base_tree.rs`: `RandomForestRegressor` with the MSE criterion, best splitter, bootstrap)
//! on 0/1 labels, re-implemented so that it scales: the trees are the same, node for node and
//! bit for bit, as smartcore's for the same seed (tested against smartcore itself in
//! `train::tests`), the work per tree is close to the bagged rows times the tree's depth, and
//! the memory beside the training matrix is about one byte per cell, shared by every thread,
//! plus the tree being grown on each thread.
//!
//! What smartcore does per fit and per tree, and what is done here instead (docs/TRAINING.md,
//! "Training that scales", has the measurements):
//! - smartcore argsorts every column once per `fit` (per 50-tree chunk, on every thread, an
//!   8-byte index per cell). Here every column is sorted once for the whole forest ([`Columns`],
//!   shared): a column of at most [`DENSE_MAX`] distinct values keeps the rank of each row's
//!   value (1 byte a cell), a column with more keeps its rows in value order with their ranks.
//! - smartcore copies every column's sort order into a per-tree list of the bagged rows
//!   (8 bytes per cell per tree) and stable-partitions every column's list at every split.
//!   Here a tree keeps its bagged rows with their 1-byte ranks (partitioned at each split, 1
//!   byte a cell) and value-ordered lists only for the many-valued columns; the `mtry` searched
//!   features of a node are counted into a histogram of ranks over the node's contiguous range
//!   and scanned in rank order.
//! - smartcore reads `x[(row, j)]` and `y[row]` at random rows for every element it scans (a
//!   cache miss each on large data); here the scans read contiguous ranges.
//!
//! Why the trees are identical: with 0/1 labels and integer bootstrap counts, every statistic
//! smartcore accumulates in f64 (counts, sums of labels) is an integer below 2^53, so it is exact
//! whatever the order of the additions; here they are summed as integers and converted. Every
//! quantity computed from them (the proxy improvement, the threshold midpoint, the leaf mean,
//! the impurity decrease) is computed with the same f64 operations in the same order, the random
//! draws (bootstrap, feature shuffles) are the same calls on the same generator, the candidate
//! thresholds are visited in the same order (features in shuffled order, values ascending) with
//! the same strict comparison, and nodes are created in the same depth-first stack order.

use anyhow::{bail, Result};
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};

/// A column with at most this many distinct values is searched with a histogram of its ranks;
/// a column with more keeps a per-tree list of the bagged rows in value order.
pub const DENSE_MAX: usize = 256;

/// The training columns, ranked once for the whole forest (read by every thread).
pub struct Columns {
    rows: usize,
    cols: Vec<Column>,
    /// The 0/1 label of each row.
    y: Vec<u8>,
}

struct Column {
    /// The distinct values, ascending. Values equal as f64 (0.0 and -0.0) share a rank.
    values: Vec<f64>,
    /// Columns with at most `dense_max` (≤ 256) distinct values: the rank of each row's value.
    dense: Option<Vec<u8>>,
    /// Columns with more: (row, rank << 1 | label) in ascending order of value.
    order: Option<Vec<(u32, u32)>>,
}

/// Maps an f64 to a u64 with the same order (total order; finite values only are used).
fn order_key(v: f64) -> u64 {
    let b = v.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | (1 << 63)
    }
}

impl Columns {
    /// Ranks the columns of `x` (row-major, `n_features` per row), on `threads` threads.
    /// `dense_max`: see [`DENSE_MAX`] (tests lower it to reach both split searches).
    pub fn new(x: &[f64], n_features: usize, y: &[bool], threads: usize, dense_max: usize) -> Result<Columns> {
        let rows = y.len();
        if rows >= 1 << 31 {
            bail!("too many training rows for the random forest ({rows}; at most 2^31 - 1)");
        }
        if x.len() != rows * n_features {
            bail!("internal: {} cells for {rows} rows of {n_features} features", x.len());
        }
        if let Some(i) = x.iter().position(|v| v.is_nan()) {
            bail!("training row {} feature {} is NaN", i / n_features.max(1), i % n_features.max(1));
        }
        // Ranks of dense columns are u8.
        let dense_max = dense_max.min(256);
        let features: Vec<usize> = (0..n_features).collect();
        let cols = crate::data::par_map(&features, threads, |&j| {
            let mut keyed: Vec<(u64, u32)> = (0..rows).map(|r| (order_key(x[r * n_features + j]), r as u32)).collect();
            keyed.sort_unstable();
            let mut values: Vec<f64> = Vec::new();
            // The rank of each row, in value order (reusing the sort keys' room).
            for (key, r) in keyed.iter_mut() {
                let v = x[*r as usize * n_features + j];
                // `==`, as smartcore compares values: 0.0 and -0.0 are one value.
                if values.last() != Some(&v) {
                    values.push(v);
                }
                *key = (values.len() - 1) as u64;
            }
            if values.len() > dense_max {
                let order = keyed.iter().map(|&(code, r)| (r, (code as u32) << 1 | y[r as usize] as u32)).collect();
                Column { values, dense: None, order: Some(order) }
            } else {
                let mut codes = vec![0u8; rows];
                for &(code, r) in &keyed {
                    codes[r as usize] = code as u8;
                }
                Column { values, dense: Some(codes), order: None }
            }
        });
        Ok(Columns { rows, cols, y: y.iter().map(|&b| b as u8).collect() })
    }

    #[cfg(test)]
    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn n_features(&self) -> usize {
        self.cols.len()
    }
}

/// The settings of one tree, as smartcore's `BaseTreeParameters` (depth counts the root as
/// level 1, as smartcore does).
#[derive(Clone, Copy, Debug)]
pub struct TreeParams {
    pub max_depth: u16,
    pub min_samples_leaf: usize,
    pub min_samples_split: usize,
    pub mtry: usize,
}

/// One node, as smartcore's `Node<f64>`: `split` = (feature, threshold, true child, false child)
/// (`x <= threshold` goes to the true child); `score` = the impurity decrease of the split.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub output: f64,
    pub split: Option<(usize, f64, usize, usize)>,
    pub score: Option<f64>,
}

pub type Tree = Vec<Node>;

impl Node {
    fn leaf(output: f64) -> Node {
        Node { output, split: None, score: None }
    }
}

/// The leaf value of a node: smartcore's `MSECriterion::leaf_value` (mean of the labels).
fn leaf_value(cnt: u64, pos: u64) -> f64 {
    if cnt > 0 {
        pos as f64 / cnt as f64
    } else {
        0.0
    }
}

/// smartcore's `MSECriterion::proxy_improvement` of (true side, false side).
#[inline]
fn proxy(tc: u64, tp: u64, fc: u64, fp: u64) -> f64 {
    let (tm, ts, fm, fs) = (tc as f64, tp as f64, fc as f64, fp as f64);
    if tm <= 0.0 || fm <= 0.0 {
        return 0.0;
    }
    let d = ts * fm - fs * tm;
    (d * d) / (tm * fm)
}

/// smartcore's `MSECriterion::impurity_improvement`.
fn impurity_improvement(pc: u64, tc: u64, tp: u64, fc: u64, fp: u64) -> f64 {
    let (tm, ts, fm, fs, pm) = (tc as f64, tp as f64, fc as f64, fp as f64, pc as f64);
    if tm <= 0.0 || fm <= 0.0 {
        return 0.0;
    }
    let d = ts * fm - fs * tm;
    (d * d) / (tm * fm * pm)
}

/// smartcore's `BaseForest::sample_with_replacement`: `rows` draws with replacement, as counts.
#[inline(never)]
pub fn bootstrap(rng: &mut SmallRng, rows: usize, counts: &mut Vec<u32>) {
    counts.clear();
    counts.resize(rows, 0);
    for _ in 0..rows {
        counts[rng.random_range(0..rows)] += 1;
    }
}

/// A bagged row: its index and `count << 1 | label`.
#[derive(Clone, Copy, Default)]
struct Elem {
    row: u32,
    cw: u32,
}

/// A bagged row in a column's value order: its index, its rank in that column and `cw`.
#[derive(Clone, Copy, Default)]
struct SortedElem {
    row: u32,
    code: u32,
    cw: u32,
}

impl Elem {
    #[inline(always)]
    fn count(self) -> u32 {
        self.cw >> 1
    }
    #[inline(always)]
    fn pos(self) -> u32 {
        (self.cw & 1) * (self.cw >> 1)
    }
}

/// Buffers of one thread, reused from tree to tree. A node is a range `start..end` of `rows`,
/// of every `dense` column (the ranks of those rows, in the same order) and of every `sorted`
/// list (the same rows in the column's value order); a split partitions the range of each.
#[derive(Default)]
pub struct Workspace {
    rows: Vec<Elem>,
    /// Per feature: the ranks of `rows`, for dense columns (empty otherwise).
    dense: Vec<Vec<u8>>,
    /// Per feature: the bagged rows in value order, for columns with many values (else empty).
    sorted: Vec<Vec<SortedElem>>,
    scratch: Vec<Elem>,
    scratch8: Vec<u8>,
    sorted_scratch: Vec<SortedElem>,
    /// Per row of the node being split: does it go to the true child?
    mask: Vec<bool>,
    /// The same per training row, one bit each (for the value-ordered lists; a bit set keeps it
    /// in cache).
    in_true: Vec<u64>,
    bins: Vec<(u32, u32)>,
    touched: Vec<u32>,
    variables: Vec<usize>,
}

#[inline(always)]
fn bit(bits: &[u64], i: u32) -> bool {
    bits[(i >> 6) as usize] >> (i & 63) & 1 == 1
}

#[inline(always)]
fn set_bit(bits: &mut [u64], i: u32, v: bool) {
    let w = &mut bits[(i >> 6) as usize];
    *w = (*w & !(1 << (i & 63))) | (v as u64) << (i & 63);
}

/// Moves the elements of `slice` whose `is_true` holds to its front, the others after them,
/// each side in its order (smartcore's `stable_partition`).
#[inline(always)]
fn partition<T: Copy + Default>(slice: &mut [T], scratch: &mut Vec<T>, is_true: impl Fn(usize, &T) -> bool) {
    if scratch.len() < slice.len() {
        scratch.resize(slice.len(), T::default());
    }
    let (mut w, mut f) = (0, 0);
    for i in 0..slice.len() {
        let e = slice[i];
        let t = is_true(i, &e);
        slice[w] = e;
        scratch[f] = e;
        w += t as usize;
        f += (!t) as usize;
    }
    slice[w..].copy_from_slice(&scratch[..f]);
}

/// A node waiting to be split: smartcore's `NodeVisitor`, with the split found for it.
struct Visitor {
    node: usize,
    start: usize,
    end: usize,
    level: u16,
    /// Bootstrap count and labels-weighted count of the node's rows.
    cnt: u64,
    pos: u64,
    best: Best,
}

#[derive(Clone, Copy)]
struct Best {
    feature: usize,
    threshold: f64,
    score: f64,
    /// Rank of the largest value on the true side.
    code: u32,
}

/// The running state of one feature's threshold scan (smartcore's `find_best_split` loop, one
/// step per distinct value instead of per row).
struct Scan<'a> {
    n: u64,
    parent_pos: u64,
    min_leaf: u64,
    t_cnt: u64,
    t_pos: u64,
    prev: Option<u32>,
    values: &'a [f64],
    feature: usize,
}

impl Scan<'_> {
    #[inline(always)]
    fn visit(&mut self, code: u32, cnt: u64, pos: u64, best: &mut Option<Best>) {
        if let Some(prev) = self.prev {
            let f_cnt = self.n - self.t_cnt;
            if self.t_cnt >= self.min_leaf && f_cnt >= self.min_leaf {
                let p = proxy(self.t_cnt, self.t_pos, f_cnt, self.parent_pos - self.t_pos);
                if best.is_none_or(|b| p > b.score) {
                    let (prevx, x) = (self.values[prev as usize], self.values[code as usize]);
                    let mid = prevx + (x - prevx) / 2.0;
                    let threshold = if mid < x { mid } else { prevx };
                    *best = Some(Best { feature: self.feature, threshold, score: p, code: prev });
                }
            }
        }
        self.prev = Some(code);
        self.t_cnt += cnt;
        self.t_pos += pos;
    }
}

/// Grows one tree on the bagged rows `counts` (bootstrap counts per row) with the generator seed
/// `seed` (smartcore: the forest's seed + the tree's index).
pub fn grow(cols: &Columns, counts: &[u32], p: &TreeParams, seed: u64, ws: &mut Workspace) -> Tree {
    let n_features = cols.n_features();
    let mut rng = SmallRng::seed_from_u64(seed);
    let (mut n, mut root_pos) = (0u64, 0u64);
    ws.rows.clear();
    for (r, (&c, &y)) in counts.iter().zip(&cols.y).enumerate() {
        n += c as u64;
        root_pos += c as u64 * y as u64;
        if c > 0 {
            ws.rows.push(Elem { row: r as u32, cw: c << 1 | y as u32 });
        }
    }
    let n_kept = ws.rows.len();
    ws.dense.resize_with(n_features, Vec::new);
    ws.sorted.resize_with(n_features, Vec::new);
    for (col, (dense, sorted)) in cols.cols.iter().zip(ws.dense.iter_mut().zip(ws.sorted.iter_mut())) {
        dense.clear();
        sorted.clear();
        if let Some(codes) = &col.dense {
            dense.extend(ws.rows.iter().map(|e| codes[e.row as usize]));
        }
        if let Some(order) = &col.order {
            sorted.extend(order.iter().filter_map(|&(r, code_y)| {
                let c = counts[r as usize];
                (c > 0).then_some(SortedElem { row: r, code: code_y >> 1, cw: c << 1 | (code_y & 1) })
            }));
        }
    }
    if ws.sorted.iter().any(|l| !l.is_empty()) {
        ws.in_true.resize(cols.rows.div_ceil(64), 0);
    }
    ws.variables.clear();
    ws.variables.extend(0..n_features);

    let mut nodes = vec![Node::leaf(leaf_value(n, root_pos))];
    let mut g = Grower { cols, p, ws, rng: &mut rng };
    let mut stack: Vec<Visitor> = Vec::new();
    let mut root = Visitor {
        node: 0,
        start: 0,
        end: n_kept,
        level: 1,
        cnt: n,
        pos: root_pos,
        best: Best { feature: 0, threshold: 0.0, score: 0.0, code: 0 },
    };
    if p.max_depth > 1 && n_kept > 0 && n >= p.min_samples_split as u64 && g.find_best_cutoff(&mut root) {
        stack.push(root);
    }
    while let Some(v) = stack.pop() {
        if v.level < p.max_depth {
            g.split(v, &mut nodes, &mut stack);
        }
    }
    nodes
}

struct Grower<'a> {
    cols: &'a Columns,
    p: &'a TreeParams,
    ws: &'a mut Workspace,
    rng: &'a mut SmallRng,
}

impl Grower<'_> {
    /// smartcore's `find_best_cutoff`: shuffle the features, search the first `mtry`.
    fn find_best_cutoff(&mut self, v: &mut Visitor) -> bool {
        self.ws.variables.shuffle(&mut *self.rng);
        let mut best = None;
        for k in 0..self.p.mtry.min(self.ws.variables.len()) {
            let j = self.ws.variables[k];
            self.find_best_split(v, j, &mut best);
        }
        match best {
            Some(b) => {
                v.best = b;
                true
            }
            None => false,
        }
    }

    #[inline(never)]
    fn find_best_split(&mut self, v: &Visitor, j: usize, best: &mut Option<Best>) {
        let col = &self.cols.cols[j];
        let mut scan = Scan {
            n: v.cnt,
            parent_pos: v.pos,
            min_leaf: self.p.min_samples_leaf as u64,
            t_cnt: 0,
            t_pos: 0,
            prev: None,
            values: &col.values,
            feature: j,
        };
        if col.order.is_some() {
            // Runs of equal rank in the column's value-ordered list.
            let list = &self.ws.sorted[j][v.start..v.end];
            let mut i = 0;
            while i < list.len() {
                let code = list[i].code;
                let (mut cnt, mut pos) = (0u64, 0u64);
                while i < list.len() && list[i].code == code {
                    let e = Elem { row: 0, cw: list[i].cw };
                    cnt += e.count() as u64;
                    pos += e.pos() as u64;
                    i += 1;
                }
                scan.visit(code, cnt, pos, best);
            }
            return;
        }
        // A histogram of the node's rows by rank, then the ranks in ascending order.
        let k = col.values.len();
        let ws = &mut *self.ws;
        if ws.bins.len() < k {
            ws.bins.resize(k, (0, 0));
        }
        let rows = &ws.rows[v.start..v.end];
        let codes = &ws.dense[j][v.start..v.end];
        let bins = &mut ws.bins[..k];
        if rows.len() * 4 >= k {
            for (&code, &e) in codes.iter().zip(rows) {
                let b = &mut bins[code as usize];
                b.0 += e.count();
                b.1 += e.pos();
            }
            for (code, b) in bins.iter_mut().enumerate() {
                if b.0 > 0 {
                    let (cnt, pos) = std::mem::take(b);
                    scan.visit(code as u32, cnt as u64, pos as u64, best);
                }
            }
        } else {
            // Few rows for many ranks: visit only the ranks present.
            ws.touched.clear();
            for (&code, &e) in codes.iter().zip(rows) {
                let b = &mut bins[code as usize];
                if b.0 == 0 {
                    ws.touched.push(code as u32);
                }
                b.0 += e.count();
                b.1 += e.pos();
            }
            ws.touched.sort_unstable();
            for &code in &ws.touched {
                let (cnt, pos) = std::mem::take(&mut bins[code as usize]);
                scan.visit(code, cnt as u64, pos as u64, best);
            }
        }
    }

    /// smartcore's `split`: make the two children, partition the node's rows, and search the
    /// children (true side first) for their own splits.
    #[inline(never)]
    fn split(&mut self, v: Visitor, nodes: &mut Vec<Node>, stack: &mut Vec<Visitor>) {
        let b = v.best;
        let ws = &mut *self.ws;
        let len = v.end - v.start;
        ws.mask.resize(len.max(ws.mask.len()), false);
        let has_sorted = !ws.in_true.is_empty();
        // Which of the node's rows go to the true child (x <= threshold: rank <= the rank of
        // the largest value on the true side), and the true side's statistics.
        let (mut tc, mut tp, mut n_true) = (0u64, 0u64, 0usize);
        if ws.dense[b.feature].is_empty() {
            for e in &ws.sorted[b.feature][v.start..v.end] {
                let t = e.code <= b.code;
                set_bit(&mut ws.in_true, e.row, t);
                let e = Elem { row: e.row, cw: e.cw };
                tc += (t as u64) * e.count() as u64;
                tp += (t as u64) * e.pos() as u64;
                n_true += t as usize;
            }
            for (m, e) in ws.mask[..len].iter_mut().zip(&ws.rows[v.start..v.end]) {
                *m = bit(&ws.in_true, e.row);
            }
        } else {
            let codes = &ws.dense[b.feature][v.start..v.end];
            for ((m, &code), &e) in ws.mask[..len].iter_mut().zip(codes).zip(&ws.rows[v.start..v.end]) {
                let t = code as u32 <= b.code;
                *m = t;
                tc += (t as u64) * e.count() as u64;
                tp += (t as u64) * e.pos() as u64;
                n_true += t as usize;
            }
            if has_sorted {
                for (&m, e) in ws.mask[..len].iter().zip(&ws.rows[v.start..v.end]) {
                    set_bit(&mut ws.in_true, e.row, m);
                }
            }
        }
        let (fc, fp) = (v.cnt - tc, v.pos - tp);
        let min_leaf = self.p.min_samples_leaf as u64;
        if tc < min_leaf || fc < min_leaf {
            return;
        }
        let true_child = nodes.len();
        nodes.push(Node::leaf(leaf_value(tc, tp)));
        nodes.push(Node::leaf(leaf_value(fc, fp)));
        nodes[v.node].split = Some((b.feature, b.threshold, true_child, true_child + 1));
        nodes[v.node].score = Some(impurity_improvement(v.cnt, tc, tp, fc, fp));

        let level = v.level + 1;
        let min_split = self.p.min_samples_split as u64;
        let true_can_split = level < self.p.max_depth && tc >= min_split;
        let false_can_split = level < self.p.max_depth && fc >= min_split;
        if !true_can_split && !false_can_split {
            return;
        }
        // Stable partitions of the node's range in every array.
        let split_at = v.start + n_true;
        let mask = &ws.mask[..len];
        partition(&mut ws.rows[v.start..v.end], &mut ws.scratch, |i, _| mask[i]);
        for codes in ws.dense.iter_mut().filter(|c| !c.is_empty()) {
            partition(&mut codes[v.start..v.end], &mut ws.scratch8, |i, _| mask[i]);
        }
        let in_true = &ws.in_true;
        for list in ws.sorted.iter_mut().filter(|l| !l.is_empty()) {
            partition(&mut list[v.start..v.end], &mut ws.sorted_scratch, |_, e| bit(in_true, e.row));
        }
        let blank = v.best;
        let mut t = Visitor { node: true_child, start: v.start, end: split_at, level, cnt: tc, pos: tp, best: blank };
        if true_can_split && self.find_best_cutoff(&mut t) {
            stack.push(t);
        }
        let mut f = Visitor { node: true_child + 1, start: split_at, end: v.end, level, cnt: fc, pos: fp, best: blank };
        if false_can_split && self.find_best_cutoff(&mut f) {
            stack.push(f);
        }
    }
}

/// smartcore's `BaseTree::compute_feature_importances(true, ..)`: impurity decrease per feature,
/// summed in node order, scaled to sum to 1.
pub fn tree_importances(tree: &Tree, out: &mut [f64]) {
    out.fill(0.0);
    for n in tree {
        if let (Some(score), Some((feature, ..))) = (n.score, n.split) {
            out[feature] += score;
        }
    }
    let sum: f64 = out.iter().sum();
    if sum > 0.0 {
        out.iter_mut().for_each(|v| *v /= sum);
    }
}

/// smartcore's `BaseForest::compute_feature_importances`: the mean of the trees' normalized
/// importances, normalized again.
pub fn forest_importances(trees: &[Tree], n_features: usize) -> Vec<f64> {
    let mut imp = vec![0.0; n_features];
    let mut scratch = vec![0.0; n_features];
    for t in trees {
        tree_importances(t, &mut scratch);
        for (a, b) in imp.iter_mut().zip(&scratch) {
            *a += b;
        }
    }
    let k = trees.len() as f64;
    imp.iter_mut().for_each(|v| *v /= k);
    let sum: f64 = imp.iter().sum();
    if sum > 0.0 {
        imp.iter_mut().for_each(|v| *v /= sum);
    }
    imp
}

/// A tree in a compact form for the export check: per node (threshold, or the value of a
/// leaf; feature; true child, false child; a leaf has true child 0).
pub struct Walk(Vec<(f64, u32, u32, u32)>);

impl Walk {
    pub fn new(tree: &Tree) -> Walk {
        Walk(
            tree.iter()
                .map(|n| match n.split {
                    Some((feature, threshold, t, f)) => (threshold, feature as u32, t as u32, f as u32),
                    None => (n.output, 0, 0, 0),
                })
                .collect(),
        )
    }

    /// The leaf value the tree gives a row (`x` holds the row's features): `x <= threshold`
    /// goes to the true child, as in smartcore's `predict`.
    #[inline]
    pub fn leaf(&self, x: &[f64]) -> f64 {
        let mut i = 0;
        loop {
            let (v, feature, t, f) = self.0[i];
            if t == 0 {
                return v;
            }
            i = if x[feature as usize] <= v { t } else { f } as usize;
        }
    }
}

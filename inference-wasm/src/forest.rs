//! The flat tree ensembles: their compact wire forms, the checked in-memory form, and the one
//! traversal.
//!
//! Two model kinds share everything but the leaves and the link ([`Ensemble`]):
//! - [`Forest`] (random forest): probability = mean of the trees' outputs; every node value is an
//!   exact ratio of two counts.
//! - [`Boosted`] (gradient-boosted trees): probability = sigmoid(base + sum of the trees'
//!   outputs, added in tree order); node values are any finite f64.
//!
//! Both compile to one [`CompiledForest`]; only its [`Link`] tells them apart, and nothing
//! outside this module branches on the kind to score or explain.
//!
//! Wire form ([`Forest`], struct of arrays, every tree in preorder): a split node's left child is
//! the next node, its right child is `right_offset` nodes further. Thresholds live in per-feature
//! tables (a split stores an index), and every node's value is stored as the exact ratio of two
//! counts (`num / den`: in-bag churners / in-bag rows), which is what the trainer's trees hold.
//! Together with bincode's varints this comes to 5.4–5.9 bytes a node on Telco models.
//!
//! In memory ([`CompiledForest`]), built once at load after validation: one 16-byte record per
//! node. Routing is `x[feature] <= threshold` → left, else right. Features are never NaN (the
//! schema fills missing values), so there is no missing-value branch. A leaf is a fixed point of
//! that same rule (threshold NaN, right child = itself), which lets the batch path step many rows
//! through a tree in lockstep without a branch per node.

use bincode::{Decode, Encode};

/// The forest as stored in the artifact.
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Clone, Debug, PartialEq, Encode, Decode)]
pub struct Forest {
    /// Number of input features (= schema fields).
    pub n_features: u32,
    /// Nodes in each tree; trees are stored one after another.
    pub tree_sizes: Vec<u32>,
    /// Per node: 0 for a leaf, `f + 1` for a split on feature `f`.
    pub split_feature: Vec<u16>,
    /// Per split node (in node order): index into `thresholds[f]`.
    pub split_threshold: Vec<u32>,
    /// Per split node: the right child is this many nodes after the split (the left child is next).
    pub right_offset: Vec<u32>,
    /// Per node: value = `value_num / value_den` (exactly the trainer's node mean).
    pub value_num: Vec<u32>,
    pub value_den: Vec<u32>,
    /// Per feature: the distinct thresholds its splits use, ascending.
    pub thresholds: Vec<Vec<f64>>,
}

/// Gradient-boosted trees as stored in the artifact: the same tree layout as [`Forest`], node
/// values stored as f64 (any finite value), and the margin every prediction starts from.
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Clone, Debug, PartialEq, Encode, Decode)]
pub struct Boosted {
    pub n_features: u32,
    /// Log-odds every prediction starts from (the training rows' prior).
    pub base_score: f64,
    pub tree_sizes: Vec<u32>,
    pub split_feature: Vec<u16>,
    pub split_threshold: Vec<u32>,
    pub right_offset: Vec<u32>,
    /// Per node: a leaf's output (added to the margin, learning rate included); a split node's
    /// is the mean output of the training rows that reached it (for explanations).
    pub values: Vec<f64>,
    pub thresholds: Vec<Vec<f64>>,
}

/// The trees of a model file, of one kind. Adding a kind: a variant here, its wire struct, its
/// `compile` (structure checks are shared) and a [`Link`] if it combines trees another way.
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Clone, Debug, PartialEq, Encode, Decode)]
pub enum Ensemble {
    Forest(Forest),
    Boosted(Boosted),
}

/// The kind of a model, as shown on every surface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelKind {
    RandomForest,
    GradientBoosting,
}

impl ModelKind {
    /// Short name, as in `--model rf|gbt` and the model card's `model_kind`.
    pub fn short(self) -> &'static str {
        match self {
            ModelKind::RandomForest => "rf",
            ModelKind::GradientBoosting => "gbt",
        }
    }

    /// Human name, as in the Worker's `model_type`.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::RandomForest => "RandomForest",
            ModelKind::GradientBoosting => "GradientBoosting",
        }
    }

    /// How the trees make a probability, in words.
    pub fn describe(self) -> &'static str {
        match self {
            ModelKind::RandomForest => "probability forest: mean of the trees' churn rates",
            ModelKind::GradientBoosting => "gradient-boosted trees: sigmoid of base + sum of trees",
        }
    }
}

impl Ensemble {
    pub fn kind(&self) -> ModelKind {
        match self {
            Ensemble::Forest(_) => ModelKind::RandomForest,
            Ensemble::Boosted(_) => ModelKind::GradientBoosting,
        }
    }

    pub fn n_features(&self) -> u32 {
        match self {
            Ensemble::Forest(f) => f.n_features,
            Ensemble::Boosted(b) => b.n_features,
        }
    }

    /// Per feature: the distinct thresholds its splits use.
    pub fn thresholds(&self) -> &[Vec<f64>] {
        match self {
            Ensemble::Forest(f) => &f.thresholds,
            Ensemble::Boosted(b) => &b.thresholds,
        }
    }

    /// Checks every invariant traversal relies on, then builds the in-memory form.
    pub fn compile(&self) -> Result<CompiledForest, ForestError> {
        match self {
            Ensemble::Forest(f) => f.compile(),
            Ensemble::Boosted(b) => b.compile(),
        }
    }
}

/// The sigmoid of the boosted kind's link, `1 / (1 + e^-m)`, with one software `exp` on every
/// target (libm, musl's algorithm): native and wasm give the same bits. The trainer uses this
/// same function, so its predictions and the exported model's agree bit for bit.
#[inline]
pub fn sigmoid(m: f64) -> f64 {
    1.0 / (1.0 + libm::exp(-m))
}

/// The tree layout every kind shares (see [`Forest`]'s fields).
struct Layout {
    tree_sizes: Vec<u32>,
    split_feature: Vec<u16>,
    split_threshold: Vec<u32>,
    right_offset: Vec<u32>,
    thresholds: Vec<Vec<f64>>,
}

/// The layout's arrays, borrowed from a wire form, for [`compile_parts`].
struct Parts<'a> {
    n_features: u32,
    tree_sizes: &'a [u32],
    split_feature: &'a [u16],
    split_threshold: &'a [u32],
    right_offset: &'a [u32],
    thresholds: &'a [Vec<f64>],
}

/// A node of a tree handed to [`Forest::build`] (any node order; the root is node 0).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BuildNode {
    Leaf { value: f64 },
    Split { feature: u32, threshold: f64, value: f64, left: usize, right: usize },
}

/// Why a forest could not be built or loaded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ForestError {
    #[error("forest: {0}")]
    Invalid(String),
}

fn invalid(msg: impl Into<String>) -> ForestError {
    ForestError::Invalid(msg.into())
}

/// Largest forest the format accepts (nodes in all trees): keeps a hostile file from making
/// the loader build an arbitrarily large table.
pub const MAX_NODES: usize = 16 << 20;

/// Largest magnitude of a boosted model's base score and node values (log-odds). A trainer's
/// values are far smaller (this project's trainer caps a leaf at ±16); the bound keeps a
/// hostile file's explanations and sums within float rounding of the truth.
pub const MAX_BOOSTED_VALUE: f64 = 1024.0;

/// A boosted value the format accepts: within ±[`MAX_BOOSTED_VALUE`] (so not NaN or infinite).
fn bounded(v: f64) -> bool {
    (-MAX_BOOSTED_VALUE..=MAX_BOOSTED_VALUE).contains(&v)
}

/// Deepest tree the format accepts (splits from the root to a leaf); the trainer allows 64.
/// Bounds the scratch space of an explanation.
pub const MAX_DEPTH: usize = 256;

impl Forest {
    /// Lays trees out in the compact form. Fails if a value is not an exact ratio of counts
    /// (so the stored forest could not reproduce it bit for bit) or the tree is malformed.
    pub fn build(n_features: u32, trees: &[Vec<BuildNode>]) -> Result<Forest, ForestError> {
        let (mut value_num, mut value_den) = (Vec::new(), Vec::new());
        let l = lay_out(n_features, trees, |t, id, value| {
            let (num, den) = as_ratio(value)
                .ok_or_else(|| invalid(format!("tree {t} node {id}: value {value} is not a ratio of counts")))?;
            value_num.push(num);
            value_den.push(den);
            Ok(())
        })?;
        Ok(Forest {
            n_features,
            tree_sizes: l.tree_sizes,
            split_feature: l.split_feature,
            split_threshold: l.split_threshold,
            right_offset: l.right_offset,
            value_num,
            value_den,
            thresholds: l.thresholds,
        })
    }

    pub fn n_trees(&self) -> usize {
        self.tree_sizes.len()
    }

    pub fn n_nodes(&self) -> usize {
        self.split_feature.len()
    }

    /// Checks every invariant traversal relies on, then builds the in-memory form.
    pub fn compile(&self) -> Result<CompiledForest, ForestError> {
        let n = self.split_feature.len();
        if self.value_num.len() != n || self.value_den.len() != n {
            return Err(invalid(format!(
                "array lengths disagree: {n} node kinds, {} values, {} denominators",
                self.value_num.len(),
                self.value_den.len()
            )));
        }
        let mut values = Vec::with_capacity(n);
        for (i, (&num, &den)) in self.value_num.iter().zip(&self.value_den).enumerate() {
            if den == 0 || num > den {
                return Err(invalid(format!("node {i}: value {num}/{den} is not in [0, 1]")));
            }
            values.push(num as f64 / den as f64);
        }
        compile_parts(
            Parts {
                n_features: self.n_features,
                tree_sizes: &self.tree_sizes,
                split_feature: &self.split_feature,
                split_threshold: &self.split_threshold,
                right_offset: &self.right_offset,
                thresholds: &self.thresholds,
            },
            values,
            Link::Mean,
        )
    }
}

impl Boosted {
    /// Lays boosted trees out in the compact form: `base_score` (log-odds) plus the trees'
    /// outputs. Fails if a value is not finite or a tree is malformed.
    pub fn build(n_features: u32, base_score: f64, trees: &[Vec<BuildNode>]) -> Result<Boosted, ForestError> {
        if !bounded(base_score) {
            return Err(invalid(format!("base score {base_score} is not in [-1024, 1024]")));
        }
        let mut values = Vec::new();
        let l = lay_out(n_features, trees, |t, id, value| {
            if !bounded(value) {
                return Err(invalid(format!("tree {t} node {id}: value {value} is not in [-1024, 1024]")));
            }
            values.push(value);
            Ok(())
        })?;
        Ok(Boosted {
            n_features,
            base_score,
            tree_sizes: l.tree_sizes,
            split_feature: l.split_feature,
            split_threshold: l.split_threshold,
            right_offset: l.right_offset,
            values,
            thresholds: l.thresholds,
        })
    }

    /// Checks every invariant traversal relies on, then builds the in-memory form.
    pub fn compile(&self) -> Result<CompiledForest, ForestError> {
        let n = self.split_feature.len();
        if self.values.len() != n {
            return Err(invalid(format!("array lengths disagree: {n} node kinds, {} values", self.values.len())));
        }
        if !bounded(self.base_score) {
            return Err(invalid("the base score is not in [-1024, 1024]"));
        }
        if let Some(i) = self.values.iter().position(|&v| !bounded(v)) {
            return Err(invalid(format!("node {i}: value is not in [-1024, 1024]")));
        }
        compile_parts(
            Parts {
                n_features: self.n_features,
                tree_sizes: &self.tree_sizes,
                split_feature: &self.split_feature,
                split_threshold: &self.split_threshold,
                right_offset: &self.right_offset,
                thresholds: &self.thresholds,
            },
            self.values.clone(),
            Link::Logistic { base: self.base_score },
        )
    }
}

/// Checks the shared tree structure against `values` (one per node, already checked by the
/// kind) and builds the in-memory form.
fn compile_parts(p: Parts<'_>, values: Vec<f64>, link: Link) -> Result<CompiledForest, ForestError> {
    let n = p.split_feature.len();
    let nf = p.n_features as usize;
    if p.tree_sizes.is_empty() {
        return Err(invalid("no trees"));
    }
    if n > MAX_NODES {
        return Err(invalid(format!("{n} nodes (at most {MAX_NODES})")));
    }
    if nf == 0 || p.thresholds.len() != nf {
        return Err(invalid(format!("{} threshold tables for {} features", p.thresholds.len(), nf)));
    }
    let total: u64 = p.tree_sizes.iter().map(|&s| s as u64).sum();
    if total != n as u64 || values.len() != n {
        return Err(invalid(format!(
            "array lengths disagree: tree sizes add to {total}, {n} node kinds, {} values",
            values.len()
        )));
    }
    let n_splits = p.split_feature.iter().filter(|&&k| k != 0).count();
    if p.split_threshold.len() != n_splits || p.right_offset.len() != n_splits {
        return Err(invalid(format!(
            "{n_splits} split nodes but {} thresholds and {} right offsets",
            p.split_threshold.len(),
            p.right_offset.len()
        )));
    }
    for t in p.thresholds {
        if t.iter().any(|v| !v.is_finite()) {
            return Err(invalid("a threshold is not finite"));
        }
    }
    let mut nodes = Vec::with_capacity(n);
    let mut roots = Vec::with_capacity(p.tree_sizes.len());
    let mut split = 0usize;
    let mut start = 0usize;
    for (t, &size) in p.tree_sizes.iter().enumerate() {
        let size = size as usize;
        if size == 0 {
            return Err(invalid(format!("tree {t} is empty")));
        }
        roots.push(start as u32);
        for i in start..start + size {
            let kind = p.split_feature[i];
            if kind == 0 {
                nodes.push(Node::leaf(i));
                continue;
            }
            let feature = kind as usize - 1;
            if feature >= nf {
                return Err(invalid(format!("node {i} splits on feature {feature} of {nf}")));
            }
            let th = p.split_threshold[split] as usize;
            let threshold = *p.thresholds[feature]
                .get(th)
                .ok_or_else(|| invalid(format!("node {i}: threshold index {th} out of range")))?;
            let right = i as u64 + p.right_offset[split] as u64;
            if p.right_offset[split] < 2 || right >= (start + size) as u64 {
                return Err(invalid(format!("node {i}: right child outside tree {t}")));
            }
            nodes.push(Node { feature: feature as u32, right: right as u32, threshold });
            split += 1;
        }
        check_preorder(&nodes[start..], start).map_err(|e| invalid(format!("tree {t}: {e}")))?;
        start += size;
    }
    let root_sum = roots.iter().map(|&r| values[r as usize]).fold(link.start(), |a, v| a + v);
    let mut forest = CompiledForest {
        nodes,
        values,
        roots,
        depths: Vec::new(),
        max_depth: 0,
        n_features: nf,
        base_margin: root_sum,
        base_value: 0.0,
        link,
    };
    forest.base_value = forest.finish(root_sum);
    forest.depths = (0..forest.roots.len()).map(|t| forest.tree_depth(t)).collect();
    forest.max_depth = forest.depths.iter().copied().max().unwrap_or(0) as usize;
    if let Some(t) = forest.depths.iter().position(|&d| d as usize > MAX_DEPTH) {
        return Err(invalid(format!("tree {t} is {} deep (at most {MAX_DEPTH})", forest.depths[t])));
    }
    Ok(forest)
}

/// Lays trees out in preorder (the layout every kind shares), handing each node's value to
/// `push_value(tree, node id, value)` in layout order. Fails if a tree is malformed.
fn lay_out(
    n_features: u32,
    trees: &[Vec<BuildNode>],
    mut push_value: impl FnMut(usize, usize, f64) -> Result<(), ForestError>,
) -> Result<Layout, ForestError> {
    if n_features == 0 || n_features > u16::MAX as u32 - 1 {
        return Err(invalid(format!("{n_features} features (1 to 65534 allowed)")));
    }
    // Threshold tables: every distinct threshold per feature.
    let mut tables: Vec<Vec<f64>> = vec![Vec::new(); n_features as usize];
    for tree in trees {
        for node in tree {
            if let BuildNode::Split { feature, threshold, .. } = *node {
                let t =
                    tables.get_mut(feature as usize).ok_or_else(|| invalid(format!("split on feature {feature}")))?;
                if !threshold.is_finite() {
                    return Err(invalid(format!("threshold {threshold} is not finite")));
                }
                t.push(threshold);
            }
        }
    }
    for t in &mut tables {
        t.sort_by(f64::total_cmp);
        t.dedup_by(|a, b| a.to_bits() == b.to_bits());
    }
    let mut f = Layout {
        tree_sizes: Vec::with_capacity(trees.len()),
        split_feature: Vec::new(),
        split_threshold: Vec::new(),
        right_offset: Vec::new(),
        thresholds: Vec::new(),
    };
    for (t, tree) in trees.iter().enumerate() {
        let start = f.split_feature.len();
        // Preorder walk; a right child's offset is patched once its left subtree is laid out.
        let mut stack: Vec<(usize, Option<usize>)> = vec![(0, None)];
        while let Some((id, patch)) = stack.pop() {
            let here = f.split_feature.len();
            if let Some(k) = patch {
                f.right_offset[k] = (here - f.right_offset[k] as usize) as u32;
            }
            if here - start > tree.len() {
                return Err(invalid(format!("tree {t} is not a tree (a node is reached twice)")));
            }
            let node = tree.get(id).ok_or_else(|| invalid(format!("tree {t}: no node {id}")))?;
            let v = match *node {
                BuildNode::Leaf { value } => {
                    f.split_feature.push(0);
                    value
                }
                BuildNode::Split { feature, threshold, value, left, right } => {
                    let table = &tables[feature as usize];
                    let idx =
                        table.binary_search_by(|v| v.total_cmp(&threshold)).map_err(|_| invalid("threshold table"))?;
                    f.split_feature.push(feature as u16 + 1);
                    f.split_threshold.push(idx as u32);
                    // Holds the split's own position until the right child is placed.
                    f.right_offset.push(here as u32);
                    stack.push((right, Some(f.right_offset.len() - 1)));
                    stack.push((left, None));
                    value
                }
            };
            push_value(t, id, v)?;
        }
        f.tree_sizes.push((f.split_feature.len() - start) as u32);
    }
    f.thresholds = tables;
    Ok(f)
}

/// Checks that a tree's nodes form one binary tree in preorder: the left subtree of node `i`
/// ends exactly where its right child starts, and the tree ends exactly at its last node.
/// With this, traversal visits strictly increasing indices and always ends at a leaf.
fn check_preorder(tree: &[Node], base: usize) -> Result<(), String> {
    // Stack of (right child start, end expected for the left subtree).
    let mut pending: Vec<usize> = Vec::new();
    let mut i = 0usize;
    loop {
        let node = tree.get(i).ok_or("a subtree runs past its tree")?;
        if node.is_leaf(base + i) {
            i += 1;
            match pending.pop() {
                None => break,
                Some(right) if right == i => continue,
                Some(_) => return Err(format!("node {}: subtrees overlap", base + i - 1)),
            }
        } else {
            pending.push(node.right as usize - base);
            i += 1;
        }
    }
    if i != tree.len() {
        return Err(format!("{} nodes are not reached from the root", tree.len() - i));
    }
    Ok(())
}

/// One node in memory. A leaf routes to itself: feature 0, threshold NaN (`x <= NaN` is false),
/// right child = its own index. Node values (leaf outputs) live in `CompiledForest::values`.
#[derive(Clone, Copy, Debug)]
struct Node {
    feature: u32,
    right: u32,
    threshold: f64,
}

impl Node {
    fn leaf(index: usize) -> Node {
        Node { feature: 0, right: index as u32, threshold: f64::NAN }
    }

    #[inline(always)]
    fn is_leaf(&self, index: usize) -> bool {
        self.right as usize == index
    }

    /// The child `x` goes to (itself for a leaf).
    #[inline(always)]
    fn next(&self, index: usize, x: &[f64]) -> usize {
        self.route(index, x[self.feature as usize])
    }

    /// The child a feature value `v` goes to, without a branch: which way a row goes is as good
    /// as random to the CPU's predictor, and a mispredicted jump costs more than the whole step.
    #[inline(always)]
    fn route(&self, index: usize, v: f64) -> usize {
        let left = index + 1;
        // All ones when `v` goes right, zero when it goes left.
        let right_mask = ((v <= self.threshold) as usize).wrapping_sub(1);
        left ^ ((left ^ self.right as usize) & right_mask)
    }
}

/// Trees walked side by side when scoring one row.
const LANES: usize = 8;

/// How a compiled ensemble turns the sum of its trees' outputs into a probability.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Link {
    /// The mean of the outputs (random forest).
    Mean,
    /// `sigmoid(base + outputs)`, the sum taken in tree order starting from `base` (boosting).
    Logistic { base: f64 },
}

impl Link {
    /// What the sum of the trees' outputs starts from.
    #[inline]
    fn start(self) -> f64 {
        match self {
            Link::Mean => 0.0,
            Link::Logistic { base } => base,
        }
    }
}

/// The validated ensemble (either kind), ready to score.
#[derive(Clone, Debug)]
pub struct CompiledForest {
    nodes: Vec<Node>,
    /// Every node's value (split nodes too), for explanations.
    values: Vec<f64>,
    roots: Vec<u32>,
    /// Deepest leaf of each tree (root = 0): steps that bring any row to its leaf.
    depths: Vec<u32>,
    /// The largest of `depths`.
    max_depth: usize,
    n_features: usize,
    /// The link's start plus the trees' root values (tree order): the margin at the roots.
    base_margin: f64,
    /// [`CompiledForest::finish`] of `base_margin`: the starting point of every explanation.
    base_value: f64,
    link: Link,
}

impl CompiledForest {
    /// The probability for a sum of tree outputs taken from the link's start, in tree order.
    #[inline]
    fn finish(&self, sum: f64) -> f64 {
        match self.link {
            Link::Mean => sum / self.roots.len() as f64,
            Link::Logistic { .. } => sigmoid(sum),
        }
    }

    pub fn link(&self) -> Link {
        self.link
    }

    pub fn n_trees(&self) -> usize {
        self.roots.len()
    }

    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// The probability at the trees' roots (for a forest, the mean root value: its expected
    /// output over its in-bag training rows): the starting point of every explanation.
    pub fn base_value(&self) -> f64 {
        self.base_value
    }

    #[inline]
    fn leaf(&self, root: u32, x: &[f64]) -> usize {
        let mut i = root as usize;
        loop {
            let next = self.nodes[i].next(i, x);
            if next == i {
                return i;
            }
            i = next;
        }
    }

    /// Output of one tree for one feature vector.
    #[inline]
    pub fn tree_output(&self, tree: usize, x: &[f64]) -> f64 {
        self.values[self.leaf(self.roots[tree], x)]
    }

    /// The leaves `x` reaches in trees `first..first + at.len()`, written to `at`. The trees are
    /// walked in lockstep, a fixed number of steps (leaves are fixed points): their node loads
    /// are independent, so the CPU overlaps them instead of waiting for one chain of loads.
    #[inline(always)]
    fn leaves(&self, first: usize, x: &[f64], at: &mut [usize]) {
        let mut depth = 0;
        for (j, a) in at.iter_mut().enumerate() {
            *a = self.roots[first + j] as usize;
            depth = depth.max(self.depths[first + j]);
        }
        let nodes = &self.nodes[..];
        for _ in 0..depth {
            for a in at.iter_mut() {
                *a = nodes[*a].next(*a, x);
            }
        }
    }

    /// The probability for one feature vector (`n_features` values): the link applied to the
    /// trees' outputs, added in tree order from the link's start. The sum does not depend on how
    /// the walk is scheduled.
    pub fn probability(&self, x: &[f64]) -> f64 {
        let n = self.roots.len();
        let mut sum = self.link.start();
        let mut at = [0usize; LANES];
        let mut t = 0;
        while t < n {
            let at = &mut at[..(n - t).min(LANES)];
            self.leaves(t, x, at);
            for &leaf in at.iter() {
                sum += self.values[leaf];
            }
            t += at.len();
        }
        self.finish(sum)
    }

    /// Probabilities for `rows` feature vectors laid out row after row, scored in blocks of rows
    /// that walk each tree together; each row's sum still adds tree outputs in tree order, so
    /// every value is bit-identical to [`CompiledForest::probability`].
    pub fn probabilities(&self, matrix: &[f64], out: &mut [f64]) {
        let rows = self.sums_over(0..self.roots.len(), matrix, out, self.link.start());
        for p in out[..rows].iter_mut() {
            *p = self.finish(*p);
        }
    }

    /// Mean output of trees `trees` for many rows (laid out row after row), each row's outputs
    /// added in tree order: for checking a forest's trees chunk by chunk.
    pub fn means_over(&self, trees: std::ops::Range<usize>, matrix: &[f64], out: &mut [f64]) {
        let count = trees.len() as f64;
        let rows = self.sums_over(trees, matrix, out, 0.0);
        for acc in out[..rows].iter_mut() {
            *acc /= count;
        }
    }

    /// `start` plus the outputs of trees `trees`, in tree order, for many rows (laid out row
    /// after row), written to `out`; returns the number of rows written.
    fn sums_over(&self, trees: std::ops::Range<usize>, matrix: &[f64], out: &mut [f64], start: f64) -> usize {
        let nf = self.n_features;
        let rows = out.len().min(matrix.len() / nf);
        let out = &mut out[..rows];
        out.fill(start);
        // A block of rows walks each tree in lockstep, a fixed number of steps (leaves are fixed
        // points): the rows' node loads are independent, so the CPU overlaps them. Blocks are the
        // outer loop: a block's rows stay in the L1 cache while every tree passes over them,
        // where a whole matrix swept once per tree would come from memory hundreds of times.
        const BLOCK: usize = 64;
        let mut at = [0usize; BLOCK];
        for (block, acc) in matrix.chunks(BLOCK * nf).zip(out.chunks_mut(BLOCK)) {
            let at = &mut at[..acc.len()];
            for t in trees.clone() {
                let root = self.roots[t] as usize;
                if self.depths[t] == 1 {
                    // A stump: both children are leaves; one step from the root.
                    let n = self.nodes[root];
                    let (f, th) = (n.feature as usize, n.threshold);
                    let (l, r) = (self.values[root + 1], self.values[n.right as usize]);
                    for (k, a) in acc.iter_mut().enumerate() {
                        let v = block[k * nf + f];
                        *a += if v <= th { l } else { r };
                    }
                    continue;
                }
                at.fill(root);
                for _ in 0..self.depths[t] {
                    for (k, i) in at.iter_mut().enumerate() {
                        let n = self.nodes[*i];
                        *i = n.route(*i, block[k * nf + n.feature as usize]);
                    }
                }
                for (a, &i) in acc.iter_mut().zip(at.iter()) {
                    *a += self.values[i];
                }
            }
        }
        rows
    }

    /// Path attribution: walking each tree, every split credits its feature with the change in
    /// node value from the node to the child taken. A forest averages these over its trees.
    /// A boosted model adds them up (margin space: base margin + Σ = margin), then scales them
    /// all by one factor, (p − p₀) / (margin − base margin), which carries them to probability
    /// space with their proportions kept (sigmoid's slope at p₀ when the margins are equal).
    /// Either way `base_value() + Σ out == probability(x)` up to float rounding (|diff| ≤ 1e-12).
    /// `out` (length `n_features`) is overwritten. Returns the probability, bit-identical to
    /// [`CompiledForest::probability`].
    pub fn contributions(&self, x: &[f64], out: &mut [f64]) -> f64 {
        out.fill(0.0);
        let mut sum = self.link.start();
        // paths[step * LANES + lane]: the node lane `lane` is at before step `step` (its root
        // first); filled by one lockstep walk, so no tree is walked twice.
        let mut paths = vec![0usize; (self.max_depth + 1) * LANES];
        for first in (0..self.roots.len()).step_by(LANES) {
            let lanes = (self.roots.len() - first).min(LANES);
            let mut depth = 0;
            let group = first..first + lanes;
            for (p, (&root, &d)) in paths.iter_mut().zip(self.roots[group.clone()].iter().zip(&self.depths[group])) {
                *p = root as usize;
                depth = depth.max(d as usize);
            }
            for step in 0..depth {
                let (now, then) = paths[step * LANES..].split_at_mut(LANES);
                for j in 0..lanes {
                    then[j] = self.nodes[now[j]].next(now[j], x);
                }
            }
            // Trees in order, each path from the root down: the order of the additions.
            for j in 0..lanes {
                let mut i = paths[j];
                for step in 1..=depth {
                    let next = paths[step * LANES + j];
                    if next == i {
                        break;
                    }
                    out[self.nodes[i].feature as usize] += self.values[next] - self.values[i];
                    i = next;
                }
                sum += self.values[i];
            }
        }
        let p = self.finish(sum);
        match self.link {
            Link::Mean => {
                let count = self.roots.len() as f64;
                out.iter_mut().for_each(|c| *c /= count);
            }
            Link::Logistic { .. } => {
                let d = sum - self.base_margin;
                let scale =
                    if d != 0.0 { (p - self.base_value) / d } else { self.base_value * (1.0 - self.base_value) };
                out.iter_mut().for_each(|c| *c *= scale);
            }
        }
        p
    }

    /// Walks tree `t` in preorder, for dumps (`churn inspect --trees`).
    pub fn visit_tree(&self, t: usize, mut f: impl FnMut(NodeView)) {
        let start = self.roots[t] as usize;
        let end = self.roots.get(t + 1).map_or(self.nodes.len(), |&r| r as usize);
        for i in start..end {
            let n = self.nodes[i];
            let id = i - start;
            f(if n.is_leaf(i) {
                NodeView::Leaf { id, value: self.values[i] }
            } else {
                NodeView::Split {
                    id,
                    feature: n.feature as usize,
                    threshold: n.threshold,
                    left: id + 1,
                    right: n.right as usize - start,
                    value: self.values[i],
                }
            });
        }
    }

    /// Number of nodes, leaves, and the deepest leaf's depth (root = 0).
    pub fn shape(&self) -> (usize, usize, usize) {
        let leaves = self.nodes.iter().enumerate().filter(|(i, n)| n.is_leaf(*i)).count();
        (self.nodes.len(), leaves, self.max_depth)
    }

    fn tree_depth(&self, t: usize) -> u32 {
        let mut max_depth = 0;
        let mut stack = vec![(self.roots[t] as usize, 0u32)];
        while let Some((i, d)) = stack.pop() {
            let n = self.nodes[i];
            if n.is_leaf(i) {
                max_depth = max_depth.max(d);
            } else {
                stack.push((i + 1, d + 1));
                stack.push((n.right as usize, d + 1));
            }
        }
        max_depth
    }
}

/// A node as shown by [`CompiledForest::visit_tree`]; ids are positions within the tree.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NodeView {
    Leaf { id: usize, value: f64 },
    Split { id: usize, feature: usize, threshold: f64, left: usize, right: usize, value: f64 },
}

/// Walks the continued fraction of `mant / 2^shift` (== `x`) in integer type `$t`, returning
/// the first convergent that divides back to `x` exactly, or None once its denominator passes
/// u32::MAX.
macro_rules! convergents {
    ($t:ty, $mant:expr, $x:expr, $shift:expr) => {{
        let (mut p, mut q) = ($mant as $t, (1 as $t) << $shift);
        let (mut h0, mut h1): ($t, $t) = (0, 1);
        let (mut k0, mut k1): ($t, $t) = (1, 0);
        loop {
            if q == 0 {
                break None;
            }
            let a = p / q;
            (p, q) = (q, p % q);
            (h0, h1) = (h1, a * h1 + h0);
            (k0, k1) = (k1, a * k1 + k0);
            if k1 > u32::MAX as $t {
                break None;
            }
            if h1 as f64 / k1 as f64 == $x {
                break Some((h1 as u32, k1 as u32));
            }
        }
    }};
}

/// Finds counts `num ≤ den` with `num as f64 / den as f64 == x` bit for bit, if any fits in u32.
///
/// A tree node's value is (in-bag churners) / (in-bag rows), a division of two integers. By
/// Legendre's theorem that reduced fraction is a convergent of the continued fraction of `x`
/// (|x − a/b| ≤ ulp/2 < 1/(2b²) for b < 2^26), so walking the convergents finds it.
pub fn as_ratio(x: f64) -> Option<(u32, u32)> {
    if !(0.0..=1.0).contains(&x) {
        return None;
    }
    if x == 0.0 {
        return Some((0, 1));
    }
    // x = mant / 2^shift exactly.
    let bits = x.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i64;
    let (mant, e) =
        if exp == 0 { (bits & ((1 << 52) - 1), -1074i64) } else { ((bits & ((1 << 52) - 1)) | (1 << 52), exp - 1075) };
    let shift = -e;
    if !(0..=126).contains(&shift) {
        return None;
    }
    // The convergents' denominators never exceed 2^shift, so u64 holds every step when
    // shift <= 63 (values >= 2^-11: nearly every node); u128 division is several times slower.
    if shift <= 63 {
        convergents!(u64, mant, x, shift)
    } else {
        convergents!(u128, mant, x, shift)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// x0 <= 0.5 ? (x1 <= 2.5 ? 1/4 : 3/4) : 1/3 ; root value 4/10.
    fn small_tree() -> Vec<BuildNode> {
        vec![
            BuildNode::Split { feature: 0, threshold: 0.5, value: 0.4, left: 2, right: 1 },
            BuildNode::Leaf { value: 1.0 / 3.0 },
            BuildNode::Split { feature: 1, threshold: 2.5, value: 0.5, left: 3, right: 4 },
            BuildNode::Leaf { value: 0.25 },
            BuildNode::Leaf { value: 0.75 },
        ]
    }

    #[test]
    fn ratios_are_recovered_exactly() {
        for den in 1..400u32 {
            for num in 0..=den {
                let x = num as f64 / den as f64;
                let (a, b) = as_ratio(x).unwrap();
                assert_eq!((a as f64 / b as f64).to_bits(), x.to_bits(), "{num}/{den}");
            }
        }
        let x = 1234.0 / 5634.0;
        let (a, b) = as_ratio(x).unwrap();
        assert_eq!(a as f64 / b as f64, x);
        // 0.1 + 0.2 is no small ratio, but some convergent may still round to it: no panic.
        let _ = as_ratio(0.1 + 0.2);
        assert_eq!(as_ratio(-0.5), None);
        assert_eq!(as_ratio(f64::NAN), None);
        // Below 2^-11 the walk runs in u128.
        for (num, den) in [(1u32, 5000u32), (3, 100_000), (1, 4_000_000_000)] {
            let x = num as f64 / den as f64;
            assert_eq!(as_ratio(x), Some((num, den)), "{num}/{den}");
        }
    }

    #[test]
    fn u64_and_u128_walks_agree() {
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        for i in 0..200_000u32 {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            // Ratios of counts, and arbitrary doubles in [2^-11, 1].
            let x = if i % 2 == 0 {
                let den = (s >> 40) as u32 % 100_000 + 1;
                (s as u32 % (den + 1)) as f64 / den as f64
            } else {
                f64::from_bits(s >> 12 | 0x3FF0_0000_0000_0000) - 1.0
            };
            if x < 1.0 / 2048.0 {
                continue;
            }
            let bits = x.to_bits();
            let (mant, shift) = ((bits & ((1 << 52) - 1)) | (1 << 52), 1075 - ((bits >> 52) & 0x7ff) as i64);
            assert_eq!(convergents!(u64, mant, x, shift), convergents!(u128, mant, x, shift), "{x}");
        }
    }

    #[test]
    fn build_lays_out_preorder_and_traverses() {
        let f = Forest::build(2, &[small_tree()]).unwrap();
        assert_eq!(f.split_feature, vec![1, 2, 0, 0, 0]);
        assert_eq!(f.right_offset, vec![4, 2]);
        assert_eq!(f.thresholds, vec![vec![0.5], vec![2.5]]);
        let c = f.compile().unwrap();
        assert_eq!(c.probability(&[0.5, 2.5]), 0.25); // both "<=" go left
        assert_eq!(c.probability(&[0.0, 3.0]), 0.75);
        assert_eq!(c.probability(&[0.6, 0.0]), 1.0 / 3.0);
        assert_eq!(c.shape(), (5, 3, 2));
    }

    #[test]
    fn mean_sums_in_tree_order_and_batches_agree() {
        let f = Forest::build(2, &[small_tree(), small_tree(), vec![BuildNode::Leaf { value: 0.1 }]]).unwrap();
        let c = f.compile().unwrap();
        // (0.75 + 0.75 + 0.1) / 3
        assert_eq!(c.probability(&[0.0, 3.0]), (0.75 + 0.75 + 0.1) / 3.0);
        let m = [0.0, 3.0, 0.6, 0.0, 0.5, 2.5];
        let mut out = [0.0; 3];
        c.probabilities(&m, &mut out);
        for r in 0..3 {
            assert_eq!(out[r].to_bits(), c.probability(&m[r * 2..r * 2 + 2]).to_bits());
        }
    }

    #[test]
    fn contributions_add_up() {
        let c = Forest::build(2, &[small_tree()]).unwrap().compile().unwrap();
        let mut out = [0.0; 2];
        let p = c.contributions(&[0.0, 3.0], &mut out);
        // root 0.4 → left (0.5): feature 0 gets +0.1; → right leaf (0.75): feature 1 gets +0.25.
        assert_eq!(p, 0.75);
        assert!((out[0] - 0.1).abs() < 1e-15 && (out[1] - 0.25).abs() < 1e-15);
        assert!((c.base_value() + out[0] + out[1] - p).abs() <= 1e-12);
    }

    /// A chain: every split's right child is a leaf, `depth` splits deep.
    fn chain(depth: usize) -> Vec<BuildNode> {
        let mut t = Vec::new();
        for d in 0..depth {
            t.push(BuildNode::Split { feature: 0, threshold: d as f64, value: 0.5, left: 2 * d + 2, right: 2 * d + 1 });
            t.push(BuildNode::Leaf { value: 0.25 });
        }
        t.push(BuildNode::Leaf { value: 0.75 });
        t
    }

    #[test]
    fn deep_trees_score_and_explain_up_to_the_limit() {
        let c = Forest::build(1, &[chain(MAX_DEPTH), small_tree_1f()]).unwrap().compile().unwrap();
        assert_eq!(c.shape().2, MAX_DEPTH);
        let x = [-1.0]; // left at every split: the deepest leaf
        let mut out = [0.0];
        let p = c.contributions(&x, &mut out);
        assert_eq!(p.to_bits(), c.probability(&x).to_bits());
        assert_eq!(p, (0.75 + 1.0) / 2.0);
        assert!((c.base_value() + out[0] - p).abs() <= 1e-12);
        let e = Forest::build(1, &[chain(MAX_DEPTH + 1)]).unwrap().compile().unwrap_err();
        assert_eq!(e.to_string(), format!("forest: tree 0 is {} deep (at most {MAX_DEPTH})", MAX_DEPTH + 1));
    }

    /// x0 <= 300 ? 1 : 0, root value 1/2.
    fn small_tree_1f() -> Vec<BuildNode> {
        vec![
            BuildNode::Split { feature: 0, threshold: 300.0, value: 0.5, left: 1, right: 2 },
            BuildNode::Leaf { value: 1.0 },
            BuildNode::Leaf { value: 0.0 },
        ]
    }

    #[test]
    fn malformed_forests_are_refused() {
        let good = Forest::build(2, &[small_tree()]).unwrap();
        let mut f = good.clone();
        f.right_offset[0] = 1;
        assert!(f.compile().is_err());
        let mut f = good.clone();
        f.right_offset[1] = 9;
        assert!(f.compile().is_err());
        let mut f = good.clone();
        f.split_feature[1] = 7;
        assert!(f.compile().is_err());
        let mut f = good.clone();
        f.value_den[2] = 0;
        assert!(f.compile().is_err());
        let mut f = good.clone();
        f.tree_sizes = vec![3, 2];
        assert!(f.compile().is_err());
        let mut f = good;
        f.split_feature = vec![1, 0, 2, 0, 0]; // right offsets now point into the wrong subtree
        assert!(f.compile().is_err());
    }

    /// Two boosted trees: x0 <= 0.5 ? -0.4 : 0.6 (mean 0.1), and x1 <= 2.5 ? 0.3 : -0.2 (mean 0.05).
    fn boosted() -> Boosted {
        let t1 = vec![
            BuildNode::Split { feature: 0, threshold: 0.5, value: 0.1, left: 1, right: 2 },
            BuildNode::Leaf { value: -0.4 },
            BuildNode::Leaf { value: 0.6 },
        ];
        let t2 = vec![
            BuildNode::Split { feature: 1, threshold: 2.5, value: 0.05, left: 1, right: 2 },
            BuildNode::Leaf { value: 0.3 },
            BuildNode::Leaf { value: -0.2 },
        ];
        Boosted::build(2, -1.0, &[t1, t2]).unwrap()
    }

    #[test]
    fn boosted_trees_use_the_logistic_link_and_explain_additively() {
        let c = boosted().compile().unwrap();
        assert_eq!(c.link(), Link::Logistic { base: -1.0 });
        // Stumps, which batches score by their own path: equal to a threshold goes left, NaN right.
        for x in [[0.0, 0.0], [1.0, 0.0], [0.0, 3.0], [1.0, 3.0], [0.5, 2.5], [f64::NAN, f64::NAN]] {
            let leaf0 = if x[0] <= 0.5 { -0.4 } else { 0.6 };
            let leaf1 = if x[1] <= 2.5 { 0.3 } else { -0.2 };
            // base + trees, added in tree order, then the one sigmoid.
            let p = sigmoid(-1.0 + leaf0 + leaf1);
            assert_eq!(c.probability(&x).to_bits(), p.to_bits());
            let mut batch = [0.0];
            c.probabilities(&x, &mut batch);
            assert_eq!(batch[0].to_bits(), p.to_bits());
            let mut out = [0.0; 2];
            assert_eq!(c.contributions(&x, &mut out).to_bits(), p.to_bits());
            assert!((c.base_value() + out[0] + out[1] - p).abs() <= 1e-12);
            // Each feature's share keeps the sign of its margin change.
            assert_eq!(out[0] > 0.0, leaf0 > 0.1);
            assert_eq!(out[1] > 0.0, leaf1 > 0.05);
        }
        assert_eq!(c.base_value().to_bits(), sigmoid(-1.0 + 0.1 + 0.05).to_bits());
        // libm's exp, the same on every target: these bits are the contract (docs/FORMAT.md).
        assert_eq!(sigmoid(0.0), 0.5);
        assert_eq!(sigmoid(-0.55).to_bits(), 0x3FD7_6A52_8DD8_4134_u64);
    }

    #[test]
    fn boosted_values_must_be_finite_and_bounded() {
        let leaf = |value| vec![BuildNode::Leaf { value }];
        assert!(Boosted::build(1, 0.0, &[leaf(1024.0)]).is_ok());
        for bad in [1024.5, -2000.0, f64::NAN, f64::INFINITY] {
            assert!(Boosted::build(1, 0.0, &[leaf(bad)]).is_err(), "{bad}");
            assert!(Boosted::build(1, bad, &[leaf(0.0)]).is_err(), "base {bad}");
            let mut b = boosted();
            b.values[1] = bad;
            assert!(b.compile().is_err(), "{bad}");
        }
        let mut b = boosted();
        b.values.pop();
        assert!(b.compile().unwrap_err().to_string().contains("array lengths disagree"));
    }
}

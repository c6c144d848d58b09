//! Training: smartcore probability forests on all cores, converted to the core's flat forest
//! and checked against smartcore's own predictions before anything is written.
//!
//! Why `RandomForestRegressor` on 0/1 labels (see docs/TRAINING.md): MSE on 0/1 targets is the Gini
//! criterion, every leaf holds its in-bag churn rate (a real probability, not a vote), and its
//! split search has no defect on tied values, unlike smartcore 0.7's classifier.
//!
//! Parallelism: the forest is cut into fixed chunks of [`CHUNK_TREES`] trees, each trained with
//! its own seed derived from the user's seed and the chunk number. The chunk layout depends only
//! on the tree count, so the result is the same whatever the number of cores.

use std::borrow::Cow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use inference_wasm::{BuildNode, Forest};
use serde::ser::{self, Serialize, Serializer};
use smartcore::ensemble::random_forest_regressor::{RandomForestRegressor, RandomForestRegressorParameters};
use smartcore::linalg::basic::matrix::DenseMatrix;

use crate::data::{par_map, SplitMix64};
use crate::output::Spans;

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
    /// Check the export against smartcore on this many evenly spread training rows, not on
    /// every row (None).
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
    // The rows the export is checked on: every row, or every k-th row if fewer are asked for.
    // (Unchecked: one row, smartcore's predictions of it unused.)
    let stride = if p.unchecked { rows } else { p.verify_rows.map_or(1, |n| rows.div_ceil(n.max(1))) };
    // (By default every row: then the check rows are `x` itself, not a copy of it.)
    let check_x: Cow<[f64]> = if stride == 1 {
        Cow::Borrowed(x)
    } else {
        (0..rows).step_by(stride).flat_map(|r| x[r * n_features..(r + 1) * n_features].iter().copied()).collect()
    };
    let check = DenseMatrix::new(check_x.len() / n_features, n_features, check_x.to_vec(), false)
        .map_err(|e| anyhow!("building the check matrix: {e}"))?;
    let chunks = p.trees.div_ceil(CHUNK_TREES);
    spans.mark("matrices");
    let timings = spans.started();
    let inputs = Inputs { x: &matrix, y: &yf, check: &check, n_features };
    // Two kinds of task: fitting a chunk (long), then reading it out and predicting the check
    // rows with it (short). Fits go first; the short tasks fill in as fits end, so the threads
    // finish close together instead of one waiting a whole fit for the other.
    let queue =
        Mutex::new(Queue { next_fit: 0, fitting: 0, fitted: Vec::new(), results: (0..chunks).map(|_| None).collect() });
    let fitted = Condvar::new();
    let done = AtomicUsize::new(0);
    let trees_in = |c: usize| CHUNK_TREES.min(p.trees - c * CHUNK_TREES);
    let context = |c: usize| format!("training trees {}..{}", c * CHUNK_TREES, c * CHUNK_TREES + trees_in(c));
    std::thread::scope(|s| {
        for _ in 0..threads.clamp(1, chunks.max(1)) {
            s.spawn(|| {
                let mut q = queue.lock().unwrap();
                loop {
                    if q.next_fit < chunks {
                        let c = q.next_fit;
                        q.next_fit += 1;
                        q.fitting += 1;
                        drop(q);
                        let started = Instant::now();
                        // A panic inside smartcore becomes this chunk's error: the other thread
                        // may be waiting for this fit and must not wait forever.
                        let rf = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            fit_chunk(&inputs, p, trees_in(c), chunk_seed(p.seed, c))
                        }))
                        .unwrap_or_else(|_| Err(anyhow!("smartcore panicked while fitting")));
                        if let Some(t0) = timings {
                            eprintln!("timing   fit {c} on {:?}: {}", std::thread::current().id(), span(t0, started));
                        }
                        progress(done.fetch_add(trees_in(c), Ordering::Relaxed) + trees_in(c));
                        q = queue.lock().unwrap();
                        q.fitting -= 1;
                        match rf {
                            Ok(rf) => q.fitted.push((c, rf)),
                            Err(e) => q.results[c] = Some(Err(e.context(context(c)))),
                        }
                        fitted.notify_all();
                    } else if let Some((c, rf)) = q.fitted.pop() {
                        drop(q);
                        let started = Instant::now();
                        let out = read_chunk(&inputs, &rf, trees_in(c)).with_context(|| context(c));
                        drop(rf);
                        if let Some(t0) = timings {
                            eprintln!("timing   read {c} on {:?}: {}", std::thread::current().id(), span(t0, started));
                        }
                        q = queue.lock().unwrap();
                        q.results[c] = Some(out);
                    } else if q.fitting > 0 {
                        q = fitted.wait(q).unwrap();
                    } else {
                        break;
                    }
                }
            });
        }
    });
    let results = queue.into_inner().unwrap().results;
    spans.mark("fit+predict+read");
    let mut trees = Vec::with_capacity(p.trees);
    let mut predictions = Vec::with_capacity(chunks);
    let mut importances = vec![0.0; n_features];
    for r in results {
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
    if !p.unchecked {
        verify(&forest, &check_x, n_features, stride, &predictions, threads)?;
    }
    spans.mark("verify");
    Ok(Trained { forest, importances })
}

/// What every chunk trains on: the training matrix and labels, and the rows smartcore predicts
/// for the export check.
struct Inputs<'a> {
    x: &'a DenseMatrix<f64>,
    y: &'a Vec<f64>,
    check: &'a DenseMatrix<f64>,
    n_features: usize,
}

type Rf = RandomForestRegressor<f64, f64, DenseMatrix<f64>, Vec<f64>>;
type ChunkOut = (Vec<Vec<BuildNode>>, Vec<f64>, Vec<f64>);

/// The chunks' tasks: next chunk to fit, fits running, fitted chunks not yet read, results.
struct Queue {
    next_fit: usize,
    fitting: usize,
    fitted: Vec<(usize, Rf)>,
    results: Vec<Option<Result<ChunkOut>>>,
}

/// "start .. end ms (duration)" since `t0`, for the CHURN_TIMINGS lines.
fn span(t0: Instant, started: Instant) -> String {
    let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e3;
    let now = Instant::now();
    format!("{:7.2} .. {:7.2} ms ({:6.2} ms)", ms(t0, started), ms(t0, now), ms(started, now))
}

/// One chunk's smartcore forest.
fn fit_chunk(&Inputs { x, y, n_features, .. }: &Inputs, p: &ForestParams, n_trees: usize, seed: u64) -> Result<Rf> {
    let params = RandomForestRegressorParameters::default()
        .with_n_trees(n_trees)
        // smartcore counts the root as level 1; our depth counts splits (as scikit-learn does).
        .with_max_depth(p.max_depth.saturating_add(1))
        .with_min_samples_leaf(p.min_samples_leaf)
        .with_min_samples_split(p.min_samples_split)
        .with_m(p.mtry.min(n_features))
        .with_seed(seed);
    Rf::fit(x, y, params).map_err(|e| anyhow!("smartcore: {e}"))
}

/// A fitted chunk's trees, smartcore's own predictions for the check rows, and its importances.
fn read_chunk(&Inputs { check, .. }: &Inputs, rf: &Rf, n_trees: usize) -> Result<ChunkOut> {
    let predicted = rf.predict(check).map_err(|e| anyhow!("smartcore predict: {e}"))?;
    let importances = rf.compute_feature_importances().map_err(|e| anyhow!("smartcore importances: {e}"))?;
    let mut reader = TreeReader::default();
    rf.serialize(&mut reader).map_err(|e| anyhow!("reading smartcore's trees: {e}"))?;
    if reader.trees.len() != n_trees {
        bail!("reading smartcore's trees: found {} trees, expected {n_trees}", reader.trees.len());
    }
    let trees = reader
        .trees
        .into_iter()
        .map(|t| {
            t.into_iter()
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

/// The fields of a smartcore tree node that the export needs.
#[derive(Default)]
struct SNode {
    output: f64,
    split_feature: usize,
    split_value: Option<f64>,
    true_child: Option<usize>,
    false_child: Option<usize>,
}

/// smartcore's trees and nodes are private; its `serde` feature is the way to read them. This
/// serializer reads them straight out of `Serialize`: it keeps the fields of every `Node`
/// struct, by name, grouped by `BaseTree`, and skips everything else (no intermediate document).
#[derive(Default)]
struct TreeReader {
    /// Names of the structs being serialized, innermost last.
    structs: Vec<&'static str>,
    field: &'static str,
    node: SNode,
    tree: Vec<SNode>,
    trees: Vec<Vec<SNode>>,
}

#[derive(Debug)]
struct ReadError(String);

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for ReadError {}
impl ser::Error for ReadError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        ReadError(msg.to_string())
    }
}

impl TreeReader {
    fn in_node(&self) -> bool {
        self.structs.last() == Some(&"Node")
    }

    fn start(&mut self, name: &'static str) {
        match name {
            "Node" => self.node = SNode::default(),
            "BaseTree" => self.tree = Vec::new(),
            _ => {}
        }
        self.structs.push(name);
    }

    fn end(&mut self) {
        match self.structs.pop() {
            Some("Node") => self.tree.push(std::mem::take(&mut self.node)),
            Some("BaseTree") => self.trees.push(std::mem::take(&mut self.tree)),
            _ => {}
        }
    }

    fn field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result<(), ReadError> {
        let outer = std::mem::replace(&mut self.field, key);
        value.serialize(&mut *self)?;
        self.field = outer;
        Ok(())
    }
}

/// Serializer methods for values the reader skips.
macro_rules! skip {
    ($($f:ident($t:ty)),* $(,)?) => {
        $(fn $f(self, _: $t) -> Result<(), ReadError> { Ok(()) })*
    };
}

impl Serializer for &mut TreeReader {
    type Ok = ();
    type Error = ReadError;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    skip!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_f32(f32),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_unit_struct(&'static str),
    );

    fn serialize_u64(self, v: u64) -> Result<(), ReadError> {
        if self.in_node() {
            match self.field {
                "split_feature" => self.node.split_feature = v as usize,
                "true_child" => self.node.true_child = Some(v as usize),
                "false_child" => self.node.false_child = Some(v as usize),
                _ => {}
            }
        }
        Ok(())
    }

    fn serialize_f64(self, v: f64) -> Result<(), ReadError> {
        if self.in_node() {
            match self.field {
                "output" => self.node.output = v,
                "split_value" => self.node.split_value = Some(v),
                _ => {}
            }
        }
        Ok(())
    }

    fn serialize_none(self) -> Result<(), ReadError> {
        Ok(())
    }

    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<(), ReadError> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), ReadError> {
        Ok(())
    }

    fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Result<(), ReadError> {
        Ok(())
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, _: &'static str, value: &T) -> Result<(), ReadError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        value: &T,
    ) -> Result<(), ReadError> {
        value.serialize(self)
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self, ReadError> {
        Ok(self)
    }

    fn serialize_tuple(self, _: usize) -> Result<Self, ReadError> {
        Ok(self)
    }

    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self, ReadError> {
        Ok(self)
    }

    fn serialize_tuple_variant(self, _: &'static str, _: u32, _: &'static str, _: usize) -> Result<Self, ReadError> {
        Ok(self)
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self, ReadError> {
        Ok(self)
    }

    fn serialize_struct(self, name: &'static str, _: usize) -> Result<Self, ReadError> {
        self.start(name);
        Ok(self)
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Self, ReadError> {
        self.start(variant);
        Ok(self)
    }
}

/// Sequences and tuples: each element is read in turn.
macro_rules! read_elements {
    ($($trait:ident :: $method:ident),*) => {$(
        impl ser::$trait for &mut TreeReader {
            type Ok = ();
            type Error = ReadError;
            fn $method<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), ReadError> {
                value.serialize(&mut **self)
            }
            fn end(self) -> Result<(), ReadError> {
                Ok(())
            }
        }
    )*};
}
read_elements!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

impl ser::SerializeMap for &mut TreeReader {
    type Ok = ();
    type Error = ReadError;
    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<(), ReadError> {
        key.serialize(&mut **self)
    }
    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), ReadError> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<(), ReadError> {
        Ok(())
    }
}

/// Structs: named fields.
macro_rules! read_fields {
    ($($trait:ident),*) => {$(
        impl ser::$trait for &mut TreeReader {
            type Ok = ();
            type Error = ReadError;
            fn serialize_field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result<(), ReadError> {
                self.field(key, value)
            }
            fn end(self) -> Result<(), ReadError> {
                TreeReader::end(self);
                Ok(())
            }
        }
    )*};
}
read_fields!(SerializeStruct, SerializeStructVariant);

/// The exported forest must give, for every checked training row and every chunk, exactly (bit
/// for bit) the mean smartcore predicts for that chunk (`predictions`, one vector per chunk):
/// same trees, same leaves, same summation order. The check rows `x` are every `stride`-th
/// training row. Chunks are checked on all threads, with the core's batch path (bit-identical
/// to scoring one row at a time).
fn verify(
    forest: &Forest,
    x: &[f64],
    n_features: usize,
    stride: usize,
    predictions: &[Vec<f64>],
    threads: usize,
) -> Result<()> {
    let compiled = forest.compile().context("the converted forest does not load")?;
    let rows = predictions.first().map_or(0, |p| p.len());
    let x = &x[..rows * n_features];
    let chunks: Vec<usize> = (0..predictions.len()).collect();
    // The first mismatch in chunk order is the one reported.
    par_map(&chunks, threads, |&c| -> Result<()> {
        let (pred, start) = (&predictions[c], c * CHUNK_TREES);
        let end = (start + CHUNK_TREES).min(compiled.n_trees());
        let mut got = vec![0.0; rows];
        compiled.means_over(start..end, x, &mut got);
        if let Some(r) = (0..rows).find(|&r| got[r].to_bits() != pred[r].to_bits()) {
            bail!(
                "internal check failed: the flat forest gives {} for training row {} in trees {start}..{end}, smartcore {}; no file written",
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

    #[test]
    fn tree_reader_reads_what_serde_json_sees() {
        let (x, y) = data(300);
        let matrix = DenseMatrix::new(300, 4, x.clone(), false).unwrap();
        let yf: Vec<f64> = y.iter().map(|&b| b as u8 as f64).collect();
        let inputs = Inputs { x: &matrix, y: &yf, check: &matrix, n_features: 4 };
        let rf = fit_chunk(&inputs, &params(7), 7, 3).unwrap();
        let (trees, predicted, _) = read_chunk(&inputs, &rf, 7).unwrap();
        // The same trees through a full JSON document of smartcore's serde form.
        let doc = serde_json::to_value(&rf).unwrap();
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
        let mut predictions = vec![per_chunk(0..50), per_chunk(50..60)];
        verify(&trained.forest, &check, 4, 3, &predictions, 2).unwrap();
        // One ulp off in the second chunk's 8th check row (training row 21).
        predictions[1][7] = f64::from_bits(predictions[1][7].to_bits() + 1);
        let err = verify(&trained.forest, &check, 4, 3, &predictions, 2).unwrap_err().to_string();
        assert!(err.contains("training row 21 in trees 50..60"), "{err}");
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

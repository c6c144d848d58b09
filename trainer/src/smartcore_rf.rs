//! The reference for the random forest's trees: smartcore 0.7.0's own `RandomForestRegressor`,
//! unpatched, fitted and read out exactly as `churn train` did before `grow.rs`. `train::tests`
//! checks that `grow.rs` gives the same trees, importances and predictions; `churn train` uses
//! it instead of `grow.rs` when `CHURN_RF_ENGINE=smartcore` is set (to compare the two on
//! large files: same model file, time, memory; see docs/TRAINING.md).

use anyhow::{anyhow, bail, Result};
use inference_wasm::BuildNode;
use serde::ser::{self, Serialize, Serializer};
use smartcore::ensemble::random_forest_regressor::{RandomForestRegressor, RandomForestRegressorParameters};
use smartcore::linalg::basic::matrix::DenseMatrix;

use crate::train::ForestParams;

/// One chunk of `n_trees` trees fitted by smartcore with seed `seed` on `x` (row-major) and `y`,
/// as `churn train` fitted each chunk: its trees, its predictions for the rows `check`
/// (row-major) and its importances.
pub fn smartcore_chunk(
    x: &[f64],
    n_features: usize,
    y: &[bool],
    check: &[f64],
    p: &ForestParams,
    n_trees: usize,
    seed: u64,
) -> Result<ChunkOut> {
    let rows = y.len();
    let by_column: Vec<f64> = (0..n_features).flat_map(|j| (0..rows).map(move |r| x[r * n_features + j])).collect();
    let matrix = DenseMatrix::new(rows, n_features, by_column, true).map_err(|e| anyhow!("{e}"))?;
    let check =
        DenseMatrix::new(check.len() / n_features, n_features, check.to_vec(), false).map_err(|e| anyhow!("{e}"))?;
    let yf: Vec<f64> = y.iter().map(|&b| if b { 1.0 } else { 0.0 }).collect();
    let inputs = Inputs { x: &matrix, y: &yf, check: &check, n_features };
    let rf = fit_chunk(&inputs, p, n_trees, seed)?;
    read_chunk(&inputs, &rf, n_trees)
}

/// smartcore's forest as a JSON document (serde), to check `TreeReader` against.
#[cfg(test)]
pub fn smartcore_json(
    x: &[f64],
    n_features: usize,
    y: &[bool],
    p: &ForestParams,
    n_trees: usize,
    seed: u64,
) -> serde_json::Value {
    let rows = y.len();
    let matrix = DenseMatrix::new(rows, n_features, x.to_vec(), false).unwrap();
    let yf: Vec<f64> = y.iter().map(|&b| b as u8 as f64).collect();
    let inputs = Inputs { x: &matrix, y: &yf, check: &matrix, n_features };
    serde_json::to_value(fit_chunk(&inputs, p, n_trees, seed).unwrap()).unwrap()
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
pub type ChunkOut = (Vec<Vec<BuildNode>>, Vec<f64>, Vec<f64>);

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

//! Arrow tables in and out through the C stream interface, scored by the core.
//!
//! A table's columns are read where they lie (no copy, no Python object per row): each cell
//! becomes the core's [`Value`] (a number, a text, null), the same value a CSV cell or a JSON
//! field becomes on the other surfaces, and the core encodes and scores it. Rows are split
//! between threads; results keep the table's order.

use std::sync::Arc;

use arrow_array::builder::{Float64Builder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::ffi_stream::{FFI_ArrowArrayStream, RecordBatchStreamReader};
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, RecordBatchIterator, RecordBatchReader};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use inference_wasm::output::{number, ScoredColumns, ROW_COLUMN};
use inference_wasm::{CsvLayout, Evaluation, Explanation, InputError as CoreInputError, Model, Value};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyCapsule;

use crate::Refused;

/// Why a table could not be scored.
pub enum Failure {
    /// The table itself: a missing column, a type the model cannot read, a broken stream.
    Table(String),
    /// A row the model refused (its index in the table, from 0).
    Row(usize, CoreInputError),
}

impl Failure {
    pub fn into_py_err(self, py: Python<'_>) -> PyErr {
        match self {
            Failure::Table(m) => PyValueError::new_err(m),
            Failure::Row(row, e) => {
                let refused = Refused::Input(e);
                let err = refused.to_err(py, Some(row));
                // The row in the message too: a traceback shows only the message.
                let _ = err.value(py).setattr("args", (format!("row {row}: {}", refused.message()),));
                err
            }
        }
    }
}

fn arrow_err(e: impl std::fmt::Display) -> Failure {
    Failure::Table(format!("reading the table: {e}"))
}

/// Takes the stream out of `table.__arrow_c_stream__()`.
pub fn import_stream(table: &Bound<'_, PyAny>) -> PyResult<RecordBatchStreamReader> {
    if !table.hasattr("__arrow_c_stream__")? {
        let kind = table.get_type().name().map(|n| n.to_string()).unwrap_or_default();
        return Err(PyTypeError::new_err(format!(
            "expected a table (pyarrow Table or RecordBatch, pandas or polars DataFrame), got {kind}"
        )));
    }
    let capsule = table.call_method0("__arrow_c_stream__")?;
    let capsule = capsule
        .cast::<PyCapsule>()
        .map_err(|_| PyTypeError::new_err("__arrow_c_stream__ did not return a PyCapsule"))?;
    let name = c"arrow_array_stream";
    let ptr = capsule.pointer_checked(Some(name))?;
    // SAFETY: the capsule named "arrow_array_stream" holds an FFI_ArrowArrayStream (the
    // Arrow PyCapsule interface). from_raw moves it out and marks the original released, so
    // the capsule's destructor does nothing more.
    let stream = unsafe { FFI_ArrowArrayStream::from_raw(ptr.as_ptr() as *mut FFI_ArrowArrayStream) };
    RecordBatchStreamReader::try_new(stream).map_err(|e| PyValueError::new_err(format!("reading the table: {e}")))
}

/// A PyCapsule holding a stream of `batches` (for `pyarrow.RecordBatchReader.from_stream`).
pub fn export_stream<'py>(
    py: Python<'py>,
    (schema, batches): (SchemaRef, Vec<RecordBatch>),
) -> PyResult<Bound<'py, PyAny>> {
    let reader = RecordBatchIterator::new(batches.into_iter().map(Ok), schema);
    let stream = FFI_ArrowArrayStream::new(Box::new(reader));
    Ok(PyCapsule::new_with_value(py, stream, c"arrow_array_stream")?.into_any())
}

/// One column, read as the core's values.
enum Cells<'a> {
    Null,
    F64(&'a arrow_array::Float64Array),
    F32(&'a arrow_array::Float32Array),
    I64(&'a arrow_array::Int64Array),
    I32(&'a arrow_array::Int32Array),
    I16(&'a arrow_array::Int16Array),
    I8(&'a arrow_array::Int8Array),
    U64(&'a arrow_array::UInt64Array),
    U32(&'a arrow_array::UInt32Array),
    U16(&'a arrow_array::UInt16Array),
    U8(&'a arrow_array::UInt8Array),
    /// Decimal values with their divisor (10^scale).
    Decimal(&'a arrow_array::Decimal128Array, f64),
    Bool(&'a arrow_array::BooleanArray),
    Utf8(&'a arrow_array::StringArray),
    LargeUtf8(&'a arrow_array::LargeStringArray),
    View(&'a arrow_array::StringViewArray),
    /// A dictionary-encoded column (pandas' category, polars' Categorical): each row's key
    /// into the values.
    Dict {
        array: &'a dyn Array,
        keys: Vec<usize>,
        values: Box<Cells<'a>>,
    },
}

impl<'a> Cells<'a> {
    fn new(name: &str, a: &'a dyn Array) -> Result<Cells<'a>, Failure> {
        Ok(match a.data_type() {
            DataType::Null => Cells::Null,
            DataType::Float64 => Cells::F64(a.as_primitive::<Float64Type>()),
            DataType::Float32 => Cells::F32(a.as_primitive::<Float32Type>()),
            DataType::Int64 => Cells::I64(a.as_primitive::<Int64Type>()),
            DataType::Int32 => Cells::I32(a.as_primitive::<Int32Type>()),
            DataType::Int16 => Cells::I16(a.as_primitive::<Int16Type>()),
            DataType::Int8 => Cells::I8(a.as_primitive::<Int8Type>()),
            DataType::UInt64 => Cells::U64(a.as_primitive::<UInt64Type>()),
            DataType::UInt32 => Cells::U32(a.as_primitive::<UInt32Type>()),
            DataType::UInt16 => Cells::U16(a.as_primitive::<UInt16Type>()),
            DataType::UInt8 => Cells::U8(a.as_primitive::<UInt8Type>()),
            // 10^scale is exact as a double up to 10^22, and one division of exact doubles is
            // correctly rounded: 29.85 as decimal(4, 2) gives the double that "29.85" parses to.
            DataType::Decimal128(_, scale) if (0..=22).contains(scale) => {
                Cells::Decimal(a.as_primitive::<Decimal128Type>(), 10f64.powi(i32::from(*scale)))
            }
            DataType::Boolean => Cells::Bool(a.as_boolean()),
            DataType::Utf8 => Cells::Utf8(a.as_string::<i32>()),
            DataType::LargeUtf8 => Cells::LargeUtf8(a.as_string::<i64>()),
            DataType::Utf8View => Cells::View(a.as_string_view()),
            DataType::Dictionary(_, _) => {
                let d = a.as_any_dictionary();
                Cells::Dict {
                    array: a,
                    keys: d.normalized_keys(),
                    values: Box::new(Cells::new(name, d.values().as_ref())?),
                }
            }
            other => {
                return Err(Failure::Table(format!(
                    "column {name:?} has Arrow type {other}, which the model cannot read (use numbers or strings)"
                )))
            }
        })
    }

    /// Row `r` as the core's value: null for a null, and for a float column NaN too (pandas
    /// and NumPy write missing numbers as NaN; the npm package's typed arrays do the same).
    #[inline]
    fn value(&self, r: usize) -> Value<'a> {
        // Null, or `$v` (the array's value at row `r`) turned into a `Value` by `$e`.
        macro_rules! cell {
            ($a:expr, $v:ident => $e:expr) => {
                if $a.is_null(r) {
                    Value::Null
                } else {
                    let $v = $a.value(r);
                    $e
                }
            };
        }
        macro_rules! num {
            ($a:expr) => {
                cell!($a, v => Value::Number(v as f64))
            };
        }
        match self {
            Cells::Null => Value::Null,
            Cells::F64(a) => match (a.is_null(r), a.value(r)) {
                (false, x) if !x.is_nan() => Value::Number(x),
                _ => Value::Null,
            },
            Cells::F32(a) => match (a.is_null(r), a.value(r)) {
                (false, x) if !x.is_nan() => Value::Number(f64::from(x)),
                _ => Value::Null,
            },
            Cells::I64(a) => num!(a),
            Cells::I32(a) => num!(a),
            Cells::I16(a) => num!(a),
            Cells::I8(a) => num!(a),
            Cells::U64(a) => num!(a),
            Cells::U32(a) => num!(a),
            Cells::U16(a) => num!(a),
            Cells::U8(a) => num!(a),
            Cells::Decimal(a, div) => cell!(a, v => Value::Number(v as f64 / div)),
            Cells::Bool(a) => cell!(a, v => Value::Bool(v)),
            Cells::Utf8(a) => cell!(a, v => Value::Text(v)),
            Cells::LargeUtf8(a) => cell!(a, v => Value::Text(v)),
            Cells::View(a) => cell!(a, v => Value::Text(v)),
            Cells::Dict { array, keys, values } => {
                if array.is_null(r) {
                    Value::Null
                } else {
                    values.value(keys[r])
                }
            }
        }
    }
}

/// A value as text (an explanation's `why_k_value`, a label): what a CSV cell would say.
fn text(v: Value<'_>) -> String {
    match v {
        Value::Text(s) => s.to_string(),
        Value::Number(x) => number(x),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

/// Where the model's fields (and optionally the id and the target) are in a table's schema.
struct Layout {
    fields: Vec<usize>,
    id: Option<usize>,
    target: Option<usize>,
}

impl Layout {
    fn new(model: &Model, schema: &Schema, id_column: Option<&str>, target: Option<&str>) -> Result<Layout, Failure> {
        // The columns are found by the same rule as a CSV header's (the core's CsvLayout).
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        let layout = CsvLayout::new(model, &names).map_err(|e| Failure::Table(format!("the table {e}")))?;
        let find = |name: &str| names.iter().position(|n| *n == name);
        let id = match id_column {
            Some(name) => {
                Some(find(name).ok_or_else(|| Failure::Table(format!("the table has no id column {name:?}")))?)
            }
            None => layout.id_column(),
        };
        let target = match target {
            Some(name) => Some(find(name).ok_or_else(|| {
                Failure::Table(format!("the table has no target column {name:?}: metrics need the known outcomes"))
            })?),
            None => None,
        };
        Ok(Layout { fields: layout.field_columns().to_vec(), id, target })
    }

    fn cells<'a>(&self, batch: &'a RecordBatch) -> Result<Vec<Cells<'a>>, Failure> {
        let schema = batch.schema_ref();
        self.fields.iter().map(|&c| Cells::new(schema.field(c).name(), batch.column(c).as_ref())).collect()
    }
}

fn thread_count(threads: usize) -> usize {
    match threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
}

/// Rows encoded and scored at a time: their feature matrix (1,024 × fields × 8 bytes, 152 KB
/// for Telco) stays in the CPU's cache while every tree walks it. One matrix of a whole
/// million-row batch would be streamed from memory once per tree: 3.5× slower with Telco's
/// 234 boosted trees.
const BLOCK: usize = 256;

/// Raw probabilities (and, if `explain > 0`, explanations) of rows `start..start + p.len()`.
fn score_rows(
    model: &Model,
    cells: &[Cells<'_>],
    start: usize,
    p: &mut [f64],
    explain: usize,
) -> Result<Vec<Explanation>, (usize, CoreInputError)> {
    let nf = model.n_features().max(1);
    let mut x = vec![0.0; BLOCK * nf];
    let mut explained = Vec::with_capacity(if explain > 0 { p.len() } else { 0 });
    for (b, ps) in p.chunks_mut(BLOCK).enumerate() {
        let first = start + b * BLOCK;
        let x = &mut x[..ps.len() * nf];
        for (k, row) in x.chunks_mut(nf).enumerate() {
            let r = first + k;
            model.encode(|i, _| cells[i].value(r), row).map_err(|e| (r, e))?;
        }
        model.forest().probabilities(x, ps);
        if explain > 0 {
            explained.extend(x.chunks(nf).map(|row| model.explain_features(row, explain)));
        }
    }
    Ok(explained)
}

/// Raw probabilities of every row of a batch, and their explanations if `explain > 0`, on
/// `threads` threads. A bad row: the first in table order.
fn probabilities(
    model: &Model,
    cells: &[Cells<'_>],
    rows: usize,
    threads: usize,
    explain: usize,
) -> Result<(Vec<f64>, Vec<Explanation>), (usize, CoreInputError)> {
    let mut p = vec![0.0; rows];
    // At least 2,048 rows a thread: below that a thread costs more than it saves.
    let per = rows.div_ceil(threads).max(2048);
    let results: Vec<Result<Vec<Explanation>, (usize, CoreInputError)>> = std::thread::scope(|s| {
        let handles: Vec<_> = p
            .chunks_mut(per)
            .enumerate()
            .map(|(k, ps)| s.spawn(move || score_rows(model, cells, k * per, ps, explain)))
            .collect();
        // A panic in a thread goes on here (PyO3 turns it into a Python exception).
        handles.into_iter().map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
    });
    let mut explained = Vec::with_capacity(if explain > 0 { rows } else { 0 });
    for part in results {
        explained.extend(part?);
    }
    Ok((p, explained))
}

/// Scores every batch of `reader`: the id column (or `row`, numbered from 1), then the
/// columns `churn score` writes.
pub fn score(
    model: &Model,
    reader: RecordBatchStreamReader,
    cols: ScoredColumns,
    id_column: Option<&str>,
    threads: usize,
) -> Result<(SchemaRef, Vec<RecordBatch>), Failure> {
    let threads = thread_count(threads);
    let in_schema = reader.schema();
    let layout = Layout::new(model, &in_schema, id_column, None)?;
    let mut fields = vec![match layout.id {
        Some(c) => in_schema.field(c).clone(),
        None => Field::new(ROW_COLUMN, DataType::Int64, false),
    }];
    for (k, name) in cols.names().into_iter().enumerate() {
        let ty = match k {
            0 => DataType::Float64,
            1 | 2 => DataType::Utf8,
            3 if cols.raw => DataType::Float64,
            _ => match (k - 3 - usize::from(cols.raw)) % 3 {
                2 => DataType::Float64,
                _ => DataType::Utf8,
            },
        };
        // Explanations are null where a model has fewer fields than asked for.
        fields.push(Field::new(name, ty, k >= 3));
    }
    let schema: SchemaRef = Arc::new(Schema::new(fields));
    let mut out = Vec::new();
    let mut first_row = 0usize;
    for batch in reader {
        let batch = batch.map_err(arrow_err)?;
        let rows = batch.num_rows();
        let cells = layout.cells(&batch)?;
        let (p, explained) = probabilities(model, &cells, rows, threads, cols.explain)
            .map_err(|(r, e)| Failure::Row(first_row + r, e))?;
        let mut columns: Vec<ArrayRef> = vec![match layout.id {
            Some(c) => batch.column(c).clone(),
            None => Arc::new(Int64Array::from_iter_values((first_row as i64 + 1)..=(first_row + rows) as i64)),
        }];
        let mut rounded = Vec::with_capacity(rows);
        let mut prediction = StringBuilder::with_capacity(rows, rows * 3);
        let mut risk = StringBuilder::with_capacity(rows, rows * 6);
        for &q in &p {
            let d = model.decide(q);
            rounded.push(d.rounded);
            prediction.append_value(d.prediction());
            risk.append_value(d.risk.as_str());
        }
        columns.push(Arc::new(Float64Array::from(rounded)));
        columns.push(Arc::new(prediction.finish()));
        columns.push(Arc::new(risk.finish()));
        if cols.raw {
            columns.push(Arc::new(Float64Array::from(p)));
        }
        if cols.explain > 0 {
            columns.extend(explanation_columns(model, &cells, &explained, cols.explain));
        }
        out.push(RecordBatch::try_new(schema.clone(), columns).map_err(arrow_err)?);
        first_row += rows;
    }
    Ok((schema, out))
}

/// `why_k`, `why_k_value`, `why_k_contribution` for k = 1..=top.
fn explanation_columns(model: &Model, cells: &[Cells<'_>], explained: &[Explanation], top: usize) -> Vec<ArrayRef> {
    let rows = explained.len();
    let fields = &model.schema().fields;
    let mut out: Vec<ArrayRef> = Vec::with_capacity(top * 3);
    for k in 0..top {
        let mut name = StringBuilder::new();
        let mut value = StringBuilder::new();
        let mut contribution = Float64Builder::with_capacity(rows);
        for (r, e) in explained.iter().enumerate() {
            match e.contributions.get(k) {
                Some(c) => {
                    name.append_value(&fields[c.field].name);
                    value.append_value(text(cells[c.field].value(r)));
                    contribution.append_value(c.contribution);
                }
                None => {
                    name.append_null();
                    value.append_null();
                    contribution.append_null();
                }
            }
        }
        out.push(Arc::new(name.finish()));
        out.push(Arc::new(value.finish()));
        out.push(Arc::new(contribution.finish()));
    }
    out
}

/// Scores every row and gathers the metrics against the target column's labels (the core's
/// label rule: rows whose label is neither value are counted, not used).
pub fn evaluate(
    model: &Model,
    reader: RecordBatchStreamReader,
    target: &str,
    threads: usize,
) -> Result<Evaluation, Failure> {
    let threads = thread_count(threads);
    let layout = Layout::new(model, &reader.schema(), None, Some(target))?;
    let target_column = layout.target.expect("asked for");
    let mut evaluation = Evaluation::new();
    let mut first_row = 0usize;
    for batch in reader {
        let batch = batch.map_err(arrow_err)?;
        let cells = layout.cells(&batch)?;
        let labels = Cells::new(target, batch.column(target_column).as_ref())?;
        let (p, _) = probabilities(model, &cells, batch.num_rows(), threads, 0)
            .map_err(|(r, e)| Failure::Row(first_row + r, e))?;
        for (r, &q) in p.iter().enumerate() {
            // "line" in the note is the row's number counted from 1.
            evaluation.push(&model.schema().target, q, &text(labels.value(r)), (first_row + r + 1) as u64);
        }
        first_row += batch.num_rows();
    }
    Ok(evaluation)
}

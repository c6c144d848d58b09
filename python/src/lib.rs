//! `churn_edge._native`: the scoring core (`inference-wasm`) for Python.
//!
//! Everything that decides a score (encoding, the trees, the risk policy, explanations, the
//! scored columns' names and the metrics) is the core's: this crate only moves values between
//! Python or Arrow and the core. Tables come in and go out through the Arrow C stream interface
//! (`__arrow_c_stream__` PyCapsules), so a pyarrow, pandas or polars table is read column by
//! column with no Python object per row, and scored with the GIL released on every core.

mod arrow_io;

use std::path::PathBuf;

use inference_wasm::output::ScoredColumns;
use inference_wasm::{doc, pyfunc, Doc, Evaluation, InputError as CoreInputError, Model as CoreModel};
// A value of a Python record, owned (the limited API gives strings as copies).
use inference_wasm::OwnedValue as Cell;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString};

pyo3::create_exception!(
    churn_edge,
    InputError,
    PyValueError,
    "A record (or a table's row) the model cannot score. `.row` is its index (None for a single \
     record), `.field` the first field at fault (None when the whole record is wrong), `.message` \
     what is wrong, and `.details` every problem as `{\"row\", \"field\", \"message\"}` dicts. The \
     texts are the same as the CLI's, the npm package's and the Worker's."
);
pyo3::create_exception!(
    churn_edge,
    ModelFileError,
    PyValueError,
    "Bytes that are not a valid churn model file (wrong magic, unsupported version, damaged)."
);

/// A loaded churn model: `Model.load(path)` or `Model.from_bytes(data)`.
#[pyclass(frozen, module = "churn_edge", name = "Model")]
struct Model {
    model: CoreModel,
}

/// Reads an input value from Python.
fn read_cell(v: Option<&Bound<'_, PyAny>>) -> Cell {
    let Some(v) = v else { return Cell::Absent };
    if v.is_none() {
        Cell::Null
    } else if let Ok(b) = v.cast::<PyBool>() {
        Cell::Bool(b.is_true())
    } else if v.is_instance_of::<PyInt>() || v.is_instance_of::<PyFloat>() {
        // An int too large for a double still has a nearest one; NaN is refused by the core.
        v.extract::<f64>().map_or(Cell::Other("a number that is not a double"), Cell::Number)
    } else if let Ok(s) = v.cast::<PyString>() {
        s.to_cow().map_or(Cell::Other("a string that is not valid UTF-8"), |s| Cell::Text(s.into_owned()))
    } else if v.is_instance_of::<PyList>() {
        Cell::Other("a list")
    } else if v.is_instance_of::<PyDict>() {
        Cell::Other("a dict")
    } else {
        // numpy scalars and the like: a float if they say so, else named as an object.
        match v.extract::<f64>() {
            Ok(x) if v.hasattr("__float__").unwrap_or(false) => Cell::Number(x),
            _ => Cell::Other("an object"),
        }
    }
}

/// Why a record was refused: not a mapping at all, or the core's verdict on its fields.
pub(crate) enum Refused {
    NotAMapping(String),
    Input(CoreInputError),
}

impl Refused {
    pub(crate) fn message(&self) -> String {
        match self {
            Refused::NotAMapping(m) => m.clone(),
            Refused::Input(e) => e.to_string(),
        }
    }

    /// `[{row, field, message}]`, as the npm package's `details`.
    fn details<'py>(&self, py: Python<'py>, row: Option<usize>) -> PyResult<Bound<'py, PyList>> {
        let entry = |field: Option<&str>, message: &str| -> PyResult<Bound<'py, PyDict>> {
            let d = PyDict::new(py);
            d.set_item("row", row)?;
            d.set_item("field", field)?;
            d.set_item("message", message)?;
            Ok(d)
        };
        let list = PyList::empty(py);
        match self {
            Refused::NotAMapping(m) => list.append(entry(None, m)?)?,
            Refused::Input(e) => {
                for fe in &e.errors {
                    list.append(entry(Some(&fe.field), &fe.message())?)?;
                }
            }
        }
        Ok(list)
    }

    pub(crate) fn to_err(&self, py: Python<'_>, row: Option<usize>) -> PyErr {
        let err = InputError::new_err(self.message());
        let set = || -> PyResult<()> {
            let v = err.value(py);
            let details = self.details(py, row)?;
            let first_field = match self {
                Refused::Input(e) => e.errors.first().map(|fe| fe.field.clone()),
                Refused::NotAMapping(_) => None,
            };
            v.setattr("row", row)?;
            v.setattr("field", first_field)?;
            v.setattr("message", self.message())?;
            v.setattr("details", details)?;
            Ok(())
        };
        match set() {
            Ok(()) => err,
            Err(e) => e,
        }
    }
}

/// A Python type's name for a message ("a list", "a str"...).
fn kind_of(v: &Bound<'_, PyAny>) -> String {
    if v.is_none() {
        return "None".into();
    }
    let name = v.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "object".into());
    let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
    format!("{article} {name}")
}

/// Turns a core [`Doc`] into plain Python objects (dicts keep the core's key order).
fn to_py<'py>(py: Python<'py>, d: &Doc) -> PyResult<Bound<'py, PyAny>> {
    Ok(match d {
        Doc::Null => py.None().into_bound(py),
        Doc::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Doc::Number(x) if x.is_finite() => PyFloat::new(py, *x).into_any(),
        Doc::Number(_) => py.None().into_bound(py),
        Doc::Count(n) => n.into_pyobject(py)?.into_any(),
        Doc::Text(s) => PyString::new(py, s).into_any(),
        Doc::List(items) => {
            let list = PyList::empty(py);
            for i in items {
                list.append(to_py(py, i)?)?;
            }
            list.into_any()
        }
        Doc::Map(entries) => {
            let dict = PyDict::new(py);
            for (k, v) in entries {
                dict.set_item(*k, to_py(py, v)?)?;
            }
            dict.into_any()
        }
    })
}

impl Model {
    /// The record's value for every field, in schema order.
    fn cells(&self, record: &Bound<'_, PyAny>) -> Result<Vec<Cell>, Refused> {
        let fields = &self.model.schema().fields;
        if let Ok(d) = record.cast::<PyDict>() {
            return Ok(fields.iter().map(|f| read_cell(d.get_item(&f.name).ok().flatten().as_ref())).collect());
        }
        if record.is_instance_of::<PyString>() || !record.hasattr("keys").unwrap_or(false) {
            return Err(Refused::NotAMapping(format!(
                "expected a dict with the customer's fields, got {}",
                kind_of(record)
            )));
        }
        // Any other mapping: a missing key is an absent field.
        Ok(fields.iter().map(|f| read_cell(record.get_item(&f.name).ok().as_ref())).collect())
    }

    fn features(&self, record: &Bound<'_, PyAny>) -> Result<(Vec<f64>, Vec<Cell>), Refused> {
        let cells = self.cells(record)?;
        let mut x = vec![0.0; self.model.n_features()];
        self.model.encode(|i, _| cells[i].value(), &mut x).map_err(Refused::Input)?;
        Ok((x, cells))
    }

    /// `{churn_probability, churn_prediction, risk_level, model_version}`, as the npm package.
    fn result<'py>(&self, py: Python<'py>, p: f64) -> PyResult<Bound<'py, PyDict>> {
        let d = self.model.decide(p);
        let out = PyDict::new(py);
        out.set_item("churn_probability", d.rounded)?;
        out.set_item("churn_prediction", d.prediction())?;
        out.set_item("risk_level", d.risk.as_str())?;
        out.set_item("model_version", &self.model.card().version)?;
        Ok(out)
    }
}

#[pymethods]
impl Model {
    /// Loads a model from the bytes of a model file. Raises `ModelFileError` if they are not
    /// one.
    #[staticmethod]
    fn from_bytes(data: &[u8]) -> PyResult<Model> {
        CoreModel::from_bytes(data).map(|model| Model { model }).map_err(|e| ModelFileError::new_err(e.to_string()))
    }

    /// Loads a model file (`churn train --out PATH`). Raises `OSError` if the file cannot be
    /// read, `ModelFileError` (naming the path) if it is not a model.
    #[staticmethod]
    fn load(path: PathBuf) -> PyResult<Model> {
        let bytes = std::fs::read(&path)?;
        CoreModel::from_bytes(&bytes)
            .map(|model| Model { model })
            .map_err(|e| ModelFileError::new_err(format!("{}: {e}", path.display())))
    }

    /// Scores one customer (a dict of field name → value): `{"churn_probability",
    /// "churn_prediction", "risk_level", "model_version"}`. Raises `InputError` naming every
    /// bad field.
    fn predict<'py>(&self, py: Python<'py>, record: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyDict>> {
        let (x, _) = self.features(record).map_err(|r| r.to_err(py, None))?;
        self.result(py, self.model.probability(&x))
    }

    /// The raw, unrounded probability (bit-identical on every surface).
    fn probability(&self, py: Python<'_>, record: &Bound<'_, PyAny>) -> PyResult<f64> {
        let (x, _) = self.features(record).map_err(|r| r.to_err(py, None))?;
        Ok(self.model.probability(&x))
    }

    /// Scores a list of customers. A bad one gives `{"row", "error", "details"}` in its place
    /// (`row` is its index) instead of raising, as the npm package's `predictBatch`.
    fn predict_batch<'py>(&self, py: Python<'py>, records: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyList>> {
        if records.is_instance_of::<PyString>() || records.is_instance_of::<PyDict>() {
            return Err(PyTypeError::new_err(format!(
                "predict_batch: expected a list of customers, got {}",
                kind_of(records)
            )));
        }
        let iter = records.try_iter().map_err(|_| {
            PyTypeError::new_err(format!("predict_batch: expected a list of customers, got {}", kind_of(records)))
        })?;
        let out = PyList::empty(py);
        for (i, c) in iter.enumerate() {
            let c = c?;
            match self.features(&c) {
                Ok((x, _)) => out.append(self.result(py, self.model.probability(&x))?)?,
                Err(r) => {
                    let d = PyDict::new(py);
                    d.set_item("row", i)?;
                    d.set_item("error", r.message())?;
                    d.set_item("details", r.details(py, Some(i))?)?;
                    out.append(d)?;
                }
            }
        }
        Ok(out)
    }

    /// Why this customer scored as they did: the prediction plus `churn_probability_raw`,
    /// `base_value` and `top_factors: [{field, value, contribution}]`, largest |contribution|
    /// first (`base_value` + every contribution = the raw probability). `top` defaults to 5.
    #[pyo3(signature = (record, top = None))]
    fn explain<'py>(
        &self,
        py: Python<'py>,
        record: &Bound<'py, PyAny>,
        top: Option<usize>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let (x, _) = self.features(record).map_err(|r| r.to_err(py, None))?;
        let e = self.model.explain_features(&x, top.unwrap_or(5));
        let out = self.result(py, e.probability)?;
        out.set_item("churn_probability_raw", e.probability)?;
        out.set_item("base_value", e.base_value)?;
        let factors = PyList::empty(py);
        let fields = &self.model.schema().fields;
        for c in &e.contributions {
            let f = PyDict::new(py);
            let name = &fields[c.field].name;
            f.set_item("field", name)?;
            // The customer's own value, as given.
            let value = match record.cast::<PyDict>() {
                Ok(d) => d.get_item(name)?,
                Err(_) => record.get_item(name).ok(),
            };
            f.set_item("value", value)?;
            f.set_item("contribution", c.contribution)?;
            factors.append(f)?;
        }
        out.set_item("top_factors", factors)?;
        Ok(out)
    }

    /// The input schema: `{"fields": [{"name", "kind", ...}], "id_column", "target"}`.
    #[getter]
    fn schema<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &doc::schema(self.model.schema()))
    }

    /// What is in the model: card, kind, settings, policy, schema, sizes (the dict `churn
    /// inspect --json` prints).
    #[getter]
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &doc::info(&self.model))
    }

    /// The version string results carry as `model_version`.
    #[getter]
    fn model_version(&self) -> String {
        self.model.card().version.clone()
    }

    /// MLflow's model signature of this model, `(inputs, outputs, params)`, as MLflow's JSON
    /// column and param specs (`mlflow.types.Schema.from_json`, `ParamSchema.from_json`): the
    /// same signature `churn train --tracking-uri` writes into the logged `MLmodel`.
    fn mlflow_signature(&self) -> (String, String, String) {
        (pyfunc::signature_inputs(self.model.schema()), pyfunc::signature_outputs(), pyfunc::signature_params())
    }

    /// The names of the scored columns (after the id), as `churn score` writes them.
    #[staticmethod]
    #[pyo3(signature = (raw = false, explain = 0))]
    fn scored_column_names(raw: bool, explain: usize) -> Vec<String> {
        ScoredColumns { raw, explain }.names()
    }

    /// Scores a table: a pyarrow `Table` or `RecordBatch`, a pandas or polars `DataFrame`, or
    /// anything with `__arrow_c_stream__`. Returns the same kind of table with the columns
    /// `churn score` writes: the id column (the model's, or `id_column`; without one, `row`
    /// numbered from 1), `churn_probability` (rounded by the policy), `churn_prediction`,
    /// `risk_level`, with `raw=True` `churn_probability_raw`, and with `explain=k` the top k
    /// factors as `why_i`, `why_i_value`, `why_i_contribution`.
    ///
    /// Columns are matched by name; extra columns are ignored. Numbers may be any integer,
    /// float or decimal type (NaN and null are missing), categories strings or dictionaries.
    /// A row the model refuses raises `InputError` with its index as `.row`. Runs without the
    /// GIL on `threads` threads (0: every core).
    #[pyo3(signature = (table, raw = false, explain = 0, id_column = None, threads = 0))]
    fn score<'py>(
        &self,
        py: Python<'py>,
        table: &Bound<'py, PyAny>,
        raw: bool,
        explain: usize,
        id_column: Option<String>,
        threads: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        let tables = py.import("churn_edge._tables")?;
        let reader = arrow_io::import_stream(&tables.call_method1("to_arrow", (table,))?)?;
        let cols = ScoredColumns { raw, explain };
        let model = &self.model;
        let scored = py.detach(|| arrow_io::score(model, reader, cols, id_column.as_deref(), threads));
        let batches = scored.map_err(|e| e.into_py_err(py))?;
        tables.call_method1("like", (table, arrow_io::export_stream(py, batches)?))
    }

    /// Metrics of a table's rows against their known outcomes in the target column (the
    /// model's, or `target`): the dict `churn evaluate --json` prints (`rows`,
    /// `unusable_labels`, `roc_auc`, `pr_auc`, `accuracy`, ..., `roc`). Labels that are
    /// neither the positive nor the negative value are counted in `unusable_labels`, left out,
    /// and named in a warning.
    #[pyo3(signature = (table, target = None, threads = 0))]
    fn evaluate<'py>(
        &self,
        py: Python<'py>,
        table: &Bound<'py, PyAny>,
        target: Option<String>,
        threads: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        let tables = py.import("churn_edge._tables")?;
        let reader = arrow_io::import_stream(&tables.call_method1("to_arrow", (table,))?)?;
        let model = &self.model;
        let target = target.unwrap_or_else(|| model.schema().target.column.clone());
        let evaluation: Result<Evaluation, arrow_io::Failure> =
            py.detach(|| arrow_io::evaluate(model, reader, &target, threads));
        let evaluation = evaluation.map_err(|e| e.into_py_err(py))?;
        if evaluation.rows() == 0 {
            let note = evaluation.note(model).unwrap_or_else(|| "the table has no rows".into());
            return Err(PyValueError::new_err(format!("evaluate: no row has a usable label: {note}")));
        }
        let out = to_py(py, &evaluation.doc(model))?;
        if let Some(note) = evaluation.note(model) {
            // Warn like the CLI does: the metrics leave those rows out.
            let warnings = py.import("warnings")?;
            warnings.call_method1("warn", (note,))?;
        }
        Ok(out)
    }

    fn __repr__(&self) -> String {
        let card = self.model.card();
        format!(
            "<churn_edge.Model {} {:?}, {} fields, version {}>",
            self.model.kind().short(),
            card.name,
            self.model.n_features(),
            card.version
        )
    }
}

/// The Python module `churn_edge._native`.
#[pymodule]
#[pyo3(name = "_native")]
fn native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Model>()?;
    m.add("InputError", m.py().get_type::<InputError>())?;
    m.add("ModelFileError", m.py().get_type::<ModelFileError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

//! JavaScript bindings (wasm32 only): a thin layer over [`Model`]. It converts JS values into
//! the core's [`Value`]s and results into plain JS objects; every decision (encoding, traversal,
//! policy, explanation) is the core's. Errors are thrown as `Error`s carrying the core's message,
//! plus `details: [{field, message}]` for bad input. Nothing here panics on any input.

use js_sys::{Array, Float64Array, JsString, Object, Reflect};
use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::{Column, InputError, Model, Value};

/// Strings longer than this are not copied into wasm memory: no level or number is that long.
const MAX_TEXT: u32 = 4096;

/// A churn model loaded from the bytes `churn train` wrote.
#[wasm_bindgen]
pub struct ChurnModel {
    model: Model,
    /// The schema's field names as JS strings, made once.
    keys: Vec<JsValue>,
    k: Keys,
}

/// Property names of result objects, made once.
struct Keys {
    probability: JsValue,
    prediction: JsValue,
    risk: JsValue,
    version: JsValue,
    version_value: JsValue,
    error: JsValue,
    row: JsValue,
    details: JsValue,
    field: JsValue,
    message: JsValue,
}

/// An input value copied out of JS.
enum Cell {
    Absent,
    Null,
    Bool(bool),
    Number(f64),
    Text(String),
    Other(&'static str),
}

impl Cell {
    fn read(v: &JsValue) -> Cell {
        if v.is_undefined() {
            Cell::Absent
        } else if v.is_null() {
            Cell::Null
        } else if let Some(x) = v.as_f64() {
            Cell::Number(x)
        } else if v.is_string() {
            let s: &JsString = v.unchecked_ref();
            if s.length() > MAX_TEXT {
                Cell::Other("a string of more than 4096 characters")
            } else {
                s.as_string().map_or(Cell::Other("a string that is not valid UTF-16"), Cell::Text)
            }
        } else if let Some(b) = v.as_bool() {
            Cell::Bool(b)
        } else {
            Cell::Other(kind_of(v))
        }
    }

    fn value(&self) -> Value<'_> {
        match self {
            Cell::Absent => Value::Absent,
            Cell::Null => Value::Null,
            Cell::Bool(b) => Value::Bool(*b),
            Cell::Number(x) => Value::Number(*x),
            Cell::Text(s) => Value::Text(s),
            Cell::Other(k) => Value::Other(k),
        }
    }
}

fn kind_of(v: &JsValue) -> &'static str {
    if v.is_undefined() {
        "undefined"
    } else if v.is_null() {
        "null"
    } else if Array::is_array(v) {
        "an array"
    } else if v.is_function() {
        "a function"
    } else if v.is_bigint() {
        "a bigint"
    } else if v.is_symbol() {
        "a symbol"
    } else if v.is_string() {
        "a string"
    } else if v.as_f64().is_some() {
        "a number"
    } else if v.as_bool().is_some() {
        "a boolean"
    } else {
        "an object"
    }
}

fn set(obj: &Object, key: &JsValue, value: &JsValue) {
    // Setting a property on a fresh plain object cannot fail.
    let _ = Reflect::set(obj, key, value);
}

fn to_js<T: Serialize + ?Sized>(v: &T) -> Result<JsValue, JsError> {
    v.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).map_err(|e| JsError::new(&e.to_string()))
}

impl ChurnModel {
    /// Reads the schema's fields out of a JS object.
    fn cells(&self, customer: &JsValue) -> Result<Vec<Cell>, JsValue> {
        if !customer.is_object() || Array::is_array(customer) || customer.is_function() {
            return Err(self.error(
                &format!("expected an object with the customer's fields, got {}", kind_of(customer)),
                &Array::new(),
            ));
        }
        Ok(self
            .keys
            .iter()
            .map(|k| match Reflect::get(customer, k) {
                Ok(v) => Cell::read(&v),
                // A getter that throws, a revoked proxy...
                Err(_) => Cell::Other("a value that cannot be read"),
            })
            .collect())
    }

    fn features(&self, customer: &JsValue) -> Result<Vec<f64>, JsValue> {
        let cells = self.cells(customer)?;
        let mut x = vec![0.0; self.model.n_features()];
        self.model.encode(|i, _| cells[i].value(), &mut x).map_err(|e| self.input_error(&e))?;
        Ok(x)
    }

    fn details(&self, e: &InputError) -> Array {
        e.errors
            .iter()
            .map(|fe| {
                let d = Object::new();
                set(&d, &self.k.field, &JsValue::from_str(&fe.field));
                set(&d, &self.k.message, &JsValue::from_str(&fe.message()));
                JsValue::from(d)
            })
            .collect()
    }

    /// A JS `Error` with the message and `details: [{field, message}]`.
    fn error(&self, message: &str, details: &Array) -> JsValue {
        let err = js_sys::Error::new(message);
        set(&err, &self.k.details, details);
        err.into()
    }

    fn input_error(&self, e: &InputError) -> JsValue {
        self.error(&e.to_string(), &self.details(e))
    }

    fn result(&self, p: f64) -> Object {
        let d = self.model.decide(p);
        let o = Object::new();
        set(&o, &self.k.probability, &JsValue::from_f64(d.rounded));
        set(&o, &self.k.prediction, &JsValue::from_str(d.prediction()));
        set(&o, &self.k.risk, &JsValue::from_str(d.risk.as_str()));
        set(&o, &self.k.version, &self.k.version_value);
        o
    }
}

#[wasm_bindgen]
impl ChurnModel {
    /// Loads a model file. Throws an `Error` naming what is wrong with the bytes.
    #[wasm_bindgen(constructor)]
    pub fn new(bytes: &[u8]) -> Result<ChurnModel, JsError> {
        let model = Model::from_bytes(bytes).map_err(|e| JsError::new(&e.to_string()))?;
        let keys = model.schema().fields.iter().map(|f| JsValue::from_str(&f.name)).collect();
        let s = JsValue::from_str;
        let k = Keys {
            probability: s("churn_probability"),
            prediction: s("churn_prediction"),
            risk: s("risk_level"),
            version: s("model_version"),
            version_value: s(&model.card().version),
            error: s("error"),
            row: s("row"),
            details: s("details"),
            field: s("field"),
            message: s("message"),
        };
        Ok(ChurnModel { model, keys, k })
    }

    /// Same as `new ChurnModel(bytes)`.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(bytes: &[u8]) -> Result<ChurnModel, JsError> {
        ChurnModel::new(bytes)
    }

    /// Scores one customer: `{churn_probability, churn_prediction, risk_level, model_version}`
    /// with the artifact's policy (probability rounded to its decimals).
    pub fn predict(&self, customer: &JsValue) -> Result<Object, JsValue> {
        let x = self.features(customer)?;
        Ok(self.result(self.model.probability(&x)))
    }

    /// The raw, unrounded probability (bit-identical on every surface).
    pub fn probability(&self, customer: &JsValue) -> Result<f64, JsValue> {
        let x = self.features(customer)?;
        Ok(self.model.probability(&x))
    }

    /// Scores many customers. A bad row gives `{row, error, details}` in its place instead of
    /// throwing; `customers` must be an array.
    #[wasm_bindgen(js_name = predictBatch)]
    pub fn predict_batch(&self, customers: &JsValue) -> Result<Array, JsValue> {
        if !Array::is_array(customers) {
            return Err(self.error(
                &format!("expected an array of customers, got {}", kind_of(customers)),
                &Array::new(),
            ));
        }
        let arr: &Array = customers.unchecked_ref();
        let out = Array::new_with_length(arr.length());
        for (i, c) in arr.iter().enumerate() {
            let entry = match self.features(&c) {
                Ok(x) => self.result(self.model.probability(&x)),
                Err(err) => {
                    let o = Object::new();
                    set(&o, &self.k.row, &JsValue::from_f64(i as f64));
                    let msg = Reflect::get(&err, &JsValue::from_str("message")).unwrap_or(JsValue::NULL);
                    let msg = format!("row {i}: {}", msg.as_string().unwrap_or_default());
                    set(&o, &self.k.error, &JsValue::from_str(&msg));
                    set(&o, &self.k.details, &Reflect::get(&err, &self.k.details).unwrap_or(JsValue::NULL));
                    o
                }
            };
            out.set(i as u32, entry.into());
        }
        Ok(out)
    }

    /// Columnar fast path. `columns` maps every field name to an array of equal length: a
    /// `Float64Array` or number array (NaN or null = missing) or an array of strings. Returns
    /// the raw probabilities; a row that fails validation gets NaN (use `predictBatch` to learn
    /// why).
    #[wasm_bindgen(js_name = probabilities)]
    pub fn probabilities(&self, columns: &JsValue) -> Result<Float64Array, JsValue> {
        if !columns.is_object() || Array::is_array(columns) {
            return Err(self.error("expected an object of columns (field name → array)", &Array::new()));
        }
        enum Owned {
            Numbers(Vec<f64>),
            Texts(Vec<String>),
        }
        let mut owned = Vec::with_capacity(self.keys.len());
        let mut rows: Option<usize> = None;
        for (key, field) in self.keys.iter().zip(&self.model.schema().fields) {
            let col = Reflect::get(columns, key).unwrap_or(JsValue::UNDEFINED);
            let data = if col.is_instance_of::<Float64Array>() {
                Owned::Numbers(col.unchecked_ref::<Float64Array>().to_vec())
            } else if Array::is_array(&col) {
                let arr: &Array = col.unchecked_ref();
                if arr.iter().all(|v| v.as_f64().is_some() || v.is_null() || v.is_undefined()) {
                    Owned::Numbers(arr.iter().map(|v| v.as_f64().unwrap_or(f64::NAN)).collect())
                } else {
                    Owned::Texts(
                        arr.iter()
                            .map(|v| match Cell::read(&v) {
                                Cell::Text(s) => s,
                                Cell::Number(x) => crate::value::format_number(x),
                                Cell::Bool(b) => b.to_string(),
                                Cell::Absent | Cell::Null => String::new(),
                                // Not a level, not a number: the row is refused.
                                Cell::Other(_) => "\u{0}(unsupported value)".to_string(),
                            })
                            .collect(),
                    )
                }
            } else {
                let msg = format!("column {}: expected an array or Float64Array, got {}", field.name, kind_of(&col));
                return Err(self.error(&msg, &Array::new()));
            };
            let len = match &data {
                Owned::Numbers(v) => v.len(),
                Owned::Texts(v) => v.len(),
            };
            if *rows.get_or_insert(len) != len {
                let msg = format!("column {} has {len} rows, the others {}", field.name, rows.unwrap_or(0));
                return Err(self.error(&msg, &Array::new()));
            }
            owned.push(data);
        }
        let texts: Vec<Vec<&str>> = owned
            .iter()
            .map(|o| match o {
                Owned::Texts(v) => v.iter().map(String::as_str).collect(),
                Owned::Numbers(_) => Vec::new(),
            })
            .collect();
        let cols: Vec<Column<'_>> = owned
            .iter()
            .zip(&texts)
            .map(|(o, t)| match o {
                Owned::Numbers(v) => Column::Numbers(v),
                Owned::Texts(_) => Column::Texts(t),
            })
            .collect();
        let mut out = vec![0.0; rows.unwrap_or(0)];
        self.model
            .probabilities_columnar(&cols, &mut out)
            .map_err(|m| self.error(&m, &Array::new()))?;
        Ok(Float64Array::from(&out[..]))
    }

    /// Why this customer scored as they did: the prediction plus `base_value` and
    /// `top_factors: [{field, value, contribution}]` (path attribution, largest |contribution|
    /// first; `base_value + Σ all contributions = probability`). `top` defaults to 5.
    pub fn explain(&self, customer: &JsValue, top: Option<u32>) -> Result<Object, JsValue> {
        let cells = self.cells(customer)?;
        let mut x = vec![0.0; self.model.n_features()];
        self.model.encode(|i, _| cells[i].value(), &mut x).map_err(|e| self.input_error(&e))?;
        let e = self.model.explain_features(&x, top.unwrap_or(5) as usize);
        let o = self.result(e.probability);
        set(&o, &JsValue::from_str("churn_probability_raw"), &JsValue::from_f64(e.probability));
        set(&o, &JsValue::from_str("base_value"), &JsValue::from_f64(e.base_value));
        let factors: Array = e
            .contributions
            .iter()
            .map(|c| {
                let f = Object::new();
                set(&f, &self.k.field, &self.keys[c.field]);
                let value = match &cells[c.field] {
                    Cell::Text(s) => JsValue::from_str(s),
                    Cell::Number(v) => JsValue::from_f64(*v),
                    Cell::Bool(b) => JsValue::from_bool(*b),
                    _ => JsValue::NULL,
                };
                set(&f, &JsValue::from_str("value"), &value);
                set(&f, &JsValue::from_str("contribution"), &JsValue::from_f64(c.contribution));
                JsValue::from(f)
            })
            .collect();
        set(&o, &JsValue::from_str("top_factors"), &factors);
        Ok(o)
    }

    /// The input schema: `{fields: [{name, kind, ...}], id_column, target}`. Numeric fields
    /// carry `min`/`max` seen in training and their `missing` rule; categorical fields their
    /// `levels` (in code order) and `unknown` rule.
    pub fn schema(&self) -> Result<JsValue, JsError> {
        to_js(self.model.schema())
    }

    /// The model card plus policy and sizes.
    pub fn info(&self) -> Result<JsValue, JsError> {
        #[derive(Serialize)]
        struct Info<'a> {
            #[serde(flatten)]
            card: &'a crate::ModelCard,
            policy: &'a crate::RiskPolicy,
            format_version: u16,
            trees: usize,
            nodes: usize,
            base_value: f64,
            features: Vec<&'a str>,
        }
        let m = &self.model;
        to_js(&Info {
            card: m.card(),
            policy: m.policy(),
            format_version: crate::FORMAT_VERSION,
            trees: m.forest().n_trees(),
            nodes: m.forest().shape().0,
            base_value: m.forest().base_value(),
            features: m.schema().fields.iter().map(|f| f.name.as_str()).collect(),
        })
    }

    /// Metrics of raw probabilities against known outcomes (`labels[i]` is 1 for churn, 0 for
    /// not), with this model's threshold: `{rows, roc_auc, pr_auc, accuracy, precision, recall,
    /// f1, brier, log_loss, tp, fp, tn, fn, roc: [{fpr, tpr, threshold}]}` — the same code the
    /// trainer's model card and `churn evaluate` use.
    pub fn evaluate(&self, probabilities: &[f64], labels: &[u8]) -> Result<JsValue, JsError> {
        if probabilities.len() != labels.len() {
            return Err(JsError::new(&format!(
                "evaluate: {} probabilities but {} labels",
                probabilities.len(),
                labels.len()
            )));
        }
        if let Some(i) = labels.iter().position(|&l| l > 1) {
            return Err(JsError::new(&format!("evaluate: label {} at index {i} is not 0 or 1", labels[i])));
        }
        if let Some(i) = probabilities.iter().position(|p| !(0.0..=1.0).contains(p)) {
            return Err(JsError::new(&format!("evaluate: probability at index {i} is not in [0, 1]")));
        }
        let y: Vec<bool> = labels.iter().map(|&l| l == 1).collect();
        #[derive(Serialize)]
        struct Evaluation {
            #[serde(flatten)]
            metrics: crate::Metrics,
            roc: Vec<crate::metrics::RocPoint>,
        }
        to_js(&Evaluation {
            metrics: crate::Metrics::compute(probabilities, &y, self.model.policy().threshold),
            roc: crate::metrics::roc_curve(probabilities, &y, 200),
        })
    }

    /// The version string shown as `model_version`.
    #[wasm_bindgen(getter, js_name = modelVersion)]
    pub fn model_version(&self) -> String {
        self.model.card().version.clone()
    }
}

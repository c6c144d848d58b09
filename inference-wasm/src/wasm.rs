//! JavaScript bindings (wasm32 only): a thin layer over [`Model`]. It converts JS values into
//! the core's [`Value`]s and results into plain JS objects; every decision (encoding, traversal,
//! policy, explanation) is the core's. Errors are thrown as `Error`s carrying the core's message,
//! plus `details: [{field, message}]` for bad input. Nothing here panics on any input.

use js_sys::{Array, Float64Array, JsString, Object, Reflect};
use wasm_bindgen::prelude::*;

use crate::{Column, FieldKind, InputError, Metrics, Missing, Model, Risk, RocPoint, Unknown, Value};

/// Strings longer than this are not copied into wasm memory: no level or number is that long.
const MAX_TEXT: u32 = 4096;

// Crossing the JS↔wasm boundary costs more than scoring a field, so the reads happen in JS, one
// call per customer. These helpers only move data: `readCustomer` tags each field's JS value and
// resolves a string only when it is exactly one of the field's levels (the maps come from the
// schema); every other value (numbers written as text, unknown or padded categories, wrong
// types) goes to the core as it is. Decisions stay in the core.
#[wasm_bindgen(inline_js = r#"
export function readCustomer(obj, keys, levels, out) {
  for (let i = 0, n = keys.length; i < n; i++) {
    const v = obj[keys[i]];
    const j = 2 * i;
    if (typeof v === "number") { out[j] = 2; out[j + 1] = v; }
    else if (typeof v === "string") {
      const code = levels[i] === undefined ? undefined : levels[i].get(v);
      if (code === undefined) out[j] = 4; else { out[j] = 3; out[j + 1] = code; }
    }
    else if (v === undefined) out[j] = 0;
    else if (v === null) out[j] = 1;
    else out[j] = 4;
  }
}
export function result(p, prediction, risk, version) {
  return { churn_probability: p, churn_prediction: prediction, risk_level: risk, model_version: version };
}
export function explained(r, raw, base, factors) {
  r.churn_probability_raw = raw; r.base_value = base; r.top_factors = factors;
  return r;
}
export function factor(field, value, contribution) {
  return { field, value, contribution };
}
export function put(o, k, v) { o[k] = v; }
export function distinct(values) {
  const index = new Map(), codes = new Uint32Array(values.length), seen = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    let c = index.get(v);
    if (c === undefined) { c = seen.length; index.set(v, c); seen.push(v); }
    codes[i] = c;
  }
  return [codes, seen];
}
"#)]
extern "C" {
    /// Fills `out[2i]` with field i's tag (0 undefined, 1 null, 2 number in `out[2i+1]`, 3 exact
    /// level with its code in `out[2i+1]`, 4 anything else) and throws if a getter throws.
    #[wasm_bindgen(js_name = readCustomer, catch)]
    fn read_customer(obj: &JsValue, keys: &Array, levels: &Array, out: &Float64Array) -> Result<(), JsValue>;
    fn result(p: f64, prediction: &JsValue, risk: &JsValue, version: &JsValue) -> Object;
    /// Adds `churn_probability_raw`, `base_value` and `top_factors` to a result.
    fn explained(result: Object, raw: f64, base: f64, factors: Array) -> Object;
    fn factor(field: &JsValue, value: &JsValue, contribution: f64) -> JsValue;
    /// `[codes: Uint32Array, values: Array]`: each distinct value once, and every element's index.
    fn distinct(values: &Array) -> Array;
    /// `o[k] = v` (the views below are built key by key, in the order docs/ARCHITECTURE.md documents).
    fn put(o: &Object, k: &str, v: &JsValue);
    #[wasm_bindgen(js_name = put)]
    fn put_number(o: &Object, k: &str, v: f64);
    #[wasm_bindgen(js_name = put)]
    fn put_text(o: &Object, k: &str, v: &str);
    /// `o[k] = v` with a key made once (see `Keys`).
    #[wasm_bindgen(js_name = put)]
    fn set(o: &Object, k: &JsValue, v: &JsValue);
}

/// A churn model loaded from the bytes `churn train` wrote.
#[wasm_bindgen]
pub struct ChurnModel {
    model: Model,
    /// The schema's field names as JS strings, made once.
    keys: Vec<JsValue>,
    /// The same names as one JS array, and per field a `Map` from each level's exact text to
    /// its code (undefined for numeric fields), for `readCustomer`.
    key_array: Array,
    level_maps: Array,
    /// Per field, its levels as JS strings (empty for numeric fields).
    level_values: Vec<Vec<JsValue>>,
    /// `readCustomer`'s output buffer (2 slots a field), reused.
    scratch: Float64Array,
    k: Keys,
}

/// Property names of result objects, made once.
struct Keys {
    version_value: JsValue,
    yes: JsValue,
    no: JsValue,
    risks: [JsValue; 3],
    error: JsValue,
    row: JsValue,
    details: JsValue,
    field: JsValue,
    message: JsValue,
}

/// An input value as read from JS.
enum Cell {
    Absent,
    Null,
    Bool(bool),
    Number(f64),
    Text(String),
    /// A string that is exactly level `code` of the field (read without copying it).
    Level(usize),
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

    /// The core's view of this value.
    fn value(&self) -> Value<'_> {
        match self {
            Cell::Absent => Value::Absent,
            Cell::Null => Value::Null,
            Cell::Bool(b) => Value::Bool(*b),
            Cell::Number(x) => Value::Number(*x),
            Cell::Text(s) => Value::Text(s),
            Cell::Level(code) => Value::Level(*code as u32),
            Cell::Other(k) => Value::Other(k),
        }
    }

    /// The value as the caller gave it, for explanations.
    /// `levels` holds the field's level strings, made once at load.
    fn to_js(&self, levels: &[JsValue]) -> JsValue {
        if let Cell::Level(code) = self {
            return levels.get(*code).cloned().unwrap_or(JsValue::NULL);
        }
        match self.value() {
            Value::Text(s) => JsValue::from_str(s),
            Value::Number(v) => JsValue::from_f64(v),
            Value::Bool(b) => JsValue::from_bool(b),
            _ => JsValue::NULL,
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

/// A plain JS object for the JSON-like views (`schema`, `info`, `evaluate`), filled key by key.
/// The shapes are the JSON the CLI prints for the same types (serde's field names and order).
struct View(Object);

impl View {
    fn new() -> View {
        View(Object::new())
    }
    fn value(self, k: &str, v: &JsValue) -> View {
        put(&self.0, k, v);
        self
    }
    fn number(self, k: &str, v: f64) -> View {
        put_number(&self.0, k, v);
        self
    }
    fn text(self, k: &str, v: &str) -> View {
        put_text(&self.0, k, v);
        self
    }
    /// A count as a JS number; refuses one that a double cannot hold exactly, with the message
    /// serde-wasm-bindgen gave (e.g. `info()` of a model trained with a seed above 2^53).
    fn count(self, k: &str, v: u64) -> Result<View, JsError> {
        if v > MAX_SAFE_INTEGER {
            return Err(JsError::new(&format!("Error: {v} can't be represented as a JavaScript number")));
        }
        Ok(self.number(k, v as f64))
    }
    fn metrics(self, m: &Metrics) -> Result<View, JsError> {
        self.count("rows", m.rows)?
            .number("roc_auc", m.roc_auc)
            .number("pr_auc", m.pr_auc)
            .number("accuracy", m.accuracy)
            .number("precision", m.precision)
            .number("recall", m.recall)
            .number("f1", m.f1)
            .number("brier", m.brier)
            .number("log_loss", m.log_loss)
            .count("tp", m.tp)?
            .count("fp", m.fp)?
            .count("tn", m.tn)?
            .count("fn", m.fn_)
    }
}

impl From<View> for JsValue {
    fn from(v: View) -> JsValue {
        v.0.into()
    }
}

/// `Number.MAX_SAFE_INTEGER`.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// The model's settings as an object, from the card's one parameter list.
fn params_view(entries: Vec<(&'static str, crate::Param)>) -> Result<View, JsError> {
    let mut v = View::new();
    for (k, p) in entries {
        v = match p {
            crate::Param::Text(t) => v.text(k, t),
            crate::Param::Count(n) => v.count(k, n)?,
            crate::Param::Number(x) => v.number(k, x),
        };
    }
    Ok(v)
}

fn texts<'a>(items: impl Iterator<Item = &'a str>) -> Array {
    items.map(JsValue::from_str).collect()
}

fn numbers(items: &[f64]) -> Array {
    items.iter().map(|&x| JsValue::from_f64(x)).collect()
}

/// `[{fpr, tpr, threshold}]`.
fn roc_points(points: &[RocPoint]) -> Array {
    points
        .iter()
        .map(|p| {
            JsValue::from(
                View::new()
                    .number("fpr", p.fpr.into())
                    .number("tpr", p.tpr.into())
                    .number("threshold", p.threshold.into()),
            )
        })
        .collect()
}

/// Why a customer was not scored.
enum Refused {
    /// Not an object at all.
    NotAnObject(String),
    /// The core's verdict on the fields.
    Input(InputError),
}

impl ChurnModel {
    /// Reads the schema's fields out of a JS object.
    fn cells(&self, customer: &JsValue) -> Result<Vec<Cell>, Refused> {
        if !customer.is_object() || Array::is_array(customer) || customer.is_function() {
            let got = kind_of(customer);
            return Err(Refused::NotAnObject(format!("expected an object with the customer's fields, got {got}")));
        }
        let n = self.keys.len();
        let mut tagged = vec![4.0; 2 * n];
        // If a getter throws, every field is read one by one below and the bad one is named.
        if read_customer(customer, &self.key_array, &self.level_maps, &self.scratch).is_ok() {
            self.scratch.copy_to(&mut tagged);
        }
        Ok((0..n)
            .map(|i| match tagged[2 * i] as u8 {
                0 => Cell::Absent,
                1 => Cell::Null,
                2 => Cell::Number(tagged[2 * i + 1]),
                3 => Cell::Level(tagged[2 * i + 1] as usize),
                _ => match Reflect::get(customer, &self.keys[i]) {
                    Ok(v) => Cell::read(&v),
                    // A getter that throws, a revoked proxy...
                    Err(_) => Cell::Other("a value that cannot be read"),
                },
            })
            .collect())
    }

    /// Encodes a customer; also returns the cells (explanations show the values).
    fn features(&self, customer: &JsValue) -> Result<(Vec<f64>, Vec<Cell>), Refused> {
        let cells = self.cells(customer)?;
        let mut x = vec![0.0; self.model.n_features()];
        self.model.encode(|i, _| cells[i].value(), &mut x).map_err(Refused::Input)?;
        Ok((x, cells))
    }

    fn message(r: &Refused) -> String {
        match r {
            Refused::NotAnObject(m) => m.clone(),
            Refused::Input(e) => e.to_string(),
        }
    }

    /// `[{field, message}]` for each bad field.
    fn details(&self, r: &Refused) -> Array {
        let Refused::Input(e) = r else { return Array::new() };
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

    fn refused(&self, r: &Refused) -> JsValue {
        self.error(&Self::message(r), &self.details(r))
    }

    fn result(&self, p: f64) -> Object {
        let d = self.model.decide(p);
        let prediction = if d.churn { &self.k.yes } else { &self.k.no };
        let risk = &self.k.risks[match d.risk {
            Risk::High => 0,
            Risk::Medium => 1,
            Risk::Low => 2,
        }];
        result(d.rounded, prediction, risk, &self.k.version_value)
    }
}

#[wasm_bindgen]
impl ChurnModel {
    /// Loads a model file. Throws an `Error` naming what is wrong with the bytes.
    #[wasm_bindgen(constructor)]
    pub fn new(bytes: &[u8]) -> Result<ChurnModel, JsError> {
        let model = Model::from_bytes(bytes).map_err(|e| JsError::new(&e.to_string()))?;
        let fields = &model.schema().fields;
        let keys: Vec<JsValue> = fields.iter().map(|f| JsValue::from_str(&f.name)).collect();
        let level_values: Vec<Vec<JsValue>> = fields
            .iter()
            .map(|f| match &f.kind {
                FieldKind::Categorical(c) => c.levels.iter().map(|l| JsValue::from_str(l)).collect(),
                FieldKind::Numeric(_) => Vec::new(),
            })
            .collect();
        let level_maps: Array = fields
            .iter()
            .zip(&level_values)
            .map(|(f, levels)| match &f.kind {
                FieldKind::Categorical(_) => {
                    let map = js_sys::Map::new();
                    for (code, level) in levels.iter().enumerate() {
                        map.set(level, &JsValue::from(code as u32));
                    }
                    JsValue::from(map)
                }
                FieldKind::Numeric(_) => JsValue::UNDEFINED,
            })
            .collect();
        let s = JsValue::from_str;
        let k = Keys {
            version_value: s(&model.card().version),
            yes: s("Yes"),
            no: s("No"),
            risks: [s(Risk::High.as_str()), s(Risk::Medium.as_str()), s(Risk::Low.as_str())],
            error: s("error"),
            row: s("row"),
            details: s("details"),
            field: s("field"),
            message: s("message"),
        };
        let key_array = keys.iter().collect();
        let scratch = Float64Array::new_with_length(2 * keys.len() as u32);
        Ok(ChurnModel { model, keys, key_array, level_maps, level_values, scratch, k })
    }

    /// Same as `new ChurnModel(bytes)`.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(bytes: &[u8]) -> Result<ChurnModel, JsError> {
        ChurnModel::new(bytes)
    }

    /// Scores one customer: `{churn_probability, churn_prediction, risk_level, model_version}`
    /// with the artifact's policy (probability rounded to its decimals).
    pub fn predict(&self, customer: &JsValue) -> Result<Object, JsValue> {
        let (x, _) = self.features(customer).map_err(|r| self.refused(&r))?;
        Ok(self.result(self.model.probability(&x)))
    }

    /// The raw, unrounded probability (bit-identical on every surface).
    pub fn probability(&self, customer: &JsValue) -> Result<f64, JsValue> {
        let (x, _) = self.features(customer).map_err(|r| self.refused(&r))?;
        Ok(self.model.probability(&x))
    }

    /// Scores many customers. A bad row gives `{row, error, details}` in its place instead of
    /// throwing; `customers` must be an array.
    #[wasm_bindgen(js_name = predictBatch)]
    pub fn predict_batch(&self, customers: &JsValue) -> Result<Array, JsValue> {
        if !Array::is_array(customers) {
            let got = kind_of(customers);
            return Err(self.error(&format!("expected an array of customers, got {got}"), &Array::new()));
        }
        let arr: &Array = customers.unchecked_ref();
        let out = Array::new_with_length(arr.length());
        for (i, c) in arr.iter().enumerate() {
            let entry = match self.features(&c) {
                Ok((x, _)) => self.result(self.model.probability(&x)),
                Err(r) => {
                    let o = Object::new();
                    set(&o, &self.k.row, &JsValue::from_f64(i as f64));
                    set(&o, &self.k.error, &JsValue::from_str(&format!("row {i}: {}", Self::message(&r))));
                    set(&o, &self.k.details, &self.details(&r));
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
        /// A column as the core takes it: numbers, or each distinct value once plus every row's index.
        enum Owned {
            Numbers(Vec<f64>),
            Cells { values: Vec<Cell>, codes: Vec<u32> },
        }
        let mut owned = Vec::with_capacity(self.keys.len());
        let mut rows: Option<usize> = None;
        for (i, (key, field)) in self.keys.iter().zip(&self.model.schema().fields).enumerate() {
            let col = Reflect::get(columns, key).unwrap_or(JsValue::UNDEFINED);
            let (data, len) = if col.is_instance_of::<Float64Array>() {
                let v = col.unchecked_ref::<Float64Array>().to_vec();
                let len = v.len();
                (Owned::Numbers(v), len)
            } else if Array::is_array(&col) {
                // Each distinct value crosses into wasm once.
                let pair = distinct(col.unchecked_ref());
                let codes = js_sys::Uint32Array::from(pair.get(0)).to_vec();
                // A string that is exactly a level is resolved once here, as in `readCustomer`.
                let levels = self.level_maps.get(i as u32);
                let level = |v: &JsValue| match levels.dyn_ref::<js_sys::Map>() {
                    Some(map) => map.get(v).as_f64().map(|code| Cell::Level(code as usize)),
                    None => None,
                };
                let seen: Vec<Cell> =
                    Array::from(&pair.get(1)).iter().map(|v| level(&v).unwrap_or_else(|| Cell::read(&v))).collect();
                let len = codes.len();
                if seen.iter().all(|c| matches!(c, Cell::Number(_) | Cell::Null | Cell::Absent)) {
                    let number = |c: &Cell| if let Cell::Number(x) = c { *x } else { f64::NAN };
                    (Owned::Numbers(codes.iter().map(|&k| number(&seen[k as usize])).collect()), len)
                } else {
                    (Owned::Cells { values: seen, codes }, len)
                }
            } else {
                let msg = format!("column {}: expected an array or Float64Array, got {}", field.name, kind_of(&col));
                return Err(self.error(&msg, &Array::new()));
            };
            if *rows.get_or_insert(len) != len {
                let msg = format!("column {} has {len} rows, the others {}", field.name, rows.unwrap_or(0));
                return Err(self.error(&msg, &Array::new()));
            }
            owned.push(data);
        }
        // Every row's value, as predict would read it (a hole in an array is a missing value).
        let values: Vec<Vec<Value>> = owned
            .iter()
            .map(|o| match o {
                Owned::Cells { values, codes } => {
                    let distinct: Vec<Value> =
                        values.iter().map(|c| if let Cell::Absent = c { Value::Null } else { c.value() }).collect();
                    codes.iter().map(|&k| distinct[k as usize]).collect()
                }
                Owned::Numbers(_) => Vec::new(),
            })
            .collect();
        let cols: Vec<Column<'_>> = owned
            .iter()
            .zip(&values)
            .map(|(o, v)| match o {
                Owned::Numbers(n) => Column::Numbers(n),
                Owned::Cells { .. } => Column::Values(v),
            })
            .collect();
        let mut out = vec![0.0; rows.unwrap_or(0)];
        self.model.probabilities_columnar(&cols, &mut out).map_err(|m| self.error(&m, &Array::new()))?;
        Ok(Float64Array::from(&out[..]))
    }

    /// Why this customer scored as they did: the prediction plus `base_value` and
    /// `top_factors: [{field, value, contribution}]` (path attribution, largest |contribution|
    /// first; `base_value + Σ all contributions = probability`). `top` (a whole number ≥ 0)
    /// defaults to 5; a larger number than there are fields gives them all.
    pub fn explain(&self, customer: &JsValue, top: Option<f64>) -> Result<Object, JsValue> {
        // Taken as a double, not u32: wasm-bindgen would wrap -1 to 4294967295 and 2.5 to 2.
        let top = match top {
            None => 5,
            Some(t) if t >= 0.0 && (t.fract() == 0.0 || t == f64::INFINITY) => t.min(u32::MAX as f64) as usize,
            // (No float in the message: formatting one would pull ~20 KB of code into the wasm.)
            Some(t) => {
                let got = if t.is_nan() {
                    "NaN"
                } else if t < 0.0 {
                    "a negative number"
                } else {
                    "a fraction"
                };
                return Err(JsError::new(&format!("explain: top must be a whole number >= 0, got {got}")).into());
            }
        };
        let (x, cells) = self.features(customer).map_err(|r| self.refused(&r))?;
        let e = self.model.explain_features(&x, top);
        let factors: Array = e
            .contributions
            .iter()
            .map(|c| factor(&self.keys[c.field], &cells[c.field].to_js(&self.level_values[c.field]), c.contribution))
            .collect();
        Ok(explained(self.result(e.probability), e.probability, e.base_value, factors))
    }

    /// The input schema: `{fields: [{name, kind, ...}], id_column, target}`. Numeric fields
    /// carry `min`/`max` seen in training and their `missing` rule; categorical fields their
    /// `levels` (in code order) and `unknown` rule.
    pub fn schema(&self) -> Result<JsValue, JsError> {
        let s = self.model.schema();
        let fields: Array = s
            .fields
            .iter()
            .map(|f| {
                let o = View::new().text("name", &f.name);
                JsValue::from(match &f.kind {
                    FieldKind::Numeric(n) => {
                        let missing = match n.missing {
                            Missing::Error => JsValue::from_str("error"),
                            Missing::Replace(v) => View::new().number("replace", v).into(),
                        };
                        o.text("kind", "numeric")
                            .value("missing", &missing)
                            .number("min", n.min)
                            .number("max", n.max)
                            .value("integer", &JsValue::from_bool(n.integer))
                    }
                    FieldKind::Categorical(c) => {
                        let unknown = match c.unknown {
                            Unknown::Error => JsValue::from_str("error"),
                            Unknown::AsLevel(code) => View::new().number("as_level", code.into()).into(),
                        };
                        o.text("kind", "categorical")
                            .value("levels", &texts(c.levels.iter().map(String::as_str)))
                            .value("unknown", &unknown)
                    }
                })
            })
            .collect();
        let target = View::new()
            .text("column", &s.target.column)
            .text("positive", &s.target.positive)
            .text("negative", &s.target.negative);
        Ok(View::new()
            .value("fields", &fields)
            .value("id_column", &s.id_column.as_deref().map_or(JsValue::NULL, JsValue::from_str))
            .value("target", &target.into())
            .into())
    }

    /// The model card plus policy and sizes.
    pub fn info(&self) -> Result<JsValue, JsError> {
        let m = &self.model;
        let c = m.card();
        let params = params_view(c.params.entries())?;
        let selection = Array::new();
        for cand in &c.selection {
            let v = params_view(cand.params.entries())?
                .number("cv_auc_mean", cand.cv_auc_mean)
                .number("cv_auc_sd", cand.cv_auc_sd)
                .number("folds", cand.folds.into())
                .count("nodes", cand.nodes)?
                .number("fit_seconds", cand.fit_seconds);
            selection.push(&v.into());
        }
        let o = View::new()
            .text("name", &c.name)
            .text("version", &c.version)
            .text("created_at", &c.created_at)
            .text("trainer", &c.trainer)
            .text("data_sha256", &c.data_sha256)
            .count("rows_total", c.rows_total)?
            .count("rows_train", c.rows_train)?
            .count("rows_test", c.rows_test)?
            .value("params", &params.into());
        let test_metrics = match &c.test_metrics {
            Some(t) => View::new().metrics(t)?.into(),
            None => JsValue::NULL,
        };
        let policy = m.policy();
        let policy = View::new()
            .number("threshold", policy.threshold)
            .number("high", policy.high)
            .number("medium", policy.medium)
            .number("decimals", policy.decimals.into());
        Ok(o.value("test_metrics", &test_metrics)
            .value("importances", &numbers(&c.importances))
            .value("roc", &roc_points(&c.roc))
            .value("policy", &policy.into())
            .value("selection", &selection.into())
            .number("format_version", crate::FORMAT_VERSION.into())
            .text("model_kind", m.kind().short())
            .text("model_type", m.kind().name())
            .text("model_description", m.kind().describe())
            .number("trees", m.forest().n_trees() as f64)
            .number("nodes", m.forest().shape().0 as f64)
            .number("base_value", m.forest().base_value())
            .value("features", &texts(m.schema().fields.iter().map(|f| f.name.as_str())))
            .into())
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
        let metrics = crate::Metrics::compute(probabilities, &y, self.model.policy().threshold);
        let roc = crate::metrics::roc_curve(probabilities, &y, 200);
        Ok(View::new().metrics(&metrics)?.value("roc", &roc_points(&roc)).into())
    }

    /// The version string shown as `model_version`.
    #[wasm_bindgen(getter, js_name = modelVersion)]
    pub fn model_version(&self) -> String {
        self.model.card().version.clone()
    }
}

//! JavaScript bindings (wasm32 only): a thin layer over [`Model`]. It converts JS values into
//! the core's [`Value`]s and results into plain JS objects; every decision (encoding, traversal,
//! policy, explanation) is the core's. Errors are thrown as `Error`s carrying the core's message,
//! plus `details: [{field, message}]` for bad input. Nothing here panics on any input.

use std::rc::Rc;

use js_sys::{Array, Float64Array, JsString, Object, Reflect};
use wasm_bindgen::prelude::*;

use crate::doc::{self, Doc};
use crate::{Column, CsvLayout, Evaluation, FieldKind, InputError, Mark, Model, Profile, Risk, RowError, Value};
// An input value as read from JS.
use crate::OwnedValue as Cell;

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

// The result types (`Prediction`, `ModelInfo`, …) that the methods below name, written once;
// www/test/package.test.mjs checks that what these bindings return conforms to them.
#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = include_str!("churn-types.d.ts");

/// A churn model loaded from the bytes `churn train` wrote.
#[wasm_bindgen]
pub struct ChurnModel {
    /// Shared with the `ChurnProfile`s made from it.
    inner: Rc<Inner>,
}

impl std::ops::Deref for ChurnModel {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.inner
    }
}

/// A model and what its bindings made once for it.
pub struct Inner {
    /// Shared with the `CsvScorer`s made from it.
    model: Rc<Model>,
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

/// Reads an input value from JS.
fn read_cell(v: &JsValue) -> Cell {
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

/// A value as the caller gave it, for explanations. A string that was read as a level (without
/// copying it) is `Level`; `levels` holds the field's level strings, made once at load.
fn cell_to_js(cell: &Cell, levels: &[JsValue]) -> JsValue {
    if let Cell::Level(code) = cell {
        return levels.get(*code as usize).cloned().unwrap_or(JsValue::NULL);
    }
    match cell.value() {
        Value::Text(s) => JsValue::from_str(s),
        Value::Number(v) => JsValue::from_f64(v),
        Value::Bool(b) => JsValue::from_bool(b),
        _ => JsValue::NULL,
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

/// `Number.MAX_SAFE_INTEGER`.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// A [`Doc`] (the core's one JSON shape for info, schema and metrics) as plain JS values, as
/// `JSON.parse` of the CLI's `--json` would give them: NaN and infinities become `null` (JSON
/// has no such numbers, and serde_json writes `null`). A count a double cannot hold exactly is
/// refused, with the message serde-wasm-bindgen gave (e.g. `info()` of a model trained with a
/// seed above 2^53).
fn to_js(d: &Doc) -> Result<JsValue, JsError> {
    Ok(match d {
        Doc::Null => JsValue::NULL,
        Doc::Bool(b) => JsValue::from_bool(*b),
        Doc::Number(x) if x.is_finite() => JsValue::from_f64(*x),
        Doc::Number(_) => JsValue::NULL,
        Doc::Count(n) if *n > MAX_SAFE_INTEGER => {
            return Err(JsError::new(&format!("Error: {n} can't be represented as a JavaScript number")))
        }
        Doc::Count(n) => JsValue::from_f64(*n as f64),
        Doc::Text(t) => JsValue::from_str(t),
        Doc::List(items) => items.iter().map(to_js).collect::<Result<Array, _>>()?.into(),
        Doc::Map(entries) => {
            let o = Object::new();
            for (k, v) in entries {
                put(&o, k, &to_js(v)?);
            }
            o.into()
        }
    })
}

/// A customer's features and how each was read (marks only when counting).
type Encoded = (Vec<f64>, Vec<Mark>);

/// Why a customer was not scored.
enum Refused {
    /// Not an object at all.
    NotAnObject(String),
    /// The core's verdict on the fields.
    Input(InputError),
}

impl Inner {
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
                3 => Cell::Level(tagged[2 * i + 1] as u32),
                _ => match Reflect::get(customer, &self.keys[i]) {
                    Ok(v) => read_cell(&v),
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

    /// `[{field, message}]` for each bad field; in a batch `[{row, field, message}]`, and a
    /// customer that is not an object gets one entry with `field: null`.
    fn details(&self, r: &Refused, row: Option<usize>) -> Array {
        let entry = |field: JsValue, message: &str| {
            let d = Object::new();
            if let Some(i) = row {
                set(&d, &self.k.row, &JsValue::from_f64(i as f64));
            }
            set(&d, &self.k.field, &field);
            set(&d, &self.k.message, &JsValue::from_str(message));
            JsValue::from(d)
        };
        match r {
            Refused::Input(e) => e.errors.iter().map(|fe| entry(JsValue::from_str(&fe.field), &fe.message())).collect(),
            Refused::NotAnObject(m) if row.is_some() => std::iter::once(entry(JsValue::NULL, m)).collect(),
            Refused::NotAnObject(_) => Array::new(),
        }
    }

    /// A JS `Error` with the message and `details: [{field, message}]`.
    fn error(&self, message: &str, details: &Array) -> JsValue {
        let err = js_sys::Error::new(message);
        set(&err, &self.k.details, details);
        err.into()
    }

    fn refused(&self, r: &Refused) -> JsValue {
        self.error(&Self::message(r), &self.details(r, None))
    }

    /// `predictBatch`; with a profile, every customer is also counted (with `atomic`, a batch
    /// with a refused customer counts only the refused ones).
    fn batch(&self, customers: &JsValue, mut profile: Option<(&mut Profile, bool)>) -> Result<Array, JsValue> {
        if !Array::is_array(customers) {
            let got = kind_of(customers);
            return Err(self.error(&format!("expected an array of customers, got {got}"), &Array::new()));
        }
        let arr: &Array = customers.unchecked_ref();
        let model = &self.model;
        let n = model.n_features();
        let counting = profile.is_some();
        // Every customer is read first, so that an atomic batch can count only its refusals.
        let read: Vec<Result<Encoded, Refused>> = arr
            .iter()
            .map(|c| {
                let cells = self.cells(&c)?;
                let mut x = vec![0.0; n];
                // Marks (missing, unseen) only when counting.
                let mut marks = vec![Mark::Seen; if counting { n } else { 0 }];
                let get = |i: usize, _: &str| cells[i].value();
                if counting { model.encode_marked(get, &mut x, &mut marks) } else { model.encode(get, &mut x) }
                    .map_err(Refused::Input)?;
                Ok((x, marks))
            })
            .collect();
        let refused = read.iter().any(Result::is_err);
        let out = Array::new_with_length(arr.length());
        for (i, r) in read.iter().enumerate() {
            let entry = match r {
                Ok((x, marks)) => {
                    let p = model.probability(x);
                    if let Some((profile, atomic)) = &mut profile {
                        if !(*atomic && refused) {
                            profile.add(x, marks, p, model.decide(p).risk);
                        }
                    }
                    self.result(p)
                }
                Err(r) => {
                    if let Some((profile, _)) = &mut profile {
                        count_refused(profile, model, r);
                    }
                    let o = Object::new();
                    set(&o, &self.k.row, &JsValue::from_f64(i as f64));
                    set(&o, &self.k.error, &JsValue::from_str(&Self::message(r)));
                    set(&o, &self.k.details, &self.details(r, Some(i)));
                    o
                }
            };
            out.set(i as u32, entry.into());
        }
        Ok(out)
    }

    /// `explain`; with a profile, the customer is also counted (a refused one as invalid).
    fn explain(&self, customer: &JsValue, top: Option<f64>, profile: Option<&mut Profile>) -> Result<Object, JsValue> {
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
        let read = self.cells(customer).and_then(|cells| {
            let n = self.model.n_features();
            let mut x = vec![0.0; n];
            let get = |i: usize, _: &str| cells[i].value();
            // Marks are cheap next to explaining: one path, counting or not.
            let mut marks = vec![Mark::Seen; n];
            self.model.encode_marked(get, &mut x, &mut marks).map_err(Refused::Input)?;
            Ok((x, marks, cells))
        });
        let (x, marks, cells) = match read {
            Ok(r) => r,
            Err(r) => {
                if let Some(p) = profile {
                    count_refused(p, &self.model, &r);
                }
                return Err(self.refused(&r));
            }
        };
        let e = self.model.explain_features(&x, top);
        if let Some(p) = profile {
            p.add(&x, &marks, e.probability, self.model.decide(e.probability).risk);
        }
        let factors: Array = e
            .contributions
            .iter()
            .map(|c| {
                factor(&self.keys[c.field], &cell_to_js(&cells[c.field], &self.level_values[c.field]), c.contribution)
            })
            .collect();
        Ok(explained(self.result(e.probability), e.probability, e.base_value, factors))
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
    /// Loads a model file from its bytes (a `Uint8Array` such as Node's `readFileSync(path)`,
    /// an `ArrayBuffer` from `fetch(url).then((r) => r.arrayBuffer())`, or an array of numbers).
    /// Throws an `Error` naming what is wrong with them.
    #[wasm_bindgen(constructor)]
    pub fn new(#[wasm_bindgen(unchecked_param_type = "ModelBytes")] bytes: &JsValue) -> Result<ChurnModel, JsError> {
        let bytes = if bytes.is_instance_of::<js_sys::Uint8Array>()
            || bytes.is_instance_of::<js_sys::ArrayBuffer>()
            || Array::is_array(bytes)
        {
            js_sys::Uint8Array::new(bytes).to_vec()
        } else {
            return Err(JsError::new(&format!(
                "expected the model file's bytes (Uint8Array), got {}: read them with fs.readFileSync(path) in Node or (await fetch(url)).arrayBuffer()",
                kind_of(bytes)
            )));
        };
        let model = Model::from_bytes(&bytes).map_err(|e| JsError::new(&e.to_string()))?;
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
        let inner = Inner { model: Rc::new(model), keys, key_array, level_maps, level_values, scratch, k };
        Ok(ChurnModel { inner: Rc::new(inner) })
    }

    /// Same as `new ChurnModel(bytes)`.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(
        #[wasm_bindgen(unchecked_param_type = "ModelBytes")] bytes: &JsValue,
    ) -> Result<ChurnModel, JsError> {
        ChurnModel::new(bytes)
    }

    /// Scores one customer: `{churn_probability, churn_prediction, risk_level, model_version}`
    /// with the artifact's policy (probability rounded to its decimals).
    #[wasm_bindgen(unchecked_return_type = "Prediction")]
    pub fn predict(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Customer")] customer: &JsValue,
    ) -> Result<Object, JsValue> {
        let (x, _) = self.features(customer).map_err(|r| self.refused(&r))?;
        Ok(self.result(self.model.probability(&x)))
    }

    /// The raw, unrounded probability (bit-identical on every surface).
    pub fn probability(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Customer")] customer: &JsValue,
    ) -> Result<f64, JsValue> {
        let (x, _) = self.features(customer).map_err(|r| self.refused(&r))?;
        Ok(self.model.probability(&x))
    }

    /// Scores many customers. A bad row gives `{row, error, details: [{row, field, message}]}`
    /// in its place instead of throwing (`row` is its index, `error` the message);
    /// `customers` must be an array.
    #[wasm_bindgen(js_name = predictBatch, unchecked_return_type = "BatchResult[]")]
    pub fn predict_batch(
        &self,
        #[wasm_bindgen(unchecked_param_type = "readonly Customer[]")] customers: &JsValue,
    ) -> Result<Array, JsValue> {
        self.batch(customers, None)
    }

    /// Columnar fast path. `columns` maps every field name to an array of equal length: a
    /// `Float64Array` or number array (NaN or null = missing) or an array of strings. Returns
    /// the raw probabilities; a row that fails validation gets NaN (use `predictBatch` to learn
    /// why).
    #[wasm_bindgen(js_name = probabilities)]
    pub fn probabilities(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Columns")] columns: &JsValue,
    ) -> Result<Float64Array, JsValue> {
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
                    Some(map) => map.get(v).as_f64().map(|code| Cell::Level(code as u32)),
                    None => None,
                };
                let seen: Vec<Cell> =
                    Array::from(&pair.get(1)).iter().map(|v| level(&v).unwrap_or_else(|| read_cell(&v))).collect();
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
    #[wasm_bindgen(unchecked_return_type = "Explanation")]
    pub fn explain(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Customer")] customer: &JsValue,
        top: Option<f64>,
    ) -> Result<Object, JsValue> {
        self.inner.explain(customer, top, None)
    }

    /// The input schema (see `doc::schema`): `{fields: [{name, kind, ...}], id_column,
    /// target}`.
    #[wasm_bindgen(unchecked_return_type = "Schema")]
    pub fn schema(&self) -> Result<JsValue, JsError> {
        to_js(&doc::schema(self.model.schema()))
    }

    /// What is in the model (see `doc::info`): the card, kind, settings, policy, schema and
    /// sizes; the same object `churn inspect --json` prints.
    #[wasm_bindgen(unchecked_return_type = "ModelInfo")]
    pub fn info(&self) -> Result<JsValue, JsError> {
        to_js(&doc::info(&self.model))
    }

    /// Metrics of raw probabilities against the target column's text, one label per
    /// probability, with the core's label rule (trimmed; the positive or the negative value;
    /// other labels are counted in `unusable_labels` and left out): `{rows, unusable_labels,
    /// roc_auc, pr_auc, accuracy, precision, recall, f1, brier, log_loss, tp, fp, tn, fn, roc}`,
    /// the object `churn evaluate --json` prints; `null` when no label is usable.
    #[wasm_bindgen(unchecked_return_type = "Evaluation | null")]
    pub fn evaluate(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Float64Array | readonly number[]")] probabilities: &[f64],
        #[wasm_bindgen(unchecked_param_type = "readonly string[]")] labels: Vec<String>,
    ) -> Result<JsValue, JsError> {
        if probabilities.len() != labels.len() {
            return Err(JsError::new(&format!(
                "evaluate: {} probabilities but {} labels",
                probabilities.len(),
                labels.len()
            )));
        }
        if let Some(i) = probabilities.iter().position(|p| !(0.0..=1.0).contains(p)) {
            return Err(JsError::new(&format!("evaluate: probability at index {i} is not in [0, 1]")));
        }
        let mut e = Evaluation::new();
        for (i, (&p, label)) in probabilities.iter().zip(&labels).enumerate() {
            e.push(&self.model.schema().target, p, label, i as u64);
        }
        to_js(&e.doc(&self.model))
    }

    /// A scorer for a CSV file's rows, from its header: finds the model's columns (throws
    /// naming every missing one) and then scores chunks of records as `churn score` does.
    #[wasm_bindgen(js_name = csvScorer)]
    pub fn csv_scorer(
        &self,
        #[wasm_bindgen(unchecked_param_type = "readonly string[]")] header: Vec<String>,
    ) -> Result<CsvScorer, JsError> {
        let layout = CsvLayout::new(&self.model, &header).map_err(|m| JsError::new(&m))?;
        let used = (0..header.len()).map(|i| layout.uses(i)).collect();
        Ok(CsvScorer { model: Rc::clone(&self.model), layout, used, evaluation: Evaluation::new() })
    }

    /// An empty profile of this model's inputs and scores (the bins of the training rows'
    /// profile in the model file), to count customers into and compare with training:
    /// `profile.add(customer)`, `profile.drift()`. Throws for a model file without a training
    /// profile (format versions 1 and 2).
    #[wasm_bindgen(js_name = newProfile)]
    pub fn new_profile(&self) -> Result<ChurnProfile, JsError> {
        let profile = crate::profile::empty_profile(&self.model).ok_or_else(|| {
            JsError::new("this model file carries no training profile (format version 3 or later is needed to monitor): retrain it with this churn")
        })?;
        let n = self.model.n_features();
        Ok(ChurnProfile { inner: Rc::clone(&self.inner), profile, x: vec![0.0; n], marks: vec![Mark::Seen; n] })
    }

    /// The training rows' profile stored in the model file (the reference of `drift()`), as
    /// `ChurnProfile.toJSON()` gives it; `null` for a file without one (format versions 1, 2).
    #[wasm_bindgen(js_name = referenceProfile, unchecked_return_type = "ProfileJSON | null")]
    pub fn reference_profile(&self) -> Result<JsValue, JsError> {
        match &self.model.artifact().profile {
            Some(p) => to_js(&p.doc(&self.model)),
            None => Ok(JsValue::NULL),
        }
    }

    /// The version string shown as `model_version`.
    #[wasm_bindgen(getter, js_name = modelVersion)]
    pub fn model_version(&self) -> String {
        self.model.card().version.clone()
    }
}

/// What a model has scored, counted: per field the rows in each bin (numeric: between the
/// training rows' quantiles; categorical: per level), missing, unseen and invalid values, the
/// scores in 20 bins and the risk bands. Integer counts of fixed size (no growth with the rows
/// counted), merged exactly. Made by `ChurnModel.newProfile()`.
#[wasm_bindgen]
pub struct ChurnProfile {
    inner: Rc<Inner>,
    profile: Profile,
    /// Scratch space for one customer's features and marks, reused.
    x: Vec<f64>,
    marks: Vec<Mark>,
}

impl ChurnProfile {
    /// Scores and counts one customer (a refused one is counted as invalid, by field).
    fn count(&mut self, customer: &JsValue) -> Result<f64, Refused> {
        let cells = match self.inner.cells(customer) {
            Ok(c) => c,
            Err(r) => {
                self.profile.invalid_rows += 1;
                return Err(r);
            }
        };
        let model = Rc::clone(&self.inner.model);
        self.profile.score(&model, |i, _| cells[i].value(), &mut self.x, &mut self.marks).map_err(Refused::Input)
    }
}

/// Counts a refused customer: as invalid for each field at fault.
fn count_refused(profile: &mut Profile, model: &Model, r: &Refused) {
    match r {
        Refused::Input(e) => profile.add_invalid(model.schema(), e),
        Refused::NotAnObject(_) => profile.invalid_rows += 1,
    }
}

#[wasm_bindgen]
impl ChurnProfile {
    /// Scores a customer and counts it; returns whether it was scored (a customer the model
    /// refuses is counted as invalid for each field at fault, and `false` returned).
    pub fn add(&mut self, #[wasm_bindgen(unchecked_param_type = "Customer")] customer: &JsValue) -> bool {
        self.count(customer).is_ok()
    }

    /// `ChurnModel.predict`, also counting the customer (a refused one as invalid, by field,
    /// before the same `Error` is thrown).
    #[wasm_bindgen(unchecked_return_type = "Prediction")]
    pub fn predict(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "Customer")] customer: &JsValue,
    ) -> Result<Object, JsValue> {
        match self.count(customer) {
            Ok(p) => Ok(self.inner.result(p)),
            Err(r) => Err(self.inner.refused(&r)),
        }
    }

    /// `ChurnModel.explain`, also counting the customer (a refused one as invalid, by field,
    /// before the same `Error` is thrown): one reading and one pass through the trees.
    #[wasm_bindgen(unchecked_return_type = "Explanation")]
    pub fn explain(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "Customer")] customer: &JsValue,
        top: Option<f64>,
    ) -> Result<Object, JsValue> {
        let inner = Rc::clone(&self.inner);
        inner.explain(customer, top, Some(&mut self.profile))
    }

    /// `ChurnModel.predictBatch`, also counting every customer. With `atomic` true, a batch with
    /// any refused customer counts only the refused ones (for a caller that then rejects the
    /// whole batch, as the Worker does).
    #[wasm_bindgen(js_name = predictBatch, unchecked_return_type = "BatchResult[]")]
    pub fn predict_batch(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "readonly Customer[]")] customers: &JsValue,
        atomic: Option<bool>,
    ) -> Result<Array, JsValue> {
        let inner = Rc::clone(&self.inner);
        inner.batch(customers, Some((&mut self.profile, atomic == Some(true))))
    }

    /// Adds another profile's counts (exact: merging the profiles of parts of a data set gives
    /// the profile of the whole). Throws, changing nothing, for a profile of another model.
    pub fn merge(&mut self, other: &ChurnProfile) -> Result<(), JsError> {
        let same = Rc::ptr_eq(&self.inner.model, &other.inner.model) || {
            let (a, b) = (self.inner.model.card(), other.inner.model.card());
            a.name == b.name && a.version == b.version
        };
        if !same {
            return Err(JsError::new("merge: the profiles come from different models"));
        }
        self.profile.merge(&other.profile).map_err(|m| JsError::new(&m))
    }

    /// This profile against the training rows' (the model file's): per field PSI, Jensen-Shannon
    /// distance, level, missing and unseen rates, most drifted first; the score's PSI and the
    /// risk bands' shares. The object `churn monitor --json` prints.
    #[wasm_bindgen(unchecked_return_type = "Drift")]
    pub fn drift(&self) -> Result<JsValue, JsError> {
        let model = &self.inner.model;
        let reference = model.artifact().profile.as_ref().ok_or_else(|| JsError::new("no training profile"))?;
        let d = crate::profile::drift(reference, &self.profile).map_err(|m| JsError::new(&m))?;
        to_js(&d.doc(model))
    }

    /// The counts as JSON (`JSON.stringify(profile)` uses it): what `merge` and `churn monitor
    /// --from` read.
    #[wasm_bindgen(js_name = toJSON, unchecked_return_type = "ProfileJSON")]
    pub fn to_json(&self) -> Result<JsValue, JsError> {
        to_js(&self.profile.doc(&self.inner.model))
    }

    /// Customers scored and counted.
    #[wasm_bindgen(getter)]
    pub fn rows(&self) -> f64 {
        self.profile.rows as f64
    }

    /// Customers refused (each also counted as invalid for every field at fault).
    #[wasm_bindgen(getter, js_name = invalidRows)]
    pub fn invalid_rows(&self) -> f64 {
        self.profile.invalid_rows as f64
    }
}

/// Scores a CSV file's records chunk by chunk with the core's output rules: the same scored
/// lines, row errors and label rule as `churn score`/`churn evaluate`. Made by
/// `ChurnModel.csvScorer(header)`.
#[wasm_bindgen]
pub struct CsvScorer {
    model: Rc<Model>,
    layout: CsvLayout,
    /// Per header column, whether the layout reads it (looked up once, not per cell).
    used: Vec<bool>,
    evaluation: Evaluation,
}

/// `{row, line, id, message, details: [{row, field, message}]}` (`field` null when the whole
/// row is wrong).
fn row_error(e: &RowError, id: &str) -> JsValue {
    let details: Array = e
        .details()
        .into_iter()
        .map(|(field, message)| {
            let d = Object::new();
            put_number(&d, "row", e.row as f64);
            put(&d, "field", &field.map_or(JsValue::NULL, JsValue::from_str));
            put_text(&d, "message", &message);
            JsValue::from(d)
        })
        .collect();
    let o = Object::new();
    put_number(&o, "row", e.row as f64);
    put_number(&o, "line", e.line as f64);
    put_text(&o, "id", id);
    put_text(&o, "message", &e.message());
    put(&o, "details", &details);
    o.into()
}

#[wasm_bindgen]
impl CsvScorer {
    /// The scored file's header line (with its line break).
    pub fn header(&self) -> String {
        self.layout.header()
    }

    /// The scored file's first column: the model's id column, or `row` when the file lacks it.
    #[wasm_bindgen(getter, js_name = idHeader)]
    pub fn id_header(&self) -> String {
        self.layout.id_header().to_string()
    }

    /// The model's id column when the file lacks it (rows are numbered instead), else undefined.
    #[wasm_bindgen(getter, js_name = missingId)]
    pub fn missing_id(&self) -> Option<String> {
        self.layout.missing_id(&self.model).map(String::from)
    }

    /// Whether the file has the target column (then `evaluation()` has metrics).
    #[wasm_bindgen(getter, js_name = hasTarget)]
    pub fn has_target(&self) -> bool {
        self.layout.has_target()
    }

    /// Scores records `[{fields: string[], line}]`, the first being data row `firstRow + 1`.
    /// Returns `{csv, rows, ids, raw, probability, prediction, risk, errors}`: the scored lines
    /// of the good rows, then per good row its number, id, raw and rounded probability,
    /// prediction and risk level; `errors` as `{row, line, id, message, details}`. Rows with
    /// the target column also go into `evaluation()`.
    #[wasm_bindgen(unchecked_return_type = "CsvChunk")]
    pub fn score(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "readonly CsvRecord[]")] records: &Array,
        #[wasm_bindgen(js_name = firstRow)] first_row: f64,
    ) -> Result<Object, JsError> {
        let (model, layout) = (&self.model, &self.layout);
        let nf = model.n_features();
        let (fields_key, line_key) = (JsValue::from_str("fields"), JsValue::from_str("line"));
        let mut matrix = Vec::with_capacity(records.length() as usize * nf);
        let mut x = vec![0.0; nf];
        let mut good: Vec<(u64, u64, Vec<String>)> = Vec::new();
        let errors = Array::new();
        for (k, rec) in records.iter().enumerate() {
            let fields = Reflect::get(&rec, &fields_key).unwrap_or(JsValue::UNDEFINED);
            if !Array::is_array(&fields) {
                return Err(JsError::new(&format!("record {k}: expected {{fields: string[], line}}")));
            }
            let fields: &Array = fields.unchecked_ref();
            let line = Reflect::get(&rec, &line_key).ok().and_then(|v| v.as_f64()).unwrap_or(0.0) as u64;
            // Only the columns the layout reads cross into wasm.
            let cells: Vec<String> = (0..fields.length())
                .map(|i| {
                    if self.used.get(i as usize).copied().unwrap_or(false) {
                        fields.get(i).as_string().unwrap_or_default()
                    } else {
                        String::new()
                    }
                })
                .collect();
            let row = first_row as u64 + k as u64 + 1;
            match layout.encode(model, &cells[..], row, line, &mut x) {
                Ok(()) => {
                    matrix.extend_from_slice(&x);
                    good.push((row, line, cells));
                }
                Err(e) => {
                    errors.push(&row_error(&e, &layout.id_of(&cells[..])));
                }
            }
        }
        let mut p = vec![0.0; good.len()];
        model.forest().probabilities(&matrix, &mut p);
        let mut csv = String::with_capacity(good.len() * 48);
        let (ids, prediction, risk) = (Array::new(), Array::new(), Array::new());
        let mut rounded = Vec::with_capacity(good.len());
        let target = &model.schema().target;
        for ((row, line, cells), &p) in good.iter().zip(&p) {
            layout.write_row(&mut csv, model, &cells[..], *row, p, None);
            let d = model.decide(p);
            ids.push(&JsValue::from_str(&layout.row_id(&cells[..], *row)));
            rounded.push(d.rounded);
            prediction.push(&JsValue::from_str(d.prediction()));
            risk.push(&JsValue::from_str(d.risk.as_str()));
            if layout.has_target() {
                self.evaluation.push(target, p, &layout.label(&cells[..]), *line);
            }
        }
        let rows: Vec<f64> = good.iter().map(|(row, _, _)| *row as f64).collect();
        let o = Object::new();
        put_text(&o, "csv", &csv);
        put(&o, "rows", &Float64Array::from(&rows[..]));
        put(&o, "ids", &ids);
        put(&o, "raw", &Float64Array::from(&p[..]));
        put(&o, "probability", &Float64Array::from(&rounded[..]));
        put(&o, "prediction", &prediction);
        put(&o, "risk", &risk);
        put(&o, "errors", &errors);
        Ok(o)
    }

    /// The metrics of the rows scored so far that have a usable label (the object
    /// `ChurnModel.evaluate` returns), or `null`.
    #[wasm_bindgen(unchecked_return_type = "Evaluation | null")]
    pub fn evaluation(&self) -> Result<JsValue, JsError> {
        to_js(&self.evaluation.doc(&self.model))
    }

    /// What to tell the user about labels that were neither value, if any.
    #[wasm_bindgen(getter, js_name = labelNote)]
    pub fn label_note(&self) -> Option<String> {
        self.evaluation.note(&self.model)
    }
}

/// The JS engine's shortest round-trip digits of a finite double (`String(x)`), for
/// `output::write_number`.
pub(crate) fn shortest_digits(x: f64) -> String {
    js_sys::Number::from(x).to_string_with_radix(10).ok().and_then(|s| s.as_string()).unwrap_or_default()
}

/// A number as every surface writes it in output (`churn score`'s columns, the page): the
/// shortest decimal that reads back as the same double, without an exponent (`0.0000001`).
#[wasm_bindgen(js_name = formatNumber)]
pub fn format_number(x: f64) -> String {
    crate::output::number(x)
}

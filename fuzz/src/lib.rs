//! What the fuzz targets check, in one place (the targets in `fuzz_targets/` are one line each).
//!
//! Both targets hold the core to its contract: no input makes it panic, an error names what is
//! wrong, and whatever is accepted behaves (probabilities in [0, 1], the single-row, batch,
//! columnar and explanation paths agree bit for bit). A failed `assert!` is a crash for
//! libFuzzer, exactly like a panic inside the core.

use std::sync::OnceLock;

use inference_wasm::artifact::HEADER_LEN;
use inference_wasm::{Artifact, Column, FieldKind, InputError, Missing, Model, Unknown, Value};

/// The golden model (30 trees on the Telco columns): what the record target scores with.
pub const GOLDEN: &[u8] = include_bytes!("../../tests/fixtures/golden.bin");

/// Most records a JSON array may hold here (keeps one input's work bounded).
const MAX_RECORDS: usize = 4;

// ---------------------------------------------------------------------------------------------
// Model files

/// One input, two ways: as a whole file (what a user hands the loader), and with bytes 20.. put
/// under a correct header (right length, right CRC-32), so mutations get past the checksum and
/// exercise the payload decoder, the semantic checks and the forest compiler.
pub fn artifact(data: &[u8]) {
    check_file(data);
    if data.len() >= HEADER_LEN {
        check_file(&with_header(&data[HEADER_LEN..]));
    }
}

/// `payload` behind a valid header, as an attacker (or a buggy writer) could produce it.
pub fn with_header(payload: &[u8]) -> Vec<u8> {
    inference_wasm::artifact::frame(payload)
}

fn check_file(bytes: &[u8]) {
    let model = match Model::from_bytes(bytes) {
        Ok(m) => m,
        Err(e) => {
            assert!(!e.to_string().is_empty(), "an empty error message for {e:?}");
            return;
        }
    };
    // What loads must save and load again, to the same bytes.
    let saved = model.artifact().to_bytes();
    let again = Model::from_bytes(&saved).unwrap_or_else(|e| panic!("a loaded model, saved, fails to load: {e}"));
    assert!(again.artifact().to_bytes() == saved, "save → load → save changed the bytes");
    exercise_forest(&model);
    // Records that are all null / all blank / all zero: an answer or named errors.
    for v in [Value::Null, Value::Text(""), Value::Number(0.0), Value::Absent] {
        check_record(&model, move |_, _| v, true);
    }
}

/// Scores feature vectors built from the forest's own thresholds (so many paths are taken)
/// and checks the single, batch and explanation paths against each other.
fn exercise_forest(model: &Model) {
    let nf = model.n_features();
    let tables = model.artifact().ensemble.thresholds();
    let pick = |f: usize, r: usize| -> f64 {
        let t = &tables[f];
        match (r, t.first(), t.last()) {
            (_, None, _) | (_, _, None) => r as f64 - 2.0,
            (0, Some(lo), _) => lo - 1.0,
            (1, _, Some(hi)) => hi + 1.0,
            (2, _, _) => -1.0e308,
            (3, _, _) => 1.0e308,
            _ => t[(r * 7 + f * 3) % t.len()],
        }
    };
    const ROWS: usize = 8;
    let mut matrix = vec![0.0; ROWS * nf];
    for r in 0..ROWS {
        for f in 0..nf {
            matrix[r * nf + f] = pick(f, r);
        }
    }
    let mut batch = vec![f64::NAN; ROWS];
    model.forest().probabilities(&matrix, &mut batch);
    for r in 0..ROWS {
        let x = &matrix[r * nf..(r + 1) * nf];
        let p = model.probability(x);
        assert!((0.0..=1.0).contains(&p), "probability {p} outside [0, 1]");
        assert_eq!(batch[r].to_bits(), p.to_bits(), "batch path differs from single row {r}");
        check_explanation(model, x, p);
    }
}

fn check_explanation(model: &Model, x: &[f64], p: f64) {
    check_explained(model, &model.explain_features(x, model.n_features()), x, p);
}

/// An explanation of all fields agrees with the probability and the features it explains.
fn check_explained(model: &Model, e: &inference_wasm::Explanation, x: &[f64], p: f64) {
    let nf = model.n_features();
    assert_eq!(e.probability.to_bits(), p.to_bits(), "explanation's probability differs");
    assert_eq!(e.contributions.len(), nf);
    let total: f64 = e.base_value + e.contributions.iter().map(|c| c.contribution).sum::<f64>();
    // A forest's values are in [0, 1]. A boosted model's may be up to ±1024 (the format's bound),
    // and a hostile file's large values that cancel along a path leave float rounding in
    // proportion: at most ~eps per addition times the largest magnitude summed, times the
    // additions (trees × path length + fields), times the sigmoid's slope (≤ 1/4).
    let tolerance = match &model.artifact().ensemble {
        inference_wasm::Ensemble::Forest(_) => 1e-9,
        inference_wasm::Ensemble::Boosted(b) => {
            let largest = b.values.iter().fold(b.base_score.abs(), |m, v| m.max(v.abs()));
            let (_, _, depth) = model.forest().shape();
            let additions = (b.tree_sizes.len() * (depth + 1) + nf) as f64;
            1e-9 + f64::EPSILON * additions * additions * 2.0 * largest
        }
    };
    assert!((total - p).abs() <= tolerance, "base + contributions = {total}, probability {p}");
    let mut seen = vec![false; nf];
    for c in &e.contributions {
        assert!(!std::mem::replace(&mut seen[c.field], true), "field {} listed twice", c.field);
        assert_eq!(c.feature.to_bits(), x[c.field].to_bits());
    }
}

// ---------------------------------------------------------------------------------------------
// Records

/// The golden model as shipped, plus two variants of its rules so both sides of every branch
/// are reachable: `strict` refuses missing values and unknown categories, `lenient` replaces
/// them (numbers by the field's minimum, categories by the last level).
pub fn models() -> &'static [Model; 3] {
    static MODELS: OnceLock<[Model; 3]> = OnceLock::new();
    MODELS.get_or_init(|| {
        let golden = Artifact::from_bytes(GOLDEN).expect("golden.bin loads");
        let variant = |strict: bool| {
            let mut a = golden.clone();
            for f in &mut a.schema.fields {
                match &mut f.kind {
                    FieldKind::Numeric(n) => n.missing = if strict { Missing::Error } else { Missing::Replace(n.min) },
                    FieldKind::Categorical(c) => {
                        c.unknown = if strict { Unknown::Error } else { Unknown::AsLevel(c.levels.len() as u32 - 1) }
                    }
                }
            }
            Model::new(a).expect("a variant of golden.bin validates")
        };
        [Model::new(golden.clone()).unwrap(), variant(true), variant(false)]
    })
}

/// A record as the Worker receives it (a JSON object, or an array of them), or, when the
/// input is not JSON, a CSV line whose cells go to the fields in schema order.
pub fn record(data: &[u8]) {
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(data) {
        let records: Vec<&serde_json::Map<String, serde_json::Value>> = match &json {
            serde_json::Value::Object(m) => vec![m],
            serde_json::Value::Array(items) => items.iter().filter_map(|v| v.as_object()).take(MAX_RECORDS).collect(),
            _ => return,
        };
        for (k, model) in models().iter().enumerate() {
            for m in &records {
                check_record(model, |_, name| json_value(m.get(name)), k == 0);
            }
        }
    } else if let Ok(line) = std::str::from_utf8(data) {
        let cells: Vec<&str> = line.split(',').collect();
        for (k, model) in models().iter().enumerate() {
            check_record(model, |i, _| cells.get(i).map_or(Value::Absent, |s| Value::Text(s)), k == 0);
        }
    }
}

/// JSON → `Value`, as the wasm bindings map a JS value.
pub fn json_value(v: Option<&serde_json::Value>) -> Value<'_> {
    use serde_json::Value as J;
    match v {
        None => Value::Absent,
        Some(J::Null) => Value::Null,
        Some(J::Bool(b)) => Value::Bool(*b),
        Some(J::Number(n)) => n.as_f64().map_or(Value::Other("a number out of range"), Value::Number),
        Some(J::String(s)) => Value::Text(s),
        Some(J::Array(_)) => Value::Other("an array"),
        Some(J::Object(_)) => Value::Other("an object"),
    }
}

/// Every entry point that takes a record must agree: the same probability (bit for bit) or
/// the same errors, each naming a field of the schema, once, in schema order. `all_paths` adds
/// the explanation, batch and columnar paths (the record target checks them on the shipped
/// model only: they share the variants' forest, and fuzzing speed matters).
pub fn check_record<'a>(model: &Model, get: impl Fn(usize, &str) -> Value<'a> + Copy, all_paths: bool) {
    let nf = model.n_features();
    let mut x = vec![f64::NAN; nf];
    match model.encode(get, &mut x) {
        Ok(()) => {
            assert!(x.iter().all(|v| v.is_finite()), "an encoded feature is not finite: {x:?}");
            let p = model.probability(&x);
            assert!((0.0..=1.0).contains(&p), "probability {p} outside [0, 1]");
            let d = model.score(get).expect("encode accepted the record");
            assert_eq!(d.raw.to_bits(), p.to_bits(), "score differs from encode + probability");
            assert_eq!(d, model.decide(p));
            assert!((0.0..=1.0).contains(&d.rounded), "rounded probability {} outside [0, 1]", d.rounded);
            if all_paths {
                let e = model.explain(get, nf).expect("encode accepted the record");
                check_explained(model, &e, &x, p);
                let mut one = [f64::NAN];
                model.forest().probabilities(&x, &mut one);
                assert_eq!(one[0].to_bits(), p.to_bits(), "batch path differs");
                check_columnar(model, get, Ok(p));
            }
        }
        Err(err) => {
            check_input_error(model, &err);
            assert_eq!(model.score(get).unwrap_err(), err);
            if all_paths {
                assert_eq!(model.probability_of(get).unwrap_err(), err);
                assert_eq!(model.explain(get, 3).unwrap_err(), err);
                check_columnar(model, get, Err(&err));
            }
        }
    }
}

fn check_input_error(model: &Model, err: &InputError) {
    let schema = model.schema();
    assert!(!err.errors.is_empty(), "an error with no field errors");
    let mut last = None;
    for fe in &err.errors {
        let i = schema.index_of(&fe.field).unwrap_or_else(|| panic!("error names no field of the schema: {fe}"));
        assert!(last < Some(i), "field errors out of schema order or repeated: {err}");
        last = Some(i);
        let msg = fe.message();
        assert!(!msg.is_empty());
        let shown = fe.to_string();
        assert!(shown.contains(&fe.field), "{shown:?} does not name {}", fe.field);
        // A user's value is quoted at most 40 characters long (each escaped to ≤ 10 bytes);
        // an unknown category also lists the field's levels.
        let levels: usize = match &schema.fields[i].kind {
            FieldKind::Categorical(c) => c.levels.iter().map(|l| l.len() + 2).sum(),
            FieldKind::Numeric(_) => 0,
        };
        let bound = fe.field.len() + 40 * 10 + levels + 160;
        assert!(shown.len() <= bound, "a {}-byte message (bound {bound}): {shown:.300}", shown.len());
    }
}

/// The columnar fast path (typed arrays / CSV columns) on the same record as one row: text
/// cells as a text column, numbers as a number column, null as NaN. Other values have no
/// columnar form and are skipped.
fn check_columnar<'a>(model: &Model, get: impl Fn(usize, &str) -> Value<'a>, expect: Result<f64, &InputError>) {
    let nf = model.n_features();
    let mut texts: Vec<[&str; 1]> = Vec::with_capacity(nf);
    let mut numbers: Vec<[f64; 1]> = Vec::with_capacity(nf);
    let mut kinds = Vec::with_capacity(nf);
    for (i, f) in model.schema().fields.iter().enumerate() {
        match get(i, &f.name) {
            Value::Text(s) => {
                kinds.push(true);
                texts.push([s]);
                numbers.push([0.0]);
            }
            Value::Number(x) if !x.is_nan() => {
                kinds.push(false);
                texts.push([""]);
                numbers.push([x]);
            }
            Value::Null => {
                kinds.push(false);
                texts.push([""]);
                numbers.push([f64::NAN]);
            }
            _ => return,
        }
    }
    let columns: Vec<Column<'_>> =
        (0..nf).map(|i| if kinds[i] { Column::Texts(&texts[i]) } else { Column::Numbers(&numbers[i]) }).collect();
    let mut out = [0.0];
    let failures = model.probabilities_columnar(&columns, &mut out).expect("one column per field, one row each");
    match expect {
        Ok(p) => {
            assert!(failures.is_empty(), "columnar path refuses a valid record: {:?}", failures);
            assert_eq!(out[0].to_bits(), p.to_bits(), "columnar path differs");
        }
        Err(err) => {
            assert_eq!(failures.len(), 1);
            assert_eq!(failures[0].0, 0);
            assert_eq!(&failures[0].1, err, "columnar path reports other errors");
            assert!(out[0].is_nan());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Profiles

/// A profile as `churn monitor --from` reads it from a Worker (`Profile::from_json`, with the
/// core's own JSON reader): any text gives a profile or an error, never a panic. A profile that
/// reads must be consistent (it merges into the reference's bins, gives drift figures in range)
/// and must read back from its own JSON unchanged.
pub fn profile(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let model = &models()[0];
    let Ok(p) = inference_wasm::Profile::from_json(model, text) else { return };
    let mut sum = inference_wasm::profile::empty_profile(model).expect("golden.bin has a reference");
    sum.merge(&p).expect("a profile that reads has the model's bins");
    assert_eq!(sum, p);
    let reference = model.artifact().profile.as_ref().expect("reference");
    let d = inference_wasm::profile::drift(reference, &p).expect("same bins");
    assert!(d.score_psi.is_finite() && d.score_psi >= 0.0);
    assert!(d.fields.iter().all(|f| f.psi.is_finite() && (0.0..=1.0 + 1e-12).contains(&f.js)));
    let again = inference_wasm::Profile::from_json(model, &to_text(&p.doc(model))).expect("its own JSON reads back");
    assert_eq!(again, p);
}

/// JSON text of a `Doc` (serde_json, as the CLI prints it).
fn to_text(d: &inference_wasm::Doc) -> String {
    use inference_wasm::Doc;
    let v = |d: &Doc| -> serde_json::Value {
        fn go(d: &Doc) -> serde_json::Value {
            match d {
                Doc::Null => serde_json::Value::Null,
                Doc::Bool(b) => (*b).into(),
                Doc::Number(x) => serde_json::Number::from_f64(*x).map_or(serde_json::Value::Null, Into::into),
                Doc::Count(n) => (*n).into(),
                Doc::Text(t) => t.as_str().into(),
                Doc::List(items) => items.iter().map(go).collect(),
                Doc::Map(entries) => {
                    entries.iter().map(|(k, v)| (k.to_string(), go(v))).collect::<serde_json::Map<_, _>>().into()
                }
            }
        }
        go(d)
    };
    v(d).to_string()
}

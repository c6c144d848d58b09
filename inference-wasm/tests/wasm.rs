//! The golden cases under wasm-bindgen-test, through the JS bindings, in Node and in headless
//! Chromium (scripts/test.sh runs this file in both). Raw probabilities must equal the native
//! `churn score --raw --explain 3` output bit for bit (probabilities and explanations).
#![cfg(target_arch = "wasm32")]

use inference_wasm::wasm::ChurnModel;
use js_sys::{Object, Reflect};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

#[cfg(feature = "browser-tests")]
wasm_bindgen_test_configure!(run_in_browser);

const MODEL: &[u8] = include_bytes!("../../tests/fixtures/golden.bin");
const CASES: &str = include_str!("../../tests/fixtures/golden_cases.csv");
const EXPECTED: &str = include_str!("../../tests/fixtures/golden_expected.csv");
/// Every golden model (a random forest, gradient-boosted trees) with its native output.
const GOLDENS: [(&[u8], &str); 2] = [
    (MODEL, EXPECTED),
    (
        include_bytes!("../../tests/fixtures/golden_gbt.bin"),
        include_str!("../../tests/fixtures/golden_gbt_expected.csv"),
    ),
];

/// A model from its bytes, given to the constructor as JS gives them (a `Uint8Array`).
fn load(bytes: &[u8]) -> Result<ChurnModel, wasm_bindgen::JsError> {
    ChurnModel::new(&js_sys::Uint8Array::from(bytes).into())
}

fn rows(csv: &str) -> (Vec<&str>, Vec<Vec<&str>>) {
    let mut lines = csv.lines();
    let header = lines.next().unwrap().split(',').collect();
    (header, lines.map(|l| l.split(',').collect()).collect())
}

fn object(header: &[&str], row: &[&str]) -> JsValue {
    let o = Object::new();
    for (k, v) in header.iter().zip(row) {
        Reflect::set(&o, &JsValue::from_str(k), &JsValue::from_str(v)).unwrap();
    }
    o.into()
}

fn get(o: &JsValue, k: &str) -> JsValue {
    Reflect::get(o, &JsValue::from_str(k)).unwrap()
}

#[wasm_bindgen_test]
fn golden_cases_match_native_bit_for_bit() {
    for (bytes, expected) in GOLDENS {
        golden_case_parity(bytes, expected);
    }
}

fn golden_case_parity(bytes: &[u8], expected: &str) {
    let model = load(bytes).unwrap();
    let (h, cases) = rows(CASES);
    let (eh, expected) = rows(expected);
    let col = |name: &str| eh.iter().position(|c| *c == name).unwrap();
    let (raw, shown, pred, risk) =
        (col("churn_probability_raw"), col("churn_probability"), col("churn_prediction"), col("risk_level"));
    assert_eq!(cases.len(), expected.len());
    for (c, e) in cases.iter().zip(&expected) {
        let customer = object(&h, c);
        let p = model.probability(&customer).unwrap();
        let want: f64 = e[raw].parse().unwrap();
        assert_eq!(p.to_bits(), want.to_bits(), "{}", c[0]);
        let r: JsValue = model.predict(&customer).unwrap().into();
        assert_eq!(get(&r, "churn_probability").as_f64().unwrap(), e[shown].parse::<f64>().unwrap());
        assert_eq!(get(&r, "churn_prediction").as_string().unwrap(), e[pred]);
        assert_eq!(get(&r, "risk_level").as_string().unwrap(), e[risk]);
        // Explanations: the same top 3 factors, values and contributions, bit for bit.
        let x: JsValue = model.explain(&customer, Some(3.0)).unwrap().into();
        assert_eq!(get(&x, "churn_probability_raw").as_f64().unwrap().to_bits(), want.to_bits());
        let factors = js_sys::Array::from(&get(&x, "top_factors"));
        for k in 1..=3 {
            let f = factors.get(k - 1);
            let name = format!("why_{k}");
            assert_eq!(get(&f, "field").as_string().unwrap(), e[col(&name)], "{} {name}", c[0]);
            let value = get(&f, "value");
            let shown = value.as_string().unwrap_or_else(|| value.as_f64().map(|v| v.to_string()).unwrap_or_default());
            assert_eq!(shown, e[col(&format!("{name}_value"))], "{} {name}_value", c[0]);
            let contribution: f64 = e[col(&format!("{name}_contribution"))].parse().unwrap();
            assert_eq!(get(&f, "contribution").as_f64().unwrap().to_bits(), contribution.to_bits(), "{} {name}", c[0]);
        }
    }
}

#[wasm_bindgen_test]
fn bad_input_throws_and_the_instance_keeps_working() {
    let model = load(MODEL).unwrap();
    let (h, cases) = rows(CASES);
    let good = object(&h, &cases[3]);
    let want = model.probability(&good).unwrap();
    let bad = object(&h, &cases[3]);
    Reflect::set(&bad, &JsValue::from_str("tenure"), &JsValue::from_str("abc")).unwrap();
    let err = model.predict(&bad).unwrap_err();
    let msg = get(&err, "message").as_string().unwrap();
    assert_eq!(msg, "tenure: expected a number, got \"abc\"");
    assert!(model.predict(&JsValue::NULL).is_err());
    assert!(model.predict(&JsValue::from_f64(f64::NAN)).is_err());
    assert_eq!(model.probability(&good).unwrap().to_bits(), want.to_bits());
    assert!(load(&MODEL[..40]).is_err());
    assert!(ChurnModel::new(&JsValue::from_str("model.bin")).is_err());
}

/// In wasm the digits of `write_number` come from the JS engine (`Number.prototype.toString`),
/// natively from ryu: both must give Rust's `{}` text (ties apart: same length, both read back).
#[wasm_bindgen_test]
fn numbers_are_written_as_natively() {
    use inference_wasm::output::number;
    let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..200_000 {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        let p = (s >> 11) as f64 / (1u64 << 53) as f64;
        assert_eq!(number(p), format!("{p}"));
        let x = f64::from_bits(s);
        if x.is_finite() && number(x) != format!("{x}") {
            let (a, b) = (number(x), format!("{x}"));
            assert!(a.len() == b.len() && a.parse::<f64>() == Ok(x), "{x:e}: {a} vs {b}");
        }
    }
    for (x, want) in [(1e-7, "0.0000001"), (1e21, "1000000000000000000000"), (-0.0, "-0"), (f64::NAN, "NaN")] {
        assert_eq!(number(x), want);
    }
}

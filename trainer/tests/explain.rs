//! Explanations on real models (issue 7): additivity on every Telco row, the well-known drivers
//! on Telco, and a synthetic file where one column alone decides the target.

use std::path::Path;
use std::process::Command;

use inference_wasm::{Model, Value};

mod common;

use common::root;

/// Trains with the CLI defaults (plus `extra` flags) and loads the model with the core.
fn train(data: &Path, dir: &Path, extra: &[&str]) -> Model {
    let out = dir.join("model.bin");
    let run = Command::new(env!("CARGO_BIN_EXE_churn"))
        .args(["train", "--no-registry", "--data", data.to_str().unwrap(), "--out", out.to_str().unwrap(), "--json"])
        .args(extra)
        .output()
        .expect("churn runs");
    assert!(run.status.success(), "churn train failed: {}", String::from_utf8_lossy(&run.stderr));
    Model::from_bytes(&std::fs::read(&out).unwrap()).expect("the model loads")
}

/// Every row of a CSV as (header, records).
fn read_csv(path: &Path) -> (csv::StringRecord, Vec<csv::StringRecord>) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header = r.headers().unwrap().clone();
    (header, r.records().map(Result::unwrap).collect())
}

/// For each row: explains it with every field, checks additivity and that the explanation's
/// probability is the scoring probability bit for bit, and adds up |contribution| per field.
fn explain_all(model: &Model, header: &csv::StringRecord, rows: &[csv::StringRecord]) -> Vec<f64> {
    let col: Vec<usize> = model
        .schema()
        .fields
        .iter()
        .map(|f| header.iter().position(|h| h == f.name).expect("every field is a column"))
        .collect();
    let n = model.n_features();
    let mut total = vec![0.0; n];
    let mut worst: f64 = 0.0;
    for (r, row) in rows.iter().enumerate() {
        let get = |i: usize, _: &str| Value::Text(&row[col[i]]);
        let e = model.explain(get, n).unwrap_or_else(|err| panic!("row {r}: {err}"));
        let p = model.probability_of(get).unwrap();
        assert_eq!(e.probability.to_bits(), p.to_bits(), "row {r}: explain and score disagree");
        assert_eq!(e.contributions.len(), n, "every field gets a contribution");
        let sum: f64 = e.contributions.iter().map(|c| c.contribution).sum();
        let gap = (e.base_value + sum - p).abs();
        assert!(gap <= 1e-12, "row {r}: base {} + Σ {} = {} but p = {p}", e.base_value, sum, e.base_value + sum);
        worst = worst.max(gap);
        for c in &e.contributions {
            total[c.field] += c.contribution.abs();
        }
    }
    eprintln!("{} rows: largest |base + Σ contributions − p| = {worst:e}", rows.len());
    total
}

#[test]
fn telco_explanations_add_up_on_every_row_and_name_the_known_drivers() {
    let dir = tempfile::tempdir().unwrap();
    let data = root().join("data/telco_churn.csv");
    let (header, rows) = read_csv(&data);
    assert_eq!(rows.len(), 7043);
    // Gradient-boosted trees: contributions are carried from margin to probability space by one
    // factor per row, and still add up on every row.
    let boosted = train(&data, dir.path(), &["--model", "gbt"]);
    assert_eq!(boosted.kind(), inference_wasm::ModelKind::GradientBoosting);
    let total = explain_all(&boosted, &header, &rows);
    let names: Vec<&str> = boosted.schema().fields.iter().map(|f| f.name.as_str()).collect();
    let mut order: Vec<usize> = (0..names.len()).collect();
    order.sort_by(|&a, &b| total[b].total_cmp(&total[a]));
    let top3: Vec<&str> = order[..3].iter().map(|&i| names[i]).collect();
    assert!(top3.contains(&"Contract") && top3.contains(&"tenure"), "boosted: top 3 fields: {top3:?}");
    // Its base value is the probability at the roots: the sigmoid of the mean training margin.
    let base = boosted.forest().base_value();
    assert!(base > 0.1 && base < 0.35, "boosted base value {base}");

    let model = train(&data, dir.path(), &["--model", "rf"]);
    let total = explain_all(&model, &header, &rows);

    let names: Vec<&str> = model.schema().fields.iter().map(|f| f.name.as_str()).collect();
    let mut order: Vec<usize> = (0..names.len()).collect();
    order.sort_by(|&a, &b| total[b].total_cmp(&total[a]));
    let top3: Vec<&str> = order[..3].iter().map(|&i| names[i]).collect();
    eprintln!("largest mean |contribution|: {top3:?}");
    assert!(top3.contains(&"Contract") && top3.contains(&"tenure"), "top 3 fields: {top3:?}");

    // base_value is the forest's mean output on its training rows (each tree's on its
    // bootstrap sample): close to the mean score and to the churn rate (26.5 %).
    let cols: Vec<usize> = names.iter().map(|n| header.iter().position(|h| h == *n).unwrap()).collect();
    let mean_p = rows.iter().map(|row| model.probability_of(|i, _| Value::Text(&row[cols[i]])).unwrap()).sum::<f64>()
        / rows.len() as f64;
    let base = model.forest().base_value();
    assert!((base - mean_p).abs() < 0.01, "base value {base} vs mean probability {mean_p}");
    assert!((base - 0.265).abs() < 0.02, "base value {base} vs churn rate 0.265");
}

#[test]
fn one_driving_column_gets_over_90_percent_of_the_credit() {
    // Deterministic synthetic data: `driver` alone decides the target; the rest is noise.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("synthetic.csv");
    let mut state = 0x5eed_u64;
    let mut next = || {
        // SplitMix64 → uniform in [0, 1).
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) as f64 / 2f64.powi(64)
    };
    let mut csv = String::from("noise_a,driver,plan,noise_b,left\n");
    for _ in 0..3000 {
        let (a, d, plan, b) = (next(), next(), next(), next());
        let plan = ["basic", "plus", "pro"][(plan * 3.0) as usize];
        let left = if d > 0.6 { "Yes" } else { "No" };
        csv.push_str(&format!("{:.4},{:.4},{plan},{:.4},{left}\n", a * 100.0, d, b * 10.0));
    }
    std::fs::write(&path, csv).unwrap();
    let model = train(&path, dir.path(), &["--target", "left", "--test-fraction", "0"]);
    let (header, rows) = read_csv(&path);
    let total = explain_all(&model, &header, &rows);
    let driver = model.schema().fields.iter().position(|f| f.name == "driver").unwrap();
    let share = total[driver] / total.iter().sum::<f64>();
    eprintln!("driver's share of Σ|contribution|: {share:.4}");
    assert!(share > 0.9, "driver gets {share:.3} of the credit");
}

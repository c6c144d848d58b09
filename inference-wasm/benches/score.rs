//! Native speed of the scoring core on the default Telco model (`www/worker/model.bin`) and the
//! Telco rows — the baseline the wasm figures (`www/bench/wasm.mjs`) are compared with.
//! Run: `cargo bench -p inference-wasm` (medians in target/criterion/).
//! `CHURN_BENCH_MODELS=a.bin,b.bin` scores the Telco rows with those models instead (any model
//! trained on Telco's columns), e.g. a forest against boosted trees of the same node count:
//! `bash bench/kinds.sh`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use inference_wasm::{Column, FieldKind, Model, Value};

/// The model at `path`, the Telco rows encoded, and the same rows as text cells in schema order.
fn load(path: &str) -> (Model, Vec<Vec<f64>>, Vec<Vec<String>>) {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let model = Model::from_bytes(&std::fs::read(path).unwrap()).unwrap();
    let text = std::fs::read_to_string(format!("{root}/data/telco_churn.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let cols: Vec<usize> =
        model.schema().fields.iter().map(|f| header.iter().position(|h| *h == f.name).unwrap()).collect();
    let records: Vec<Vec<String>> = lines
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            cols.iter().map(|&c| cells[c].to_string()).collect()
        })
        .collect();
    let rows = records
        .iter()
        .map(|r| {
            let mut x = vec![0.0; model.n_features()];
            model.encode(|i, _| Value::Text(&r[i]), &mut x).unwrap();
            x
        })
        .collect();
    (model, rows, records)
}

fn bench(c: &mut Criterion) {
    let default = concat!(env!("CARGO_MANIFEST_DIR"), "/../www/worker/model.bin").to_string();
    let paths = std::env::var("CHURN_BENCH_MODELS")
        .map_or(vec![default.clone()], |v| v.split(',').map(str::to_string).collect());
    for path in paths {
        let name = if path == default {
            "telco default model".to_string()
        } else {
            std::path::Path::new(&path).file_name().unwrap().to_string_lossy().into_owned()
        };
        bench_model(c, &name, &path);
    }
}

fn bench_model(c: &mut Criterion, name: &str, path: &str) {
    let (model, rows, records) = load(path);
    let n = rows.len();
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(n as u64));
    // What wasm's predict(obj) does after reading the object: encode text cells, then score.
    g.bench_function("score a record (encode text + probability), one row at a time", |b| {
        b.iter(|| {
            records.iter().map(|r| model.probability_of(|i, _| Value::Text(black_box(&r[i]))).unwrap()).sum::<f64>()
        })
    });
    g.bench_function("probability, one row at a time", |b| {
        b.iter(|| rows.iter().map(|x| model.probability(black_box(x))).sum::<f64>())
    });
    let mut contributions = vec![0.0; model.n_features()];
    g.bench_function("explain (contributions), one row at a time", |b| {
        b.iter(|| rows.iter().map(|x| model.forest().contributions(black_box(x), &mut contributions)).sum::<f64>())
    });
    // What wasm's probabilities(columns) does: encode columns (numbers, texts), then score.
    let fields = &model.schema().fields;
    let numbers: Vec<Vec<f64>> =
        (0..fields.len()).map(|i| records.iter().map(|r| r[i].trim().parse().unwrap_or(f64::NAN)).collect()).collect();
    let texts: Vec<Vec<&str>> = (0..fields.len()).map(|i| records.iter().map(|r| r[i].as_str()).collect()).collect();
    let columns: Vec<Column> = fields
        .iter()
        .enumerate()
        .map(|(i, f)| match f.kind {
            FieldKind::Numeric(_) => Column::Numbers(&numbers[i]),
            FieldKind::Categorical(_) => Column::Texts(&texts[i]),
        })
        .collect();
    let mut col_out = vec![0.0; n];
    g.bench_function("probabilities_columnar (encode columns + batch)", |b| {
        b.iter(|| model.probabilities_columnar(black_box(&columns), &mut col_out).unwrap())
    });
    let matrix: Vec<f64> = rows.concat();
    let mut out = vec![0.0; n];
    g.bench_function("probabilities, batch", |b| b.iter(|| model.forest().probabilities(black_box(&matrix), &mut out)));
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);

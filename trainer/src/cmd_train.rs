//! `churn train`, in layers: flags → validated plan (`plan.rs`) → read and encode (`prepare`)
//! → choose and fit (`fit`) → model card, scored by the core (`model_card`) → gate (`gate`)
//! → write → record (`cmd_registry::record_train`, from the plan and the written model) →
//! report.

use std::time::Instant;

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use inference_wasm::metrics::roc_curve;
use inference_wasm::{
    profile, Artifact, Candidate, Encoders, Ensemble, KindParams, Mark, Metrics, Model, ModelCard, Profile, Schema,
    TrainParams, Value,
};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::boost::{self, Binned};
use crate::cli::TrainArgs;
use crate::cmd_registry::record_train;
use crate::data::{self, line_of, Selection, Table};
use crate::output::{write_atomic, GateFailed, Spans};
use crate::plan::TrainPlan;
use crate::select::{self, Spec};
use crate::train::{self, ForestParams};

/// ROC points kept in the model card.
const ROC_POINTS: usize = 101;

pub fn run(args: TrainArgs) -> Result<()> {
    let started = Instant::now();
    let mut spans = Spans::new(started);
    let plan = TrainPlan::from_args(args)?;
    let prepared = prepare(&plan, &mut spans)?;
    let fit_started = Instant::now();
    let fitted = fit(&plan, &prepared.x_train, prepared.nf, &prepared.y_train, &mut spans)?;
    let fit_seconds = fit_started.elapsed().as_secs_f64();
    let mut notes = prepared.notes.clone();
    notes.extend(fitted.notes.iter().cloned());
    let artifact = model_card(&plan, prepared, fitted)?;
    spans.mark("card");
    let bytes = artifact.to_bytes();
    // What we write must load.
    let model = Model::from_bytes(&bytes).context("internal: the written model does not load")?;
    spans.mark("to/from bytes");

    let gate = gate(&plan, &artifact);
    if gate.is_none() {
        write_atomic(&plan.out, &bytes)?;
    }
    spans.mark("write");
    let seconds = started.elapsed().as_secs_f64();
    // The run goes to the registry (and MLflow) whether or not the gate passed: nothing is lost.
    let recorded = match &plan.record {
        None => None,
        Some(record) => Some(record_train(record, &artifact, &bytes, gate.is_none(), seconds).with_context(|| {
            if gate.is_none() {
                format!("the model file {} was written", plan.out.display())
            } else {
                "no model file written".into()
            }
        })?),
    };
    let shape = model.forest().shape();
    if plan.json {
        let (nodes, leaves, depth) = shape;
        let out = json!({
            "model": plan.out,
            "written": gate.is_none(),
            "bytes": bytes.len(),
            "nodes": nodes,
            "leaves": leaves,
            "bytes_per_node": bytes.len() as f64 / nodes as f64,
            "max_depth_reached": depth,
            "seconds": seconds,
            "fit_seconds": fit_seconds,
            "notes": notes,
            "card": artifact.card,
            "policy": artifact.policy,
            "schema": artifact.schema,
            "registry": recorded.as_ref().map(|r| r.to_json()),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print_summary(&plan, &artifact, bytes.len(), shape, seconds, fit_seconds, gate.is_none());
        if let Some(r) = &recorded {
            r.print();
        }
    }
    spans.mark("registry+print");
    let mlflow_error = recorded.and_then(|r| r.mlflow_error.map(|e| (e, r.run_id, r.version)));
    match (gate, mlflow_error) {
        (Some(msg), Some((e, ..))) => {
            eprintln!("warning: MLflow logging failed: {e:#}");
            Err(GateFailed(msg).into())
        }
        (Some(msg), None) => Err(GateFailed(msg).into()),
        (None, Some((e, run, version))) => Err(e.context(format!(
            "logging to MLflow failed; the model file and the local registry were written (run {run}{})",
            version.map_or(String::new(), |(n, v)| format!(", {n} version {v}"))
        ))),
        (None, None) => Ok(()),
    }
}

/// The training data, read, checked and encoded by the core's encoders, split into training
/// and held-out rows.
struct Prepared {
    schema: Schema,
    data_sha256: String,
    rows: usize,
    nf: usize,
    x_train: Vec<f64>,
    y_train: Vec<bool>,
    /// How each training value was read (missing, unseen), row by row, for the reference profile.
    marks_train: Vec<Mark>,
    x_test: Vec<f64>,
    y_test: Vec<bool>,
    notes: Vec<String>,
}

/// Rows a thread encodes at a time (see `prepare`).
const ENCODE_BLOCK: usize = 16_384;

/// Reads the CSV, plans the schema from the training rows, and encodes every row with the
/// core's encoders: training sees exactly what scoring will see.
fn prepare(plan: &TrainPlan, spans: &mut Spans) -> Result<Prepared> {
    let bytes = std::fs::read(&plan.data).with_context(|| format!("reading {}", plan.data.display()))?;
    let data_sha256 = hex(&Sha256::digest(&bytes));
    spans.mark("read+sha256");
    let table = Table::read(&plan.data, bytes)?;
    let n = table.rows();
    spans.mark("csv parse");

    // Labels first (the split is stratified on them), then the schema from training rows only.
    let sel = Selection {
        target: plan.target.as_deref(),
        positive: plan.positive.as_deref(),
        id: plan.id.as_deref(),
        drop: &plan.drop,
        features: &plan.features,
        unknown_most_frequent: plan.unknown_most_frequent,
        threads: plan.threads,
    };
    let split = data::plan(&table, &sel, |labels| data::stratified_test_rows(labels, plan.test_fraction, plan.seed))?;
    spans.mark("plan");
    let (schema, labels, is_test) = (split.schema, split.labels, split.is_test);
    let nf = schema.fields.len();
    let train_rows: Vec<usize> = (0..n).filter(|&r| !is_test[r]).collect();
    let test_rows: Vec<usize> = (0..n).filter(|&r| is_test[r]).collect();
    if train_rows.len() < 2 || !train_rows.iter().any(|&r| labels[r]) || train_rows.iter().all(|&r| labels[r]) {
        bail!("the training rows must contain both classes (have {} rows)", train_rows.len());
    }
    if !plan.json {
        for note in &split.notes {
            eprintln!("note: {note}");
        }
    }

    // Encoded in waves of blocks, on all threads; each block reads only its own rows' cells, and
    // every encoded row goes straight to the training or the held-out matrix. So no copy of
    // the text cells or of the encoded matrix exists at once: the peak is the table plus the
    // matrices. The first error in row order is the one reported.
    let encoders = Encoders::new(&schema);
    let threads = plan.threads.max(1);
    let mut x_train = Vec::with_capacity(train_rows.len() * nf);
    let mut x_test = Vec::with_capacity(test_rows.len() * nf);
    let mut marks_train = Vec::with_capacity(train_rows.len() * nf);
    for wave in (0..n).step_by(ENCODE_BLOCK * threads) {
        let blocks: Vec<std::ops::Range<usize>> = (wave..(wave + ENCODE_BLOCK * threads).min(n))
            .step_by(ENCODE_BLOCK)
            .map(|r| r..(r + ENCODE_BLOCK).min(n))
            .collect();
        let encoded = data::par_map(&blocks, threads, |rows| -> Result<(Vec<f64>, Vec<Mark>)> {
            let columns: Vec<Vec<Option<&str>>> =
                schema.fields.iter().map(|f| table.column_rows(&f.name, rows.clone())).collect::<Result<_>>()?;
            let value = |i: usize, k: usize| columns[i][k].map_or(Value::Null, Value::Text);
            let mut xs = vec![0.0; rows.len() * nf];
            let mut marks = Vec::with_capacity(rows.len() * nf);
            for (k, out) in xs.chunks_mut(nf).enumerate() {
                encoders
                    .encode(&schema, |i, _| value(i, k), out)
                    .with_context(|| format!("{} line {}", plan.data.display(), line_of(rows.start + k)))?;
                marks.extend((0..nf).map(|i| profile::mark(&schema, i, value(i, k), out[i])));
            }
            Ok((xs, marks))
        });
        for (rows, block) in blocks.into_iter().zip(encoded) {
            let (xs, marks) = block?;
            for (r, (x, m)) in rows.zip(xs.chunks(nf).zip(marks.chunks(nf))) {
                if is_test[r] {
                    x_test.extend_from_slice(x);
                } else {
                    x_train.extend_from_slice(x);
                    marks_train.extend_from_slice(m);
                }
            }
        }
    }
    // The text cells are no longer needed (they take more memory than the numbers).
    drop(table);
    spans.mark("encode");
    Ok(Prepared {
        schema,
        data_sha256,
        rows: n,
        nf,
        x_train,
        y_train: train_rows.iter().map(|&r| labels[r]).collect(),
        marks_train,
        x_test,
        y_test: test_rows.iter().map(|&r| labels[r]).collect(),
        notes: split.notes,
    })
}

/// The model file's contents: schema, policy, trees and the card, with held-out metrics scored
/// by the core itself.
fn model_card(plan: &TrainPlan, prepared: Prepared, fitted: Fitted) -> Result<Artifact> {
    let created_at = created_at();
    let version = plan.model_version.clone().unwrap_or_else(|| {
        let stamp: String = created_at.chars().filter(|c| c.is_ascii_digit()).take(14).collect();
        format!("{}-{}", stamp, &prepared.data_sha256[..8])
    });
    let mut artifact = Artifact {
        schema: prepared.schema.clone(),
        policy: plan.policy.clone(),
        ensemble: fitted.ensemble,
        card: ModelCard {
            name: plan.name.clone(),
            version,
            created_at,
            trainer: format!("churn {}", env!("CARGO_PKG_VERSION")),
            data_sha256: prepared.data_sha256.clone(),
            rows_total: prepared.rows as u64,
            rows_train: prepared.y_train.len() as u64,
            rows_test: prepared.y_test.len() as u64,
            params: TrainParams { kind: fitted.params, seed: plan.seed, test_fraction: plan.test_fraction },
            test_metrics: None,
            importances: fitted.importances,
            roc: Vec::new(),
            selection: fitted.selection,
        },
        profile: None,
    };
    artifact.profile = Some(reference_profile(plan, &artifact, &prepared)?);
    if !prepared.y_test.is_empty() {
        let model = Model::new(artifact.clone()).context("the new model does not load")?;
        let p: Vec<f64> = prepared.x_test.chunks(prepared.nf).map(|row| model.probability(row)).collect();
        artifact.card.test_metrics = Some(Metrics::compute(&p, &prepared.y_test, artifact.policy.threshold));
        artifact.card.roc = roc_curve(&p, &prepared.y_test, ROC_POINTS);
    }
    Ok(artifact)
}

/// The training rows' profile, stored in the model file as the reference for drift: numeric
/// bins at the training values' deciles, the training rows' scores and risk bands.
fn reference_profile(plan: &TrainPlan, artifact: &Artifact, prepared: &Prepared) -> Result<Profile> {
    let nf = prepared.nf;
    let rows = prepared.y_train.len();
    let seen = |r: usize, i: usize| prepared.marks_train[r * nf + i] == Mark::Seen;
    // One column at a time: a copy of the whole matrix would double training's memory.
    let numeric = |i: usize| (0..rows).filter(|&r| seen(r, i)).map(|r| prepared.x_train[r * nf + i]).collect();
    let mut profile = Profile::from_values(&artifact.schema, numeric, plan.drift);
    let model = Model::new(artifact.clone()).context("the new model does not load")?;
    let mut p = vec![0.0; rows];
    model.forest().probabilities(&prepared.x_train, &mut p);
    for (r, &p) in p.iter().enumerate() {
        profile.add(
            &prepared.x_train[r * nf..(r + 1) * nf],
            &prepared.marks_train[r * nf..(r + 1) * nf],
            p,
            model.decide(p).risk,
        );
    }
    Ok(profile)
}

/// `--min-auc`: why the model must not be written, if it must not.
fn gate(plan: &TrainPlan, artifact: &Artifact) -> Option<String> {
    match (plan.min_auc, &artifact.card.test_metrics) {
        // A NaN AUC (no positives or no negatives held out) fails the gate too.
        (Some(min), Some(m)) if m.roc_auc < min || m.roc_auc.is_nan() => Some(format!(
            "quality gate failed: held-out ROC-AUC {:.4} is below --min-auc {min}; no file written",
            m.roc_auc
        )),
        _ => None,
    }
}

fn print_summary(
    plan: &TrainPlan,
    art: &Artifact,
    bytes: usize,
    (nodes, leaves, depth): (usize, usize, usize),
    seconds: f64,
    fit_seconds: f64,
    written: bool,
) {
    let c = &art.card;
    let s = &art.schema;
    let numeric = s.fields.iter().filter(|f| matches!(f.kind, inference_wasm::FieldKind::Numeric(_))).count();
    println!("{:<22}{}", "model", if written { plan.out.display().to_string() } else { "(not written)".into() });
    println!("{:<22}{} {}", "name / version", c.name, c.version);
    println!("{:<22}{} (positive = {:?})", "target", s.target.column, s.target.positive);
    println!("{:<22}{}", "id column", s.id_column.as_deref().unwrap_or("-"));
    println!("{:<22}{} ({} numeric, {} categorical)", "features", s.fields.len(), numeric, s.fields.len() - numeric);
    println!("{:<22}{} total, {} train, {} held out", "rows", c.rows_total, c.rows_train, c.rows_test);
    println!("{:<22}{} ({}), seed {}", "model", art.ensemble.kind().name(), c.params.kind.summary(), c.params.seed);
    if !c.selection.is_empty() {
        println!(
            "{:<22}{}-fold cross-validation on the training rows, best mean ROC-AUC first:",
            "model selection", c.selection[0].folds
        );
        for line in crate::output::leaderboard_lines(c, &" ".repeat(22)) {
            println!("{line}");
        }
    }
    println!("{:<22}{nodes} nodes ({leaves} leaves), deepest leaf {depth}", "size");
    println!("{:<22}{bytes} bytes ({:.2} bytes/node)", "file", bytes as f64 / nodes as f64);
    if let Some(m) = &c.test_metrics {
        println!(
            "{:<22}ROC-AUC {:.4}  PR-AUC {:.4}  accuracy {:.4}  F1 {:.4}  log loss {:.4}",
            "held-out metrics", m.roc_auc, m.pr_auc, m.accuracy, m.f1, m.log_loss
        );
    }
    let mut imp: Vec<(usize, f64)> = c.importances.iter().copied().enumerate().collect();
    imp.sort_by(|x, y| y.1.total_cmp(&x.1));
    let top: Vec<String> = imp.iter().take(5).map(|(i, v)| format!("{} {:.3}", s.fields[*i].name, v)).collect();
    println!("{:<22}{}", "top importances", top.join(", "));
    println!("{:<22}{seconds:.2} s (model selection and fit {fit_seconds:.2} s)", "time");
}

/// The fitted model and what the card records of how it was chosen.
struct Fitted {
    ensemble: Ensemble,
    params: KindParams,
    importances: Vec<f64>,
    selection: Vec<Candidate>,
    notes: Vec<String>,
}

/// Chooses the model kind and settings (cross-validation, unless the flags fix them), then fits
/// the chosen one on all training rows and checks its export.
fn fit(plan: &TrainPlan, x: &[f64], nf: usize, y: &[bool], spans: &mut Spans) -> Result<Fitted> {
    let threads = plan.threads;
    if let Some(m) = plan.fixed.mtry {
        if m == 0 || m > nf {
            bail!("--mtry must be between 1 and the number of features ({nf}), got {m}");
        }
    }
    let mut specs = select::candidates(&plan.fixed, nf, plan.seed);
    let mut search = specs.len() > 1 || matches!(specs[0], Spec::Boost { fixed_trees: false, .. });
    let mut notes = Vec::new();
    // Too few rows of a class for k-fold cross-validation (a tiny file): no search; the first
    // forest setting (or boosting with a fixed number of trees) is used, and a note says so.
    let k = select::fold_count(y.len());
    let positives = y.iter().filter(|&&b| b).count();
    if search && (positives < k || y.len() - positives < k) {
        let fallback = match specs.iter().find(|s| matches!(s, Spec::Forest(_))) {
            Some(f) => f.clone(),
            None => match specs.remove(0) {
                Spec::Boost { params, .. } => Spec::Boost {
                    params: boost::BoostParams { max_trees: plan.fixed.trees.unwrap_or(100), ..params },
                    fixed_trees: true,
                },
                forest => forest,
            },
        };
        notes.push(format!(
            "model selection skipped: {k}-fold cross-validation needs at least {k} churners and {k} others \
             among the training rows (have {positives} and {}); training a {} ({})",
            y.len() - positives,
            select::kind_params(&fallback).kind().name(),
            select::kind_params(&fallback).summary()
        ));
        if !plan.json {
            eprintln!("note: {}", notes.last().expect("just pushed"));
        }
        specs = vec![fallback];
        search = false;
    }
    // Bins only when a boosting setting is left to fit or score.
    let binned = specs.iter().any(|s| matches!(s, Spec::Boost { .. })).then(|| Binned::new(x, nf));
    spans.mark("bin");
    let (chosen, selection) = if search {
        let bar = if plan.json { ProgressBar::hidden() } else { ProgressBar::new(0) };
        bar.set_style(
            ProgressStyle::with_template("model selection {bar:30} {pos}/{len} fits {elapsed_precise}  {msg}")
                .expect("static template"),
        );
        let data = select::Data { x, n_features: nf, y, binned: binned.as_ref() };
        let (scored, skipped) =
            select::search(&data, &specs, plan.seed, threads, plan.time_budget, &|done, total, label| {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
                bar.set_message(label.to_string());
            })?;
        bar.finish_and_clear();
        if skipped > 0 {
            notes.push(format!(
                "model selection stopped after {} of {} candidates: --time-budget {} s was spent",
                scored.len(),
                scored.len() + skipped,
                plan.time_budget.as_secs_f64()
            ));
            if !plan.json {
                eprintln!("note: {}", notes.last().expect("just pushed"));
            }
        }
        let (best, order) = select::choose(&scored);
        // Fit times vary run to run: a reproducible file (SOURCE_DATE_EPOCH) records them as 0.
        let timed = std::env::var_os("SOURCE_DATE_EPOCH").is_none();
        (scored[best].final_spec(), order.iter().map(|&i| scored[i].to_candidate(timed)).collect())
    } else {
        (specs.remove(0), Vec::new())
    };
    spans.mark("model selection");
    let params = select::kind_params(&chosen);
    let bar = if plan.json { ProgressBar::hidden() } else { ProgressBar::new(params.trees() as u64) };
    bar.set_style(
        ProgressStyle::with_template("training {bar:30} {pos}/{len} trees {elapsed_precise}").expect("static template"),
    );
    let (ensemble, importances) = match chosen {
        Spec::Forest(p) => {
            let p = ForestParams { verify_rows: plan.verify_rows, ..p };
            let t = train::train(x, nf, y, &p, threads, &|k| bar.set_position(k as u64), spans)?;
            (Ensemble::Forest(t.forest), t.importances)
        }
        Spec::Boost { params: p, .. } => {
            let b = binned.as_ref().expect("binned for boosting");
            let all: Vec<usize> = (0..y.len()).collect();
            let fit = boost::fit(b, y, &all, &[], &p, &mut |k| bar.set_position(k as u64))?;
            spans.mark("fit");
            let model = fit.export(b).context("converting the boosted trees")?;
            boost::check_export(&model, x, &fit, &all)?;
            spans.mark("verify");
            (Ensemble::Boosted(model), fit.gains)
        }
    };
    bar.finish_and_clear();
    Ok(Fitted { ensemble, params, importances, selection, notes })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Training time, UTC. `SOURCE_DATE_EPOCH` (seconds) pins it for reproducible files.
fn created_at() -> String {
    let t = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .map(|s| std::time::UNIX_EPOCH + std::time::Duration::from_secs(s))
        .unwrap_or_else(std::time::SystemTime::now);
    humantime::format_rfc3339_seconds(t).to_string()
}

//! `churn monitor`: a CSV of recent customers against the training rows' profile in the model
//! file. Rows are read in chunks, scored and profiled by the core on all threads; the partial
//! profiles merge exactly, so memory stays flat and the result does not depend on the threads.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use csv::ByteRecord;
use inference_wasm::output::{RowError, RowProblem};
use inference_wasm::profile::{self, Drift, Level};
use inference_wasm::{CsvLayout, Evaluation, Mark, Model, Profile};

use crate::cli::{FailOn, MonitorArgs};
use crate::cmd_registry::mlflow_key;
use crate::mlflow::Tracking;
use crate::output::{load_model, threads, write_atomic, DriftFailed};
use crate::scoring::{layout, line, open_csv, pipeline, Rec};

/// A chunk's profile and labelled scores.
struct Part {
    profile: Profile,
    evaluation: Evaluation,
}

pub fn run(a: MonitorArgs) -> Result<()> {
    let tracking = Tracking::from_flag(a.tracking.tracking_uri.as_deref())?;
    let model = load_model(&a.model)?;
    let reference = model.artifact().profile.as_ref().ok_or_else(|| {
        anyhow!(
            "{} has no training profile (format version {}; `churn monitor` needs version 3 or later): retrain it \
             with this churn",
            a.model.display(),
            model.file().map_or(0, |f| f.version)
        )
    })?;
    let (source, current, evaluation) = match &a.data {
        Some(data) => {
            let (current, evaluation) = profile_csv(&model, data, threads(a.threads))?;
            if current.rows == 0 {
                bail!("{}: no row could be scored ({} refused)", data.display(), current.invalid_rows);
            }
            (data.display().to_string(), current, evaluation)
        }
        None => {
            let (source, current) = crate::monitor_from::fetch_profiles(&model, &a.from)?;
            (source, current, None)
        }
    };
    let drift = profile::drift(reference, &current).map_err(|m| anyhow!(m))?;
    if let Some(path) = &a.html {
        write_atomic(path, html_report(&model, &source, reference, &current, &drift).as_bytes())?;
    }
    let outcome = evaluation.as_ref().and_then(|e| e.metrics(&model));
    if a.json {
        let mut doc = drift.doc(&model);
        if let Some(e) = &evaluation {
            doc = doc.with("outcome", e.doc(&model));
        }
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print_report(&model, &source, &drift, outcome.as_ref());
        if let Some(note) = evaluation.as_ref().and_then(|e| e.note(&model)) {
            eprintln!("note: {source}: {note}");
        }
    }
    // Logged before --fail-on decides the exit code: a drifted model is what one wants to see there.
    if let Some(t) = &tracking {
        let run = log_drift(t, &model, &drift, &source)?;
        eprintln!("logged the drift figures to MLflow run {run} at {}", t.uri());
    }
    let limit = match a.fail_on {
        None => return Ok(()),
        Some(FailOn::Watch) => Level::Watch,
        Some(FailOn::Drifted) => Level::Drifted,
    };
    if drift.level >= limit {
        return Err(
            DriftFailed(format!("drift is at level {} (--fail-on {})", drift.level.as_str(), limit.as_str())).into()
        );
    }
    Ok(())
}

/// `churn monitor --tracking-uri`: the drift figures as metrics of the model's training run, at
/// step = the time in seconds (so that each check adds a point to the metric's history): `drift.
/// level` (0 stable, 1 watch, 2 drifted), `drift.rows`, `drift.invalid_rows`, `drift.score_psi`,
/// `drift.risk.{HIGH,MEDIUM,LOW}` (current shares), per field `drift.psi.F` and `drift.js.F`;
/// tags `churn.drift.level` and `churn.drift.source` of the latest check.
fn log_drift(t: &Tracking, model: &Model, d: &Drift, source: &str) -> Result<String> {
    let run = t.run_of_model_version(&model.card().version)?;
    let level = |l: Level| match l {
        Level::Stable => 0.0,
        Level::Watch => 1.0,
        Level::Drifted => 2.0,
    };
    let mut metrics: Vec<(String, f64)> = vec![
        ("drift.level".into(), level(d.level)),
        ("drift.rows".into(), d.rows as f64),
        ("drift.invalid_rows".into(), d.invalid_rows as f64),
        ("drift.score_psi".into(), d.score_psi),
    ];
    for (band, (_, current)) in ["HIGH", "MEDIUM", "LOW"].iter().zip(&d.risk) {
        metrics.push((format!("drift.risk.{band}"), *current));
    }
    for f in &d.fields {
        let name = mlflow_key(&model.schema().fields[f.field].name);
        metrics.push((format!("drift.psi.{name}"), f.psi));
        metrics.push((format!("drift.js.{name}"), f.js));
    }
    let tags = vec![
        ("churn.drift.level".to_string(), d.level.as_str().to_string()),
        ("churn.drift.source".to_string(), source.chars().take(4000).collect()),
    ];
    let step = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |s| s.as_secs() as i64);
    t.log_to_run(&run, &metrics, &tags, step)?;
    Ok(run)
}

/// Profiles every row of a CSV (and evaluates the scores when it has the target column).
pub fn profile_csv(model: &Model, path: &Path, threads: usize) -> Result<(Profile, Option<Evaluation>)> {
    let mut rdr = open_csv(path)?;
    let headers = rdr.headers().with_context(|| format!("reading {}", path.display()))?.clone();
    let lay = layout(model, &headers, path, false)?;
    let empty = profile::empty_profile(model).expect("checked by the caller");
    let mut total = Part { profile: empty.clone(), evaluation: Evaluation::new() };
    // As `churn score` streams: chunks profiled on all threads, parts merged in file order.
    let mut read_error = None;
    let work = |first_row: usize, rows: &[ByteRecord]| part(model, &lay, &empty, first_row as u64, rows);
    pipeline(rdr, threads, work, |done| match done {
        Ok(p) => {
            total.profile.merge(&p.profile).map_err(|m| anyhow!(m))?;
            total.evaluation.extend(p.evaluation);
            Ok(true)
        }
        Err(e) => {
            read_error = Some(e);
            Ok(false)
        }
    })?;
    if let Some(e) = read_error {
        return Err(e).with_context(|| format!("reading {}", path.display()));
    }
    Ok((total.profile, lay.has_target().then_some(total.evaluation)))
}

fn part(model: &Model, lay: &CsvLayout, empty: &Profile, first: u64, chunk: &[ByteRecord]) -> Part {
    let nf = model.n_features();
    let mut profile = empty.clone();
    let mut evaluation = Evaluation::new();
    let mut matrix = vec![0.0; chunk.len() * nf];
    let mut marks = vec![Mark::Seen; chunk.len() * nf];
    let mut good = Vec::with_capacity(chunk.len());
    for (k, rec) in chunk.iter().enumerate() {
        let line = line(rec);
        let n = good.len();
        let (x, m) = (&mut matrix[n * nf..(n + 1) * nf], &mut marks[n * nf..(n + 1) * nf]);
        // The layout checks the width and UTF-8; the core encodes and marks each value.
        match lay.encode_marked(model, &Rec(rec), (first + k as u64 + 1, line), x, m) {
            Ok(()) => good.push((k, line)),
            Err(RowError { problem: RowProblem::Input(e), .. }) => profile.add_invalid(model.schema(), &e),
            Err(_) => profile.invalid_rows += 1,
        }
    }
    // Scored in one batch (the core's batch path: the same bits as one row at a time).
    let mut p = vec![0.0; good.len()];
    model.forest().probabilities(&matrix[..good.len() * nf], &mut p);
    let target = &model.schema().target;
    for (n, (&(k, line), &p)) in good.iter().zip(&p).enumerate() {
        profile.add(&matrix[n * nf..(n + 1) * nf], &marks[n * nf..(n + 1) * nf], p, model.decide(p).risk);
        if lay.has_target() {
            evaluation.push(target, p, &lay.label(&Rec(&chunk[k])), line);
        }
    }
    Part { profile, evaluation }
}

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

fn print_report(model: &Model, source: &str, d: &Drift, outcome: Option<&inference_wasm::Metrics>) {
    let c = model.card();
    println!(
        "{} against the training rows of {} {}: {} ({} rows scored, {} refused)",
        source,
        c.name,
        c.version,
        d.level.as_str().to_uppercase(),
        d.rows,
        d.invalid_rows
    );
    let bands: Vec<String> = ["HIGH", "MEDIUM", "LOW"]
        .iter()
        .zip(&d.risk)
        .map(|(b, (r, c))| format!("{b} {} -> {}", pct(*r), pct(*c)))
        .collect();
    println!("score: PSI {:.3} ({}); {}", d.score_psi, d.score_level.as_str(), bands.join(", "));
    println!(
        "{:<20} {:>7} {:>6}  {:<8} {:>15}  {:>15}  {:>7}",
        "field", "PSI", "JS", "level", "missing", "unseen", "invalid"
    );
    for f in &d.fields {
        println!(
            "{:<20} {:>7.3} {:>6.3}  {:<8} {:>15}  {:>15}  {:>7}",
            model.schema().fields[f.field].name,
            f.psi,
            f.js,
            f.level.as_str(),
            format!("{} -> {}", pct(f.missing.0), pct(f.missing.1)),
            format!("{} -> {}", pct(f.unseen.0), pct(f.unseen.1)),
            pct(f.invalid)
        );
    }
    if let Some(m) = outcome {
        let held = c.test_metrics.as_ref();
        println!(
            "outcome ({} rows with a label): ROC-AUC {:.4} (held out at training: {}), Brier {:.4} ({})",
            m.rows,
            m.roc_auc,
            held.map_or("-".into(), |h| format!("{:.4}", h.roc_auc)),
            m.brier,
            held.map_or("-".into(), |h| format!("{:.4}", h.brier))
        );
    }
}

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// One bar chart, reference (grey) beside current (coloured), of shares per bin.
fn bars_svg(labels: &[String], reference: &[u64], current: &[u64], title: &str) -> String {
    let share = |c: &[u64]| {
        let t = c.iter().sum::<u64>().max(1) as f64;
        c.iter().map(|&x| x as f64 / t).collect::<Vec<f64>>()
    };
    let (r, c) = (share(reference), share(current));
    let top = r.iter().chain(&c).fold(0.0f64, |a, &b| a.max(b)).max(1e-9);
    let (w, h, pad) = (36.0, 120.0, 20.0);
    let width = pad + w * labels.len() as f64 + pad;
    let mut s = format!(
        r#"<svg role="img" aria-label="{}" viewBox="0 0 {width} {}" width="{width}" height="{}"><title>{}</title>"#,
        esc(title),
        h + 90.0,
        h + 90.0,
        esc(title)
    );
    for (k, label) in labels.iter().enumerate() {
        let x = pad + w * k as f64;
        for (j, (v, class)) in [(r[k], "ref"), (c[k], "cur")].into_iter().enumerate() {
            let bh = h * v / top;
            s += &format!(
                r#"<rect class="{class}" x="{:.1}" y="{:.1}" width="{:.1}" height="{bh:.1}"><title>{}: {} {:.1}%</title></rect>"#,
                x + 3.0 + 15.0 * j as f64,
                10.0 + h - bh,
                14.0,
                esc(label),
                if j == 0 { "training" } else { "current" },
                100.0 * v
            );
        }
        s += &format!(
            r#"<text x="{:.1}" y="{:.1}" transform="rotate(40 {:.1} {:.1})">{}</text>"#,
            x + 6.0,
            h + 24.0,
            x + 6.0,
            h + 24.0,
            esc(&label.chars().take(14).collect::<String>())
        );
    }
    s + "</svg>"
}

/// The bins of one field, named.
fn bin_labels(model: &Model, field: usize, p: &inference_wasm::profile::FieldProfile) -> Vec<String> {
    let mut labels: Vec<String> = match &model.schema().fields[field].kind {
        inference_wasm::FieldKind::Categorical(c) => c.levels.clone(),
        inference_wasm::FieldKind::Numeric(_) => (0..=p.edges.len())
            .map(|k| match (k.checked_sub(1).map(|i| p.edges[i]), p.edges.get(k)) {
                (None, Some(hi)) => format!("≤ {hi}"),
                (Some(lo), Some(hi)) => format!("{lo}–{hi}"),
                (Some(lo), None) => format!("> {lo}"),
                (None, None) => "all".into(),
            })
            .collect(),
    };
    labels.push("missing".into());
    labels.push("unseen".into());
    labels
}

/// `churn monitor --html`: one self-contained page (no scripts, no fetches): the summary, the
/// score's histogram and each field's, training beside current, most drifted first.
pub fn html_report(model: &Model, source: &str, reference: &Profile, current: &Profile, d: &Drift) -> String {
    let c = model.card();
    let full = |f: &inference_wasm::profile::FieldProfile| {
        let mut v = f.counts.clone();
        v.extend([f.missing, f.unseen]);
        v
    };
    let mut body = format!(
        "<h1>Drift: {}</h1><p>{} against the training rows of <b>{} {}</b>: <b class=\"{}\">{}</b> ({} rows scored, {} refused).</p>",
        esc(source),
        esc(source),
        esc(&c.name),
        esc(&c.version),
        d.level.as_str(),
        d.level.as_str().to_uppercase(),
        d.rows,
        d.invalid_rows
    );
    let t = reference.thresholds;
    body += &format!(
        "<p>Bars: share of rows per bin, <span style=\"color:#757575\">■</span> training rows, \
         <span style=\"color:#1565c0\">■</span> current rows. PSI below {} stable, from {} watch, from {} drifted \
         (the model's thresholds).</p>",
        t.watch, t.watch, t.drifted
    );
    body += "<table><tr><th>field</th><th>PSI</th><th>JS</th><th>level</th><th>missing</th><th>unseen</th><th>refused</th></tr>";
    for f in &d.fields {
        body += &format!(
            "<tr><td><a href=\"#f{}\">{}</a></td><td>{:.3}</td><td>{:.3}</td><td class=\"{}\">{}</td><td>{} → {}</td><td>{} → {}</td><td>{}</td></tr>",
            f.field,
            esc(&model.schema().fields[f.field].name),
            f.psi,
            f.js,
            f.level.as_str(),
            f.level.as_str(),
            pct(f.missing.0),
            pct(f.missing.1),
            pct(f.unseen.0),
            pct(f.unseen.1),
            pct(f.invalid)
        );
    }
    body += "</table>";
    let score_labels: Vec<String> =
        (0..profile::SCORE_BINS).map(|k| format!("{:.2}", k as f64 / profile::SCORE_BINS as f64)).collect();
    body += &format!(
        "<h2>Score</h2><p>PSI {:.3} ({})</p>{}",
        d.score_psi,
        d.score_level.as_str(),
        bars_svg(&score_labels, &reference.scores, &current.scores, "score distribution, training and current")
    );
    for f in &d.fields {
        let name = &model.schema().fields[f.field].name;
        let (r, cur) = (&reference.fields[f.field], &current.fields[f.field]);
        body += &format!(
            "<h2 id=\"f{}\">{}</h2><p>PSI {:.3}, <span class=\"{}\">{}</span></p>{}",
            f.field,
            esc(name),
            f.psi,
            f.level.as_str(),
            f.level.as_str(),
            bars_svg(&bin_labels(model, f.field, r), &full(r), &full(cur), &format!("{name}, training and current"))
        );
    }
    format!(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Drift report</title><style>\
         body{{font:15px system-ui,sans-serif;margin:2rem;max-width:70rem;color:#1a1a1a}}\
         table{{border-collapse:collapse}}td,th{{padding:.2rem .6rem;border-bottom:1px solid #ddd;text-align:left}}\
         .ref{{fill:#9e9e9e}}.cur{{fill:#1565c0}}.drifted{{color:#b00020;font-weight:600}}.watch{{color:#8a5a00}}\
         svg{{display:block;margin:.5rem 0 1rem}}svg.key{{display:inline;margin:0 .3rem 0 1rem}}text{{font-size:10px;fill:#333}}\
         </style>{body}</html>\n"
    )
}

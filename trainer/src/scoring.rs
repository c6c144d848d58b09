//! `churn score` and `churn evaluate`: stream a CSV through the core.
//!
//! Scoring is a bounded pipeline: one thread parses CSV into chunks, worker threads encode and
//! score chunks and format their output lines, and the main thread writes chunks in order. At
//! most a few chunks are in flight, so memory does not grow with the file.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::Mutex;

use anyhow::{anyhow, bail, Context, Result};
use csv::ByteRecord;
use inference_wasm::{Metrics, Model, Value};
use serde_json::json;

use crate::cli::{EvaluateArgs, OnError, ScoreArgs};
use crate::output::{load_model, threads};

/// Rows per chunk handed to a worker.
const CHUNK_ROWS: usize = 4096;
/// Row errors printed in full with `--on-error skip`; the rest are counted.
const ERRORS_SHOWN: usize = 20;

/// Where the model's fields, id and target sit in a CSV's columns.
struct Layout {
    fields: Vec<usize>,
    id: Option<usize>,
    target: Option<usize>,
    width: usize,
}

fn open_csv(path: &Path) -> Result<csv::Reader<BufReader<File>>> {
    let f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    Ok(csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(BufReader::with_capacity(1 << 20, f)))
}

fn layout(model: &Model, headers: &csv::StringRecord, path: &Path, need_target: bool) -> Result<Layout> {
    let find = |name: &str| headers.iter().position(|h| h.trim_start_matches('\u{feff}') == name);
    let schema = model.schema();
    let mut missing = Vec::new();
    let fields: Vec<usize> = schema
        .fields
        .iter()
        .map(|f| {
            find(&f.name).unwrap_or_else(|| {
                missing.push(f.name.as_str());
                0
            })
        })
        .collect();
    if !missing.is_empty() {
        bail!("{} lacks column(s) the model needs: {}", path.display(), missing.join(", "));
    }
    let target = find(&schema.target.column);
    if need_target && target.is_none() {
        bail!("{} has no target column {:?}: metrics need the known outcomes", path.display(), schema.target.column);
    }
    Ok(Layout { fields, id: schema.id_column.as_deref().and_then(find), target, width: headers.len() })
}

/// Line number of a record (1-based, as an editor shows it).
fn line(rec: &ByteRecord) -> u64 {
    rec.position().map_or(0, |p| p.line())
}

/// Field `i` of a record as text ("" past the end; invalid UTF-8 is replaced, for display).
fn text(rec: &ByteRecord, i: usize) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(rec.get(i).unwrap_or_default())
}

/// Encodes one CSV record with the core; on failure says which line and why.
fn encode(model: &Model, lay: &Layout, rec: &ByteRecord, x: &mut [f64]) -> Result<(), String> {
    if rec.len() != lay.width {
        return Err(format!("line {}: has {} fields, the header has {}", line(rec), rec.len(), lay.width));
    }
    // Records are read as bytes (the reader thread is the pipeline's bottleneck); the fields the
    // model uses are checked for UTF-8 here, in the workers.
    let mut cells = [""; 64];
    let mut owned = Vec::new();
    let cells: &mut [&str] = if lay.fields.len() <= cells.len() {
        &mut cells[..lay.fields.len()]
    } else {
        owned.resize(lay.fields.len(), "");
        &mut owned
    };
    for (cell, &col) in cells.iter_mut().zip(&lay.fields) {
        *cell = std::str::from_utf8(&rec[col])
            .map_err(|_| format!("line {}: column {} is not valid UTF-8", line(rec), col + 1))?;
    }
    model.encode(|i, _| Value::Text(cells[i]), x).map_err(|e| format!("line {}: {e}", line(rec)))
}

/// Metrics of `model` on a CSV that has the target column (`churn evaluate`, the registry's
/// quality gate).
pub fn metrics_on(model: &Model, path: &Path) -> Result<Metrics> {
    let mut rdr = open_csv(path)?;
    let headers = rdr.headers().with_context(|| format!("reading {}", path.display()))?.clone();
    let lay = layout(model, &headers, path, true)?;
    let target = &model.schema().target;
    let (mut p, mut y) = (Vec::new(), Vec::new());
    let mut x = vec![0.0; model.n_features()];
    for rec in rdr.byte_records() {
        let rec = rec.with_context(|| format!("reading {}", path.display()))?;
        encode(model, &lay, &rec, &mut x).map_err(|e| anyhow!("{}: {e}", path.display()))?;
        let label = text(&rec, lay.target.expect("checked by layout"));
        let label = label.trim();
        y.push(if label == target.positive {
            true
        } else if label == target.negative {
            false
        } else {
            bail!(
                "{} line {}: target {} is {label:?}, expected {:?} or {:?}",
                path.display(),
                line(&rec),
                target.column,
                target.positive,
                target.negative
            );
        });
        p.push(model.probability(&x));
    }
    if p.is_empty() {
        bail!("{} has no data rows", path.display());
    }
    Ok(Metrics::compute(&p, &y, model.policy().threshold))
}

pub fn evaluate(a: EvaluateArgs) -> Result<()> {
    let model = load_model(&a.model)?;
    let m = metrics_on(&model, &a.data)?;
    if a.json {
        let out = json!({
            "rows": m.rows, "roc_auc": m.roc_auc, "pr_auc": m.pr_auc, "accuracy": m.accuracy,
            "precision": m.precision, "recall": m.recall, "f1": m.f1, "brier": m.brier,
            "log_loss": m.log_loss, "confusion": {"tp": m.tp, "fp": m.fp, "tn": m.tn, "fn": m.fn_},
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("{:<10}{}", "rows", m.rows);
        for (k, v) in [
            ("roc_auc", m.roc_auc),
            ("pr_auc", m.pr_auc),
            ("accuracy", m.accuracy),
            ("precision", m.precision),
            ("recall", m.recall),
            ("f1", m.f1),
            ("brier", m.brier),
            ("log_loss", m.log_loss),
        ] {
            println!("{k:<10}{v:.4}");
        }
        println!("{:<10}tp {}  fp {}  tn {}  fn {}", "confusion", m.tp, m.fp, m.tn, m.fn_);
    }
    Ok(())
}

enum Chunk {
    /// The first `n` records of the vector (the rest are spare, kept for reuse).
    Rows(Vec<ByteRecord>, usize),
    ReadError(String),
}

struct Scored {
    bytes: Vec<u8>,
    errors: Vec<String>,
    rows: usize,
}

pub fn score(a: ScoreArgs) -> Result<()> {
    let model = load_model(&a.model)?;
    let mut rdr = open_csv(&a.data)?;
    let headers = rdr.headers().with_context(|| format!("reading {}", a.data.display()))?.clone();
    let lay = layout(&model, &headers, &a.data, false)?;
    let id_name = model.schema().id_column.clone();
    if id_name.is_some() && lay.id.is_none() {
        eprintln!(
            "note: {} has no id column {:?}; writing row numbers instead",
            a.data.display(),
            id_name.as_deref().unwrap_or("")
        );
    }
    // "-" and devices such as /dev/null are written in place; a file through a temp + rename.
    let in_place = a.out.as_os_str() == "-" || crate::output::is_special(&a.out);
    let tmp = a.out.with_extension("csv.partial.tmp");
    let sink: Box<dyn Write> = if a.out.as_os_str() == "-" {
        Box::new(std::io::stdout().lock())
    } else if in_place {
        Box::new(File::create(&a.out).with_context(|| format!("opening {}", a.out.display()))?)
    } else {
        Box::new(File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?)
    };
    let mut out = BufWriter::with_capacity(1 << 20, sink);
    // Header.
    let mut head = vec![match (&id_name, lay.id) {
        (Some(name), Some(_)) => name.clone(),
        _ => "row".to_string(),
    }];
    head.extend(["churn_probability", "churn_prediction", "risk_level"].map(String::from));
    if a.raw {
        head.push("churn_probability_raw".into());
    }
    for k in 1..=a.explain.unwrap_or(0) {
        head.extend([format!("why_{k}"), format!("why_{k}_value"), format!("why_{k}_contribution")]);
    }
    writeln!(out, "{}", head.iter().map(|h| csv_field(h)).collect::<Vec<_>>().join(","))?;

    let workers = threads(a.threads);
    let stop = AtomicBool::new(false);
    let (tx_in, rx_in) = sync_channel::<(usize, usize, Chunk)>(workers * 2);
    let rx_in = Mutex::new(rx_in);
    let (tx_out, rx_out) = sync_channel::<(usize, Scored)>(workers * 2);
    // Scored chunks' record vectors go back to the reader, which refills them in place: no
    // allocation per row once the pipeline is full.
    let (tx_spare, rx_spare) = sync_channel::<Vec<ByteRecord>>(workers * 4);
    let (mut total, mut failed, mut first_error) = (0usize, 0usize, None::<String>);
    let result: Result<()> = std::thread::scope(|s| {
        // Reader.
        let stop_r = &stop;
        s.spawn(move || {
            let mut seq = 0;
            let mut first_row = 0;
            let fresh = || vec![ByteRecord::new(); CHUNK_ROWS];
            let mut chunk = fresh();
            let mut n = 0;
            while !stop_r.load(Ordering::Relaxed) {
                match rdr.read_byte_record(&mut chunk[n]) {
                    Ok(true) => {
                        n += 1;
                        if n == CHUNK_ROWS {
                            let next = rx_spare.try_recv().unwrap_or_else(|_| fresh());
                            let full = std::mem::replace(&mut chunk, next);
                            if tx_in.send((seq, first_row, Chunk::Rows(full, n))).is_err() {
                                return;
                            }
                            seq += 1;
                            first_row += n;
                            n = 0;
                        }
                    }
                    Err(e) => {
                        let _ = tx_in.send((seq, first_row, Chunk::Rows(chunk, n)));
                        let _ = tx_in.send((seq + 1, 0, Chunk::ReadError(e.to_string())));
                        return;
                    }
                    Ok(false) => break,
                }
            }
            if n > 0 {
                let _ = tx_in.send((seq, first_row, Chunk::Rows(chunk, n)));
            }
        });
        // Workers.
        for _ in 0..workers {
            let (tx_out, tx_spare) = (tx_out.clone(), tx_spare.clone());
            let (rx_in, model, lay, a) = (&rx_in, &model, &lay, &a);
            s.spawn(move || loop {
                let msg = rx_in.lock().unwrap().recv();
                let Ok((seq, first_row, chunk)) = msg else { return };
                let scored = match chunk {
                    Chunk::Rows(rows, n) => {
                        let scored = score_chunk(model, lay, a, &rows[..n], first_row);
                        let _ = tx_spare.try_send(rows);
                        scored
                    }
                    Chunk::ReadError(e) => {
                        Scored { bytes: Vec::new(), errors: vec![format!("CSV error: {e}")], rows: 1 }
                    }
                };
                if tx_out.send((seq, scored)).is_err() {
                    return;
                }
            });
        }
        drop((tx_out, tx_spare));
        // Writer: chunks in order.
        let mut pending = BTreeMap::new();
        let mut next = 0usize;
        for (seq, scored) in rx_out.iter() {
            pending.insert(seq, scored);
            while let Some(scored) = pending.remove(&next) {
                next += 1;
                total += scored.rows;
                failed += scored.errors.len();
                if !scored.errors.is_empty() && a.on_error == OnError::Fail {
                    first_error.get_or_insert_with(|| scored.errors[0].clone());
                    stop.store(true, Ordering::Relaxed);
                }
                if first_error.is_some() {
                    continue;
                }
                for e in &scored.errors {
                    if failed - scored.errors.len() < ERRORS_SHOWN {
                        eprintln!("skipped: {}: {e}", a.data.display());
                    }
                }
                out.write_all(&scored.bytes)?;
            }
        }
        Ok(())
    });
    result?;
    if let Some(e) = first_error {
        drop(out);
        if !in_place {
            let _ = std::fs::remove_file(&tmp);
        }
        bail!("{}: {e} (use --on-error skip to score the other rows)", a.data.display());
    }
    out.flush()?;
    drop(out);
    if !in_place {
        std::fs::rename(&tmp, &a.out).with_context(|| format!("writing {}", a.out.display()))?;
    }
    if failed > 0 {
        if failed > ERRORS_SHOWN {
            eprintln!("skipped {} more rows with errors", failed - ERRORS_SHOWN);
        }
        eprintln!("scored {} rows, skipped {failed} with errors", total - failed);
    }
    Ok(())
}

fn score_chunk(model: &Model, lay: &Layout, a: &ScoreArgs, rows: &[ByteRecord], first_row: usize) -> Scored {
    use std::fmt::Write as _;
    let nf = model.n_features();
    // Encode the whole chunk, then score it tree by tree (the core's batch path: same bits as
    // one row at a time, several times faster).
    let mut matrix = vec![0.0; rows.len() * nf];
    let mut good = Vec::with_capacity(rows.len());
    let mut errors = Vec::new();
    for (k, rec) in rows.iter().enumerate() {
        let n = good.len();
        match encode(model, lay, rec, &mut matrix[n * nf..(n + 1) * nf]) {
            Ok(()) => good.push(k),
            Err(e) => errors.push(e),
        }
    }
    let mut probs = vec![0.0; good.len()];
    model.forest().probabilities(&matrix[..good.len() * nf], &mut probs);
    let fields = &model.schema().fields;
    let mut s = String::with_capacity(rows.len() * 48);
    for (n, (&k, &p)) in good.iter().zip(&probs).enumerate() {
        let rec = &rows[k];
        match lay.id {
            Some(i) => s.push_str(&csv_field(&text(rec, i))),
            None => {
                let _ = write!(s, "{}", first_row + k + 1);
            }
        }
        let d = model.decide(p);
        let _ = write!(s, ",{},{},{}", d.rounded, d.prediction(), d.risk.as_str());
        if a.raw {
            let _ = write!(s, ",{p}");
        }
        if let Some(top) = a.explain {
            let e = model.explain_features(&matrix[n * nf..(n + 1) * nf], top);
            debug_assert_eq!(e.probability.to_bits(), p.to_bits());
            for c in &e.contributions {
                let _ = write!(
                    s,
                    ",{},{},{}",
                    csv_field(&fields[c.field].name),
                    csv_field(&text(rec, lay.fields[c.field])),
                    c.contribution
                );
            }
            for _ in e.contributions.len()..top {
                s.push_str(",,,");
            }
        }
        s.push('\n');
    }
    Scored { bytes: s.into_bytes(), errors, rows: rows.len() }
}

/// Quotes a CSV field when it needs it.
fn csv_field(v: &str) -> std::borrow::Cow<'_, str> {
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\"")).into()
    } else {
        v.into()
    }
}

//! `churn score` and `churn evaluate`: stream a CSV through the core.
//!
//! Scoring is a bounded pipeline: one thread parses CSV into chunks, worker threads encode and
//! score chunks and format their output lines, and the main thread writes chunks in order. At
//! most a few chunks are in flight, so memory does not grow with the file.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::Mutex;

use anyhow::{anyhow, bail, Context, Result};
use csv::ByteRecord;
use inference_wasm::{CsvLayout, Evaluation, Model, Record, ScoredColumns};

use crate::cli::{EvaluateArgs, OnError, ScoreArgs};
use crate::output::{load_model, threads};

/// Rows per chunk handed to a worker.
const CHUNK_ROWS: usize = 4096;
/// Row errors printed in full with `--on-error skip`; the rest are counted.
const ERRORS_SHOWN: usize = 20;

pub(crate) fn open_csv(path: &Path) -> Result<csv::Reader<BufReader<File>>> {
    let f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    Ok(csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(BufReader::with_capacity(1 << 20, f)))
}

/// Finds the model's columns in a CSV's header (the core's rule); errors name the file.
pub(crate) fn layout(model: &Model, headers: &csv::StringRecord, path: &Path, need_target: bool) -> Result<CsvLayout> {
    let header: Vec<&str> = headers.iter().collect();
    let lay = CsvLayout::new(model, &header).map_err(|e| anyhow!("{} {e}", path.display()))?;
    if need_target {
        lay.require_target(model).map_err(|e| anyhow!("{} {e}", path.display()))?;
    }
    Ok(lay)
}

/// A CSV record as the core reads it (fields are checked for UTF-8 where they are used).
pub(crate) struct Rec<'a>(pub &'a ByteRecord);

impl Record for Rec<'_> {
    fn width(&self) -> usize {
        self.0.len()
    }
    fn get(&self, i: usize) -> Option<&str> {
        std::str::from_utf8(self.0.get(i)?).ok()
    }
    fn show(&self, i: usize) -> Cow<'_, str> {
        String::from_utf8_lossy(self.0.get(i).unwrap_or_default())
    }
}

/// Line number of a record (1-based, as an editor shows it).
pub(crate) fn line(rec: &ByteRecord) -> u64 {
    rec.position().map_or(0, |p| p.line())
}

/// Metrics of `model` on a CSV that has the target column (`churn evaluate`, the registry's
/// quality gate).
pub fn metrics_on(model: &Model, path: &Path) -> Result<Evaluation> {
    let mut rdr = open_csv(path)?;
    let headers = rdr.headers().with_context(|| format!("reading {}", path.display()))?.clone();
    let lay = layout(model, &headers, path, true)?;
    let target = &model.schema().target;
    let mut e = Evaluation::new();
    let mut x = vec![0.0; model.n_features()];
    for (k, rec) in rdr.byte_records().enumerate() {
        let rec = rec.with_context(|| format!("reading {}", path.display()))?;
        let r = Rec(&rec);
        lay.encode(model, &r, k as u64 + 1, line(&rec), &mut x).map_err(|e| anyhow!("{}: {e}", path.display()))?;
        e.push(target, model.probability(&x), &lay.label(&r), line(&rec));
    }
    if e.rows() == 0 && e.unusable() == 0 {
        bail!("{} has no data rows", path.display());
    }
    if e.rows() == 0 {
        bail!("{}: no row has a usable label: {}", path.display(), e.note(model).unwrap_or_default());
    }
    Ok(e)
}

/// ROC-AUC of `model` on a labelled CSV (the registry's quality gate), with a note on stderr
/// about labels that were neither value.
pub fn auc_on(model: &Model, path: &Path) -> Result<f64> {
    let e = metrics_on(model, path)?;
    if let Some(note) = e.note(model) {
        eprintln!("note: {}: {note}", path.display());
    }
    Ok(e.metrics(model).map_or(f64::NAN, |m| m.roc_auc))
}

pub fn evaluate(a: EvaluateArgs) -> Result<()> {
    let model = load_model(&a.model)?;
    let e = metrics_on(&model, &a.data)?;
    if let Some(note) = e.note(&model) {
        eprintln!("note: {}: {note}", a.data.display());
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&e.doc(&model))?);
        return Ok(());
    }
    let m = e.metrics(&model).expect("metrics_on refuses a file without a usable label");
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
    Ok(())
}

enum Chunk {
    /// The first `n` records of the vector (the rest are spare, kept for reuse).
    Rows(Vec<ByteRecord>, usize),
    ReadError(csv::Error),
}

/// Streams a CSV's records through a bounded pipeline: a reader thread fills chunks of
/// [`CHUNK_ROWS`] records (refilling the vectors the workers hand back: no allocation per row
/// once it is full), `workers` threads run `work(first_row, records)` on them (`first_row`
/// counts data rows from 0), and `take` sees the results in file order on the calling thread. A
/// CSV read error reaches `take` as `Err` after the rows before it. When `take` returns
/// `Ok(false)` the reader stops; the chunks already in flight still reach `take`. At most a few
/// chunks are in flight, so memory does not grow with the file. (`churn score`, `churn monitor`.)
pub(crate) fn pipeline<T: Send>(
    mut rdr: csv::Reader<BufReader<File>>,
    workers: usize,
    work: impl Fn(usize, &[ByteRecord]) -> T + Sync,
    mut take: impl FnMut(Result<T, csv::Error>) -> Result<bool>,
) -> Result<()> {
    let workers = workers.max(1);
    let stop = AtomicBool::new(false);
    let (tx_in, rx_in) = sync_channel::<(usize, usize, Chunk)>(workers * 2);
    let rx_in = Mutex::new(rx_in);
    let (tx_out, rx_out) = sync_channel::<(usize, Result<T, csv::Error>)>(workers * 2);
    let (tx_spare, rx_spare) = sync_channel::<Vec<ByteRecord>>(workers * 4);
    std::thread::scope(|s| {
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
                        let _ = tx_in.send((seq + 1, 0, Chunk::ReadError(e)));
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
            let (rx_in, work) = (&rx_in, &work);
            s.spawn(move || loop {
                let msg = rx_in.lock().unwrap().recv();
                let Ok((seq, first_row, chunk)) = msg else { return };
                let done = match chunk {
                    Chunk::Rows(rows, n) => {
                        let done = work(first_row, &rows[..n]);
                        let _ = tx_spare.try_send(rows);
                        Ok(done)
                    }
                    Chunk::ReadError(e) => Err(e),
                };
                if tx_out.send((seq, done)).is_err() {
                    return;
                }
            });
        }
        drop((tx_out, tx_spare));
        // Results in order.
        let mut pending = BTreeMap::new();
        let mut next = 0usize;
        for (seq, done) in rx_out.iter() {
            pending.insert(seq, done);
            while let Some(done) = pending.remove(&next) {
                next += 1;
                if !take(done)? {
                    stop.store(true, Ordering::Relaxed);
                }
            }
        }
        Ok(())
    })
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
    if let Some(id) = lay.missing_id(&model) {
        eprintln!("note: {} has no id column {id:?}; writing row numbers instead", a.data.display());
    }
    // "-" and devices such as /dev/null are written in place; a file through a temp + rename.
    let in_place = a.out.as_os_str() == "-" || crate::output::is_special(&a.out);
    let tmp = a.out.with_extension("csv.partial.tmp");
    let sink: Box<dyn Write> = if a.out.as_os_str() == "-" {
        Box::new(std::io::stdout().lock())
    } else if in_place {
        Box::new(File::create(&a.out).with_context(|| format!("opening {}", a.out.display()))?)
    } else {
        // (The error names the file asked for, not the temporary file beside it.)
        Box::new(File::create(&tmp).with_context(|| format!("writing {}", a.out.display()))?)
    };
    let mut out = BufWriter::with_capacity(1 << 20, sink);
    let cols = ScoredColumns { raw: a.raw, explain: a.explain.unwrap_or(0) };
    let lay = lay.with_columns(cols);
    out.write_all(lay.header().as_bytes())?;

    let (mut total, mut failed, mut first_error) = (0usize, 0usize, None::<String>);
    let work = |first_row: usize, rows: &[ByteRecord]| score_chunk(&model, &lay, rows, first_row);
    let result = pipeline(rdr, threads(a.threads), work, |done| {
        let scored =
            done.unwrap_or_else(|e| Scored { bytes: Vec::new(), errors: vec![format!("CSV error: {e}")], rows: 1 });
        if first_error.is_some() {
            return Ok(false);
        }
        total += scored.rows;
        failed += scored.errors.len();
        if !scored.errors.is_empty() && a.on_error == OnError::Fail {
            first_error = Some(scored.errors[0].clone());
            return Ok(false);
        }
        for e in &scored.errors {
            if failed - scored.errors.len() < ERRORS_SHOWN {
                eprintln!("skipped: {}: {e}", a.data.display());
            }
        }
        out.write_all(&scored.bytes)?;
        Ok(true)
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

fn score_chunk(model: &Model, lay: &CsvLayout, rows: &[ByteRecord], first_row: usize) -> Scored {
    let explain = lay.columns().explain;
    let nf = model.n_features();
    // Encode the whole chunk, then score it tree by tree (the core's batch path: same bits as
    // one row at a time, several times faster).
    let mut matrix = vec![0.0; rows.len() * nf];
    let mut good = Vec::with_capacity(rows.len());
    let mut errors = Vec::new();
    for (k, rec) in rows.iter().enumerate() {
        let n = good.len();
        let row = (first_row + k + 1) as u64;
        match lay.encode(model, &Rec(rec), row, line(rec), &mut matrix[n * nf..(n + 1) * nf]) {
            Ok(()) => good.push(k),
            Err(e) => errors.push(e.to_string()),
        }
    }
    let mut probs = vec![0.0; good.len()];
    model.forest().probabilities(&matrix[..good.len() * nf], &mut probs);
    let mut s = String::with_capacity(rows.len() * 48);
    for (n, (&k, &p)) in good.iter().zip(&probs).enumerate() {
        let e = (explain > 0).then(|| model.explain_features(&matrix[n * nf..(n + 1) * nf], explain));
        debug_assert!(e.as_ref().is_none_or(|e| e.probability.to_bits() == p.to_bits()));
        lay.write_row(&mut s, model, &Rec(&rows[k]), (first_row + k + 1) as u64, p, e.as_ref());
    }
    Scored { bytes: s.into_bytes(), errors, rows: rows.len() }
}

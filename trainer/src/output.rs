//! Small shared helpers for reading model files and writing outputs atomically.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use inference_wasm::Model;

pub fn load_model(path: &Path) -> Result<Model> {
    Ok(load_model_file(path)?.1)
}

/// [`load_model`], also returning the file's bytes.
pub fn load_model_file(path: &Path) -> Result<(Vec<u8>, Model)> {
    let bytes = std::fs::read(path).with_context(|| format!("reading model {}", path.display()))?;
    let model = Model::from_bytes(&bytes).with_context(|| format!("loading model {}", path.display()))?;
    Ok((bytes, model))
}

/// True when `path` exists and is not a regular file (a device such as /dev/null, a FIFO):
/// such a target is written in place, never replaced by a rename.
pub fn is_special(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| !m.is_file())
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so a
/// reader never sees half a file and a crash leaves the old file (or none) in place.
/// A device (see [`is_special`]) is written in place.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if is_special(path) {
        return std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()));
    }
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().context("output path has no file name")?;
    let tmp = dir.join(format!(".{}.{}.tmp", name.to_string_lossy(), std::process::id()));
    let mut f = std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(bytes).and_then(|_| f.sync_all()).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("moving the new file to {}", path.display()))?;
    Ok(())
}

pub fn threads(requested: Option<usize>) -> usize {
    requested.filter(|&t| t > 0).unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Wall-clock spans of `churn train`, printed on stderr when `CHURN_TIMINGS` is set (a
/// diagnostic for bench/train.sh; nothing is timed otherwise).
pub struct Spans {
    on: bool,
    started: Instant,
    last: Instant,
}

impl Spans {
    pub fn new(started: Instant) -> Spans {
        Spans { on: std::env::var_os("CHURN_TIMINGS").is_some(), started, last: started }
    }

    /// Spans that print nothing (the fits of model selection).
    pub fn off() -> Spans {
        let now = Instant::now();
        Spans { on: false, started: now, last: now }
    }

    /// When the command started, if spans are printed.
    pub fn started(&self) -> Option<Instant> {
        self.on.then_some(self.started)
    }

    /// Ends the span that began at the previous mark.
    pub fn mark(&mut self, what: &str) {
        if self.on {
            let now = Instant::now();
            eprintln!(
                "timing {what:<16} {:8.2} ms  (at {:8.2} ms)",
                (now - self.last).as_secs_f64() * 1e3,
                (now - self.started).as_secs_f64() * 1e3
            );
            self.last = now;
        }
    }
}

/// A quality gate refused the model: exit code 3.
#[derive(Debug)]
pub struct GateFailed(pub String);

impl std::fmt::Display for GateFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for GateFailed {}

/// `churn monitor --fail-on` reached: exit code 4.
#[derive(Debug)]
pub struct DriftFailed(pub String);

impl std::fmt::Display for DriftFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for DriftFailed {}

/// The model card's leaderboard, one line a candidate, each line after `indent`, the chosen
/// setting marked `*` (shown by `churn train` and `churn inspect`).
pub fn leaderboard_lines(card: &inference_wasm::ModelCard, indent: &str) -> Vec<String> {
    card.selection
        .iter()
        .map(|c| {
            format!(
                "{indent}{} {:<4} {:.4} ± {:.4}  {:>7} nodes  {:>6.2} s/fit  {}",
                if c.params == card.params.kind { "*" } else { " " },
                c.params.kind().short(),
                c.cv_auc_mean,
                c.cv_auc_sd,
                c.nodes,
                c.fit_seconds,
                c.params.summary()
            )
        })
        .collect()
}

//! Helpers shared by the integration tests: paths to the bundled data and fixtures, and
//! running the `churn` binary (with the environment that could redirect it cleared).
#![allow(dead_code)] // each test crate uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

pub fn data(name: &str) -> String {
    root().join("data").join(name).to_string_lossy().into_owned()
}

pub fn fixture(name: &str) -> String {
    root().join("tests/fixtures").join(name).to_string_lossy().into_owned()
}

/// Runs `churn` without MLflow or fault-injection settings from the caller's environment.
pub fn churn(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_churn"))
        .args(args)
        .env_remove("MLFLOW_TRACKING_URI")
        .env_remove("CHURN_FAULT_PAUSE_MS")
        .output()
        .expect("churn runs")
}

/// Runs and expects success; returns stdout.
pub fn ok(args: &[&str]) -> String {
    let out = churn(args);
    assert!(out.status.success(), "churn {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Runs and expects exit code `code` with `needle` in stderr; returns stdout + stderr.
pub fn fails(args: &[&str], code: i32, needle: &str) -> String {
    let out = churn(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "churn {args:?}: {err}");
    assert!(err.contains(needle), "churn {args:?}: expected {needle:?} in: {err}");
    format!("{}{err}", String::from_utf8_lossy(&out.stdout))
}

pub fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

pub fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

pub fn path(dir: &tempfile::TempDir, name: &str) -> String {
    dir.path().join(name).to_string_lossy().into_owned()
}

pub fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let p = path(dir, name);
    std::fs::write(&p, text).unwrap();
    p
}

//! The local registry through the `churn` binary: runs recorded, versions registered, aliases
//! promoted behind the quality gate and rolled back, models exported; concurrent registrations;
//! the integrity check catching damage; and `kill -9` at random points of train/promote/rollback
//! (`CHURN_FAULT_TRIALS` trials, 50 by default, ~5 s; `scripts/registry-faults.sh [N]` runs more).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

mod common;

use common::*;

struct Reg {
    _dir: tempfile::TempDir,
    path: String,
    dir: PathBuf,
}

impl Reg {
    fn new() -> Reg {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("registry");
        Reg { path: dir.to_string_lossy().into_owned(), dir, _dir: d }
    }
    fn file(&self, name: &str) -> String {
        self.dir.parent().unwrap().join(name).to_string_lossy().into_owned()
    }
    /// `churn train` on `csv` with a few trees, registered as `name`: the train JSON.
    fn train(&self, csv: &str, name: &str, extra: &[&str]) -> serde_json::Value {
        let out = self.file("out.bin");
        let mut args = vec!["train", "--data", csv, "--out", &out, "--json"];
        if !extra.contains(&"--trees") {
            args.extend(["--trees", "10"]);
        }
        args.extend(["--registry", &self.path, "--register", name]);
        args.extend(extra);
        json(&ok(&args))
    }
    fn args<'a>(&'a self, a: &[&'a str]) -> Vec<&'a str> {
        let mut v = a.to_vec();
        v.extend(["--registry", &self.path]);
        v
    }
}

#[test]
fn train_records_runs_and_versions() {
    let r = Reg::new();
    let csv = data("telco_train.csv");
    let t1 = r.train(&csv, "telco", &[]);
    let t2 = r.train(&csv, "telco", &["--seed", "7"]);
    assert_eq!(t1["registry"]["registered"]["version"], 1);
    assert_eq!(t2["registry"]["registered"]["version"], 2);
    // --register names the model card when --name is not given.
    assert_eq!(t1["card"]["name"], "telco");
    let id1 = t1["registry"]["run_id"].as_str().unwrap().to_string();
    assert_ne!(id1, t2["registry"]["run_id"].as_str().unwrap());

    let runs = json(&ok(&r.args(&["runs", "list", "--json"])));
    assert_eq!(runs.as_array().unwrap().len(), 2);
    assert_eq!(runs[0]["id"], id1.as_str());
    assert_eq!(runs[0]["registered"]["version"], 1);
    assert_eq!(runs[1]["registered"]["version"], 2);
    assert_eq!(runs[0]["roc_auc"], t1["card"]["test_metrics"]["roc_auc"]);

    // The run record: exact command line, data fingerprint, params, metrics, files.
    let show = json(&ok(&r.args(&["runs", "show", &id1, "--json"])));
    let argv: Vec<&str> = show["argv"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert_eq!(&argv[1..5], ["train", "--data", csv.as_str(), "--out"]);
    assert!(show["command"].as_str().unwrap().contains("--register telco"), "{}", show["command"]);
    assert_eq!(show["data"]["sha256"], t1["card"]["data_sha256"]);
    assert_eq!(show["params"]["trees"], "10");
    assert_eq!(show["params"]["seed"], "42");
    assert_eq!(show["metrics"]["roc_auc"], t1["card"]["test_metrics"]["roc_auc"]);
    assert_eq!(show["status"], "ok");
    // The run keeps its own copy of the model file (out.bin was overwritten by run 2 since).
    let inspect = json(&ok(&["inspect", show["files"]["model"].as_str().unwrap(), "--json"]));
    assert_eq!(inspect["version"], t1["card"]["version"]);
    // Importances CSV: one line per feature, largest first, summing to 1.
    let csv_text = std::fs::read_to_string(show["files"]["importances"].as_str().unwrap()).unwrap();
    let rows: Vec<(String, f64)> = csv_text
        .lines()
        .skip(1)
        .map(|l| {
            let (f, v) = l.rsplit_once(',').unwrap();
            (f.to_string(), v.parse().unwrap())
        })
        .collect();
    assert_eq!(rows.len(), t1["schema"]["fields"].as_array().unwrap().len());
    assert!(rows.windows(2).all(|w| w[0].1 >= w[1].1), "{csv_text}");
    assert!((rows.iter().map(|r| r.1).sum::<f64>() - 1.0).abs() < 1e-9, "{csv_text}");
    let text = ok(&r.args(&["runs", "show", &id1]));
    assert!(text.contains("registered      telco version 1"), "{text}");

    let models = json(&ok(&r.args(&["models", "list", "--json"])));
    assert_eq!(models[0]["name"], "telco");
    assert_eq!(models[0]["versions"], 2);
    assert_eq!(models[0]["latest"], 2);

    // A train without --register records a run only; a gate failure records a refused run.
    let out = r.file("x.bin");
    ok(&["train", "--data", &csv, "--out", &out, "--trees", "5", "--registry", &r.path]);
    fails(
        &[
            "train",
            "--data",
            &csv,
            "--out",
            &r.file("y.bin"),
            "--trees",
            "5",
            "--registry",
            &r.path,
            "--register",
            "telco",
            "--min-auc",
            "0.99",
        ],
        3,
        "quality gate failed",
    );
    assert!(!Path::new(&r.file("y.bin")).exists());
    let runs = json(&ok(&r.args(&["runs", "list", "--json"])));
    assert_eq!(runs.as_array().unwrap().len(), 4);
    assert_eq!(runs[2]["registered"], serde_json::Value::Null);
    assert_eq!(runs[3]["status"], "gate_failed");
    assert_eq!(runs[3]["registered"], serde_json::Value::Null);
    let show = json(&ok(&r.args(&["models", "show", "telco", "--json"])));
    assert_eq!(show["versions"].as_array().unwrap().len(), 2, "the refused model is not a version");
    // --no-registry records nothing.
    ok(&["train", "--data", &csv, "--out", &out, "--trees", "5", "--registry", &r.path, "--no-registry"]);
    assert_eq!(json(&ok(&r.args(&["runs", "list", "--json"]))).as_array().unwrap().len(), 4);
    ok(&r.args(&["registry", "check"]));
}

#[test]
fn promote_gate_rollback_and_get() {
    let r = Reg::new();
    let train = data("telco_train.csv");
    let test = data("telco_test.csv");
    // v1: a weak model (depth 1), v2: the default depth; same data and split.
    let t1 = r.train(&train, "telco", &["--max-depth", "1", "--trees", "3"]);
    let t2 = r.train(&train, "telco", &[]);
    let auc1 = t1["card"]["test_metrics"]["roc_auc"].as_f64().unwrap();
    let auc2 = t2["card"]["test_metrics"]["roc_auc"].as_f64().unwrap();
    assert!(auc2 > auc1, "{auc1} {auc2}");

    // --min-auc refuses v1 (exit 3, AUC shown), alias unset.
    let min = format!("{:.4}", (auc1 + auc2) / 2.0);
    let msg = fails(
        &r.args(&["promote", "telco", "--version", "1", "--alias", "production", "--min-auc", &min]),
        3,
        "quality gate failed",
    );
    assert!(msg.contains(&format!("{auc1:.4}")), "{msg}");
    fails(&r.args(&["models", "get", "telco@production", "--out", &r.file("p.bin")]), 2, "has no alias \"production\"");
    ok(&r.args(&["promote", "telco", "--version", "1", "--alias", "production"]));
    ok(&r.args(&[
        "promote",
        "telco",
        "--version",
        "2",
        "--alias",
        "production",
        "--must-beat",
        "production",
        "--min-auc",
        &min,
    ]));
    // Now v1 cannot beat v2 on the recorded held-out rows (same data, same split): both AUCs shown.
    ok(&r.args(&["promote", "telco", "--version", "1", "--alias", "staging"]));
    let msg = fails(
        &r.args(&["promote", "telco", "--version", "1", "--alias", "production", "--must-beat", "production"]),
        3,
        "does not beat",
    );
    assert!(msg.contains(&format!("{auc1:.4}")) && msg.contains(&format!("{auc2:.4}")), "{msg}");
    // The same comparison on an evaluation file, with the AUCs `churn evaluate` reports.
    ok(&r.args(&["models", "get", "telco/1", "--out", &r.file("v1.bin")]));
    ok(&r.args(&["models", "get", "telco@production", "--out", &r.file("prod.bin")]));
    let ev1 =
        json(&ok(&["evaluate", "--model", &r.file("v1.bin"), "--data", &test, "--json"]))["roc_auc"].as_f64().unwrap();
    let ev2 = json(&ok(&["evaluate", "--model", &r.file("prod.bin"), "--data", &test, "--json"]))["roc_auc"]
        .as_f64()
        .unwrap();
    let out =
        churn(&r.args(&["promote", "telco", "--version", "1", "--must-beat", "production", "--data", &test, "--json"]));
    assert_eq!(out.status.code(), Some(3));
    let j = json(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(j["promoted"], false);
    assert_eq!(j["gates"][0]["candidate_auc"].as_f64().unwrap(), ev1);
    assert_eq!(j["gates"][0]["champion_auc"].as_f64().unwrap(), ev2);
    // The refused promotions left production at v2.
    let show = json(&ok(&r.args(&["models", "show", "telco", "--json"])));
    assert_eq!(show["aliases"]["production"]["version"], 2);
    assert_eq!(show["aliases"]["production"]["history"], serde_json::json!([1]));
    assert_eq!(show["aliases"]["staging"]["version"], 1);

    // get NAME@production writes exactly version 2's bytes (which is what train wrote then).
    let prod = std::fs::read(r.file("prod.bin")).unwrap();
    let v2 = std::fs::read(r.dir.join("models/telco/versions/2/model.bin")).unwrap();
    assert_eq!(prod, v2);
    let i = json(&ok(&["inspect", &r.file("prod.bin"), "--json"]));
    assert_eq!(i["version"], t2["card"]["version"]);

    // Rollback: production goes back to v1, then there is nothing left to roll back to.
    let rb = json(&ok(&r.args(&["rollback", "telco", "--alias", "production", "--json"])));
    assert_eq!((rb["from"].as_u64(), rb["to"].as_u64()), (Some(2), Some(1)));
    ok(&r.args(&["models", "get", "telco@production", "--out", &r.file("prod.bin")]));
    assert_eq!(std::fs::read(r.file("prod.bin")).unwrap(), std::fs::read(r.file("v1.bin")).unwrap());
    fails(&r.args(&["rollback", "telco", "--alias", "production"]), 2, "nothing to roll back to");
    let show = json(&ok(&r.args(&["models", "show", "telco", "--json"])));
    let actions: Vec<&str> = show["log"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["promote", "promote", "promote", "rollback"]);
    ok(&r.args(&["registry", "check"]));
}

#[test]
fn clear_errors() {
    let r = Reg::new();
    let missing = r.args(&["models", "list"]);
    fails(&missing, 2, "no registry at");
    fails(&r.args(&["runs", "list"]), 2, "`churn train` creates one");
    r.train(&data("telco_test.csv"), "telco", &["--trees", "3"]);
    fails(&r.args(&["models", "show", "nope"]), 2, "no model named \"nope\"");
    fails(&r.args(&["models", "get", "nope@production", "--out", &r.file("a.bin")]), 2, "known: telco");
    fails(&r.args(&["models", "get", "telco/7", "--out", &r.file("a.bin")]), 2, "has no version 7 (versions: 1)");
    fails(&r.args(&["models", "get", "telco/x", "--out", &r.file("a.bin")]), 2, "version must be a number");
    fails(&r.args(&["promote", "telco", "--version", "9"]), 2, "has no version 9");
    fails(&r.args(&["promote", "telco", "--version", "1", "--alias", "latest"]), 2, "reserved");
    fails(&r.args(&["rollback", "telco", "--alias", "production"]), 2, "no alias \"production\"");
    fails(&r.args(&["runs", "show", "20990101-000000.000-00000000"]), 2, "no run 20990101-000000.000-00000000");
    fails(
        &r.args(&["promote", "telco", "--version", "1", "--min-auc", "0.5", "--data", &r.file("none.csv")]),
        2,
        "none.csv",
    );
    let csv = data("telco_test.csv");
    let out = r.file("o.bin");
    fails(
        &["train", "--data", &csv, "--out", &out, "--registry", &r.path, "--register", "a/b"],
        2,
        "--register \"a/b\" is not allowed",
    );
    fails(
        &["train", "--data", &csv, "--out", &out, "--registry", &r.path, "--tracking-uri", "ftp://x"],
        2,
        "expected an http:// URI",
    );
    // A folder with other files in it is not silently turned into a registry.
    let other = r.file("notes");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(Path::new(&other).join("a.txt"), "x").unwrap();
    fails(&["train", "--data", &csv, "--out", &out, "--registry", &other], 2, "is not a churn registry");
    assert!(!Path::new(&out).exists(), "flags are checked before the model is written");
    // An MLflow server that is down: clear message, exit 2, the local registry still written.
    let msg = fails(
        &[
            "train",
            "--data",
            &csv,
            "--out",
            &out,
            "--trees",
            "3",
            "--registry",
            &r.path,
            "--register",
            "telco",
            "--tracking-uri",
            "http://127.0.0.1:9",
        ],
        2,
        "cannot reach the MLflow tracking server at http://127.0.0.1:9",
    );
    assert!(msg.contains("the local registry were written"), "{msg}");
    let show = json(&ok(&r.args(&["models", "show", "telco", "--json"])));
    assert_eq!(show["versions"].as_array().unwrap().len(), 2);
    // ... and promoting it with MLflow says it never reached MLflow, after setting the local alias.
    fails(
        &r.args(&["promote", "telco", "--version", "2", "--tracking-uri", "http://127.0.0.1:9"]),
        2,
        "never registered in MLflow",
    );
    let show = json(&ok(&r.args(&["models", "show", "telco", "--json"])));
    assert_eq!(show["aliases"]["production"]["version"], 2);
}

#[test]
fn check_catches_damage() {
    let r = Reg::new();
    r.train(&data("telco_test.csv"), "telco", &["--trees", "3"]);
    r.train(&data("telco_test.csv"), "telco", &["--trees", "3", "--seed", "1"]);
    ok(&r.args(&["promote", "telco", "--version", "2"]));
    let report = json(&ok(&r.args(&["registry", "check", "--json"])));
    assert_eq!((report["versions"].as_u64(), report["aliases"].as_u64()), (Some(2), Some(1)));
    assert_eq!(report["problems"], serde_json::json!([]));

    // One flipped byte in version 1's file: check fails, get refuses it.
    let v1 = r.dir.join("models/telco/versions/1/model.bin");
    let mut bytes = std::fs::read(&v1).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x10;
    std::fs::write(&v1, &bytes).unwrap();
    let msg = fails(&r.args(&["registry", "check"]), 2, "1 problem(s)");
    assert!(msg.contains("telco version 1") && msg.contains("damaged"), "{msg}");
    fails(&r.args(&["models", "get", "telco/1", "--out", &r.file("a.bin")]), 2, "damaged");
    bytes[mid] ^= 0x10;
    std::fs::write(&v1, &bytes).unwrap();
    ok(&r.args(&["registry", "check"]));

    // An alias naming a version that does not exist is reported.
    let aliases = r.dir.join("models/telco/aliases.json");
    let text = std::fs::read_to_string(&aliases).unwrap();
    std::fs::write(&aliases, text.replace("\"version\": 2", "\"version\": 5")).unwrap();
    fails(&r.args(&["registry", "check"]), 2, "points at missing version 5");
}

#[test]
fn concurrent_registrations_get_distinct_versions() {
    const N: usize = 6;
    let r = Reg::new();
    let csv = data("telco_test.csv");
    let children: Vec<_> = (0..N)
        .map(|i| {
            let out = r.file(&format!("c{i}.bin"));
            Command::new(env!("CARGO_BIN_EXE_churn"))
                .args(["train", "--data", &csv, "--out", &out, "--trees", "5", "--json", "--seed", &i.to_string()])
                .args(["--registry", &r.path, "--register", "telco", "--threads", "1"])
                .env_remove("MLFLOW_TRACKING_URI")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut got = BTreeMap::new();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let j = json(&String::from_utf8_lossy(&out.stdout));
        let v = j["registry"]["registered"]["version"].as_u64().unwrap();
        assert!(got.insert(v, j["card"]["params"]["seed"].as_u64().unwrap()).is_none(), "version {v} given twice");
    }
    assert_eq!(got.keys().copied().collect::<Vec<_>>(), (1..=N as u64).collect::<Vec<_>>());
    // Each version holds the model of the run that claimed it.
    let show = json(&ok(&r.args(&["models", "show", "telco", "--json"])));
    for v in show["versions"].as_array().unwrap() {
        let n = v["version"].as_u64().unwrap();
        let f = r.file("g.bin");
        ok(&r.args(&["models", "get", &format!("telco/{n}"), "--out", &f]));
        let i = json(&ok(&["inspect", &f, "--json"]));
        assert_eq!(i["params"]["seed"].as_u64(), Some(got[&n]), "version {n}");
    }
    assert_eq!(json(&ok(&r.args(&["runs", "list", "--json"]))).as_array().unwrap().len(), N);
    ok(&r.args(&["registry", "check"]));
}

/// xorshift64*: reproducible randomness without a dependency (seed printed on failure).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Starts `churn args` with the fault hook on (pausing `pause_ms` at each write step), waits
/// until it reports its `at_step`-th fault point (or, for `None`, a random time), sleeps
/// `extra_ms` and kills it with SIGKILL. Returns the last fault point it reached, or "exited".
fn kill_during(args: &[&str], pause_ms: u64, at_step: Option<usize>, extra_ms: u64) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_churn"))
        .args(args)
        .env_remove("MLFLOW_TRACKING_URI")
        .env("CHURN_FAULT_PAUSE_MS", pause_ms.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(p) = line.strip_prefix("fault-point: ") {
                let _ = tx.send(p.to_string());
            }
        }
    });
    let mut last = String::from("before the lock");
    if let Some(k) = at_step {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen = 0;
        while seen < k {
            match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(p) => {
                    last = p;
                    seen += 1;
                }
                Err(_) => break, // exited (fewer steps, e.g. a refused promote) or too slow
            }
        }
    }
    std::thread::sleep(Duration::from_millis(extra_ms));
    // SIGKILL (Child::kill is kill -9 on Unix); harmless if it already exited.
    let _ = child.kill();
    let status = child.wait().unwrap();
    reader.join().unwrap();
    while let Ok(p) = rx.try_recv() {
        last = p;
    }
    if status.code().is_some() {
        format!("exited ({})", status.code().unwrap())
    } else {
        last
    }
}

#[test]
fn kill_9_at_random_points_never_breaks_the_registry() {
    let trials: usize = std::env::var("CHURN_FAULT_TRIALS").ok().and_then(|v| v.parse().ok()).unwrap_or(50);
    let seed: u64 = std::env::var("CHURN_FAULT_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1
    });
    eprintln!("fault trials: {trials}, seed {seed} (CHURN_FAULT_SEED={seed} reproduces the schedule)");
    let mut rng = Rng(seed);
    let r = Reg::new();
    let csv = data("telco_test.csv");
    // Start with two versions and a production alias so promote and rollback have work to do.
    r.train(&csv, "telco", &["--trees", "3"]);
    r.train(&csv, "telco", &["--trees", "3", "--seed", "2"]);
    ok(&r.args(&["promote", "telco", "--version", "1"]));
    ok(&r.args(&["promote", "telco", "--version", "2"]));

    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    let out = r.file("killed.bin");
    for t in 0..trials {
        let before = json(&ok(&r.args(&["models", "show", "telco", "--json"])));
        let n_before = before["versions"].as_array().unwrap().len() as u64;
        let prod_before = before["aliases"]["production"]["version"].as_u64().unwrap();
        // 0 train --register, 1 promote, 2 rollback, 3 train --register killed while a second
        // train --register (not killed) commits alongside it.
        let op = rng.below(4);
        let seed_s = (100 + t).to_string();
        let target = (1 + rng.below(n_before)).to_string();
        let args: Vec<&str> = match op {
            0 | 3 => vec![
                "train",
                "--data",
                &csv,
                "--out",
                &out,
                "--trees",
                "3",
                "--json",
                "--seed",
                &seed_s,
                "--register",
                "telco",
            ],
            1 => vec!["promote", "telco", "--version", &target, "--alias", "production"],
            _ => vec!["rollback", "telco", "--alias", "production"],
        };
        let args = r.args(&args);
        // Fault points: train 7 (lock, run, version steps), promote/rollback 3. Pick one
        // uniformly (0 = a random moment before the lock, e.g. during training).
        let steps = if op == 0 || op == 3 { 7 } else { 3 };
        let at = rng.below(steps + 1) as usize;
        let pause = 20;
        let extra = if at == 0 { rng.below(if op == 0 || op == 3 { 120 } else { 15 }) } else { rng.below(pause) };
        let survivor = (op == 3).then(|| {
            let out2 = r.file("survivor.bin");
            Command::new(env!("CARGO_BIN_EXE_churn"))
                .args(["train", "--data", &csv, "--out", &out2, "--trees", "3", "--json", "--register", "telco"])
                .args(["--registry", &r.path, "--seed", &format!("{}", 5000 + t)])
                .env_remove("MLFLOW_TRACKING_URI")
                .env("CHURN_FAULT_PAUSE_MS", "5")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        });
        let reached = kill_during(&args, pause, (at > 0).then_some(at), extra);
        let opname = ["train", "promote", "rollback", "train beside another"][op as usize];
        let mut survived = 0;
        if let Some(c) = survivor {
            // The other writer was not blocked by the killed one's lock and landed its version.
            let o = c.wait_with_output().unwrap();
            assert!(
                o.status.success(),
                "trial {t}: the surviving train failed: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            let j = json(&String::from_utf8_lossy(&o.stdout));
            let v = j["registry"]["registered"]["version"].as_u64().unwrap();
            assert!(v > n_before, "trial {t}: survivor got version {v}, not a new one");
            survived = 1;
        }
        *outcomes.entry(format!("{opname}: {reached}")).or_default() += 1;

        // The registry opens, every version is complete and loads, aliases point at versions.
        let report = churn(&r.args(&["registry", "check", "--json"]));
        let rep = String::from_utf8_lossy(&report.stdout);
        assert!(
            report.status.success(),
            "trial {t} (seed {seed}, {opname} killed at {reached}): {rep}{}",
            String::from_utf8_lossy(&report.stderr)
        );
        let after = json(&ok(&r.args(&["models", "show", "telco", "--json"])));
        let n_after = after["versions"].as_array().unwrap().len() as u64;
        let prod_after = after["aliases"]["production"]["version"].as_u64().unwrap();
        // All or nothing: at most the one new version; production is the old or the new holder.
        let grown = n_after
            .checked_sub(n_before + survived)
            .unwrap_or_else(|| panic!("trial {t}: versions went {n_before} → {n_after}"));
        assert!(grown == 0 || ((op == 0 || op == 3) && grown == 1), "trial {t}: {n_before} → {n_after} versions");
        assert!(prod_after <= n_after, "trial {t}: production → {prod_after} of {n_after}");
        if op == 0 || op == 3 {
            assert_eq!(prod_after, prod_before, "trial {t}: train moved production");
        }
        ok(&r.args(&["models", "get", "telco@production", "--out", &r.file("prod.bin")]));
        ok(&["inspect", &r.file("prod.bin")]);
        ok(&r.args(&["models", "get", "telco@latest", "--out", &r.file("latest.bin")]));
        ok(&["inspect", &r.file("latest.bin")]);
    }
    // After all that, the registry still takes writes (no stale lock) and clears the litter.
    r.train(&csv, "telco", &["--trees", "3", "--seed", "999"]);
    let rep = json(&ok(&r.args(&["registry", "check", "--json"])));
    assert_eq!(rep["staging_litter"], 0, "{rep}");
    assert_eq!(rep["problems"], serde_json::json!([]));
    eprintln!("fault trials passed: {trials}; registry at the end: {} runs, {} versions", rep["runs"], rep["versions"]);
    for (k, n) in &outcomes {
        eprintln!("  {n:>4}  {k}");
    }
}

#[test]
fn a_kill_lands_at_every_write_step_and_leaves_the_old_or_the_new_state() {
    // The random trials above could pass without one mid-write kill if the fault hook stopped
    // firing. Here every write step of `train --register` and of `promote` is hit once, in order,
    // and the kill must land exactly there (the process paused at that step, then SIGKILL).
    let r = Reg::new();
    let csv = data("telco_test.csv");
    r.train(&csv, "telco", &["--trees", "3"]);
    r.train(&csv, "telco", &["--trees", "3", "--seed", "2"]);
    ok(&r.args(&["promote", "telco", "--version", "1"]));
    let out = r.file("killed.bin");
    let show = || json(&ok(&r.args(&["models", "show", "telco", "--json"])));
    let train_steps = [
        "locked",
        "run model.bin staged",
        "run staged",
        "run committed",
        "version model.bin staged",
        "version staged",
        "version committed",
    ];
    for (k, step) in train_steps.iter().enumerate() {
        let before = show()["versions"].as_array().unwrap().len();
        let seed = (700 + k).to_string();
        let args = r.args(&["train", "--data", &csv, "--out", &out, "--model", "rf", "--trees", "3"]);
        let args = [
            &args[..],
            &["--max-depth", "3", "--mtry", "2", "--min-samples-leaf", "5", "--seed", &seed, "--register", "telco"],
        ]
        .concat();
        let reached = kill_during(&args, 20, Some(k + 1), 0);
        assert_eq!(reached, *step, "train killed at step {}", k + 1);
        ok(&r.args(&["registry", "check"]));
        let after = show()["versions"].as_array().unwrap().len();
        // The version exists exactly when its commit was reached.
        assert_eq!(after, before + usize::from(*step == "version committed"), "killed at {step}");
    }
    let promote_steps = ["locked", "aliases staged", "aliases committed"];
    for (k, step) in promote_steps.iter().enumerate() {
        let prod_before = show()["aliases"]["production"]["version"].as_u64().unwrap();
        let target = if prod_before == 1 { "2" } else { "1" };
        let args = r.args(&["promote", "telco", "--version", target, "--alias", "production"]);
        let reached = kill_during(&args, 20, Some(k + 1), 0);
        assert_eq!(reached, *step, "promote killed at step {}", k + 1);
        ok(&r.args(&["registry", "check"]));
        let prod_after = show()["aliases"]["production"]["version"].as_u64().unwrap();
        // Exactly the old holder until the commit, exactly the new one from it on.
        let want = if *step == "aliases committed" { target.parse().unwrap() } else { prod_before };
        assert_eq!(prod_after, want, "promote killed at {step}: production is {prod_after}");
    }
}

#[test]
fn check_names_the_damaged_file_for_each_kind_of_damage() {
    // Issue 17: malformed aliases.json / version.json / run.json, a version whose run is gone, a
    // dangling history entry; leftover staging files are reported but are not damage.
    let r = Reg::new();
    r.train(&data("telco_test.csv"), "telco", &["--trees", "3"]);
    r.train(&data("telco_test.csv"), "telco", &["--trees", "3", "--seed", "1"]);
    ok(&r.args(&["promote", "telco", "--version", "1"]));
    ok(&r.args(&["promote", "telco", "--version", "2"]));
    ok(&r.args(&["registry", "check"]));
    let model = r.dir.join("models/telco");
    let run_id = json(&std::fs::read_to_string(model.join("versions/1/version.json")).unwrap())["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let run_json = r.dir.join("runs").join(&run_id).join("run.json");
    // Each damage alone, then repaired, so each message is checked on its own.
    let damage = |file: &std::path::Path, text: &str, needle: &str| {
        let saved = std::fs::read(file).unwrap();
        std::fs::write(file, text).unwrap();
        let msg = fails(&r.args(&["registry", "check"]), 2, "problem(s)");
        assert!(msg.contains(needle), "{needle:?} not in: {msg}");
        std::fs::write(file, saved).unwrap();
        ok(&r.args(&["registry", "check"]));
    };
    damage(&model.join("aliases.json"), "{not json", "aliases.json is not valid");
    damage(&model.join("versions/2/version.json"), "[]", "versions/2/version.json is not valid");
    damage(&run_json, "{\"id\": 3", &format!("runs/{run_id}/run.json is not valid"));
    // A dangling history entry: production's history names a version that does not exist.
    let aliases = std::fs::read_to_string(model.join("aliases.json")).unwrap();
    let mut a = json(&aliases);
    a["aliases"]["production"]["history"] = serde_json::json!([1, 9]);
    damage(&model.join("aliases.json"), &a.to_string(), "telco@production: points at missing version 9");
    // A version whose run folder is gone.
    let run_dir = r.dir.join("runs").join(&run_id);
    let moved = r.dir.join("moved-run");
    std::fs::rename(&run_dir, &moved).unwrap();
    let msg = fails(&r.args(&["registry", "check"]), 2, "problem(s)");
    assert!(msg.contains(&format!("telco version 1: its run {run_id} is missing")), "{msg}");
    std::fs::rename(&moved, &run_dir).unwrap();
    // Leftover staging files (a killed write): counted, not a problem.
    std::fs::create_dir_all(r.dir.join("tmp")).unwrap();
    std::fs::write(r.dir.join("tmp/stage-123"), "half").unwrap();
    let out = ok(&r.args(&["registry", "check"]));
    assert!(out.contains("1 staging leftovers"), "{out}");
}

#[test]
fn runs_list_last_shows_the_newest_runs() {
    let r = Reg::new();
    let csv = data("telco_train.csv");
    let ids: Vec<String> = ["1", "2", "3"]
        .iter()
        .map(|s| r.train(&csv, "telco", &["--model", "rf", "--seed", s])["registry"]["run_id"].as_str().unwrap().into())
        .collect();
    let last2 = json(&ok(&r.args(&["runs", "list", "--last", "2", "--json"])));
    let got: Vec<&str> = last2.as_array().unwrap().iter().map(|x| x["id"].as_str().unwrap()).collect();
    assert_eq!(got, [ids[1].as_str(), ids[2].as_str()]);
    assert_eq!(json(&ok(&r.args(&["runs", "list", "--last", "10", "--json"]))).as_array().unwrap().len(), 3);
    let text = ok(&r.args(&["runs", "list", "--last", "1"]));
    assert!(text.contains(&ids[2]) && !text.contains(&ids[1]) && !text.contains(&ids[0]), "{text}");
}

#[test]
fn must_beat_without_data_refuses_versions_held_out_on_other_rows() {
    let r = Reg::new();
    let (train, test) = (data("telco_train.csv"), data("telco_test.csv"));
    r.train(&train, "telco", &["--model", "rf"]);
    r.train(&test, "telco", &["--model", "rf"]); // other data
    r.train(&train, "telco", &["--model", "rf", "--seed", "9"]); // same data, another held-out split
    ok(&r.args(&["promote", "telco", "--version", "1", "--alias", "production"]));
    for v in ["2", "3"] {
        let msg = fails(
            &r.args(&["promote", "telco", "--version", v, "--alias", "production", "--must-beat", "production"]),
            2,
            "pass --data FILE.csv to score both on the same rows",
        );
        assert!(msg.contains(&format!("version {v} (data")), "{msg}");
    }
    let show = json(&ok(&r.args(&["models", "show", "telco", "--json"])));
    assert_eq!(show["aliases"]["production"]["version"], 1, "the refusals left production alone");
    // With --data both are scored on the same rows, so the comparison is allowed.
    let out = churn(&r.args(&[
        "promote",
        "telco",
        "--version",
        "2",
        "--alias",
        "production",
        "--must-beat",
        "production",
        "--data",
        &test,
        "--json",
    ]));
    assert!(matches!(out.status.code(), Some(0 | 3)), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(json(&String::from_utf8_lossy(&out.stdout))["gates"][0]["champion_auc"].is_number());
}

/// `MLFLOW_TRACKING_TOKEN` goes to the tracking server as a bearer token (and nothing when it
/// is unset): a one-shot local server records the request's headers and answers 500.
#[test]
fn mlflow_tracking_token_is_sent_as_a_bearer_token() {
    use std::io::{Read, Write};
    for token in [Some("s3cret-token"), None] {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let uri = format!("http://{}", listener.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            conn.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && conn.read(&mut byte).unwrap() == 1 {
                head.push(byte[0]);
            }
            conn.write_all(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .unwrap();
            String::from_utf8(head).unwrap()
        });
        let r = Reg::new();
        let out = r.file("m.bin");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_churn"));
        cmd.args(["train", "--data", &data("telco_train.csv"), "--out", &out, "--model", "rf", "--trees", "5"])
            .args(["--registry", &r.path, "--tracking-uri", &uri])
            .env_remove("MLFLOW_TRACKING_URI")
            .env_remove("MLFLOW_TRACKING_TOKEN");
        if let Some(t) = token {
            cmd.env("MLFLOW_TRACKING_TOKEN", t);
        }
        let result = cmd.output().unwrap();
        assert_eq!(result.status.code(), Some(2), "{}", String::from_utf8_lossy(&result.stderr));
        let head = server.join().unwrap().to_ascii_lowercase();
        match token {
            Some(t) => assert!(head.contains(&format!("authorization: bearer {t}")), "{head}"),
            None => assert!(!head.contains("authorization:"), "{head}"),
        }
    }
}

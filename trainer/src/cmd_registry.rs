//! Registry commands (`churn runs`, `churn models`, `churn promote`, `churn rollback`,
//! `churn registry check`) and what `churn train` records after it has written its model.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use inference_wasm::{Artifact, FieldKind, Unknown};
use serde_json::{json, Value as Json};

use crate::cli::{ModelsCommand, PromoteArgs, RegistryCommand, RollbackArgs, RunsCommand, TrainArgs};
use crate::mlflow::{LoggedRun, Tracking};
use crate::output::write_atomic;
use crate::output::GateFailed;
use crate::registry::{
    new_run_id, sha256_hex, shell_join, MlflowLink, NewRun, Registry, RunData, RunModel, RunRecord, VersionRecord,
};
use crate::scoring::auc_on;

/// What `churn train` recorded: shown in its summary and JSON.
pub struct Recorded {
    pub registry: String,
    pub run_id: String,
    pub version: Option<(String, u32)>,
    pub mlflow: Option<MlflowLink>,
    /// MLflow logging failed (the local registry was written all the same).
    pub mlflow_error: Option<anyhow::Error>,
}

impl Recorded {
    pub fn to_json(&self) -> Json {
        json!({
            "registry": self.registry,
            "run_id": self.run_id,
            "registered": self.version.as_ref().map(|(n, v)| json!({"name": n, "version": v})),
            "mlflow": self.mlflow,
            "mlflow_error": self.mlflow_error.as_ref().map(|e| format!("{e:#}")),
        })
    }

    pub fn print(&self) {
        let reg = match &self.version {
            Some((n, v)) => format!("run {} in {}; registered as {n} version {v}", self.run_id, self.registry),
            None => format!("run {} in {}", self.run_id, self.registry),
        };
        println!("{:<22}{reg}", "registry");
        if let Some(m) = &self.mlflow {
            let mv = m.model_version.as_ref().map_or(String::new(), |v| format!(", model version {v}"));
            println!("{:<22}run {} in experiment {} at {}{mv}", "mlflow", m.run_id, m.experiment_id, m.tracking_uri);
        }
    }
}

/// Where `churn train` records its run, decided from the flags once, before any work is done:
/// the registry records from this plan and the written model, not from the command's flags.
pub struct RecordPlan {
    registry: PathBuf,
    register: Option<String>,
    tracking: Option<Tracking>,
    experiment: String,
    data: PathBuf,
    out: PathBuf,
}

impl RecordPlan {
    /// Checks the registry and MLflow flags; `None` with `--no-registry`.
    pub fn from_args(a: &TrainArgs) -> Result<Option<RecordPlan>> {
        if a.no_registry {
            return Ok(None);
        }
        if let Some(name) = &a.register {
            crate::registry::check_name("--register", name)?;
        }
        let tracking = Tracking::from_flag(a.tracking.tracking_uri.as_deref())?;
        Registry::check_creatable(&a.registry)?;
        Ok(Some(RecordPlan {
            registry: a.registry.clone(),
            register: a.register.clone(),
            tracking,
            experiment: a.experiment.clone(),
            data: a.data.clone(),
            out: a.out.clone(),
        }))
    }
}

/// Records a finished `churn train` in the registry (and MLflow, if the plan has a tracking
/// server). Called after the model file was written (or refused by `--min-auc`: `written` false).
pub fn record_train(
    a: &RecordPlan,
    artifact: &Artifact,
    bytes: &[u8],
    written: bool,
    seconds: f64,
) -> Result<Recorded> {
    let reg = Registry::open_or_create(&a.registry)?;
    let card = &artifact.card;
    let s = &artifact.schema;
    let p = &artifact.policy;
    let mut params = BTreeMap::new();
    let mut put = |k: &str, v: String| params.insert(k.to_string(), v);
    for (k, v) in card.params.entries() {
        put(k, v.to_string());
    }
    put("threshold", p.threshold.to_string());
    put("high", p.high.to_string());
    put("medium", p.medium.to_string());
    put("decimals", p.decimals.to_string());
    put(
        "unknown_category",
        // From the written model: the rule its categorical fields carry.
        if s.fields
            .iter()
            .any(|f| matches!(&f.kind, FieldKind::Categorical(c) if matches!(c.unknown, Unknown::AsLevel(_))))
        {
            "most-frequent"
        } else {
            "error"
        }
        .into(),
    );
    put("target", format!("{}={}", s.target.column, s.target.positive));
    put("id_column", s.id_column.clone().unwrap_or_default());
    put("features", s.fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(","));
    let argv: Vec<String> = std::env::args().collect();
    let record = RunRecord {
        id: new_run_id(),
        created_at: card.created_at.clone(),
        status: if written { "ok" } else { "gate_failed" }.into(),
        command: shell_join(&argv),
        argv,
        cwd: std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default(),
        data: RunData {
            path: a.data.display().to_string(),
            sha256: card.data_sha256.clone(),
            rows_total: card.rows_total,
            rows_train: card.rows_train,
            rows_test: card.rows_test,
        },
        params,
        metrics: card.test_metrics.as_ref().map(|m| serde_json::to_value(m).expect("metrics serialize")),
        model: RunModel {
            name: card.name.clone(),
            version: card.version.clone(),
            out: a.out.display().to_string(),
            bytes: bytes.len() as u64,
            sha256: sha256_hex(bytes),
        },
        register_as: a.register.clone(),
        seconds,
        selection: (!card.selection.is_empty()).then(|| {
            Json::Array(
                card.selection
                    .iter()
                    .map(|c| {
                        let mut v = serde_json::to_value(c).expect("the leaderboard serializes");
                        v["chosen"] = json!(c.params == card.params.kind);
                        v
                    })
                    .collect(),
            )
        }),
    };
    let mut imp: Vec<(&str, f64)> =
        s.fields.iter().map(|f| f.name.as_str()).zip(card.importances.iter().copied()).collect();
    imp.sort_by(|x, y| y.1.total_cmp(&x.1));
    let mut csv = String::from("field,importance\n");
    for (f, v) in &imp {
        csv.push_str(&format!("{f},{v}\n"));
    }
    let new = NewRun { record, artifact: bytes, importances_csv: csv };
    let version =
        reg.commit_run(&new).with_context(|| format!("recording the run in registry {}", a.registry.display()))?;
    let mut rec = Recorded {
        registry: a.registry.display().to_string(),
        run_id: new.record.id.clone(),
        version: version.map(|v| (a.register.clone().expect("registered only with --register"), v)),
        mlflow: None,
        mlflow_error: None,
    };
    if let Some(t) = &a.tracking {
        match log_to_mlflow(t, &reg, a, &new, &imp, rec.version.as_ref()) {
            Ok(link) => rec.mlflow = Some(link),
            Err(e) => rec.mlflow_error = Some(e),
        }
    }
    Ok(rec)
}

fn log_to_mlflow(
    t: &Tracking,
    reg: &Registry,
    a: &RecordPlan,
    run: &NewRun,
    importances: &[(&str, f64)],
    version: Option<&(String, u32)>,
) -> Result<MlflowLink> {
    let r = &run.record;
    let mut params: Vec<(String, String)> = r.params.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    params.push(("data".into(), r.data.path.clone()));
    params.push(("data_sha256".into(), r.data.sha256.clone()));
    params.push(("rows_train".into(), r.data.rows_train.to_string()));
    params.push(("rows_test".into(), r.data.rows_test.to_string()));
    let mut metrics: Vec<(String, f64)> =
        vec![("model_bytes".into(), r.model.bytes as f64), ("train_seconds".into(), r.seconds)];
    if let Some(m) = &r.metrics {
        for k in ["roc_auc", "pr_auc", "accuracy", "precision", "recall", "f1", "brier", "log_loss"] {
            if let Some(x) = m[k].as_f64() {
                metrics.push((k.into(), x));
            }
        }
    }
    for (f, v) in importances {
        metrics.push((format!("importance.{}", mlflow_key(f)), *v));
    }
    // Model selection: the chosen candidate's cross-validation figures, and each candidate's
    // mean (the whole leaderboard is in run.json).
    if let Some(Json::Array(board)) = &r.selection {
        for (i, c) in board.iter().enumerate() {
            if let Some(m) = c["cv_auc_mean"].as_f64() {
                metrics.push((format!("selection.{i}.cv_auc_mean"), m));
            }
            if c["chosen"] == true {
                for k in ["cv_auc_mean", "cv_auc_sd"] {
                    if let Some(x) = c[k].as_f64() {
                        metrics.push((k.into(), x));
                    }
                }
            }
        }
    }
    // MLflow refuses parameter values over 6000 characters (e.g. a very wide feature list).
    for (_, v) in params.iter_mut() {
        if v.chars().count() > 6000 {
            *v = v.chars().take(5990).collect::<String>() + " …";
        }
    }
    // MLflow caps tag values at 5000 characters (older servers: 250 for some); the full
    // command line is in the local run record and in the run's artifacts.
    let command: String = r.command.chars().take(4000).collect();
    let tags: Vec<(String, String)> = vec![
        ("mlflow.source.name".into(), "churn".into()),
        ("mlflow.source.type".into(), "LOCAL".into()),
        ("mlflow.user".into(), std::env::var("USER").unwrap_or_else(|_| "churn".into())),
        ("churn.local_run_id".into(), r.id.clone()),
        ("churn.status".into(), r.status.clone()),
        ("churn.model_version".into(), r.model.version.clone()),
        ("churn.command_line".into(), command),
    ];
    let card = serde_json::to_vec_pretty(&r).expect("run record serializes");
    let model = inference_wasm::Model::from_bytes(run.artifact).context("the model file to log")?;
    let artifacts = |logged: &LoggedRun| {
        let mut files = vec![
            ("importances.csv".to_string(), run.importances_csv.clone().into_bytes()),
            ("run.json".to_string(), card),
        ];
        files.extend(crate::mlflow::model_files(&model, run.artifact, &logged.run_id));
        files
    };
    let run_name = format!("{}-{}", r.model.name, r.id);
    let logged: LoggedRun = t.log_run(&a.experiment, &run_name, &params, &metrics, &tags, artifacts)?;
    let mut link = MlflowLink {
        tracking_uri: t.uri().to_string(),
        experiment_id: logged.experiment_id.clone(),
        run_id: logged.run_id.clone(),
        model_version: None,
    };
    reg.save_mlflow_link(&r.id, None, &link)?;
    if let Some((name, v)) = version {
        let tags =
            vec![("churn.local_version".to_string(), v.to_string()), ("churn.local_run_id".to_string(), r.id.clone())];
        let mv = t.register_version(name, &logged, &tags)?;
        link.model_version = Some(mv);
        reg.save_mlflow_link(&r.id, Some((name, *v)), &link)?;
    }
    Ok(link)
}

/// MLflow keys may hold only letters, digits, `_ - . / ` and spaces: anything else becomes `_`.
pub(crate) fn mlflow_key(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || "_-./ ".contains(c) { c } else { '_' }).collect()
}

// ---- churn runs ------------------------------------------------------------------------------

/// run id → (model name, version) for every registered version.
fn registrations(reg: &Registry) -> Result<BTreeMap<String, (String, u32)>> {
    let mut map = BTreeMap::new();
    for name in reg.models()? {
        for v in reg.versions(&name)? {
            map.insert(v.run_id.clone(), (name.clone(), v.version));
        }
    }
    Ok(map)
}

fn auc_of(run: &RunRecord) -> Option<f64> {
    run.metrics.as_ref().and_then(|m| m["roc_auc"].as_f64())
}

fn fmt_auc(x: Option<f64>) -> String {
    x.map_or("-".into(), |x| format!("{x:.4}"))
}

pub fn runs(cmd: RunsCommand) -> Result<()> {
    match cmd {
        RunsCommand::List { dir, last, json } => {
            let reg = Registry::open(&dir.registry)?;
            let mut runs = reg.runs()?;
            if let Some(n) = last {
                runs.drain(..runs.len().saturating_sub(n));
            }
            let regs = registrations(&reg)?;
            if json {
                let out: Vec<Json> = runs
                    .iter()
                    .map(|r| {
                        json!({
                            "id": r.id, "created_at": r.created_at, "status": r.status,
                            "model": r.model.name, "model_version": r.model.version,
                            "roc_auc": auc_of(r), "data_sha256": r.data.sha256, "data": r.data.path,
                            "registered": regs.get(&r.id).map(|(n, v)| json!({"name": n, "version": v})),
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&out)?);
                return Ok(());
            }
            if runs.is_empty() {
                println!("no runs in {}", dir.registry.display());
                return Ok(());
            }
            println!(
                "{:<30}{:<22}{:<12}{:<9}{:<10}{:<18}data",
                "run", "created (UTC)", "status", "roc_auc", "sha256", "registered"
            );
            for r in &runs {
                let registered = regs.get(&r.id).map_or("-".into(), |(n, v)| format!("{n} v{v}"));
                println!(
                    "{:<30}{:<22}{:<12}{:<9}{:<10}{:<18}{}",
                    r.id,
                    r.created_at,
                    r.status,
                    fmt_auc(auc_of(r)),
                    &r.data.sha256[..8.min(r.data.sha256.len())],
                    registered,
                    r.data.path
                );
            }
            Ok(())
        }
        RunsCommand::Show { id, dir, json } => {
            let reg = Registry::open(&dir.registry)?;
            let r = reg.run(&id)?;
            let registered = registrations(&reg)?.remove(&r.id);
            let mlflow = reg.mlflow_link(&r.id, None)?;
            if json {
                let mut v = serde_json::to_value(&r)?;
                v["registered"] = json!(registered.map(|(n, v)| json!({"name": n, "version": v})));
                v["mlflow"] = json!(mlflow);
                v["files"] = json!({
                    "model": reg.run_artifact(&r.id),
                    "importances": reg.run_artifact(&r.id).with_file_name("importances.csv"),
                });
                println!("{}", serde_json::to_string_pretty(&v)?);
                return Ok(());
            }
            let row = |k: &str, v: String| println!("{k:<16}{v}");
            row("run", r.id.clone());
            row("created (UTC)", r.created_at.clone());
            row("status", r.status.clone());
            row("command", r.command.clone());
            row("in folder", r.cwd.clone());
            row(
                "data",
                format!(
                    "{} ({} rows: {} train, {} held out)",
                    r.data.path, r.data.rows_total, r.data.rows_train, r.data.rows_test
                ),
            );
            row("data sha256", r.data.sha256.clone());
            row(
                "model",
                format!(
                    "{} {} ({} bytes, sha256 {})",
                    r.model.name,
                    r.model.version,
                    r.model.bytes,
                    &r.model.sha256[..12]
                ),
            );
            row("written to", r.model.out.clone());
            row("model file", reg.run_artifact(&r.id).display().to_string());
            row("registered", registered.map_or("no".into(), |(n, v)| format!("{n} version {v}")));
            if let Some(m) = &mlflow {
                row("mlflow", format!("run {} in experiment {} at {}", m.run_id, m.experiment_id, m.tracking_uri));
            }
            row(
                "params",
                r.params
                    .iter()
                    .filter(|(k, _)| *k != "features")
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" "),
            );
            if let Some(m) = &r.metrics {
                let keys = ["roc_auc", "pr_auc", "accuracy", "precision", "recall", "f1", "brier", "log_loss"];
                row(
                    "metrics",
                    keys.iter().map(|k| format!("{k}={}", fmt_auc(m[*k].as_f64()))).collect::<Vec<_>>().join(" "),
                );
            }
            let csv =
                std::fs::read_to_string(reg.run_artifact(&r.id).with_file_name("importances.csv")).unwrap_or_default();
            let top: Vec<String> = csv
                .lines()
                .skip(1)
                .take(5)
                .filter_map(|l| l.rsplit_once(','))
                .map(|(f, v)| format!("{f} {:.3}", v.parse::<f64>().unwrap_or(f64::NAN)))
                .collect();
            row("importances", format!("{} (all: importances.csv)", top.join(", ")));
            row("seconds", format!("{:.2}", r.seconds));
            Ok(())
        }
    }
}

// ---- churn models ----------------------------------------------------------------------------

fn version_json(v: &VersionRecord, aliases: &[String], mlflow: Option<MlflowLink>) -> Json {
    let mut j = serde_json::to_value(v).expect("version record serializes");
    j["aliases"] = json!(aliases);
    j["mlflow"] = json!(mlflow);
    j
}

pub fn models(cmd: ModelsCommand) -> Result<()> {
    match cmd {
        ModelsCommand::List { dir, json } => {
            let reg = Registry::open(&dir.registry)?;
            let mut out = Vec::new();
            for name in reg.models()? {
                let versions = reg.versions(&name)?;
                let aliases = reg.aliases(&name)?;
                let latest = versions.last();
                out.push(json!({
                    "name": name,
                    "versions": versions.len(),
                    "latest": latest.map(|v| v.version),
                    "latest_roc_auc": latest.and_then(|v| v.roc_auc),
                    "aliases": aliases.aliases.iter().map(|(k, a)| (k.clone(), json!(a.version))).collect::<serde_json::Map<_, _>>(),
                }));
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else if out.is_empty() {
                println!("no models in {} (register one with `churn train --register NAME`)", dir.registry.display());
            } else {
                println!("{:<24}{:<10}{:<8}{:<10}aliases", "model", "versions", "latest", "roc_auc");
                for m in &out {
                    let aliases: Vec<String> =
                        m["aliases"].as_object().unwrap().iter().map(|(k, v)| format!("{k}→{v}")).collect();
                    println!(
                        "{:<24}{:<10}{:<8}{:<10}{}",
                        m["name"].as_str().unwrap(),
                        m["versions"].to_string(),
                        m["latest"].to_string(),
                        fmt_auc(m["latest_roc_auc"].as_f64()),
                        if aliases.is_empty() { "-".into() } else { aliases.join(", ") }
                    );
                }
            }
            Ok(())
        }
        ModelsCommand::Show { name, dir, json } => {
            let reg = Registry::open(&dir.registry)?;
            let versions = reg.versions(&name)?;
            let aliases = reg.aliases(&name)?;
            let on = |v: u32| -> Vec<String> {
                aliases.aliases.iter().filter(|(_, a)| a.version == v).map(|(k, _)| k.clone()).collect()
            };
            if json {
                let vs: Vec<Json> = versions
                    .iter()
                    .map(|v| Ok(version_json(v, &on(v.version), reg.mlflow_link(&v.run_id, Some((&name, v.version)))?)))
                    .collect::<Result<_>>()?;
                let out = json!({"name": name, "versions": vs, "aliases": aliases.aliases, "log": aliases.log});
                println!("{}", serde_json::to_string_pretty(&out)?);
                return Ok(());
            }
            println!("model {name} in {}", dir.registry.display());
            println!(
                "{:<9}{:<22}{:<9}{:<10}{:<30}{:<26}aliases",
                "version", "created (UTC)", "roc_auc", "data", "run", "model_version"
            );
            for v in &versions {
                let a = on(v.version);
                println!(
                    "{:<9}{:<22}{:<9}{:<10}{:<30}{:<26}{}",
                    v.version,
                    v.created_at,
                    fmt_auc(v.roc_auc),
                    &v.data_sha256[..8.min(v.data_sha256.len())],
                    v.run_id,
                    v.model_version,
                    if a.is_empty() { "-".into() } else { a.join(", ") }
                );
            }
            for (k, a) in &aliases.aliases {
                let hist: Vec<String> = a.history.iter().map(|v| v.to_string()).collect();
                println!(
                    "alias {k} → version {} (since {}; before: {})",
                    a.version,
                    a.set_at,
                    if hist.is_empty() { "-".into() } else { hist.join(" → ") }
                );
            }
            Ok(())
        }
        ModelsCommand::Get { spec, out, dir } => {
            let reg = Registry::open(&dir.registry)?;
            let (name, v) = reg.resolve(&spec)?;
            let (bytes, model) = reg.load_version(&name, v)?;
            write_atomic(&out, &bytes)?;
            println!(
                "{spec} = {name} version {v} ({}, {} bytes) → {}",
                model.card().version,
                bytes.len(),
                out.display()
            );
            Ok(())
        }
    }
}

// ---- churn promote / rollback ----------------------------------------------------------------

/// Metrics of `model` on a CSV with its fields and target column, scored by the core.
/// One gate's line: what was compared and whether it passed.
struct GateLine {
    text: String,
    pass: bool,
    json: Json,
}

pub fn promote(a: PromoteArgs) -> Result<()> {
    if let Some(m) = a.min_auc {
        if !(0.0..=1.0).contains(&m) {
            bail!("--min-auc must be between 0 and 1, got {m}");
        }
    }
    let tracking = Tracking::from_flag(a.tracking.tracking_uri.as_deref())?;
    let reg = Registry::open(&a.dir.registry)?;
    let lock = reg.lock()?;
    let cand = reg.version(&a.name, a.version)?;
    let (_, cand_model) = reg.load_version(&a.name, a.version)?;
    let on = a.data.as_ref().map_or("recorded held-out rows".to_string(), |d| d.display().to_string());
    let mut cand_auc_cache = None;
    let mut cand_auc = || -> Result<f64> {
        if let Some(x) = cand_auc_cache {
            return Ok(x);
        }
        let x = match &a.data {
            Some(d) => auc_on(&cand_model, d)?,
            None => cand.roc_auc.with_context(|| {
                format!("version {} has no held-out metrics (trained with --test-fraction 0): pass --data FILE.csv to measure it", a.version)
            })?,
        };
        cand_auc_cache = Some(x);
        Ok(x)
    };
    let mut gates: Vec<GateLine> = Vec::new();
    if let Some(min) = a.min_auc {
        let x = cand_auc()?;
        let pass = x >= min;
        gates.push(GateLine {
            text: format!(
                "min-auc: version {} ROC-AUC {x:.4} on {on} {} {min}",
                a.version,
                if pass { "≥" } else { "<" }
            ),
            pass,
            json: json!({"gate": "min-auc", "candidate_auc": x, "min_auc": min, "on": on, "pass": pass}),
        });
    }
    if let Some(champ_alias) = &a.must_beat {
        let holder = reg.aliases(&a.name)?.aliases.get(champ_alias).map(|h| h.version);
        match holder {
            None => gates.push(GateLine {
                text: format!("must-beat {champ_alias}: no version holds {champ_alias} yet, nothing to beat"),
                pass: true,
                json: json!({"gate": "must-beat", "alias": champ_alias, "champion": null, "pass": true}),
            }),
            Some(h) if h == a.version => gates.push(GateLine {
                text: format!("must-beat {champ_alias}: version {h} already holds {champ_alias}"),
                pass: true,
                json: json!({"gate": "must-beat", "alias": champ_alias, "champion": h, "pass": true}),
            }),
            Some(h) => {
                let champ = reg.version(&a.name, h)?;
                let champ_auc = match &a.data {
                    Some(d) => auc_on(&reg.load_version(&a.name, h)?.1, d)?,
                    None => {
                        let same_rows = champ.data_sha256 == cand.data_sha256
                            && champ.seed == cand.seed
                            && champ.test_fraction == cand.test_fraction;
                        if !same_rows {
                            bail!(
                                "--must-beat {champ_alias} without --data compares recorded held-out metrics, which needs both \
                                 versions trained on the same data with the same split; version {} (data {}, seed {}, \
                                 test fraction {}) and version {h} (data {}, seed {}, test fraction {}) differ: \
                                 pass --data FILE.csv to score both on the same rows",
                                a.version,
                                &cand.data_sha256[..8],
                                cand.seed,
                                cand.test_fraction,
                                &champ.data_sha256[..8],
                                champ.seed,
                                champ.test_fraction
                            );
                        }
                        champ
                            .roc_auc
                            .with_context(|| format!("version {h} has no held-out metrics: pass --data FILE.csv"))?
                    }
                };
                let x = cand_auc()?;
                let pass = x > champ_auc;
                gates.push(GateLine {
                    text: format!(
                        "must-beat {champ_alias}: version {} ROC-AUC {x:.4} {} version {h} ({}@{champ_alias}) ROC-AUC {champ_auc:.4} on {on}",
                        a.version,
                        if pass { "beats" } else { "does not beat" },
                        a.name
                    ),
                    pass,
                    json: json!({"gate": "must-beat", "alias": champ_alias, "champion": h, "candidate_auc": x,
                                 "champion_auc": champ_auc, "on": on, "pass": pass}),
                });
            }
        }
    }
    let passed = gates.iter().all(|g| g.pass);
    let before = reg.aliases(&a.name)?.aliases.get(&a.alias).map(|h| h.version);
    if passed {
        reg.set_alias(&lock, &a.name, &a.alias, a.version)?;
    }
    drop(lock);

    let mut mlflow_result = None;
    if passed {
        if let Some(t) = &tracking {
            mlflow_result = Some(mlflow_alias(t, &reg, &a.name, &a.alias, a.version));
        }
    }
    if a.json {
        let out = json!({
            "name": a.name, "version": a.version, "alias": a.alias, "promoted": passed,
            "previous": before, "gates": gates.iter().map(|g| &g.json).collect::<Vec<_>>(),
            "mlflow": mlflow_result.as_ref().map(|r| r.as_ref().map_or_else(|e| json!({"error": format!("{e:#}")}), |v| json!({"model_version": v}))),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        for g in &gates {
            println!("gate {} {}", if g.pass { "ok    " } else { "FAILED" }, g.text);
        }
        if passed {
            match before {
                Some(b) if b == a.version => println!("{}@{} already is version {}", a.name, a.alias, a.version),
                Some(b) => println!("{}@{}: version {b} → {}", a.name, a.alias, a.version),
                None => println!("{}@{}: → version {}", a.name, a.alias, a.version),
            }
            if let Some(Ok(v)) = &mlflow_result {
                println!("mlflow: {}@{} → model version {v}", a.name, a.alias);
            }
        }
    }
    if !passed {
        let why: Vec<&str> = gates.iter().filter(|g| !g.pass).map(|g| g.text.as_str()).collect();
        let left = before.map_or("unset".to_string(), |b| format!("at version {b}"));
        return Err(GateFailed(format!(
            "quality gate failed, version {} not promoted to {} (left {left}): {}",
            a.version,
            a.alias,
            why.join("; ")
        ))
        .into());
    }
    if let Some(Err(e)) = mlflow_result {
        return Err(e.context(format!("the local alias was set ({}@{} = version {})", a.name, a.alias, a.version)));
    }
    Ok(())
}

/// Sets the alias in MLflow on the model version recorded for local `version`.
fn mlflow_alias(t: &Tracking, reg: &Registry, name: &str, alias: &str, version: u32) -> Result<String> {
    let rec = reg.version(name, version)?;
    let link = reg.mlflow_link(&rec.run_id, Some((name, version)))?.with_context(|| {
        format!("version {version} of {name} was never registered in MLflow (trained without --tracking-uri, or MLflow failed then)")
    })?;
    if link.tracking_uri != t.uri() {
        bail!("version {version} of {name} was registered at MLflow {}, not at {}", link.tracking_uri, t.uri());
    }
    let mv = link.model_version.context("internal: MLflow link without a model version")?;
    t.set_alias(name, alias, &mv)?;
    Ok(mv)
}

pub fn rollback(a: RollbackArgs) -> Result<()> {
    let tracking = Tracking::from_flag(a.tracking.tracking_uri.as_deref())?;
    let reg = Registry::open(&a.dir.registry)?;
    let lock = reg.lock()?;
    let (from, to) = reg.rollback(&lock, &a.name, &a.alias)?;
    drop(lock);
    let mlflow = tracking.as_ref().map(|t| mlflow_alias(t, &reg, &a.name, &a.alias, to));
    if a.json {
        let m = mlflow
            .as_ref()
            .map(|r| r.as_ref().map_or_else(|e| json!({"error": format!("{e:#}")}), |v| json!({"model_version": v})));
        println!("{}", json!({"name": a.name, "alias": a.alias, "from": from, "to": to, "mlflow": m}));
    } else {
        println!("{}@{}: version {from} → {to} (rolled back)", a.name, a.alias);
        if let Some(Ok(v)) = &mlflow {
            println!("mlflow: {}@{} → model version {v}", a.name, a.alias);
        }
    }
    if let Some(Err(e)) = mlflow {
        return Err(e.context(format!("the local alias was rolled back ({}@{} = version {to})", a.name, a.alias)));
    }
    Ok(())
}

pub fn registry(cmd: RegistryCommand) -> Result<()> {
    match cmd {
        RegistryCommand::Check { dir, json } => {
            let reg = Registry::open(&dir.registry)?;
            let rep = reg.check()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rep)?);
            } else {
                println!(
                    "{}: {} runs, {} models, {} versions, {} aliases, {} staging leftovers (cleared by the next write)",
                    dir.registry.display(),
                    rep.runs,
                    rep.models,
                    rep.versions,
                    rep.aliases,
                    rep.staging_litter
                );
                for p in &rep.problems {
                    println!("problem: {p}");
                }
            }
            if !rep.problems.is_empty() {
                bail!(
                    "registry {} has {} problem(s): {}",
                    dir.registry.display(),
                    rep.problems.len(),
                    rep.problems.join("; ")
                );
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn mlflow_keys_are_sanitized() {
        assert_eq!(super::mlflow_key("Monthly Charges ($)"), "Monthly Charges ___");
        assert_eq!(super::mlflow_key("tenure"), "tenure");
        assert_eq!(super::mlflow_key("a/b.c-d_e"), "a/b.c-d_e");
    }
}

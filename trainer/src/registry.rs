//! The local model registry: a plain folder (default `./registry`) that records every training
//! run and the numbered versions of named models, with aliases such as `production`.
//!
//! Layout (format 1; documented in docs/CLI.md, "Registry and MLflow"):
//! ```text
//! REGISTRY                        marker: "churn-registry 1"
//! .lock                           flock'ed by every writer (the kernel drops it if the writer dies)
//! tmp/                            staging area; emptied by the next writer that takes the lock
//! runs/<RUN_ID>/run.json          id, time, command line, data fingerprint, params, metrics
//!              /model.bin         the model file written by that run
//!              /importances.csv   field,importance (largest first)
//!              /mlflow.json       where the run was logged in MLflow (only if it was)
//! models/<NAME>/versions/<N>/version.json   run id, sha256 of model.bin, metrics summary
//!                           /model.bin
//!                           /mlflow.json    the MLflow model version (only if registered there)
//! models/<NAME>/aliases.json      alias → version, with the previous holders (for rollback) and a log
//! ```
//!
//! Why it survives `kill -9` at any instant: nothing is ever modified in place. A run or a version
//! is built complete (files written and fsync'ed) inside `tmp/`, then moved into place with one
//! `rename` of its directory, which is atomic: a listed run or version is therefore always whole,
//! and a killed writer leaves only litter in `tmp/`. `aliases.json` is replaced by rename too, and
//! only ever names versions that already exist; versions are never deleted, so an alias cannot
//! dangle. Writers serialize on an advisory `flock` of `.lock` — the kernel releases it when the
//! holder dies, so a crash never leaves a stale lock — and the version number is chosen under that
//! lock, so two concurrent `churn train --register` get distinct numbers. Readers take no lock.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use inference_wasm::Model;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

/// First line of the `REGISTRY` marker file; the number is the layout's version.
const MARKER: &str = "churn-registry 1";

/// Test hook for the fault trials (`scripts/registry-faults.sh`): when set to a number of
/// milliseconds, every write step of a commit prints `fault-point: <step>` on stderr and then
/// pauses that long, so a `kill -9` sent at a random moment lands between any two steps.
pub const FAULT_PAUSE_ENV: &str = "CHURN_FAULT_PAUSE_MS";

/// A run as recorded in `runs/<id>/run.json`.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct RunRecord {
    pub id: String,
    pub created_at: String,
    /// `ok`, or `gate_failed` when `--min-auc` refused the model (nothing registered then).
    pub status: String,
    /// The exact command line, one element per argument, and as one shell-quoted string.
    pub argv: Vec<String>,
    pub command: String,
    pub cwd: String,
    pub data: RunData,
    /// Training parameters and risk policy, flat (also what goes to MLflow as params).
    pub params: BTreeMap<String, String>,
    /// Held-out metrics (absent when trained on all rows).
    pub metrics: Option<Json>,
    pub model: RunModel,
    /// The model name given with `--register` (the version points back at this run).
    pub register_as: Option<String>,
    pub seconds: f64,
    /// Model selection's leaderboard (the model card's), best mean ROC-AUC first; absent in
    /// records of earlier releases and when the flags fixed the settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection: Option<Json>,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct RunData {
    pub path: String,
    pub sha256: String,
    pub rows_total: u64,
    pub rows_train: u64,
    pub rows_test: u64,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct RunModel {
    /// Name and version string of the model card.
    pub name: String,
    pub version: String,
    /// Where `--out` wrote it (the registry keeps its own copy as `model.bin`).
    pub out: String,
    pub bytes: u64,
    pub sha256: String,
}

/// A model version as recorded in `models/<name>/versions/<n>/version.json`.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct VersionRecord {
    pub name: String,
    pub version: u32,
    pub created_at: String,
    pub run_id: String,
    /// The model card's version string (what every surface shows as `model_version`).
    pub model_version: String,
    pub bytes: u64,
    pub sha256: String,
    pub data_sha256: String,
    /// Seed and held-out fraction: with `data_sha256` they identify the held-out rows.
    pub seed: u64,
    pub test_fraction: f64,
    /// Held-out ROC-AUC from the model card, if any.
    pub roc_auc: Option<f64>,
}

/// One alias of a model: its holder and the previous holders (oldest first).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Alias {
    pub version: u32,
    pub set_at: String,
    pub history: Vec<u32>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct AliasEvent {
    pub at: String,
    pub alias: String,
    /// `promote` or `rollback`.
    pub action: String,
    pub from: Option<u32>,
    pub to: u32,
}

/// `models/<name>/aliases.json`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Aliases {
    pub aliases: BTreeMap<String, Alias>,
    pub log: Vec<AliasEvent>,
}

/// Where a run or version was logged in MLflow (`mlflow.json`).
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct MlflowLink {
    pub tracking_uri: String,
    pub experiment_id: String,
    pub run_id: String,
    /// Registered model version (for model versions only).
    pub model_version: Option<String>,
}

pub struct Registry {
    root: PathBuf,
}

/// Holds the registry's write lock until dropped.
pub struct Lock {
    _file: File,
}

/// What a training run hands to [`Registry::commit_run`].
pub struct NewRun<'a> {
    pub record: RunRecord,
    pub artifact: &'a [u8],
    pub importances_csv: String,
}

/// The result of `churn registry check`.
#[derive(Serialize, Debug, Default)]
pub struct CheckReport {
    pub runs: usize,
    pub models: usize,
    pub versions: usize,
    pub aliases: usize,
    pub staging_litter: usize,
    pub problems: Vec<String>,
}

/// Model names become folder names and MLflow names: keep them plain.
pub fn check_name(kind: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.');
    if !ok {
        bail!("{kind} {name:?} is not allowed: use 1 to 100 of A-Z a-z 0-9 - _ . (not starting with '.')");
    }
    Ok(())
}

pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A run id: UTC time to the millisecond (so ids sort by time), then 8 hex digits that differ
/// between processes and calls: `20261126-095822.123-5ea3ed71`.
pub fn new_run_id() -> String {
    let now = SystemTime::now();
    let stamp: String =
        humantime::format_rfc3339_millis(now).to_string().chars().filter(|c| c.is_ascii_digit()).collect();
    let nanos = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
    let local = 0u8;
    let seed = format!("{nanos}-{}-{:p}-{:?}", std::process::id(), &local, std::thread::current().id());
    format!("{}-{}.{}-{}", &stamp[..8], &stamp[8..14], &stamp[14..17], &sha256_hex(seed.as_bytes())[..8])
}

/// Prints the fault point and pauses, when the fault-trial hook is on.
fn fault_point(step: &str) {
    if let Some(ms) = std::env::var(FAULT_PAUSE_ENV).ok().and_then(|v| v.parse::<u64>().ok()) {
        // One write, so a kill cannot cut the line in half.
        let _ = std::io::stderr().write_all(format!("fault-point: {step}\n").as_bytes());
        std::thread::sleep(Duration::from_millis(ms));
    }
}

fn fsync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).with_context(|| format!("syncing folder {}", dir.display()))
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    f.write_all(bytes).and_then(|_| f.sync_all()).with_context(|| format!("writing {}", path.display()))
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid", path.display()))
}

fn to_json<T: Serialize>(v: &T) -> Vec<u8> {
    let mut s = serde_json::to_vec_pretty(v).expect("registry records serialize");
    s.push(b'\n');
    s
}

impl Registry {
    /// Opens an existing registry; a missing one is an error that says how one is made.
    pub fn open(root: &Path) -> Result<Registry> {
        let marker = root.join("REGISTRY");
        match fs::read_to_string(&marker) {
            Ok(text) if text.lines().next() == Some(MARKER) => Ok(Registry { root: root.to_path_buf() }),
            Ok(text) => bail!(
                "{} is not a registry this churn can read (marker says {:?}, expected {MARKER:?})",
                root.display(),
                text.lines().next().unwrap_or("")
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if root.exists() {
                    bail!("{} is not a churn registry (no REGISTRY file in it)", root.display())
                }
                bail!(
                    "no registry at {} (`churn train` creates one; pass --registry DIR to use another folder)",
                    root.display()
                )
            }
            Err(e) => Err(e).with_context(|| format!("reading {}", marker.display())),
        }
    }

    /// Fails if `root` is neither a registry nor a place where one can be created: a folder
    /// holding anything but a registry being created (by us or by a concurrent `churn train`)
    /// is refused rather than littered.
    pub fn check_creatable(root: &Path) -> Result<()> {
        if root.join("REGISTRY").exists() || !root.exists() {
            return Ok(());
        }
        let ours = [".lock", "tmp", "runs", "models", "REGISTRY"];
        if list_dir(root)?.iter().any(|n| !ours.contains(&n.as_str())) {
            bail!("{} exists and is not a churn registry (no REGISTRY file in it)", root.display());
        }
        Ok(())
    }

    /// Opens the registry, creating an empty one first if the folder has none.
    pub fn open_or_create(root: &Path) -> Result<Registry> {
        if !root.join("REGISTRY").exists() {
            Registry::check_creatable(root)?;
            fs::create_dir_all(root).with_context(|| format!("creating registry {}", root.display()))?;
            let reg = Registry { root: root.to_path_buf() };
            let _lock = reg.lock()?;
            if !root.join("REGISTRY").exists() {
                for d in ["runs", "models", "tmp"] {
                    fs::create_dir_all(root.join(d)).with_context(|| format!("creating {}", root.join(d).display()))?;
                }
                // The marker goes last, by rename: a registry with a marker has its folders.
                let tmp = root.join("tmp").join("REGISTRY");
                write_synced(&tmp, format!("{MARKER}\n").as_bytes())?;
                fs::rename(&tmp, root.join("REGISTRY")).context("creating the REGISTRY marker")?;
                fsync_dir(root)?;
            }
        }
        Registry::open(root)
    }

    /// Takes the write lock (blocking) and clears what killed writers left in `tmp/`.
    pub fn lock(&self) -> Result<Lock> {
        let path = self.root.join(".lock");
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("opening the lock file {}", path.display()))?;
        // Called through the trait: std's own File::lock would shadow it on newer Rust.
        fs4::FileExt::lock(&file).with_context(|| format!("locking {}", path.display()))?;
        let tmp = self.root.join("tmp");
        if let Ok(entries) = fs::read_dir(&tmp) {
            for e in entries.flatten() {
                let p = e.path();
                let _ = if p.is_dir() { fs::remove_dir_all(&p) } else { fs::remove_file(&p) };
            }
        }
        fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        fault_point("locked");
        Ok(Lock { _file: file })
    }

    fn staging(&self, what: &str) -> Result<PathBuf> {
        let dir = self.root.join("tmp").join(format!("{what}-{}-{}", std::process::id(), &new_run_id()[20..]));
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(dir)
    }

    fn run_dir(&self, id: &str) -> PathBuf {
        self.root.join("runs").join(id)
    }

    fn model_dir(&self, name: &str) -> PathBuf {
        self.root.join("models").join(name)
    }

    fn version_dir(&self, name: &str, version: u32) -> PathBuf {
        self.model_dir(name).join("versions").join(version.to_string())
    }

    pub fn version_artifact(&self, name: &str, version: u32) -> PathBuf {
        self.version_dir(name, version).join("model.bin")
    }

    pub fn run_artifact(&self, id: &str) -> PathBuf {
        self.run_dir(id).join("model.bin")
    }

    /// Records a run and, if `record.register_as` is set (and the run passed its gate), a new
    /// version of that model. Returns the new version number.
    pub fn commit_run(&self, run: &NewRun) -> Result<Option<u32>> {
        let r = &run.record;
        check_name("run id", &r.id)?;
        let _lock = self.lock()?;
        let stage = self.staging("run")?;
        write_synced(&stage.join("model.bin"), run.artifact)?;
        fault_point("run model.bin staged");
        write_synced(&stage.join("importances.csv"), run.importances_csv.as_bytes())?;
        write_synced(&stage.join("run.json"), &to_json(r))?;
        fsync_dir(&stage)?;
        fault_point("run staged");
        let dest = self.run_dir(&r.id);
        if dest.exists() {
            bail!("run {} already exists in {}", r.id, self.root.display());
        }
        fs::rename(&stage, &dest).with_context(|| format!("moving the run into {}", dest.display()))?;
        fsync_dir(&self.root.join("runs"))?;
        fault_point("run committed");

        let Some(name) = r.register_as.as_deref().filter(|_| r.status == "ok") else { return Ok(None) };
        check_name("model name", name)?;
        let versions_dir = self.model_dir(name).join("versions");
        fs::create_dir_all(&versions_dir).with_context(|| format!("creating {}", versions_dir.display()))?;
        let version = self.version_numbers(name)?.last().map_or(1, |v| v + 1);
        let model = Model::from_bytes(run.artifact).context("internal: registering a model that does not load")?;
        let card = model.card();
        let rec = VersionRecord {
            name: name.to_string(),
            version,
            created_at: now_rfc3339(),
            run_id: r.id.clone(),
            model_version: card.version.clone(),
            bytes: run.artifact.len() as u64,
            sha256: sha256_hex(run.artifact),
            data_sha256: card.data_sha256.clone(),
            seed: card.params.seed,
            test_fraction: card.params.test_fraction,
            roc_auc: card.test_metrics.as_ref().map(|m| m.roc_auc),
        };
        let stage = self.staging("version")?;
        write_synced(&stage.join("model.bin"), run.artifact)?;
        fault_point("version model.bin staged");
        write_synced(&stage.join("version.json"), &to_json(&rec))?;
        fsync_dir(&stage)?;
        fault_point("version staged");
        fs::rename(&stage, self.version_dir(name, version))
            .with_context(|| format!("moving version {version} of {name} into place"))?;
        fsync_dir(&versions_dir)?;
        fault_point("version committed");
        Ok(Some(version))
    }

    /// Writes `mlflow.json` into a run's or a version's folder (temp file + rename, under the lock).
    pub fn save_mlflow_link(&self, run_id: &str, version: Option<(&str, u32)>, link: &MlflowLink) -> Result<()> {
        let _lock = self.lock()?;
        let dir = match version {
            Some((name, v)) => self.version_dir(name, v),
            None => self.run_dir(run_id),
        };
        let tmp = self.root.join("tmp").join(format!("mlflow-{}.json", std::process::id()));
        write_synced(&tmp, &to_json(link))?;
        fs::rename(&tmp, dir.join("mlflow.json"))
            .with_context(|| format!("writing {}", dir.join("mlflow.json").display()))?;
        fsync_dir(&dir)
    }

    pub fn mlflow_link(&self, run_id: &str, version: Option<(&str, u32)>) -> Result<Option<MlflowLink>> {
        let path = match version {
            Some((name, v)) => self.version_dir(name, v),
            None => self.run_dir(run_id),
        }
        .join("mlflow.json");
        if !path.exists() {
            return Ok(None);
        }
        read_json(&path).map(Some)
    }

    /// Every run, oldest first.
    pub fn runs(&self) -> Result<Vec<RunRecord>> {
        let mut ids: Vec<String> =
            list_dir(&self.root.join("runs"))?.into_iter().filter(|n| !n.starts_with('.')).collect();
        ids.sort();
        ids.iter().map(|id| self.run(id)).collect()
    }

    pub fn run(&self, id: &str) -> Result<RunRecord> {
        check_name("run id", id)?;
        let path = self.run_dir(id).join("run.json");
        if !path.exists() {
            bail!("no run {id} in {} (`churn runs list` shows the runs)", self.root.display());
        }
        read_json(&path)
    }

    /// Model names, sorted.
    pub fn models(&self) -> Result<Vec<String>> {
        let mut names: Vec<String> =
            list_dir(&self.root.join("models"))?.into_iter().filter(|n| !n.starts_with('.')).collect();
        names.sort();
        Ok(names)
    }

    fn version_numbers(&self, name: &str) -> Result<Vec<u32>> {
        let mut v: Vec<u32> =
            list_dir(&self.model_dir(name).join("versions"))?.iter().filter_map(|n| n.parse().ok()).collect();
        v.sort_unstable();
        Ok(v)
    }

    fn known_model(&self, name: &str) -> Result<()> {
        check_name("model name", name)?;
        if !self.model_dir(name).join("versions").is_dir() {
            let known = self.models()?;
            bail!(
                "no model named {name:?} in {} (known: {})",
                self.root.display(),
                if known.is_empty() {
                    "none; register one with `churn train --register NAME`".into()
                } else {
                    known.join(", ")
                }
            );
        }
        Ok(())
    }

    /// Every version of a model, oldest first.
    pub fn versions(&self, name: &str) -> Result<Vec<VersionRecord>> {
        self.known_model(name)?;
        self.version_numbers(name)?.into_iter().map(|v| self.version(name, v)).collect()
    }

    pub fn version(&self, name: &str, version: u32) -> Result<VersionRecord> {
        self.known_model(name)?;
        let path = self.version_dir(name, version).join("version.json");
        if !path.exists() {
            let have = self.version_numbers(name)?;
            bail!(
                "model {name:?} has no version {version} (versions: {})",
                if have.is_empty() { "none".to_string() } else { fmt_range(&have) }
            );
        }
        read_json(&path)
    }

    pub fn aliases(&self, name: &str) -> Result<Aliases> {
        self.known_model(name)?;
        let path = self.model_dir(name).join("aliases.json");
        if !path.exists() {
            return Ok(Aliases::default());
        }
        read_json(&path)
    }

    /// The version an alias points at.
    pub fn alias(&self, name: &str, alias: &str) -> Result<u32> {
        let all = self.aliases(name)?;
        match all.aliases.get(alias) {
            Some(a) => Ok(a.version),
            None => bail!(
                "model {name:?} has no alias {alias:?} (aliases: {}; set one with `churn promote {name} --version N --alias {alias}`)",
                if all.aliases.is_empty() { "none".to_string() } else { all.aliases.keys().cloned().collect::<Vec<_>>().join(", ") }
            ),
        }
    }

    /// Resolves `NAME@ALIAS`, `NAME/N`, `NAME@latest` or `NAME` (the latest version).
    pub fn resolve(&self, spec: &str) -> Result<(String, u32)> {
        let (name, v) = if let Some((name, alias)) = spec.split_once('@') {
            self.known_model(name)?;
            if alias == "latest" {
                (name, None)
            } else {
                (name, Some(self.alias(name, alias)?))
            }
        } else if let Some((name, v)) = spec.split_once('/') {
            let n: u32 = v.parse().map_err(|_| anyhow::anyhow!("{spec:?}: version must be a number, got {v:?}"))?;
            (name, Some(n))
        } else {
            (spec, None)
        };
        self.known_model(name)?;
        let v = match v {
            Some(v) => v,
            None => *self.version_numbers(name)?.last().with_context(|| format!("model {name:?} has no versions"))?,
        };
        self.version(name, v)?;
        Ok((name.to_string(), v))
    }

    /// Reads a version's model file, checks its sha256 and that it loads.
    pub fn load_version(&self, name: &str, version: u32) -> Result<(Vec<u8>, Model)> {
        let rec = self.version(name, version)?;
        let path = self.version_artifact(name, version);
        let bytes = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        if sha256_hex(&bytes) != rec.sha256 {
            bail!("{} is damaged: its sha256 differs from the one recorded in version.json", path.display());
        }
        let model = Model::from_bytes(&bytes).with_context(|| format!("loading {}", path.display()))?;
        Ok((bytes, model))
    }

    /// Points `alias` at `version` (under the caller's lock). Returns the previous holder.
    pub fn set_alias(&self, _lock: &Lock, name: &str, alias: &str, version: u32) -> Result<Option<u32>> {
        check_name("alias", alias)?;
        if alias == "latest" {
            bail!("\"latest\" is reserved (it always means the newest version)");
        }
        if alias.chars().all(|c| c.is_ascii_digit()) {
            bail!("alias {alias:?} looks like a version number; use a name such as production");
        }
        self.version(name, version)?; // must exist: aliases never point at a missing version
        let mut all = self.aliases(name)?;
        let at = now_rfc3339();
        let from = all.aliases.get(alias).map(|a| a.version);
        if from == Some(version) {
            return Ok(from);
        }
        let history = match all.aliases.remove(alias) {
            Some(mut a) => {
                a.history.push(a.version);
                a.history
            }
            None => Vec::new(),
        };
        all.aliases.insert(alias.to_string(), Alias { version, set_at: at.clone(), history });
        all.log.push(AliasEvent { at, alias: alias.to_string(), action: "promote".into(), from, to: version });
        self.write_aliases(name, &all)?;
        Ok(from)
    }

    /// Moves `alias` back to its previous holder (under the caller's lock): (from, to).
    pub fn rollback(&self, _lock: &Lock, name: &str, alias: &str) -> Result<(u32, u32)> {
        let mut all = self.aliases(name)?;
        let Some(cur) = all.aliases.get_mut(alias) else {
            bail!("model {name:?} has no alias {alias:?} to roll back");
        };
        let Some(prev) = cur.history.pop() else {
            bail!(
                "alias {alias:?} of {name:?} has had no other version before {}: nothing to roll back to",
                cur.version
            );
        };
        let from = cur.version;
        let at = now_rfc3339();
        cur.version = prev;
        cur.set_at = at.clone();
        all.log.push(AliasEvent {
            at,
            alias: alias.to_string(),
            action: "rollback".into(),
            from: Some(from),
            to: prev,
        });
        self.write_aliases(name, &all)?;
        Ok((from, prev))
    }

    fn write_aliases(&self, name: &str, all: &Aliases) -> Result<()> {
        let tmp = self.root.join("tmp").join(format!("aliases-{name}-{}.json", std::process::id()));
        write_synced(&tmp, &to_json(all))?;
        fault_point("aliases staged");
        let dest = self.model_dir(name).join("aliases.json");
        fs::rename(&tmp, &dest).with_context(|| format!("writing {}", dest.display()))?;
        fsync_dir(&self.model_dir(name))?;
        fault_point("aliases committed");
        Ok(())
    }

    /// Checks every invariant the registry promises: each run and version complete, every
    /// version's model file matching its sha256 and loading, every alias (and its history)
    /// naming an existing version.
    pub fn check(&self) -> Result<CheckReport> {
        let mut rep = CheckReport::default();
        let problem = |rep: &mut CheckReport, m: String| rep.problems.push(m);
        for id in list_dir(&self.root.join("runs"))? {
            rep.runs += 1;
            let dir = self.run_dir(&id);
            match read_json::<RunRecord>(&dir.join("run.json")) {
                Ok(r) if r.id == id => {}
                Ok(r) => problem(&mut rep, format!("run {id}: run.json says id {}", r.id)),
                Err(e) => problem(&mut rep, format!("run {id}: {e:#}")),
            }
            for f in ["model.bin", "importances.csv"] {
                if !dir.join(f).is_file() {
                    problem(&mut rep, format!("run {id}: {f} is missing"));
                }
            }
            if let Ok(bytes) = fs::read(dir.join("model.bin")) {
                if let Err(e) = Model::from_bytes(&bytes) {
                    problem(&mut rep, format!("run {id}: model.bin does not load: {e}"));
                }
            }
        }
        for name in self.models()? {
            rep.models += 1;
            let numbers = self.version_numbers(&name)?;
            for entry in list_dir(&self.model_dir(&name).join("versions"))? {
                if entry.parse::<u32>().is_err() {
                    problem(&mut rep, format!("model {name}: unexpected entry versions/{entry}"));
                }
            }
            for &v in &numbers {
                rep.versions += 1;
                match self.version(&name, v) {
                    Ok(rec) if rec.version == v && rec.name == name => {
                        if let Err(e) = self.load_version(&name, v) {
                            problem(&mut rep, format!("{name} version {v}: {e:#}"));
                        }
                        if !self.run_dir(&rec.run_id).join("run.json").is_file() {
                            problem(&mut rep, format!("{name} version {v}: its run {} is missing", rec.run_id));
                        }
                    }
                    Ok(rec) => {
                        problem(&mut rep, format!("{name} version {v}: version.json says {} {}", rec.name, rec.version))
                    }
                    Err(e) => problem(&mut rep, format!("{name} version {v}: {e:#}")),
                }
            }
            match self.aliases(&name) {
                Ok(all) => {
                    for (alias, a) in &all.aliases {
                        rep.aliases += 1;
                        for v in a.history.iter().chain(std::iter::once(&a.version)) {
                            if !numbers.contains(v) {
                                problem(&mut rep, format!("{name}@{alias}: points at missing version {v}"));
                            }
                        }
                    }
                }
                Err(e) => problem(&mut rep, format!("model {name}: {e:#}")),
            }
        }
        rep.staging_litter = list_dir(&self.root.join("tmp"))?.len();
        Ok(rep)
    }
}

/// Entry names of a folder (none if it does not exist).
fn list_dir(dir: &Path) -> Result<Vec<String>> {
    match fs::read_dir(dir) {
        Ok(entries) => {
            let mut names = Vec::new();
            for e in entries {
                let e = e.with_context(|| format!("listing {}", dir.display()))?;
                names.push(e.file_name().to_string_lossy().into_owned());
            }
            Ok(names)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e).with_context(|| format!("listing {}", dir.display())),
    }
}

/// `1-4, 6` for [1, 2, 3, 4, 6].
fn fmt_range(v: &[u32]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j + 1 < v.len() && v[j + 1] == v[j] + 1 {
            j += 1;
        }
        parts.push(if i == j { v[i].to_string() } else { format!("{}-{}", v[i], v[j]) });
        i = j + 1;
    }
    parts.join(", ")
}

/// One shell-quoted string for a command line (what you would paste to run it again).
pub fn shell_join(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:@,+%".contains(c)) {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_compact() {
        assert_eq!(fmt_range(&[1, 2, 3, 4, 6]), "1-4, 6");
        assert_eq!(fmt_range(&[7]), "7");
    }

    #[test]
    fn shell_join_quotes_what_needs_it() {
        let argv = ["churn", "train", "--data", "my file.csv", "--name", "it's"].map(String::from);
        assert_eq!(shell_join(&argv), r"churn train --data 'my file.csv' --name 'it'\''s'");
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("model name", "telco-churn_v2.1").is_ok());
        for bad in ["", ".hidden", "a/b", "a b", "ü", "..", &"x".repeat(101)] {
            assert!(check_name("model name", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn run_ids_sort_by_time_and_differ() {
        let a = new_run_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_run_id();
        assert_ne!(a, b);
        // Made later, sorts later (the id starts with the UTC time to the millisecond).
        assert!(a < b, "{a} !< {b}");
        assert_eq!(a.len(), "20261126-093012.345-0123abcd".len(), "{a}");
        assert!(check_name("run id", &a).is_ok());
    }
}

//! Logging to an MLflow tracking server over its REST API (`/api/2.0/mlflow/...`), with run
//! artifacts uploaded through the server's artifact proxy (`/api/2.0/mlflow-artifacts/...`).
//!
//! Only `http://` URIs (this build has no TLS stack, to keep the CLI small); `MLFLOW_TRACKING_TOKEN`
//! is sent as a bearer token if set. Every call has a timeout, and every failure becomes one
//! message naming the server, the call and MLflow's own error code and message.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};

/// The environment variable MLflow's own clients read.
pub const TRACKING_URI_ENV: &str = "MLFLOW_TRACKING_URI";

pub struct Tracking {
    base: String,
    agent: ureq::Agent,
    token: Option<String>,
}

/// The files of the MLflow Model that wraps a model file, under `model/` in the run: `MLmodel`
/// (flavor `python_function`, loader `churn_edge.mlflow`, signature from the schema), the model
/// file, and the environment files naming `churn-edge==<this version>`. The texts are the
/// core's (`inference_wasm::pyfunc`), shared with the Python package.
pub fn model_files(model: &inference_wasm::Model, bytes: &[u8], run_id: &str) -> Vec<(String, Vec<u8>)> {
    use inference_wasm::pyfunc;
    let version = env!("CARGO_PKG_VERSION");
    let created = humantime::format_rfc3339_micros(SystemTime::now()).to_string().replace('T', " ").replace('Z', "");
    let file = |name: &str, text: String| (format!("model/{name}"), text.into_bytes());
    vec![
        (format!("model/{}", pyfunc::DATA_FILE), bytes.to_vec()),
        file("MLmodel", pyfunc::mlmodel(model, "model", run_id, &created, version)),
        file("requirements.txt", pyfunc::requirements(version)),
        file("python_env.yaml", pyfunc::python_env()),
        file("conda.yaml", pyfunc::conda_env(version)),
    ]
}

/// A run created on the server.
pub struct LoggedRun {
    pub experiment_id: String,
    pub run_id: String,
    /// e.g. `mlflow-artifacts:/1/<run_id>/artifacts`.
    pub artifact_uri: String,
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn kv(pairs: &[(String, String)]) -> Value {
    Value::Array(pairs.iter().map(|(k, v)| json!({"key": k, "value": v})).collect())
}

impl Tracking {
    /// The tracking server from `--tracking-uri`, else `MLFLOW_TRACKING_URI`; `None` when neither
    /// is set (or set to an empty string).
    pub fn from_flag(flag: Option<&str>) -> Result<Option<Tracking>> {
        let env = std::env::var(TRACKING_URI_ENV).ok();
        let (uri, from) = match (flag, env.as_deref()) {
            (Some(u), _) => (u, "--tracking-uri"),
            (None, Some(u)) => (u, TRACKING_URI_ENV),
            (None, None) => return Ok(None),
        };
        let uri = uri.trim().trim_end_matches('/');
        if uri.is_empty() {
            return Ok(None);
        }
        if uri.starts_with("https://") {
            bail!("{from} {uri:?}: https is not supported by this build of churn (no TLS); use an http:// URI (e.g. through a local proxy)");
        }
        if !uri.starts_with("http://") || uri.len() <= "http://".len() {
            bail!("{from} {uri:?}: expected an http:// URI of an MLflow tracking server, e.g. http://127.0.0.1:5000");
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(5)))
            .timeout_global(Some(Duration::from_secs(60)))
            .http_status_as_error(false)
            .build()
            .into();
        let token = std::env::var("MLFLOW_TRACKING_TOKEN").ok().filter(|t| !t.is_empty());
        Ok(Some(Tracking { base: uri.to_string(), agent, token }))
    }

    pub fn uri(&self) -> &str {
        &self.base
    }

    /// One REST call; `Err` for transport failures and for any status ≥ 400 (with MLflow's
    /// `error_code` and `message`). `Ok(Err(code))` is never returned: see [`Tracking::try_call`].
    fn call(&self, method: &str, path: &str, query: &[(&str, &str)], body: Option<&Value>) -> Result<Value> {
        match self.try_call(method, path, query, body)? {
            Ok(v) => Ok(v),
            Err((status, code, message)) => Err(anyhow!(
                "MLflow at {} answered {status} to {method} {path}: {code}{}{message}",
                self.base,
                if code.is_empty() { "" } else { ": " }
            )),
        }
    }

    /// Like [`Tracking::call`], but an error answer comes back as `(status, error_code, message)`
    /// so callers can treat e.g. `RESOURCE_ALREADY_EXISTS` as success.
    fn try_call(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<std::result::Result<Value, (u16, String, String)>> {
        let url = format!("{}{path}", self.base);
        let what = || format!("cannot reach the MLflow tracking server at {} ({method} {path})", self.base);
        let mut resp = match method {
            "GET" => {
                let mut r = self.agent.get(&url);
                for (k, v) in query {
                    r = r.query(*k, *v);
                }
                if let Some(t) = &self.token {
                    r = r.header("Authorization", format!("Bearer {t}"));
                }
                r.call()
            }
            _ => {
                let mut r = self.agent.post(&url).header("Content-Type", "application/json");
                if let Some(t) = &self.token {
                    r = r.header("Authorization", format!("Bearer {t}"));
                }
                r.send(body.unwrap_or(&json!({})).to_string())
            }
        }
        .with_context(what)?;
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().with_context(what)?;
        let parsed: Option<Value> = serde_json::from_str(&text).ok();
        if status >= 400 {
            let code = parsed.as_ref().and_then(|v| v["error_code"].as_str()).unwrap_or("").to_string();
            let message = parsed
                .as_ref()
                .and_then(|v| v["message"].as_str().map(str::to_string))
                .unwrap_or_else(|| text.chars().take(200).collect::<String>().trim().to_string());
            return Ok(Err((status, code, message)));
        }
        match parsed {
            Some(v) => Ok(Ok(v)),
            None => bail!(
                "MLflow at {} answered {method} {path} with something that is not JSON: {:?}",
                self.base,
                text.chars().take(200).collect::<String>()
            ),
        }
    }

    /// The id of the experiment named `name`, created if missing.
    pub fn experiment_id(&self, name: &str) -> Result<String> {
        let get = "/api/2.0/mlflow/experiments/get-by-name";
        for _ in 0..2 {
            match self.try_call("GET", get, &[("experiment_name", name)], None)? {
                Ok(v) => {
                    return v["experiment"]["experiment_id"]
                        .as_str()
                        .map(str::to_string)
                        .with_context(|| format!("MLflow at {}: experiment {name:?} has no experiment_id", self.base));
                }
                Err((_, code, _)) if code == "RESOURCE_DOES_NOT_EXIST" => {}
                Err((status, code, message)) => {
                    bail!("MLflow at {} answered {status} to GET {get}: {code}: {message}", self.base)
                }
            }
            let create = "/api/2.0/mlflow/experiments/create";
            match self.try_call("POST", create, &[], Some(&json!({"name": name})))? {
                Ok(v) => {
                    if let Some(id) = v["experiment_id"].as_str() {
                        return Ok(id.to_string());
                    }
                }
                // Created meanwhile by someone else: look it up again.
                Err((_, code, _)) if code == "RESOURCE_ALREADY_EXISTS" => {}
                Err((status, code, message)) => {
                    bail!("MLflow at {} answered {status} to POST {create}: {code}: {message}", self.base)
                }
            }
        }
        bail!("MLflow at {}: could not find or create experiment {name:?}", self.base)
    }

    /// Creates a run with its params, metrics and tags, uploads the `artifacts` made for it
    /// (path inside the run's artifact folder, bytes) and marks it FINISHED.
    pub fn log_run(
        &self,
        experiment: &str,
        run_name: &str,
        params: &[(String, String)],
        metrics: &[(String, f64)],
        tags: &[(String, String)],
        artifacts: impl FnOnce(&LoggedRun) -> Vec<(String, Vec<u8>)>,
    ) -> Result<LoggedRun> {
        let experiment_id = self.experiment_id(experiment)?;
        let start = now_ms();
        let v = self.call(
            "POST",
            "/api/2.0/mlflow/runs/create",
            &[],
            Some(&json!({"experiment_id": experiment_id, "run_name": run_name, "start_time": start, "tags": kv(tags),
                         "user_id": tags.iter().find(|(k, _)| k == "mlflow.user").map_or("", |(_, v)| v.as_str())})),
        )?;
        let info = &v["run"]["info"];
        let run_id = info["run_id"].as_str().context("MLflow runs/create answered without a run_id")?.to_string();
        let artifact_uri = info["artifact_uri"].as_str().unwrap_or("").to_string();
        // MLflow caps a batch at 100 params and 1000 metrics; ours are far fewer.
        let metrics: Vec<Value> = metrics
            .iter()
            .filter(|(_, x)| x.is_finite())
            .map(|(k, x)| json!({"key": k, "value": x, "timestamp": start, "step": 0}))
            .collect();
        self.call(
            "POST",
            "/api/2.0/mlflow/runs/log-batch",
            &[],
            Some(&json!({"run_id": run_id, "params": kv(params), "metrics": metrics, "tags": []})),
        )?;
        let run = LoggedRun { experiment_id, run_id, artifact_uri };
        for (path, bytes) in artifacts(&run) {
            self.upload(&run, &path, &bytes)?;
        }
        self.call(
            "POST",
            "/api/2.0/mlflow/runs/update",
            &[],
            Some(&json!({"run_id": run.run_id, "status": "FINISHED", "end_time": now_ms()})),
        )?;
        Ok(run)
    }

    /// Uploads one artifact through the server's proxy.
    fn upload(&self, run: &LoggedRun, path: &str, bytes: &[u8]) -> Result<()> {
        // The proxy serves `mlflow-artifacts:/<rest>` (optionally with a host) at
        // /api/2.0/mlflow-artifacts/artifacts/<rest>.
        let rest = run
            .artifact_uri
            .strip_prefix("mlflow-artifacts:")
            .map(|r| {
                let r = r.trim_start_matches('/');
                // `mlflow-artifacts://host:port/<rest>` carries an authority first.
                if run.artifact_uri.starts_with("mlflow-artifacts://") {
                    r.split_once('/').map_or("", |(_, p)| p)
                } else {
                    r
                }
            })
            .with_context(|| {
                format!(
                    "MLflow at {}: run {} stores artifacts at {:?}, which churn cannot upload to; \
                     start the server with artifact proxying (the default, or --serve-artifacts / --artifacts-destination DIR)",
                    self.base, run.run_id, run.artifact_uri
                )
            })?;
        let api = format!("/api/2.0/mlflow-artifacts/artifacts/{}/{path}", rest.trim_end_matches('/'));
        let mut r = self.agent.put(format!("{}{api}", self.base)).header("Content-Type", "application/octet-stream");
        if let Some(t) = &self.token {
            r = r.header("Authorization", format!("Bearer {t}"));
        }
        let mut resp = r
            .send(bytes)
            .with_context(|| format!("cannot reach the MLflow tracking server at {} (PUT {api})", self.base))?;
        let status = resp.status().as_u16();
        if status >= 400 {
            let text = resp.body_mut().read_to_string().unwrap_or_default();
            bail!(
                "MLflow at {} answered {status} to PUT {api}: {}",
                self.base,
                text.chars().take(200).collect::<String>().trim()
            );
        }
        Ok(())
    }

    /// Registers the run's `model/` artifact folder as a new version of `name` (the registered
    /// model is created if missing). Returns MLflow's version number.
    pub fn register_version(&self, name: &str, run: &LoggedRun, tags: &[(String, String)]) -> Result<String> {
        let create = "/api/2.0/mlflow/registered-models/create";
        match self.try_call("POST", create, &[], Some(&json!({"name": name})))? {
            Ok(_) => {}
            Err((_, code, _)) if code == "RESOURCE_ALREADY_EXISTS" => {}
            Err((status, code, message)) => {
                bail!("MLflow at {} answered {status} to POST {create}: {code}: {message}", self.base)
            }
        }
        let v = self.call(
            "POST",
            "/api/2.0/mlflow/model-versions/create",
            &[],
            Some(&json!({
                "name": name,
                "source": format!("{}/model", run.artifact_uri.trim_end_matches('/')),
                "run_id": run.run_id,
                "tags": kv(tags),
                "description": "churn model (an MLflow Model, flavor python_function: mlflow.pyfunc.load_model loads it with the churn-edge package; model.bin is the file `churn` and the churn-wasm package load)",
            })),
        )?;
        v["model_version"]["version"]
            .as_str()
            .map(str::to_string)
            .context("MLflow model-versions/create answered without a version")
    }

    /// The run that `churn train --tracking-uri` logged for the model of version string
    /// `model_version` (its tag `churn.model_version`), in any experiment; the latest if several.
    pub fn run_of_model_version(&self, model_version: &str) -> Result<String> {
        if model_version.contains(['\'', '\\']) {
            bail!("model version {model_version:?} cannot be searched for in MLflow (it holds a quote or backslash)");
        }
        let experiments =
            self.call("POST", "/api/2.0/mlflow/experiments/search", &[], Some(&json!({"max_results": 1000})))?;
        let ids: Vec<&str> = experiments["experiments"]
            .as_array()
            .map(|a| a.iter().filter_map(|e| e["experiment_id"].as_str()).collect())
            .unwrap_or_default();
        if !ids.is_empty() {
            let v = self.call(
                "POST",
                "/api/2.0/mlflow/runs/search",
                &[],
                Some(&json!({
                    "experiment_ids": ids,
                    "filter": format!("tags.`churn.model_version` = '{model_version}'"),
                    "order_by": ["attributes.start_time DESC"],
                    "max_results": 1,
                })),
            )?;
            if let Some(id) = v["runs"][0]["info"]["run_id"].as_str() {
                return Ok(id.to_string());
            }
        }
        bail!(
            "MLflow at {} has no run of model version {model_version} (tag churn.model_version): \
             log the training with `churn train --register NAME --tracking-uri URI`",
            self.base
        )
    }

    /// Adds metrics (at `step`, timestamped now) and tags to an existing run.
    pub fn log_to_run(
        &self,
        run_id: &str,
        metrics: &[(String, f64)],
        tags: &[(String, String)],
        step: i64,
    ) -> Result<()> {
        let now = now_ms();
        let metrics: Vec<Value> = metrics
            .iter()
            .filter(|(_, x)| x.is_finite())
            .map(|(k, x)| json!({"key": k, "value": x, "timestamp": now, "step": step}))
            .collect();
        // MLflow takes at most 1000 metrics a batch.
        for chunk in metrics.chunks(1000) {
            self.call(
                "POST",
                "/api/2.0/mlflow/runs/log-batch",
                &[],
                Some(&json!({"run_id": run_id, "metrics": chunk})),
            )?;
        }
        self.call("POST", "/api/2.0/mlflow/runs/log-batch", &[], Some(&json!({"run_id": run_id, "tags": kv(tags)})))?;
        Ok(())
    }

    /// Points `alias` of registered model `name` at MLflow version `version`.
    pub fn set_alias(&self, name: &str, alias: &str, version: &str) -> Result<()> {
        self.call(
            "POST",
            "/api/2.0/mlflow/registered-models/alias",
            &[],
            Some(&json!({"name": name, "alias": alias, "version": version})),
        )?;
        Ok(())
    }
}

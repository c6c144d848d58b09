//! `churn monitor --from URL[,URL...]`: the profiles that running Workers counted (`GET
//! /monitoring`), read and checked by the core (`Profile::from_json`: a profile of another model
//! is refused) and merged by the core's exact merge.

use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use inference_wasm::{Model, Profile};

/// The environment variable holding the Workers' bearer token (their `MONITORING_TOKEN` secret).
pub const TOKEN_ENV: &str = "MONITORING_TOKEN";

/// `http://host[:port]` → `http://host[:port]/monitoring`; a URL ending in /monitoring is kept.
fn monitoring_url(url: &str) -> Result<String> {
    let u = url.trim().trim_end_matches('/');
    if u.starts_with("https://") {
        bail!(
            "--from {u}: https is not supported by this build of churn (no TLS stack, as for MLflow); \
             reach the Worker through a local http:// proxy that forwards to it"
        );
    }
    if !u.starts_with("http://") || u.len() <= "http://".len() {
        bail!("--from {u:?}: expected the http:// URL of a running churn Worker, e.g. http://127.0.0.1:8787");
    }
    Ok(if u.ends_with("/monitoring") { u.to_string() } else { format!("{u}/monitoring") })
}

/// One Worker isolate's answer.
struct Answer {
    isolate: String,
    profile: Profile,
}

fn fetch_one(agent: &ureq::Agent, model: &Model, url: &str, token: Option<&str>) -> Result<Answer> {
    let mut req = agent.get(url);
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    let mut resp = req.call().with_context(|| format!("cannot reach {url}"))?;
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().with_context(|| format!("reading the answer of {url}"))?;
    let json: Option<serde_json::Value> = serde_json::from_str(&text).ok();
    let said = json
        .as_ref()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or_else(|| text.chars().take(200).collect::<String>().trim().to_string());
    match status {
        200 => {}
        401 if token.is_none() => {
            bail!("{url} answered 401: the Worker has a MONITORING_TOKEN; set {TOKEN_ENV} to it in the environment")
        }
        401 => bail!("{url} answered 401: {TOKEN_ENV} is not the Worker's token"),
        s => bail!("{url} answered {s}: {said}"),
    }
    let v = json.ok_or_else(|| anyhow!("{url} answered with something that is not JSON: {said:?}"))?;
    let profile =
        v.get("profile").ok_or_else(|| anyhow!("{url}: the answer has no profile: is this a churn Worker?"))?;
    let profile = Profile::from_json(model, &profile.to_string()).map_err(|m| anyhow!("{url}: {m}"))?;
    let isolate = v["isolate_id"].as_str().unwrap_or(url).to_string();
    Ok(Answer { isolate, profile })
}

/// Fetches every URL's profile and merges them (an isolate reached twice is counted once).
/// Returns a label for the report and the merged profile.
pub fn fetch_profiles(model: &Model, urls: &[String]) -> Result<(String, Profile)> {
    let urls = urls.iter().map(|u| monitoring_url(u)).collect::<Result<Vec<_>>>()?;
    let token = std::env::var(TOKEN_ENV).ok().filter(|t| !t.is_empty());
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(5)))
        .timeout_global(Some(Duration::from_secs(30)))
        .http_status_as_error(false)
        .build()
        .into();
    let mut total = inference_wasm::profile::empty_profile(model).expect("checked by the caller");
    let mut seen: Vec<String> = Vec::new();
    for url in &urls {
        let a = fetch_one(&agent, model, url, token.as_deref())?;
        if seen.contains(&a.isolate) {
            eprintln!("note: {url}: isolate {} was already counted (through another URL); counted once", a.isolate);
            continue;
        }
        seen.push(a.isolate);
        total.merge(&a.profile).map_err(|m| anyhow!("{url}: {m}"))?;
    }
    let label = format!("{} ({} isolate{})", urls.join(", "), seen.len(), if seen.len() == 1 { "" } else { "s" });
    if total.rows == 0 {
        bail!("{}: the Workers have scored no customer yet ({} refused)", urls.join(", "), total.invalid_rows);
    }
    Ok((label, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_get_monitoring_appended_and_https_is_refused_with_a_reason() {
        assert_eq!(monitoring_url("http://127.0.0.1:8787").unwrap(), "http://127.0.0.1:8787/monitoring");
        assert_eq!(monitoring_url(" http://127.0.0.1:8787/ ").unwrap(), "http://127.0.0.1:8787/monitoring");
        assert_eq!(monitoring_url("http://h/monitoring").unwrap(), "http://h/monitoring");
        assert!(monitoring_url("https://x.workers.dev").unwrap_err().to_string().contains("https is not supported"));
        assert!(monitoring_url("127.0.0.1:8787").unwrap_err().to_string().contains("expected the http:// URL"));
    }
}

//! The MLflow Model around a model file, written once: `churn train --tracking-uri` logs it
//! beside `model.bin`, and the Python package (`churn_edge.mlflow.log_model`) hands the same
//! signature to MLflow. MLflow then loads the version with
//! `mlflow.pyfunc.load_model("models:/NAME@alias")` through the loader module below.

use crate::schema::Schema;
use crate::Model;

/// The Python module MLflow imports to load the model (`_load_pyfunc(path_of_model.bin)`).
pub const LOADER_MODULE: &str = "churn_edge.mlflow";
/// The model file's name inside the MLflow Model's folder.
pub const DATA_FILE: &str = "model.bin";
/// The Python distribution that holds the loader.
pub const DISTRIBUTION: &str = "churn-edge";

/// A JSON string literal.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The model signature's inputs, as MLflow's JSON column specs: every field, by name, required,
/// of MLflow's type `any`. Not `double`/`string`: MLflow would then refuse what the model reads
/// well (a pandas column of Telco's `TotalCharges` is text because of its blanks; a category
/// coded 0/1 arrives as integers) with its own message. The core checks every value instead,
/// with the same messages as on every surface.
pub fn signature_inputs(schema: &Schema) -> String {
    let cols: Vec<String> = schema
        .fields
        .iter()
        .map(|f| format!("{{\"type\": \"any\", \"name\": {}, \"required\": true}}", json_string(&f.name)))
        .collect();
    format!("[{}]", cols.join(", "))
}

/// The columns `predict` returns: the policy's decision and the raw probability (with the
/// `explain` parameter, the top factors' columns follow).
pub fn signature_outputs() -> String {
    let cols: Vec<String> = [
        ("churn_probability", "double"),
        ("churn_prediction", "string"),
        ("risk_level", "string"),
        ("churn_probability_raw", "double"),
    ]
    .iter()
    .map(|(name, ty)| format!("{{\"type\": \"{ty}\", \"name\": \"{name}\", \"required\": true}}"))
    .collect();
    format!("[{}]", cols.join(", "))
}

/// The parameters `predict` takes (`predict(df, params={"explain": 3})`), as MLflow's JSON
/// param specs: `explain`, how many top factors to add per row (the columns of
/// `churn score --explain N`); 0, the default, adds none.
pub fn signature_params() -> String {
    "[{\"name\": \"explain\", \"type\": \"long\", \"default\": 0, \"shape\": null}]".to_string()
}

/// A YAML single-quoted scalar.
fn yaml_quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The `MLmodel` file of a model file logged as `<artifact_path>/model.bin` in run `run_id`,
/// requiring `churn-edge==version`. `created` is the UTC time, `YYYY-MM-DD HH:MM:SS.ffffff`.
pub fn mlmodel(model: &Model, artifact_path: &str, run_id: &str, created: &str, version: &str) -> String {
    let card = model.card();
    format!(
        "artifact_path: {artifact_path}\n\
         flavors:\n  python_function:\n    data: {DATA_FILE}\n    env:\n      virtualenv: python_env.yaml\n\
         \x20     conda: conda.yaml\n    loader_module: {LOADER_MODULE}\n    python_version: '{python}'\n\
         \x20 churn:\n    churn_edge_version: {version}\n    model_kind: {kind}\n    model_name: {name}\n\
         \x20   model_version: {model_version}\n\
         model_size_bytes: {bytes}\n\
         run_id: {run_id}\n\
         signature:\n  inputs: {inputs}\n  outputs: {outputs}\n  params: {params}\n\
         utc_time_created: {created}\n",
        python = PYTHON_VERSION,
        kind = model.kind().short(),
        name = yaml_quoted(&card.name),
        model_version = yaml_quoted(&card.version),
        bytes = model.file().map_or(0, |f| f.bytes),
        inputs = yaml_quoted(&signature_inputs(model.schema())),
        outputs = yaml_quoted(&signature_outputs()),
        params = yaml_quoted(&signature_params()),
        created = yaml_quoted(created),
    )
}

/// The oldest Python the wheel supports (abi3, CPython 3.9+), written as the flavor's
/// `python_version`.
pub const PYTHON_VERSION: &str = "3.9";

/// `requirements.txt` of the MLflow Model.
pub fn requirements(version: &str) -> String {
    format!("{DISTRIBUTION}=={version}\n")
}

/// `python_env.yaml` of the MLflow Model (for `env_manager="virtualenv"`).
pub fn python_env() -> String {
    format!("python: '{PYTHON_VERSION}'\nbuild_dependencies:\n- pip\n- setuptools\n- wheel\ndependencies:\n- -r requirements.txt\n")
}

/// `conda.yaml` of the MLflow Model (for `env_manager="conda"`).
pub fn conda_env(version: &str) -> String {
    format!(
        "channels:\n- conda-forge\ndependencies:\n- python={PYTHON_VERSION}\n- pip\n- pip:\n  - {DISTRIBUTION}=={version}\nname: churn_env\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped() {
        assert_eq!(json_string("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
        assert_eq!(yaml_quoted("it's"), "'it''s'");
        assert_eq!(
            signature_outputs(),
            "[{\"type\": \"double\", \"name\": \"churn_probability\", \"required\": true}, {\"type\": \"string\", \"name\": \"churn_prediction\", \"required\": true}, {\"type\": \"string\", \"name\": \"risk_level\", \"required\": true}, {\"type\": \"double\", \"name\": \"churn_probability_raw\", \"required\": true}]"
        );
        assert_eq!(
            signature_params(),
            "[{\"name\": \"explain\", \"type\": \"long\", \"default\": 0, \"shape\": null}]"
        );
        assert_eq!(requirements("0.1.0"), "churn-edge==0.1.0\n");
        assert!(python_env().contains("- -r requirements.txt"));
    }
}

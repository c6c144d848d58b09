//! Command-line flags. Raw flags are checked into validated values in `main.rs` before any work.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "churn",
    version,
    about = "Train a churn model from a customer CSV and score customers with it",
    long_about = "Train a random forest from a customer CSV and export one compact model file \
                  (schema, encoders, forest, risk policy, model card). The same file scores \
                  customers here, in browsers and in Cloudflare Workers, with bit-identical results.\n\n\
                  Exit codes: 0 ok, 2 usage or input error, 3 quality gate failed.",
    after_help = "Example:\n  churn train --data data/telco_churn.csv --out model.bin\n  churn score --model model.bin --data customers.csv --out scores.csv\n\n\
                  Registry (./registry by default; every train records a run):\n  \
                  churn train --data data/telco_churn.csv --out model.bin --register telco\n  \
                  churn promote telco --version 1 --alias production --min-auc 0.8\n  \
                  churn models get telco@production --out www/worker/model.bin"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// TrainArgs is large, but a Command is parsed once per process: boxing it would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train a model from a CSV and write the model file
    Train(TrainArgs),
    /// Evaluate a model on a CSV that has the target column
    Evaluate(EvaluateArgs),
    /// Score every row of a CSV (streams; memory does not grow with the file)
    Score(ScoreArgs),
    /// Show a model file's schema, policy, card and size
    Inspect(InspectArgs),
    /// Compare a CSV of recent customers with the training rows: drift per field and in the scores
    Monitor(MonitorArgs),
    /// List and show the training runs recorded in the registry
    #[command(subcommand)]
    Runs(RunsCommand),
    /// List registered models, show their versions and aliases, export one
    #[command(subcommand)]
    Models(ModelsCommand),
    /// Point an alias (e.g. production) at a model version, behind an optional quality gate
    #[command(after_help = "Examples:\n  churn promote telco --version 3 --alias production --min-auc 0.82\n  \
                            churn promote telco --version 4 --alias production --must-beat production --data data/telco_test.csv\n\n\
                            A refused promotion prints both ROC-AUCs and exits with code 3; the alias is left as it was.")]
    Promote(PromoteArgs),
    /// Move an alias back to the version that held it before
    Rollback(RollbackArgs),
    /// Registry maintenance
    #[command(subcommand)]
    Registry(RegistryCommand),
}

/// The registry folder, shared by every registry command.
#[derive(Args, Debug, Clone)]
pub struct RegistryDir {
    /// Registry folder
    #[arg(long, value_name = "DIR", default_value = "registry")]
    pub registry: PathBuf,
}

/// Where to log to MLflow, shared by train, promote and rollback.
#[derive(Args, Debug, Clone)]
pub struct TrackingArgs {
    /// MLflow tracking server (http://HOST:PORT) to log to as well [env: MLFLOW_TRACKING_URI]
    #[arg(long, value_name = "URI")]
    pub tracking_uri: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum RunsCommand {
    /// One line per run, oldest first
    List {
        #[command(flatten)]
        dir: RegistryDir,
        /// Only the last N runs
        #[arg(long, value_name = "N")]
        last: Option<usize>,
        /// Print a JSON array
        #[arg(long)]
        json: bool,
    },
    /// Everything recorded about one run
    Show {
        /// Run id (from `churn runs list`)
        id: String,
        #[command(flatten)]
        dir: RegistryDir,
        /// Print the run record as JSON
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum ModelsCommand {
    /// Registered models with their latest version and aliases
    List {
        #[command(flatten)]
        dir: RegistryDir,
        /// Print a JSON array
        #[arg(long)]
        json: bool,
    },
    /// A model's versions (metrics, run, data fingerprint) and aliases with their history
    Show {
        /// Model name
        name: String,
        #[command(flatten)]
        dir: RegistryDir,
        /// Print one JSON object
        #[arg(long)]
        json: bool,
    },
    /// Write a version's model file: NAME@ALIAS, NAME/VERSION, or NAME (latest version)
    #[command(after_help = "Example:\n  churn models get telco@production --out www/worker/model.bin")]
    Get {
        /// NAME@ALIAS (e.g. telco@production), NAME/VERSION (telco/3), NAME@latest or NAME
        spec: String,
        /// Where to write the model file (atomically)
        #[arg(long, value_name = "MODEL.bin")]
        out: PathBuf,
        #[command(flatten)]
        dir: RegistryDir,
    },
}

#[derive(Args, Debug)]
pub struct PromoteArgs {
    /// Model name
    pub name: String,
    /// Version to promote
    #[arg(long)]
    pub version: u32,
    /// Alias to point at it
    #[arg(long, default_value = "production")]
    pub alias: String,
    /// Gate: refuse (exit 3) if the version's ROC-AUC is below this (held-out metrics from its
    /// model card, or measured on --data)
    #[arg(long, value_name = "AUC")]
    pub min_auc: Option<f64>,
    /// Gate: refuse (exit 3) unless the version's ROC-AUC is higher than the version holding
    /// ALIAS now (champion/challenger). Compared on --data, or on both versions' recorded
    /// held-out metrics when they were trained on the same data with the same split
    #[arg(long, value_name = "ALIAS")]
    pub must_beat: Option<String>,
    /// Evaluation CSV (with the target column) for the gates
    #[arg(long, value_name = "FILE.csv")]
    pub data: Option<PathBuf>,
    #[command(flatten)]
    pub dir: RegistryDir,
    #[command(flatten)]
    pub tracking: TrackingArgs,
    /// Print one JSON object
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct RollbackArgs {
    /// Model name
    pub name: String,
    /// Alias to move back
    #[arg(long, default_value = "production")]
    pub alias: String,
    #[command(flatten)]
    pub dir: RegistryDir,
    #[command(flatten)]
    pub tracking: TrackingArgs,
    /// Print one JSON object
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum RegistryCommand {
    /// Check every invariant: runs and versions complete, model files intact and loadable,
    /// aliases pointing at existing versions (exit 2 if any is broken)
    Check {
        #[command(flatten)]
        dir: RegistryDir,
        /// Print one JSON object
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Training CSV (header row; comma-separated; LF or CRLF)
    #[arg(long, value_name = "FILE.csv")]
    pub data: PathBuf,
    /// Where to write the model file
    #[arg(long, value_name = "MODEL.bin")]
    pub out: PathBuf,
    /// Target column [default: the column named Churn, any case]
    #[arg(long, value_name = "COL")]
    pub target: Option<String>,
    /// Target value meaning churn [default: detected for Yes/No, 1/0, True/False]
    #[arg(long, value_name = "VALUE")]
    pub positive: Option<String>,
    /// Identifier column, not a feature, carried into scores [default: detected: a text column
    /// whose values are all unique]; `none` turns detection off
    #[arg(long, value_name = "COL")]
    pub id: Option<String>,
    /// Columns to leave out (comma-separated)
    #[arg(long, value_name = "COLS", value_delimiter = ',')]
    pub drop: Vec<String>,
    /// Use only these columns as features (comma-separated) [default: all but target, id, dropped]
    #[arg(long, value_name = "COLS", value_delimiter = ',')]
    pub features: Vec<String>,
    /// Model kind: `auto` chooses between a random forest and gradient-boosted trees, and
    /// their main settings, by cross-validation on the training rows (see --time-budget);
    /// `rf` or `gbt` fixes the kind (settings not given are still chosen by cross-validation
    /// where there is a choice)
    #[arg(long, value_enum, default_value_t = ModelArg::Auto)]
    pub model: ModelArg,
    /// Seconds model selection may spend before it stops starting candidates (the chosen model
    /// is then fitted on all training rows)
    #[arg(long, value_name = "SECONDS", default_value_t = 120.0)]
    pub time_budget: f64,
    /// Number of trees (boosting: rounds; without it, early stopping chooses) [default: forest 100]
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub trees: Option<u32>,
    /// Maximum tree depth (splits from the root to a leaf) [default: chosen; forest 7 or 12,
    /// boosting 2, 3 or 12]
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub max_depth: Option<u16>,
    /// Minimum rows in a leaf [default: forest 20 or 5, boosting 20]
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub min_samples_leaf: Option<u32>,
    /// Forest: minimum rows to split a node [default: 2]
    #[arg(long, value_parser = clap::value_parser!(u32).range(2..))]
    pub min_samples_split: Option<u32>,
    /// Forest: features tried at each split [default: floor(sqrt(features)), or a third of them
    /// for the deeper forest]
    #[arg(long)]
    pub mtry: Option<u32>,
    /// Boosting: learning rate (shrinkage) [default: 0.1, or 0.05 for depth-2 trees]
    #[arg(long, value_name = "RATE")]
    pub learning_rate: Option<f64>,
    /// Boosting: leaves per tree, at most [default: 31, 8 or 4]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(2..=65_536))]
    pub max_leaves: Option<u32>,
    /// Random seed (split, bootstrap, feature sampling)
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Check the exported forest against the fitted trees' own predictions on N evenly spread
    /// training rows instead of every row (for very large files: the check on every row costs
    /// about a fifth of the fit). Either way the check is exact, bit for bit, and a mismatch
    /// writes nothing [default: every training row]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub verify_rows: Option<u64>,
    /// Fraction of rows held out (stratified) for the model card's metrics; 0 trains on all rows
    #[arg(long, default_value_t = 0.2)]
    pub test_fraction: f64,
    /// Predict "Yes" when the probability is above this
    #[arg(long, default_value_t = 0.5)]
    pub threshold: f64,
    /// HIGH risk when the probability is at least this
    #[arg(long, default_value_t = 0.7)]
    pub high: f64,
    /// MEDIUM risk when the probability is at least this (LOW below)
    #[arg(long, default_value_t = 0.4)]
    pub medium: f64,
    /// Decimals of the displayed probability
    #[arg(long, default_value_t = 3)]
    pub decimals: u8,
    /// Quality gate: held-out ROC-AUC below this exits with code 3 and writes no file
    #[arg(long, value_name = "AUC")]
    pub min_auc: Option<f64>,
    /// Drift: a feature or the score whose population stability index reaches this is worth
    /// watching (`churn monitor`)
    #[arg(long, value_name = "PSI", default_value_t = 0.1)]
    pub psi_watch: f64,
    /// Drift: a population stability index from this up is drifted (`churn monitor --fail-on`)
    #[arg(long, value_name = "PSI", default_value_t = 0.2)]
    pub psi_drifted: f64,
    /// Unknown categories at scoring time: refuse the row, or use the most frequent level
    #[arg(long, value_enum, default_value_t = UnknownArg::Error)]
    pub unknown_category: UnknownArg,
    /// Model name for the model card [default: the --register name, else churn-model]
    #[arg(long)]
    pub name: Option<String>,
    /// Version string shown as model_version [default: <UTC date-time>-<data sha256 prefix>]
    #[arg(long)]
    pub model_version: Option<String>,
    /// Threads for training [default: all cores]; the model is the same for any value
    #[arg(long)]
    pub threads: Option<usize>,
    /// Print one JSON object instead of the summary table
    #[arg(long)]
    pub json: bool,
    /// Record the run (and --register's version) in this registry folder (created if missing)
    #[arg(long, value_name = "DIR", default_value = "registry")]
    pub registry: PathBuf,
    /// Do not record the run in the registry
    #[arg(long, conflicts_with_all = ["register", "tracking_uri"])]
    pub no_registry: bool,
    /// Also register the model as the next version of NAME in the registry (and in MLflow)
    #[arg(long, value_name = "NAME")]
    pub register: Option<String>,
    #[command(flatten)]
    pub tracking: TrackingArgs,
    /// MLflow experiment for the run (created if missing)
    #[arg(long, value_name = "NAME", default_value = "churn")]
    pub experiment: String,
}

/// `churn train --model`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ModelArg {
    /// Choose the kind and settings by cross-validation
    Auto,
    /// Random forest (averaged probability trees)
    Rf,
    /// Gradient-boosted trees
    Gbt,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnknownArg {
    Error,
    MostFrequent,
}

#[derive(Args, Debug)]
pub struct EvaluateArgs {
    #[arg(long, value_name = "MODEL.bin")]
    pub model: PathBuf,
    /// CSV with the model's fields and its target column
    #[arg(long, value_name = "FILE.csv")]
    pub data: PathBuf,
    /// Print one JSON object
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct MonitorArgs {
    /// A model file of format version 3 or later (it carries the training rows' profile)
    #[arg(long, value_name = "MODEL.bin")]
    pub model: PathBuf,
    /// Recent customers: a CSV with the model's fields (with the target column, the realised
    /// ROC-AUC and Brier score are shown too)
    #[arg(long, value_name = "FILE.csv", required_unless_present = "from", conflicts_with = "from")]
    pub data: Option<PathBuf>,
    /// Running Workers instead of a CSV: fetch GET /monitoring from each (http://HOST[:PORT]
    /// or the full /monitoring URL), merge their profiles and report the drift of what they
    /// scored. The bearer token is read from the MONITORING_TOKEN environment variable
    #[arg(long, value_name = "URL[,URL...]", value_delimiter = ',')]
    pub from: Vec<String>,
    /// Print one JSON object
    #[arg(long)]
    pub json: bool,
    /// Also write the report as one self-contained HTML page with histograms (training beside
    /// current) for the score and every field
    #[arg(long, value_name = "FILE.html")]
    pub html: Option<PathBuf>,
    /// Exit with code 4 when the drift reaches this level (a field's or the score's PSI)
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub fail_on: Option<FailOn>,
    /// Threads [default: all cores]
    #[arg(long)]
    pub threads: Option<usize>,
    /// Also log the drift figures to the MLflow run that trained this model (the run tagged with
    /// its version by `churn train --tracking-uri`)
    #[command(flatten)]
    pub tracking: TrackingArgs,
}

/// `churn monitor --fail-on`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailOn {
    /// A PSI at or above the model's watch threshold (default 0.1)
    Watch,
    /// A PSI at or above the model's drifted threshold (default 0.2)
    Drifted,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnError {
    /// Stop at the first bad row (exit 2)
    Fail,
    /// Report bad rows on stderr and go on
    Skip,
}

#[derive(Args, Debug)]
pub struct ScoreArgs {
    #[arg(long, value_name = "MODEL.bin")]
    pub model: PathBuf,
    /// CSV with the model's fields (other columns are ignored)
    #[arg(long, value_name = "FILE.csv")]
    pub data: PathBuf,
    /// Output CSV, or - for stdout
    #[arg(long, value_name = "OUT.csv|-")]
    pub out: PathBuf,
    /// Add churn_probability_raw: the unrounded probability (shortest round-trip form)
    #[arg(long)]
    pub raw: bool,
    /// Add the K largest per-field contributions (why_1..K, why_1_contribution..)
    #[arg(long, value_name = "K")]
    pub explain: Option<usize>,
    /// What to do with a row that fails validation
    #[arg(long, value_enum, default_value_t = OnError::Fail)]
    pub on_error: OnError,
    /// Scoring threads [default: all cores]
    #[arg(long)]
    pub threads: Option<usize>,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Model file
    pub model: PathBuf,
    /// Print one JSON object
    #[arg(long)]
    pub json: bool,
    /// Show every tree: indented text, or with --json one JSON object (feature, threshold,
    /// children, node values, the boosted base score)
    #[arg(long)]
    pub trees: bool,
}

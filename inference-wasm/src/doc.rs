//! The JSON shapes every surface shows, defined once: model info, schema, metrics.
//!
//! A [`Doc`] is a small JSON-like tree with its keys in a fixed order. The core builds it; the
//! CLI prints it with serde (`churn inspect --json`, `churn evaluate --json`) and the JS bindings
//! turn it into plain objects (`info()`, `schema()`, `evaluate()`), so the shapes cannot drift
//! apart. docs/ARCHITECTURE.md lists the keys.

use crate::metrics::{Metrics, RocPoint};
use crate::schema::{FieldKind, Missing, Schema, Unknown};
use crate::{Model, Param, FORMAT_VERSION};

/// A JSON value with ordered keys.
#[derive(Clone, Debug, PartialEq)]
pub enum Doc {
    Null,
    Bool(bool),
    Number(f64),
    /// A whole number (the JS bindings refuse one above 2^53 rather than round it).
    Count(u64),
    Text(String),
    List(Vec<Doc>),
    Map(Vec<(&'static str, Doc)>),
}

impl Doc {
    /// An empty map, filled with [`Doc::with`].
    pub fn map() -> Doc {
        Doc::Map(Vec::new())
    }

    /// Adds a key to a map (does nothing to another kind of value). Not inlined: the views
    /// call it ~100 times, and each inlined copy costs the wasm build bytes.
    #[inline(never)]
    pub fn with(mut self, key: &'static str, value: impl Into<Doc>) -> Doc {
        if let Doc::Map(entries) = &mut self {
            entries.push((key, value.into()));
        }
        self
    }
}

impl From<f64> for Doc {
    fn from(x: f64) -> Doc {
        Doc::Number(x)
    }
}
impl From<u64> for Doc {
    fn from(n: u64) -> Doc {
        Doc::Count(n)
    }
}
impl From<bool> for Doc {
    fn from(b: bool) -> Doc {
        Doc::Bool(b)
    }
}
impl From<&str> for Doc {
    fn from(s: &str) -> Doc {
        Doc::Text(s.to_string())
    }
}
impl<T: Into<Doc>> From<Option<T>> for Doc {
    fn from(v: Option<T>) -> Doc {
        v.map_or(Doc::Null, Into::into)
    }
}
impl From<Vec<Doc>> for Doc {
    fn from(v: Vec<Doc>) -> Doc {
        Doc::List(v)
    }
}
impl From<Param> for Doc {
    fn from(p: Param) -> Doc {
        match p {
            Param::Text(t) => Doc::from(t),
            Param::Count(n) => Doc::Count(n),
            Param::Number(x) => Doc::Number(x),
        }
    }
}

/// A parameter list as a map.
fn params(entries: Vec<(&'static str, Param)>) -> Doc {
    Doc::Map(entries.into_iter().map(|(k, p)| (k, p.into())).collect())
}

/// `{rows, roc_auc, pr_auc, accuracy, precision, recall, f1, brier, log_loss, tp, fp, tn, fn}`.
pub fn metrics(m: &Metrics) -> Doc {
    Doc::map()
        .with("rows", m.rows)
        .with("roc_auc", m.roc_auc)
        .with("pr_auc", m.pr_auc)
        .with("accuracy", m.accuracy)
        .with("precision", m.precision)
        .with("recall", m.recall)
        .with("f1", m.f1)
        .with("brier", m.brier)
        .with("log_loss", m.log_loss)
        .with("tp", m.tp)
        .with("fp", m.fp)
        .with("tn", m.tn)
        .with("fn", m.fn_)
}

/// `[{fpr, tpr, threshold}]`.
pub fn roc(points: &[RocPoint]) -> Doc {
    Doc::List(
        points
            .iter()
            .map(|p| {
                Doc::map()
                    .with("fpr", f64::from(p.fpr))
                    .with("tpr", f64::from(p.tpr))
                    .with("threshold", f64::from(p.threshold))
            })
            .collect(),
    )
}

/// `{fields: [{name, kind, ...}], id_column, target: {column, positive, negative}}`. Numeric
/// fields carry `missing` ("error" or `{replace}`), `min`, `max`, `integer`; categorical ones
/// `levels` (in code order) and `unknown` ("error" or `{as_level}`).
pub fn schema(s: &Schema) -> Doc {
    let fields = s
        .fields
        .iter()
        .map(|f| {
            let o = Doc::map().with("name", f.name.as_str());
            match &f.kind {
                FieldKind::Numeric(n) => o
                    .with("kind", "numeric")
                    .with(
                        "missing",
                        match n.missing {
                            Missing::Error => Doc::from("error"),
                            Missing::Replace(v) => Doc::map().with("replace", v),
                        },
                    )
                    .with("min", n.min)
                    .with("max", n.max)
                    .with("integer", n.integer),
                FieldKind::Categorical(c) => o
                    .with("kind", "categorical")
                    .with("levels", c.levels.iter().map(|l| Doc::from(l.as_str())).collect::<Vec<_>>())
                    .with(
                        "unknown",
                        match c.unknown {
                            Unknown::Error => Doc::from("error"),
                            Unknown::AsLevel(code) => Doc::map().with("as_level", u64::from(code)),
                        },
                    ),
            }
        })
        .collect::<Vec<_>>();
    Doc::map().with("fields", fields).with("id_column", s.id_column.as_deref()).with(
        "target",
        Doc::map()
            .with("column", s.target.column.as_str())
            .with("positive", s.target.positive.as_str())
            .with("negative", s.target.negative.as_str()),
    )
}

/// What is in a model: its card, kind, settings, policy, schema and sizes. `churn inspect
/// --json` prints it and the JS `info()` returns it.
pub fn info(m: &Model) -> Doc {
    let c = m.card();
    let selection = c
        .selection
        .iter()
        .map(|cand| {
            let mut d = params(cand.params.entries());
            for (k, v) in [
                ("cv_auc_mean", Doc::from(cand.cv_auc_mean)),
                ("cv_auc_sd", Doc::from(cand.cv_auc_sd)),
                ("folds", Doc::Count(cand.folds.into())),
                ("nodes", Doc::Count(cand.nodes)),
                ("fit_seconds", Doc::from(cand.fit_seconds)),
            ] {
                d = d.with(k, v);
            }
            d
        })
        .collect::<Vec<_>>();
    let p = m.policy();
    let (nodes, leaves, depth) = m.forest().shape();
    let file = m.file();
    Doc::map()
        .with("name", c.name.as_str())
        .with("version", c.version.as_str())
        .with("created_at", c.created_at.as_str())
        .with("trainer", c.trainer.as_str())
        .with("data_sha256", c.data_sha256.as_str())
        .with("rows_total", c.rows_total)
        .with("rows_train", c.rows_train)
        .with("rows_test", c.rows_test)
        .with("params", params(c.params.entries()))
        .with("test_metrics", c.test_metrics.as_ref().map_or(Doc::Null, metrics))
        .with("importances", c.importances.iter().map(|&x| Doc::from(x)).collect::<Vec<_>>())
        .with("roc", roc(&c.roc))
        .with(
            "policy",
            Doc::map()
                .with("threshold", p.threshold)
                .with("high", p.high)
                .with("medium", p.medium)
                .with("decimals", u64::from(p.decimals)),
        )
        .with("selection", selection)
        .with("format_version", u64::from(file.map_or(FORMAT_VERSION, |f| f.version)))
        .with("file_bytes", file.map(|f| f.bytes))
        .with("model_kind", m.kind().short())
        .with("model_type", m.kind().name())
        .with("model_description", m.kind().describe())
        .with("trees", m.forest().n_trees() as u64)
        .with("nodes", nodes as u64)
        .with("leaves", leaves as u64)
        .with("max_depth", depth as u64)
        .with("base_value", m.forest().base_value())
        .with("features", m.schema().fields.iter().map(|f| Doc::from(f.name.as_str())).collect::<Vec<_>>())
        .with("schema", schema(m.schema()))
}

#[cfg(feature = "serde")]
impl serde::Serialize for Doc {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self {
            Doc::Null => s.serialize_none(),
            Doc::Bool(b) => s.serialize_bool(*b),
            Doc::Number(x) => s.serialize_f64(*x),
            Doc::Count(n) => s.serialize_u64(*n),
            Doc::Text(t) => s.serialize_str(t),
            Doc::List(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Doc::Map(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

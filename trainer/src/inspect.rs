//! `churn inspect`: what is inside a model file.

use anyhow::Result;
use inference_wasm::{FieldKind, Missing, NodeView};
use serde_json::{json, Value as Json};

use crate::cli::InspectArgs;
use crate::output::load_model_file;

pub fn run(a: InspectArgs) -> Result<()> {
    let (_, model) = load_model_file(&a.model)?;
    // The file's own size and format version (a version-1 file loads too).
    let file = model.file().expect("loaded from a file");
    let (bytes, version) = (file.bytes, file.version);
    let art = model.artifact();
    let (nodes, leaves, depth) = model.forest().shape();
    if a.trees && !a.json {
        // Readable: each tree indented, as scikit-learn's export_text shows one.
        let names: Vec<&str> = art.schema.fields.iter().map(|f| f.name.as_str()).collect();
        let mut out = format!(
            "{} ({}); go left when x[feature] is at most the threshold\n",
            model.kind().name(),
            model.kind().describe()
        );
        for t in 0..model.forest().n_trees() {
            let mut tree = Vec::new();
            model.forest().visit_tree(t, |n| tree.push(n));
            out += &format!("tree {t}\n");
            write_node(&mut out, &tree, 0, 1, &names);
        }
        // Written at once; a closed pipe (`| head`) is an io error that main treats as success.
        std::io::Write::write_all(&mut std::io::stdout().lock(), out.as_bytes())?;
        return Ok(());
    }
    if a.trees {
        let trees: Vec<Json> = (0..model.forest().n_trees())
            .map(|t| {
                let mut nodes = Vec::new();
                model.forest().visit_tree(t, |n| {
                    nodes.push(match n {
                        NodeView::Leaf { id, value } => json!({"id": id, "leaf": true, "value": value}),
                        NodeView::Split { id, feature, threshold, left, right, value } => json!({
                            "id": id, "feature": feature, "field": art.schema.fields[feature].name,
                            "threshold": threshold, "left": left, "right": right, "value": value,
                        }),
                    })
                });
                json!({"tree": t, "nodes": nodes})
            })
            .collect();
        let out = json!({
            "routing": "x[feature] <= threshold goes to left, else right",
            "model_kind": model.kind().short(),
            "combine": model.kind().describe(),
            "base_score": match &art.ensemble {
                inference_wasm::Ensemble::Boosted(b) => Some(b.base_score),
                inference_wasm::Ensemble::Forest(_) => None,
            },
            "features": art.schema.fields.iter().map(|f| &f.name).collect::<Vec<_>>(),
            "trees": trees,
        });
        println!("{}", serde_json::to_string(&out)?);
        return Ok(());
    }
    if a.json {
        // The core's one shape for model info: the JS `info()` returns the same object.
        println!("{}", serde_json::to_string_pretty(&inference_wasm::doc::info(&model))?);
        return Ok(());
    }
    let c = &art.card;
    println!("{} {} (trained {}, {})", c.name, c.version, c.created_at, c.trainer);
    println!(
        "file: {bytes} bytes, format {version}, {} trees, {nodes} nodes ({leaves} leaves), depth {depth}, {:.2} bytes/node",
        model.forest().n_trees(),
        bytes as f64 / nodes as f64
    );
    println!("model: {} ({}); {}", model.kind().name(), model.kind().describe(), c.params.kind.summary());
    if !c.selection.is_empty() {
        println!(
            "model selection ({}-fold cross-validation ROC-AUC on the training rows, best first):",
            c.selection[0].folds
        );
        for line in crate::output::leaderboard_lines(c, "  ") {
            println!("{line}");
        }
    }
    println!(
        "data: sha256 {} ({} rows: {} train, {} held out)",
        c.data_sha256, c.rows_total, c.rows_train, c.rows_test
    );
    let p = &art.policy;
    println!(
        "policy: Yes when p > {}; HIGH when p >= {}, MEDIUM when p >= {}, else LOW; {} decimals",
        p.threshold, p.high, p.medium, p.decimals
    );
    let s = &art.schema;
    println!(
        "target: {} (churn = {:?}), id column: {}",
        s.target.column,
        s.target.positive,
        s.id_column.as_deref().unwrap_or("-")
    );
    println!("fields:");
    for (i, f) in s.fields.iter().enumerate() {
        let imp = c.importances.get(i).copied().unwrap_or(0.0);
        match &f.kind {
            FieldKind::Numeric(n) => {
                let missing = match n.missing {
                    Missing::Replace(v) => format!("blank -> {v}"),
                    Missing::Error => "blank is an error".to_string(),
                };
                println!("  {:<18} numeric      range {} to {}, {missing}   importance {imp:.3}", f.name, n.min, n.max)
            }
            FieldKind::Categorical(k) => println!(
                "  {:<18} categorical  {} levels: {}   importance {imp:.3}",
                f.name,
                k.levels.len(),
                k.levels.join(" | ")
            ),
        }
    }
    if let Some(m) = &c.test_metrics {
        println!(
            "held-out: ROC-AUC {:.4}, PR-AUC {:.4}, accuracy {:.4}, F1 {:.4}, Brier {:.4}, log loss {:.4} ({} rows)",
            m.roc_auc, m.pr_auc, m.accuracy, m.f1, m.brier, m.log_loss, m.rows
        );
    }
    Ok(())
}

/// One node and its children, indented (`tree` is one tree in preorder; ids are positions).
fn write_node(out: &mut String, tree: &[NodeView], id: usize, depth: usize, names: &[&str]) {
    let pad = "|   ".repeat(depth - 1);
    match tree.get(id) {
        Some(NodeView::Leaf { value, .. }) => *out += &format!("{pad}|-- value {value}\n"),
        Some(&NodeView::Split { feature, threshold, left, right, .. }) => {
            let name = names.get(feature).copied().unwrap_or("?");
            *out += &format!("{pad}|-- {name} <= {threshold}\n");
            write_node(out, tree, left, depth + 1, names);
            *out += &format!("{pad}|-- {name} >  {threshold}\n");
            write_node(out, tree, right, depth + 1, names);
        }
        None => {}
    }
}

//! End-to-end tests of the `churn` binary on the bundled data: train → inspect → evaluate →
//! score, the golden fixture, and the bad-input matrix (each a clear message and exit code 2).

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

#[test]
fn train_inspect_evaluate_score_on_telco() {
    let d = tmp();
    let model = path(&d, "m.bin");
    let t = json(&ok(&["train", "--data", &data("telco_churn.csv"), "--out", &model, "--trees", "30", "--json"]));
    assert_eq!(t["written"], true);
    assert_eq!(t["schema"]["id_column"], "customerID");
    assert_eq!(t["card"]["rows_total"], 7043);
    assert_eq!(t["card"]["rows_test"], 1409); // 20 % of each class, rounded
    let auc = t["card"]["test_metrics"]["roc_auc"].as_f64().unwrap();
    assert!(auc > 0.8, "held-out AUC {auc}");
    // TotalCharges has blanks: numeric with a missing-value rule, not categorical.
    let fields = t["schema"]["fields"].as_array().unwrap();
    let total = fields.iter().find(|f| f["name"] == "TotalCharges").unwrap();
    assert_eq!(total["kind"], "numeric");
    assert!(total["missing"]["replace"].is_number());

    let i = json(&ok(&["inspect", &model, "--json"]));
    assert_eq!(i["trees"], 30);
    assert!(i["file_bytes"].as_f64().unwrap() / i["nodes"].as_f64().unwrap() < 6.5);
    let text = ok(&["inspect", &model]);
    assert!(text.contains("Yes when p > 0.5; HIGH when p >= 0.7, MEDIUM when p >= 0.4"), "{text}");

    let e = json(&ok(&["evaluate", "--model", &model, "--data", &data("telco_test.csv"), "--json"]));
    for key in ["rows", "roc_auc", "pr_auc", "accuracy", "precision", "recall", "f1", "brier", "log_loss"] {
        assert!(e[key].is_number(), "{key} missing in {e}");
    }
    let total: u64 = ["tp", "fp", "tn", "fn"].iter().map(|k| e[k].as_u64().unwrap()).sum();
    assert_eq!(total, 1409);
    assert_eq!(e["unusable_labels"], 0);

    let scores = path(&d, "scores.csv");
    ok(&["score", "--model", &model, "--data", &data("telco_test.csv"), "--out", &scores, "--raw"]);
    let text = std::fs::read_to_string(&scores).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next().unwrap(), "customerID,churn_probability,churn_prediction,risk_level,churn_probability_raw");
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 1409);
    for r in &rows {
        let raw: f64 = r[4].parse().unwrap();
        let shown: f64 = r[1].parse().unwrap();
        assert_eq!(shown, (raw * 1000.0).round() / 1000.0);
        assert_eq!(r[2], if raw > 0.5 { "Yes" } else { "No" });
        let risk = if raw >= 0.7 {
            "HIGH"
        } else if raw >= 0.4 {
            "MEDIUM"
        } else {
            "LOW"
        };
        assert_eq!(r[3], risk);
    }
}

#[test]
fn golden_models_score_exactly_as_recorded() {
    // tests/make-golden.sh wrote the expected files with the build of that day; this build must
    // give the same bytes: same raw probabilities, labels, risk levels and explanations. The
    // forests written by format versions 1 (format_v1.bin, the release before model kinds) and 2
    // (format_v2.bin, before reference profiles) hold the same trees as golden.bin and must still
    // load and score exactly the same.
    for (model, expected) in [
        ("golden.bin", "golden_expected.csv"),
        ("format_v1.bin", "golden_expected.csv"),
        ("format_v2.bin", "golden_expected.csv"),
        ("golden_gbt.bin", "golden_gbt_expected.csv"),
    ] {
        let out = ok(&[
            "score",
            "--model",
            &fixture(model),
            "--data",
            &fixture("golden_cases.csv"),
            "--out",
            "-",
            "--raw",
            "--explain",
            "3",
        ]);
        let expected = std::fs::read_to_string(fixture(expected)).unwrap();
        assert!(out == expected, "{model} scores differently from the recorded file");
    }
    // They are what they say: version-1 and -2 forests, and version-3 files of each kind.
    for (model, version, kind) in
        [("format_v1.bin", 1, "rf"), ("format_v2.bin", 2, "rf"), ("golden.bin", 3, "rf"), ("golden_gbt.bin", 3, "gbt")]
    {
        assert_eq!(std::fs::read(fixture(model)).unwrap()[8..10], [version, 0], "{model}");
        let info = json(&ok(&["inspect", &fixture(model), "--json"]));
        assert_eq!(info["format_version"], version as u64, "{model}");
        assert_eq!(info["model_kind"], kind, "{model}");
        assert_eq!(info["params"]["model_kind"], kind, "{model}");
    }
}

#[test]
fn golden_models_are_reproducible() {
    // Same flags as tests/make-golden.sh: training (model selection included) is deterministic,
    // whatever the thread count.
    let d = tmp();
    let forest: &[&str] =
        &["--model", "rf", "--trees", "30", "--max-depth", "6", "--name", "golden", "--model-version", "golden-1"];
    let boosted: &[&str] = &[
        "--model",
        "gbt",
        "--trees",
        "40",
        "--max-leaves",
        "8",
        "--learning-rate",
        "0.1",
        "--name",
        "golden-gbt",
        "--model-version",
        "golden-gbt-1",
    ];
    for (fixture_name, flags) in [("golden.bin", forest), ("golden_gbt.bin", boosted)] {
        for threads in ["1", "2"] {
            let model = path(&d, &format!("g{threads}.bin"));
            let out = Command::new(env!("CARGO_BIN_EXE_churn"))
                .env("SOURCE_DATE_EPOCH", "1767225600")
                .args(["train", "--no-registry", "--data", &data("telco_train.csv"), "--out", &model])
                .args(flags)
                .args(["--seed", "7", "--test-fraction", "0", "--threads", threads])
                // A check on fewer rows passes and changes nothing in the file.
                .args(if threads == "2" { &["--verify-rows", "500"][..] } else { &[][..] })
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            assert!(
                std::fs::read(&model).unwrap() == std::fs::read(fixture(fixture_name)).unwrap(),
                "{threads} thread(s): retrained model differs from tests/fixtures/{fixture_name}"
            );
        }
    }
}

#[test]
fn quality_gate_exits_3_and_writes_nothing() {
    let d = tmp();
    let model = path(&d, "m.bin");
    let err = fails(
        &["train", "--data", &data("telco_churn.csv"), "--out", &model, "--trees", "10", "--min-auc", "0.99"],
        3,
        "quality gate failed",
    );
    assert!(err.contains("below --min-auc 0.99"), "{err}");
    assert!(!Path::new(&model).exists());
    ok(&["train", "--data", &data("telco_churn.csv"), "--out", &model, "--trees", "10", "--min-auc", "0.6"]);
    assert!(Path::new(&model).exists());
}

#[test]
fn other_churn_files_work_with_flags_only() {
    // A bank-style file: target Exited 0/1, CRLF line ends, an integer id, one driving column.
    let d = tmp();
    let mut csv = String::from("RowNumber,Geography,Age,Balance,IsActiveMember,Exited\r\n");
    for i in 0..400u32 {
        let geo = ["France", "Spain", "Germany"][(i % 3) as usize];
        let age = 20 + (i * 7) % 50;
        let exited = (age > 45) as u32;
        csv.push_str(&format!("{i},{geo},{age},{}.5,{},{exited}\r\n", i * 13 % 1000, i % 2));
    }
    let file = write(&d, "bank.csv", &csv);
    let model = path(&d, "bank.bin");
    fails(&["train", "--data", &file, "--out", &model], 2, "no column named Churn");
    let t = json(&ok(&[
        "train",
        "--data",
        &file,
        "--out",
        &model,
        "--target",
        "Exited",
        "--drop",
        "RowNumber",
        "--trees",
        "20",
        "--json",
    ]));
    assert_eq!(t["schema"]["target"]["positive"], "1");
    assert_eq!(t["schema"]["id_column"], serde_json::Value::Null); // numeric ids are not detected
    let names: Vec<&str> =
        t["schema"]["fields"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Geography", "Age", "Balance", "IsActiveMember"]);
    assert!(t["card"]["test_metrics"]["roc_auc"].as_f64().unwrap() > 0.95);
    // Age drives the target: it gets most of the importance.
    let imp = t["card"]["importances"].as_array().unwrap();
    assert!(imp[1].as_f64().unwrap() > 0.5, "{imp:?}");
    let scored = ok(&["score", "--model", &model, "--data", &file, "--out", "-"]);
    assert_eq!(scored.lines().count(), 401);
    assert!(scored.starts_with("row,churn_probability"));
}

#[test]
fn crlf_and_lf_give_the_same_model() {
    let d = tmp();
    let lf = std::fs::read_to_string(data("telco_train.csv")).unwrap();
    let crlf = write(&d, "crlf.csv", &lf.replace('\n', "\r\n"));
    let a = path(&d, "a.bin");
    let b = path(&d, "b.bin");
    ok(&["train", "--data", &data("telco_train.csv"), "--out", &a, "--trees", "10", "--test-fraction", "0"]);
    ok(&["train", "--data", &crlf, "--out", &b, "--trees", "10", "--test-fraction", "0"]);
    let fa = json(&ok(&["inspect", &a, "--trees", "--json"]));
    let fb = json(&ok(&["inspect", &b, "--trees", "--json"]));
    assert_eq!(fa, fb);
    // Without --json the trees are indented text: one line a node.
    let text = ok(&["inspect", &a, "--trees"]);
    let nodes: usize = fa["trees"].as_array().unwrap().iter().map(|t| t["nodes"].as_array().unwrap().len()).sum();
    let splits = text.lines().filter(|l| l.contains(" <= ")).count();
    let leaves = text.lines().filter(|l| l.contains("|-- value ")).count();
    assert_eq!(2 * splits + leaves, nodes + splits, "{text}");
    assert_eq!(text.lines().filter(|l| l.starts_with("tree ")).count(), 10);
}

#[test]
fn bad_training_input_is_explained() {
    let d = tmp();
    let out = path(&d, "m.bin");
    let empty = write(&d, "empty.csv", "");
    fails(&["train", "--data", &empty, "--out", &out], 2, "is empty");
    let header_only = write(&d, "h.csv", "a,b,Churn\n");
    fails(&["train", "--data", &header_only, "--out", &out], 2, "no data rows");
    let no_target = write(&d, "nt.csv", "a,b\n1,2\n3,4\n");
    fails(&["train", "--data", &no_target, "--out", &out], 2, "the columns are: a, b");
    let three = write(&d, "3.csv", "a,Churn\n1,Yes\n2,No\n3,Maybe\n");
    fails(&["train", "--data", &three, "--out", &out], 2, "is not binary");
    let odd = write(&d, "odd.csv", "a,Churn\n1,left\n2,stayed\n");
    fails(&["train", "--data", &odd, "--out", &out], 2, "pass --positive");
    let mut text = String::from("tenure,Contract,Churn\n");
    for i in 0..300 {
        let tenure = if i == 41 { "abc".to_string() } else { (i % 70).to_string() };
        text.push_str(&format!("{tenure},{},{}\n", ["A", "B"][i % 2], ["Yes", "No"][i % 3 % 2]));
    }
    let junk = write(&d, "junk.csv", &text);
    let err = fails(&["train", "--data", &junk, "--out", &out], 2, "column tenure");
    assert!(err.contains("line 43") && err.contains("\"abc\""), "{err}");
    fails(&["train", "--data", &junk, "--out", &out, "--drop", "nope"], 2, "no column named \"nope\"");
    fails(&["train", "--data", &data("telco_train.csv"), "--out", &out, "--high", "0.3"], 2, "risk bands");
    assert!(!Path::new(&out).exists());
}

#[test]
fn bad_scoring_input_is_explained() {
    let d = tmp();
    let model = fixture("golden.bin");
    let test = std::fs::read_to_string(data("telco_test.csv")).unwrap();
    let mut lines: Vec<String> = test.lines().take(6).map(String::from).collect();
    lines[3] = lines[3].replace("Month-to-month", "Weekly").replace("One year", "Weekly").replace("Two year", "Weekly");
    let file = write(&d, "bad.csv", &(lines.join("\n") + "\n"));
    // An output folder that does not exist: the message names the file asked for, not the
    // temporary file beside it.
    let nowhere = path(&d, "nodir/x.csv");
    let err =
        fails(&["score", "--model", &model, "--data", &data("telco_test.csv"), "--out", &nowhere], 2, "nodir/x.csv");
    assert!(!err.contains("partial.tmp"), "{err}");
    let out = path(&d, "s.csv");
    let err = fails(
        &["score", "--model", &model, "--data", &file, "--out", &out],
        2,
        "line 4: Contract: unknown category \"Weekly\"",
    );
    assert!(err.contains("--on-error skip"), "{err}");
    assert!(!Path::new(&out).exists(), "no partial output on failure");
    let skipped = churn(&["score", "--model", &model, "--data", &file, "--out", &out, "--on-error", "skip"]);
    assert!(skipped.status.success());
    assert!(String::from_utf8_lossy(&skipped.stderr).contains("skipped 1 with errors"));
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 5);

    let missing_col = write(&d, "mc.csv", "customerID,tenure\nx,1\n");
    fails(
        &["score", "--model", &model, "--data", &missing_col, "--out", &out],
        2,
        "lacks column(s) the model needs: gender",
    );

    let bytes = std::fs::read(&model).unwrap();
    let truncated = path(&d, "t.bin");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    fails(&["score", "--model", &truncated, "--data", &file, "--out", &out], 2, "truncated at byte");
    let not_model = write(&d, "x.bin", "hello, world");
    fails(&["inspect", &not_model], 2, "not a churn model file");
    fails(&["evaluate", "--model", &model, "--data", &missing_col], 2, "lacks column");
}

#[test]
fn model_selection_by_default_records_a_leaderboard_and_trains_the_chosen_setting() {
    let d = tmp();
    let model = path(&d, "auto.bin");
    let t = json(&ok(&["train", "--no-registry", "--data", &data("telco_train.csv"), "--out", &model, "--json"]));
    let board = t["card"]["selection"].as_array().expect("a leaderboard");
    // Both kinds were cross-validated (5 folds), best mean first.
    assert_eq!(board.len(), 6, "{board:?}");
    assert!(board.iter().any(|c| c["model_kind"] == "rf") && board.iter().any(|c| c["model_kind"] == "gbt"));
    let means: Vec<f64> = board.iter().map(|c| c["cv_auc_mean"].as_f64().unwrap()).collect();
    assert!(means.windows(2).all(|w| w[0] >= w[1]), "{means:?}");
    assert!(board.iter().all(|c| c["folds"] == 5 && c["cv_auc_sd"].as_f64().unwrap() >= 0.0));
    // The model is one of the candidates, with exactly its settings.
    let params = &t["card"]["params"];
    let chosen: Vec<&serde_json::Value> = board
        .iter()
        .filter(|c| {
            c.as_object().unwrap().iter().all(|(k, v)| {
                k.starts_with("cv_") || ["folds", "nodes", "fit_seconds"].contains(&k.as_str()) || params[k] == *v
            })
        })
        .collect();
    assert_eq!(chosen.len(), 1, "params {params} not in {board:?}");
    let info = json(&ok(&["inspect", &model, "--json"]));
    assert_eq!(info["model_kind"], params["model_kind"]);
    assert_eq!(info["selection"], t["card"]["selection"]);
    // The text summary shows the leaderboard with the chosen line marked.
    let text = ok(&["inspect", &model]);
    assert!(text.contains("model selection (5-fold cross-validation") && text.contains("  * "), "{text}");
}

#[test]
fn fixed_settings_skip_the_search_and_bad_settings_are_refused() {
    let d = tmp();
    let model = path(&d, "m.bin");
    let base = ["train", "--no-registry", "--data", &data("telco_train.csv"), "--out", &model, "--json"];
    let rf = json(&ok(&[
        &base[..],
        &["--model", "rf", "--trees", "10", "--max-depth", "3", "--min-samples-leaf", "5", "--mtry", "2"],
    ]
    .concat()));
    assert_eq!(rf["card"]["selection"], serde_json::json!([]));
    assert_eq!(rf["card"]["params"]["model_kind"], "rf");
    assert_eq!(rf["card"]["params"]["trees"], 10);
    let gbt =
        json(&ok(
            &[&base[..], &["--model", "gbt", "--trees", "12", "--max-leaves", "4", "--learning-rate", "0.3"]].concat()
        ));
    assert_eq!(gbt["card"]["params"]["model_kind"], "gbt");
    assert_eq!(gbt["card"]["params"]["trees"], 12);
    assert_eq!(gbt["card"]["selection"].as_array().unwrap().len(), 4, "max depth is still chosen");
    fails(&[&base[..], &["--learning-rate", "0"]].concat(), 2, "--learning-rate must be in (0, 1], got 0");
    fails(&[&base[..], &["--time-budget=-1"]].concat(), 2, "--time-budget must be a number of seconds >= 0");
    fails(&[&base[..], &["--model", "xgb"]].concat(), 2, "invalid value 'xgb' for '--model <MODEL>'");
    // A spent budget stops the search after the first candidate, and says so.
    let quick = json(&ok(&[&base[..], &["--time-budget", "0"]].concat()));
    assert_eq!(quick["card"]["selection"].as_array().unwrap().len(), 1);
    let notes = quick["notes"].to_string();
    assert!(notes.contains("model selection stopped after 1 of 6 candidates"), "{notes}");
}

#[test]
fn a_file_too_small_for_cross_validation_trains_one_setting_with_a_note() {
    let d = tmp();
    let text = std::fs::read_to_string(data("telco_train.csv")).unwrap();
    let mut lines = text.lines();
    let mut small = vec![lines.next().unwrap().to_string()];
    small.extend(lines.clone().filter(|l| l.ends_with(",Yes")).take(3).map(String::from));
    small.extend(lines.filter(|l| l.ends_with(",No")).take(30).map(String::from));
    let csv = write(&d, "small.csv", &(small.join("\n") + "\n"));
    let model = path(&d, "small.bin");
    let out = churn(&["train", "--no-registry", "--data", &csv, "--out", &model, "--test-fraction", "0"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("note: model selection skipped: 5-fold cross-validation needs at least 5 churners and 5 others among the training rows (have 3 and 30)"), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("RandomForest"));
}

#[test]
fn scoring_across_chunks_equals_scoring_in_pieces() {
    // `churn score` works in chunks of 4,096 rows (buffers reused, an in-order writer): 9,000
    // rows cross two chunk borders. Scored whole, they must equal the same rows scored in
    // pieces (each piece is one chunk or less), with and without an id column, and with a bad
    // row past the first chunk under --on-error skip and fail.
    let d = tmp();
    let test = std::fs::read_to_string(data("telco_test.csv")).unwrap();
    let mut src = test.lines();
    let header = src.next().unwrap().to_string();
    let body: Vec<&str> = src.collect();
    let rows: Vec<String> = (0..9000)
        .map(|i| {
            let line = body[i % body.len()];
            // A unique id per row: the original id with the row number.
            let (id, rest) = line.split_once(',').unwrap();
            format!("{id}-{i},{rest}")
        })
        .collect();
    let model = fixture("golden_gbt.bin");
    let score = |name: &str, lines: &[String], hdr: &str, extra: &[&str]| -> String {
        let file = write(
            &d,
            name,
            &(std::iter::once(hdr.to_string()).chain(lines.iter().cloned()).collect::<Vec<_>>().join("\n") + "\n"),
        );
        ok(&[&["score", "--model", &model, "--data", &file, "--out", "-", "--raw", "--explain", "2"][..], extra]
            .concat())
    };
    let in_pieces = |lines: &[String], hdr: &str, extra: &[&str]| -> String {
        let mut out = String::new();
        for (k, piece) in lines.chunks(3000).enumerate() {
            let s = score(&format!("piece{k}.csv"), piece, hdr, extra);
            out.push_str(if k == 0 { &s } else { s.split_once('\n').unwrap().1 });
        }
        out
    };
    let whole = score("whole.csv", &rows, &header, &[]);
    assert_eq!(whole.lines().count(), 9001);
    assert!(whole == in_pieces(&rows, &header, &[]), "scored whole differs from scored in pieces");
    assert!(whole
        .lines()
        .nth(9000)
        .unwrap()
        .starts_with(&format!("{}-8999,", body[8999 % body.len()].split(',').next().unwrap())));

    // Without the id column: rows are numbered 1..=9000 across the chunks, with the same scores.
    let no_id: Vec<String> = rows.iter().map(|l| l.split_once(',').unwrap().1.to_string()).collect();
    let no_id_header = header.split_once(',').unwrap().1;
    let without = score("noid.csv", &no_id, no_id_header, &[]);
    let strip = |s: &str| s.lines().skip(1).map(|l| l.split_once(',').unwrap().1.to_string()).collect::<Vec<_>>();
    assert_eq!(strip(&whole), strip(&without));
    let numbers: Vec<String> = without.lines().skip(1).map(|l| l.split_once(',').unwrap().0.to_string()).collect();
    assert_eq!(numbers, (1..=9000).map(|i| i.to_string()).collect::<Vec<_>>());

    // A bad row past the first chunk (row 5,000, line 5,002).
    let mut bad = rows.clone();
    bad[5000] =
        bad[5000].replace("Month-to-month", "Weekly").replace("One year", "Weekly").replace("Two year", "Weekly");
    let bad_file = write(
        &d,
        "bad.csv",
        &(std::iter::once(header.clone()).chain(bad.iter().cloned()).collect::<Vec<_>>().join("\n") + "\n"),
    );
    fails(
        &["score", "--model", &model, "--data", &bad_file, "--out", &path(&d, "o.csv")],
        2,
        "line 5002: Contract: unknown category \"Weekly\"",
    );
    let skipped = score("bad2.csv", &bad, &header, &["--on-error", "skip"]);
    let mut expected: Vec<&str> = whole.lines().collect();
    expected.remove(5001); // header + rows before it
    assert_eq!(skipped.lines().collect::<Vec<_>>(), expected);
}

#[test]
fn evaluate_counts_unusable_labels_reports_them_and_leaves_them_out() {
    // The one label rule (the core's `Target::label`, also the page's): trimmed "Yes"/"No"
    // count; any other label is counted, the first one named, and left out of the metrics.
    let d = tmp();
    let text = std::fs::read_to_string(data("telco_test.csv")).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let churn_col = lines[0].split(',').position(|h| h == "Churn").unwrap();
    let relabel = |line: &str, label: &str| {
        let mut f: Vec<&str> = line.split(',').collect();
        f[churn_col] = label;
        f.join(",")
    };
    lines[4] = relabel(&lines[4], "maybe");
    lines[9] = relabel(&lines[9], "");
    lines[12] = relabel(&lines[12], " Yes ");
    let file = write(&d, "labels.csv", &(lines.join("\n") + "\n"));
    let model = fixture("golden.bin");
    let out = churn(&["evaluate", "--model", &model, "--data", &file, "--json"]);
    assert!(out.status.success());
    let e = json(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(e["unusable_labels"], 2);
    assert_eq!(e["rows"], 1409 - 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(r#"2 row(s) have a Churn that is neither "Yes" nor "No" (the first at line 5: "maybe"); they are left out of the metrics"#),
        "{err}"
    );
    // The metrics are those of the file without the two rows.
    let kept: Vec<&String> = lines.iter().enumerate().filter(|(i, _)| ![4, 9].contains(i)).map(|(_, l)| l).collect();
    let clean = write(&d, "clean.csv", &(kept.iter().map(|l| l.as_str()).collect::<Vec<_>>().join("\n") + "\n"));
    let c = json(&ok(&["evaluate", "--model", &model, "--data", &clean, "--json"]));
    assert_eq!(e["roc_auc"], c["roc_auc"]);
    assert_eq!(e["tp"], c["tp"]);
    // No usable label at all: an error, naming the first.
    let none: Vec<String> =
        std::iter::once(lines[0].clone()).chain(lines[1..4].iter().map(|l| relabel(l, "?"))).collect();
    let none = write(&d, "none.csv", &(none.join("\n") + "\n"));
    fails(&["evaluate", "--model", &model, "--data", &none], 2, "no row has a usable label");
}

/// Telco's held-out rows with a documented shift: 30 % of rows become new customers (tenure
/// 0–6 months) and 5 % pay with a method never seen in training.
fn shifted_telco_test(d: &tempfile::TempDir) -> String {
    let text = std::fs::read_to_string(data("telco_test.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (tenure, pay) = (col("tenure"), col("PaymentMethod"));
    let mut out = vec![header.join(",")];
    for (i, line) in lines.enumerate() {
        let mut f: Vec<String> = line.split(',').map(String::from).collect();
        if (i * 7) % 10 < 3 {
            f[tenure] = (i % 7).to_string();
        }
        if i % 20 == 0 {
            f[pay] = "Crypto wallet".into();
        }
        out.push(f.join(","));
    }
    write(d, "shifted.csv", &(out.join("\n") + "\n"))
}

#[test]
fn monitor_finds_the_shifted_fields_and_only_those() {
    let d = tmp();
    let model = fixture("golden.bin");
    // Held-out rows against the training rows: nothing moved.
    let same =
        json(&ok(&["monitor", "--model", &model, "--data", &data("telco_test.csv"), "--json", "--fail-on", "watch"]));
    assert_eq!(same["level"], "stable");
    assert_eq!(same["rows"], 1409);
    for f in same["fields"].as_array().unwrap() {
        assert!(f["psi"].as_f64().unwrap() < 0.05, "{f}");
    }
    assert!(same["score"]["psi"].as_f64().unwrap() < 0.05);
    assert_eq!(same["outcome"]["rows"], 1409);
    // The shift: tenure and PaymentMethod drifted, nothing else even at watch.
    let shifted = shifted_telco_test(&d);
    let out = churn(&["monitor", "--model", &model, "--data", &shifted, "--json", "--fail-on", "drifted"]);
    assert_eq!(out.status.code(), Some(4), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("drift is at level drifted (--fail-on drifted)"));
    let r = json(&String::from_utf8_lossy(&out.stdout));
    let fields = r["fields"].as_array().unwrap();
    let psi: Vec<f64> = fields.iter().map(|f| f["psi"].as_f64().unwrap()).collect();
    assert!(psi.windows(2).all(|w| w[0] >= w[1]), "most drifted first: {psi:?}");
    for f in fields {
        let shifted_field = ["tenure", "PaymentMethod"].contains(&f["field"].as_str().unwrap());
        assert_eq!(f["level"] == "drifted", shifted_field, "{f}");
        if !shifted_field {
            assert!(f["psi"].as_f64().unwrap() < 0.1, "{f}");
        }
    }
    // The new payment method is refused by this model (unknown categories are errors): counted
    // as unseen and invalid, not dropped silently.
    let pay = fields.iter().find(|f| f["field"] == "PaymentMethod").unwrap();
    assert!(pay["unseen"]["current"].as_f64().unwrap() > 0.04 && pay["invalid"].as_f64().unwrap() > 0.04, "{pay}");
    assert_eq!(r["invalid_rows"].as_u64().unwrap() + r["rows"].as_u64().unwrap(), 1409);
    // The text report, and the same figures whatever the threads (profiles merge exactly).
    let report = path(&d, "report.html");
    let text = ok(&["monitor", "--model", &model, "--data", &shifted, "--html", &report]);
    assert!(text.contains("DRIFTED") && text.contains("tenure"), "{text}");
    // The HTML report: self-contained, one chart for the score and one per field.
    let html = std::fs::read_to_string(&report).unwrap();
    assert_eq!(html.matches("<svg role=\"img\"").count(), 1 + fields.len(), "charts");
    assert!(html.contains("<h2 id=\"f") && html.contains(">drifted<") && !html.contains("<script"));
    let one = ok(&["monitor", "--model", &model, "--data", &shifted, "--json", "--threads", "1"]);
    let two = ok(&["monitor", "--model", &model, "--data", &shifted, "--json", "--threads", "2"]);
    assert_eq!(one, two);
    // A model file from before profiles says what to do.
    fails(
        &["monitor", "--model", &fixture("format_v2.bin"), "--data", &shifted],
        2,
        "has no training profile (format version 2",
    );
}

#[test]
fn documented_training_flags_do_what_the_docs_say() {
    // Issue 17's untested flags: a non-default risk policy, --unknown-category most-frequent,
    // --features, --id COL and --id none; each checked end to end through scoring.
    let d = tmp();
    let m = path(&d, "m.bin");
    let base = ["train", "--no-registry", "--data", &data("telco_train.csv"), "--out", &m, "--json"];
    let t = json(&ok(&[
        &base[..],
        &[
            "--model",
            "rf",
            "--trees",
            "10",
            "--threshold",
            "0.3",
            "--high",
            "0.6",
            "--medium",
            "0.2",
            "--decimals",
            "2",
            "--unknown-category",
            "most-frequent",
            "--features",
            "tenure,Contract,MonthlyCharges",
            "--id",
            "customerID",
        ],
    ]
    .concat()));
    let names: Vec<&str> =
        t["schema"]["fields"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["tenure", "Contract", "MonthlyCharges"]);
    assert_eq!(t["schema"]["id_column"], "customerID");
    assert_eq!(t["policy"], serde_json::json!({"threshold": 0.3, "high": 0.6, "medium": 0.2, "decimals": 2}));
    // Scoring applies that policy: two decimals, Yes above 0.3, HIGH from 0.6, MEDIUM from 0.2.
    let cases = write(
        &d,
        "c.csv",
        "customerID,tenure,Contract,MonthlyCharges\nA,1,Month-to-month,95\nB,70,Two year,20\nC,5,Weekly,80\n",
    );
    let out = ok(&["score", "--model", &m, "--data", &cases, "--out", "-", "--raw"]);
    let rows: Vec<Vec<&str>> = out.lines().skip(1).map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.iter().map(|r| r[0]).collect::<Vec<_>>(), ["A", "B", "C"], "ids carried: {out}");
    for r in &rows {
        let raw: f64 = r[4].parse().unwrap();
        assert_eq!(r[1].parse::<f64>().unwrap(), (raw * 100.0).round() / 100.0, "{out}");
        assert!(r[1].split('.').nth(1).is_none_or(|f| f.len() <= 2), "{out}");
        assert_eq!(r[2], if raw > 0.3 { "Yes" } else { "No" });
        assert_eq!(
            r[3],
            if raw >= 0.6 {
                "HIGH"
            } else if raw >= 0.2 {
                "MEDIUM"
            } else {
                "LOW"
            }
        );
    }
    // "Weekly" is unknown: scored as the most frequent training level (Month-to-month), not refused.
    let weekly = ok(&["score", "--model", &m, "--data", &cases, "--out", "-", "--raw"]);
    let month = write(&d, "m.csv", "customerID,tenure,Contract,MonthlyCharges\nC,5,Month-to-month,80\n");
    let as_month = ok(&["score", "--model", &m, "--data", &month, "--out", "-", "--raw"]);
    assert_eq!(weekly.lines().nth(3).unwrap(), as_month.lines().nth(1).unwrap());
    // --id none: no id column; rows are numbered.
    let t =
        json(&ok(
            &[&base[..], &["--model", "rf", "--trees", "5", "--id", "none", "--features", "tenure,Contract"]].concat()
        ));
    assert_eq!(t["schema"]["id_column"], serde_json::Value::Null);
    let out = ok(&["score", "--model", &m, "--data", &month, "--out", "-"]);
    assert!(out.starts_with("row,churn_probability,") && out.lines().nth(1).unwrap().starts_with("1,"), "{out}");
}

/// `churn score` streams: its peak memory does not grow with the file. A file 5× larger (704,500
/// rows against 140,900, 74 MB more text) peaks within 12 MB of the smaller one's peak (both are
/// past the pipeline's fill-up); reading the file whole would add at least its size. The peak is the kernel's high-water mark
/// (`VmHWM` in /proc/PID/status), read while the command runs.
#[cfg(target_os = "linux")]
#[test]
fn score_memory_is_flat_in_the_file_size() {
    let dir = tmp();
    let text = std::fs::read_to_string(data("telco_test.csv")).unwrap();
    let (head, body) = text.split_once('\n').unwrap();
    let body = body.trim_end_matches('\n');
    let copies = |name: &str, times: usize| {
        let mut s = String::with_capacity(head.len() + times * (body.len() + 1));
        s.push_str(head);
        for _ in 0..times {
            s.push('\n');
            s.push_str(body);
        }
        s.push('\n');
        write(&dir, name, &s)
    };
    let (small, big) = (copies("small.csv", 100), copies("big.csv", 500));
    let model = fixture("golden.bin");
    let peak_kb = |csv: &str| -> u64 {
        let out = path(&dir, "out.csv");
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_churn"))
            .args(["score", "--model", &model, "--data", csv, "--out", &out, "--threads", "2"])
            .spawn()
            .unwrap();
        let status = format!("/proc/{}/status", child.id());
        let mut hwm = 0;
        loop {
            if let Ok(s) = std::fs::read_to_string(&status) {
                let kb =
                    s.lines().find_map(|l| l.strip_prefix("VmHWM:")).map(|v| v.trim().trim_end_matches("kB").trim());
                if let Some(kb) = kb.and_then(|v| v.parse::<u64>().ok()) {
                    hwm = hwm.max(kb);
                }
            }
            if let Some(st) = child.try_wait().unwrap() {
                assert!(st.success());
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let rows = std::fs::read_to_string(&out).unwrap().lines().count() - 1;
        assert_eq!(rows, if csv == small { 140_900 } else { 704_500 });
        hwm
    };
    let (s, b) = (peak_kb(&small), peak_kb(&big));
    assert!(s > 1000, "a peak was read ({s} kB)");
    assert!(b < s + 12 * 1024, "peak {s} kB scoring 140,900 rows but {b} kB scoring 704,500");
}

//! Loading a training CSV with polars and turning it into a checked plan: which column is the
//! target, which is the id, what kind every feature is, and the schema the model will carry.
//!
//! Every cell is read as text and classified here, with the core's own number parser, so a value
//! is read the same way at training time and at scoring time.
//!
//! Kinds:
//! - numeric: every non-blank cell parses as a number. Blanks are missing values and become the
//!   training median (the rule is stored in the model). Integer-coded columns such as
//!   `SeniorCitizen` (0/1) stay numeric: a tree splits a 0/1 column at 0.5 exactly as it would
//!   split two categories, and scoring accepts the number or the numeric string.
//! - numeric with a few bad cells (at most 1 % of rows and 3 distinct values, the rest numbers):
//!   an error naming the column, the line and the value — never silently categorical.
//! - categorical: anything else. Levels are coded in order of their churn rate on the training
//!   rows, so a threshold on the code separates riskier levels from safer ones.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use inference_wasm::schema::parse_number;
use inference_wasm::{CategoricalField, Field, FieldKind, Missing, NumericField, Schema, Target, Unknown};
use polars::prelude::*;

/// The raw table: column names and every cell as optional text (None = empty cell).
pub struct Table {
    pub names: Vec<String>,
    df: DataFrame,
}

impl Table {
    /// Reads a CSV with a header (LF or CRLF) into text columns.
    pub fn read(path: &Path, bytes: Vec<u8>) -> Result<Table> {
        if bytes.iter().all(|b| b.is_ascii_whitespace()) {
            bail!("{} is empty", path.display());
        }
        let df = CsvReadOptions::default()
            .with_has_header(true)
            // Everything as text: this module classifies columns itself (see the module docs).
            .with_infer_schema_length(Some(0))
            .with_raise_if_empty(true)
            .into_reader_with_file_handle(std::io::Cursor::new(bytes))
            .finish()
            .map_err(anyhow::Error::from)
            .with_context(|| format!("reading {} as CSV", path.display()))?;
        if df.height() == 0 {
            bail!("{} has a header but no data rows", path.display());
        }
        let names = df.get_column_names().iter().map(|s| s.to_string()).collect();
        Ok(Table { names, df })
    }

    pub fn rows(&self) -> usize {
        self.df.height()
    }

    /// The cells of one column, `None` for empty cells.
    pub fn column(&self, name: &str) -> Result<Vec<Option<&str>>> {
        self.column_rows(name, 0..self.rows())
    }

    /// The cells of one column in rows `rows` (borrowed from the table, not copied).
    pub fn column_rows(&self, name: &str, rows: std::ops::Range<usize>) -> Result<Vec<Option<&str>>> {
        let mut out = Vec::with_capacity(rows.len());
        let mut offset = 0;
        for chunk in self.df.column(name)?.str()?.downcast_iter() {
            let (lo, hi) = (rows.start.max(offset), rows.end.min(offset + chunk.len()));
            out.extend((lo..hi).map(|r| chunk.get(r - offset)));
            offset += chunk.len();
            if offset >= rows.end {
                break;
            }
        }
        Ok(out)
    }

    pub fn find(&self, name: &str) -> Option<&str> {
        self.names.iter().find(|n| n.as_str() == name).map(|s| s.as_str())
    }

    fn list(&self) -> String {
        self.names.join(", ")
    }
}

/// What the user asked for, before checking it against the file.
pub struct Selection<'a> {
    pub target: Option<&'a str>,
    pub positive: Option<&'a str>,
    /// `Some("none")` turns auto-detection off.
    pub id: Option<&'a str>,
    pub drop: &'a [String],
    pub features: &'a [String],
    pub unknown_most_frequent: bool,
    /// Columns are classified on this many threads.
    pub threads: usize,
}

/// The validated plan: the schema, the labels and the notes worth telling the user.
pub struct Plan {
    pub schema: Schema,
    /// Churn label of every row.
    pub labels: Vec<bool>,
    /// Rows held out for testing (their statistics are not used by the schema).
    pub is_test: Vec<bool>,
    /// Things decided automatically ("detected id column customerID").
    pub notes: Vec<String>,
}

/// Line number in the file of data row `r` (the header is line 1).
pub fn line_of(r: usize) -> usize {
    r + 2
}

/// Chooses target, id and features, checks the target is binary and classifies every feature.
/// `split(labels)` marks the held-out rows; only the other rows' statistics (medians, level
/// order) go into the schema.
pub fn plan(table: &Table, sel: &Selection, split: impl FnOnce(&[bool]) -> Vec<bool>) -> Result<Plan> {
    let mut notes = Vec::new();
    let target = match sel.target {
        Some(t) => table
            .find(t)
            .with_context(|| format!("no column named {t:?} for --target; the columns are: {}", table.list()))?,
        None => {
            table.names.iter().find(|n| n.eq_ignore_ascii_case("churn")).map(|s| s.as_str()).with_context(|| {
                format!(
                    "no column named Churn; say which column is the target with --target (the columns are: {})",
                    table.list()
                )
            })?
        }
    };
    let target_cells = table.column(target)?;
    let (positive, negative) = binary_labels(target, &target_cells, sel.positive)?;
    let labels: Vec<bool> = target_cells.iter().map(|c| c.map(str::trim) == Some(&positive)).collect();
    let is_test = split(&labels);
    let train_rows = |r: usize| !is_test[r];

    for name in sel.drop.iter().chain(sel.features) {
        if table.find(name).is_none() {
            bail!("no column named {name:?}; the columns are: {}", table.list());
        }
    }
    let id = match sel.id {
        Some("none") => None,
        Some(id) => Some(
            table
                .find(id)
                .with_context(|| format!("no column named {id:?} for --id; the columns are: {}", table.list()))?
                .to_string(),
        ),
        None => {
            let found = detect_id(table, target, sel)?;
            if let Some(id) = &found {
                notes.push(format!(
                    "detected id column {id} (text, every value unique): not used as a feature, carried into scores (--id none to turn off)"
                ));
            }
            found
        }
    };
    if id.as_deref() == Some(target) {
        bail!("the id column cannot also be the target ({target})");
    }
    let candidates: Vec<&String> = if sel.features.is_empty() {
        table
            .names
            .iter()
            .filter(|n| n.as_str() != target && Some(n.as_str()) != id.as_deref() && !sel.drop.contains(n))
            .collect()
    } else {
        sel.features.iter().filter(|n| !sel.drop.contains(n)).collect()
    };
    if candidates.is_empty() {
        bail!("no feature columns left (target {target}, id {id:?}, dropped {:?})", sel.drop);
    }
    if candidates.iter().any(|n| n.as_str() == target) {
        bail!("the target {target} cannot also be a feature");
    }
    // Columns are independent: classified in parallel, results (and the first error) in order.
    let kinds = par_map(&candidates, sel.threads, |name| {
        classify(name, &table.column(name)?, &labels, &train_rows, sel.unknown_most_frequent)
    });
    let mut fields = Vec::with_capacity(candidates.len());
    for (name, kind) in candidates.into_iter().zip(kinds) {
        fields.push(Field { name: name.clone(), kind: kind? });
    }
    Ok(Plan {
        schema: Schema { fields, id_column: id, target: Target { column: target.to_string(), positive, negative } },
        labels,
        is_test,
        notes,
    })
}

/// `f` over `items` on up to `threads` scoped threads (items dealt out in turn), results in
/// item order.
pub fn par_map<T: Sync, R: Send>(items: &[T], threads: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = threads.clamp(1, items.len().max(1));
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    let mut out: Vec<Option<R>> = items.iter().map(|_| None).collect();
    std::thread::scope(|s| {
        let f = &f;
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    items.iter().enumerate().skip(t).step_by(threads).map(|(i, x)| (i, f(x))).collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            for (i, r) in h.join().expect("a worker thread panicked") {
                out[i] = Some(r);
            }
        }
    });
    out.into_iter().map(|r| r.expect("every item is mapped")).collect()
}

/// The two values of the target and which one is churn.
fn binary_labels(target: &str, cells: &[Option<&str>], positive: Option<&str>) -> Result<(String, String)> {
    let mut values: Vec<&str> = Vec::new();
    for (r, c) in cells.iter().enumerate() {
        let v = c.map(str::trim).unwrap_or("");
        if v.is_empty() {
            bail!("target {target} is empty at line {}", line_of(r));
        }
        if !values.contains(&v) {
            values.push(v);
            if values.len() > 2 {
                bail!(
                    "target {target} is not binary: it has more than two values ({}, ...); churn needs two classes",
                    values.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>().join(", ")
                );
            }
        }
    }
    if values.len() < 2 {
        bail!("target {target} has only one value ({:?}): nothing to learn", values[0]);
    }
    values.sort();
    let pos = match positive {
        Some(p) => values
            .iter()
            .find(|v| **v == p)
            .with_context(|| {
                format!("--positive {p:?} is not a value of {target} (values: {:?}, {:?})", values[0], values[1])
            })?
            .to_string(),
        None => {
            const PAIRS: [(&str, &str); 4] = [("yes", "no"), ("1", "0"), ("true", "false"), ("1.0", "0.0")];
            let lower: Vec<String> = values.iter().map(|v| v.to_ascii_lowercase()).collect();
            let hit = PAIRS.iter().find(|(p, n)| lower.contains(&p.to_string()) && lower.contains(&n.to_string()));
            match hit {
                Some((p, _)) => values[lower.iter().position(|v| v == p).unwrap()].to_string(),
                None => bail!(
                    "cannot tell which value of {target} means churn ({:?} or {:?}); pass --positive VALUE",
                    values[0],
                    values[1]
                ),
            }
        }
    };
    let neg = values.iter().find(|v| **v != pos).unwrap().to_string();
    Ok((pos, neg))
}

/// An id column: text (not numeric), no blanks, every value unique, not the target or chosen away.
fn detect_id(table: &Table, target: &str, sel: &Selection) -> Result<Option<String>> {
    for name in &table.names {
        if name == target || sel.drop.contains(name) || sel.features.contains(name) {
            continue;
        }
        let cells = table.column(name)?;
        let mut seen = std::collections::HashSet::with_capacity(cells.len());
        let mut numeric = true;
        let unique = cells.iter().all(|c| match c.map(str::trim) {
            Some(v) if !v.is_empty() => {
                numeric &= parse_number(v).is_some();
                seen.insert(v)
            }
            _ => false,
        });
        if unique && !numeric && cells.len() > 1 {
            return Ok(Some(name.clone()));
        }
    }
    Ok(None)
}

fn classify(
    name: &str,
    cells: &[Option<&str>],
    labels: &[bool],
    train_rows: &impl Fn(usize) -> bool,
    unknown_most_frequent: bool,
) -> Result<FieldKind> {
    let mut numbers = 0usize;
    let mut bad: Vec<(usize, &str)> = Vec::new();
    let mut bad_distinct: Vec<&str> = Vec::new();
    for (r, c) in cells.iter().enumerate() {
        let v = c.map(str::trim).unwrap_or("");
        if v.is_empty() {
            continue;
        }
        match parse_number(v) {
            Some(x) if x.is_finite() => numbers += 1,
            _ => {
                if !bad_distinct.contains(&v) && bad_distinct.len() <= 3 {
                    bad_distinct.push(v);
                }
                if bad.len() < 5 {
                    bad.push((r, v));
                }
                if bad_distinct.len() > 3 {
                    break;
                }
            }
        }
    }
    let non_blank = cells.iter().filter(|c| c.is_some_and(|v| !v.trim().is_empty())).count();
    if numbers > 0 && numbers == non_blank {
        return Ok(FieldKind::Numeric(numeric(cells, train_rows)));
    }
    let bad_count = non_blank - numbers;
    if numbers > 0 && bad_distinct.len() <= 3 && bad_count * 100 <= non_blank && bad_count <= 1000 {
        let (r, v) = bad[0];
        bail!(
            "column {name} is numeric except for {bad_count} cell(s): line {} has {v:?}{} (fix or blank them, or --drop {name})",
            line_of(r),
            if bad.len() > 1 {
                format!(
                    "; also {}",
                    bad[1..].iter().map(|(r, v)| format!("line {} {v:?}", line_of(*r))).collect::<Vec<_>>().join(", ")
                )
            } else {
                String::new()
            }
        );
    }
    Ok(FieldKind::Categorical(categorical(cells, labels, train_rows, unknown_most_frequent)))
}

fn numeric(cells: &[Option<&str>], train_rows: &impl Fn(usize) -> bool) -> NumericField {
    let mut values: Vec<f64> = cells
        .iter()
        .enumerate()
        .filter(|(r, _)| train_rows(*r))
        .filter_map(|(_, c)| c.and_then(|v| parse_number(v.trim())))
        .filter(|x| x.is_finite())
        .collect();
    if values.is_empty() {
        // Every training cell is blank: fall back to all rows so the field still has a rule.
        values = cells.iter().filter_map(|c| c.and_then(|v| parse_number(v.trim()))).collect();
    }
    values.sort_by(f64::total_cmp);
    let median = match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    };
    NumericField {
        missing: Missing::Replace(median),
        min: values.first().copied().unwrap_or(0.0),
        max: values.last().copied().unwrap_or(0.0),
        integer: values.iter().all(|x| x.fract() == 0.0),
    }
}

fn categorical(
    cells: &[Option<&str>],
    labels: &[bool],
    train_rows: &impl Fn(usize) -> bool,
    unknown_most_frequent: bool,
) -> CategoricalField {
    // level → (rows in training, churners in training, first row seen)
    let mut stats: HashMap<&str, (u64, u64, usize)> = HashMap::new();
    let (mut all, mut pos) = (0u64, 0u64);
    for (r, c) in cells.iter().enumerate() {
        let v = c.map(str::trim).unwrap_or("");
        let e = stats.entry(v).or_insert((0, 0, r));
        if train_rows(r) {
            e.0 += 1;
            e.1 += labels[r] as u64;
            all += 1;
            pos += labels[r] as u64;
        }
    }
    let prior = if all == 0 { 0.0 } else { pos as f64 / all as f64 };
    let rate = |&(n, p, _): &(u64, u64, usize)| if n == 0 { prior } else { p as f64 / n as f64 };
    let mut levels: Vec<(&str, (u64, u64, usize))> = stats.into_iter().collect();
    // By churn rate, then by name: the order is a pure function of the data.
    levels.sort_by(|a, b| rate(&a.1).total_cmp(&rate(&b.1)).then(a.0.cmp(b.0)));
    let unknown = if unknown_most_frequent {
        let (code, _) = levels
            .iter()
            .enumerate()
            .max_by(|a, b| (a.1 .1 .0).cmp(&b.1 .1 .0).then(b.0.cmp(&a.0)))
            .expect("a column has at least one level");
        Unknown::AsLevel(code as u32)
    } else {
        Unknown::Error
    };
    CategoricalField { levels: levels.into_iter().map(|(l, _)| l.to_string()).collect(), unknown }
}

/// Indices of the test rows: a stratified random `fraction` of each class (seeded, stable).
pub fn stratified_test_rows(labels: &[bool], fraction: f64, seed: u64) -> Vec<bool> {
    let mut is_test = vec![false; labels.len()];
    if fraction <= 0.0 {
        return is_test;
    }
    for idx in shuffled_by_class(labels, seed ^ 0x5EED_5EED_5EED_5EED) {
        let n_test = ((idx.len() as f64) * fraction).round() as usize;
        for &r in &idx[..n_test.min(idx.len())] {
            is_test[r] = true;
        }
    }
    is_test
}

/// The rows of each class (churners first), each list shuffled (Fisher-Yates) by one generator
/// seeded with `seed`: the stratified split and the cross-validation folds both deal from it.
pub fn shuffled_by_class(labels: &[bool], seed: u64) -> [Vec<usize>; 2] {
    let mut rng = SplitMix64(seed);
    [true, false].map(|class| {
        let mut idx: Vec<usize> = (0..labels.len()).filter(|&r| labels[r] == class).collect();
        for i in (1..idx.len()).rev() {
            let j = (rng.next() % (i as u64 + 1)) as usize;
            idx.swap(i, j);
        }
        idx
    })
}

/// Rows `rows` of a row-major matrix with `n_features` columns, as a new matrix.
pub fn gather_rows(x: &[f64], n_features: usize, rows: &[usize]) -> Vec<f64> {
    rows.iter().flat_map(|&r| x[r * n_features..(r + 1) * n_features].iter().copied()).collect()
}

/// A small, well-known PRNG: deterministic on every platform, no dependency.
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_of_a_column_reads_across_chunks() {
        // Three chunks (as a large CSV can give), with empty cells.
        let part = |cells: &[Option<&str>]| DataFrame::new(cells.len(), vec![Column::new("a".into(), cells)]).unwrap();
        let mut df = part(&[Some("x0"), None, Some("x2")]);
        df.vstack_mut(&part(&[Some("x3"), Some("x4")])).unwrap();
        df.vstack_mut(&part(&[None, Some("x6"), Some("x7")])).unwrap();
        assert_eq!(df.column("a").unwrap().str().unwrap().chunks().len(), 3);
        let table = Table { names: vec!["a".into()], df };
        let all = [Some("x0"), None, Some("x2"), Some("x3"), Some("x4"), None, Some("x6"), Some("x7")];
        assert_eq!(table.column("a").unwrap(), all);
        for start in 0..=8 {
            for end in start..=8 {
                assert_eq!(table.column_rows("a", start..end).unwrap(), all[start..end], "{start}..{end}");
            }
        }
        assert!(table.column_rows("b", 0..1).is_err());
    }

    #[test]
    fn labels_are_detected() {
        let c = |v: &[&'static str]| v.iter().map(|s| Some(*s)).collect::<Vec<_>>();
        assert_eq!(binary_labels("Churn", &c(&["No", "Yes", "No"]), None).unwrap(), ("Yes".into(), "No".into()));
        assert_eq!(binary_labels("Exited", &c(&["0", "1"]), None).unwrap(), ("1".into(), "0".into()));
        assert!(binary_labels("t", &c(&["a", "b"]), None).unwrap_err().to_string().contains("--positive"));
        assert_eq!(binary_labels("t", &c(&["a", "b"]), Some("b")).unwrap(), ("b".into(), "a".into()));
        assert!(binary_labels("t", &c(&["a", "b", "c"]), None).unwrap_err().to_string().contains("not binary"));
        assert!(binary_labels("t", &c(&["a", "a"]), None).unwrap_err().to_string().contains("only one value"));
    }

    #[test]
    fn numeric_with_junk_is_an_error_naming_line_and_value() {
        let mut cells: Vec<Option<&str>> = (0..200).map(|_| Some("5")).collect();
        cells[7] = Some("abc");
        let labels = vec![false; 200];
        let err = classify("tenure", &cells, &labels, &|_| true, false).unwrap_err().to_string();
        assert!(err.contains("column tenure") && err.contains("line 9") && err.contains("\"abc\""), "{err}");
    }

    #[test]
    fn blanks_in_numbers_are_missing_with_the_median() {
        let cells = vec![Some("1"), Some(" "), Some("3"), None, Some("10")];
        let FieldKind::Numeric(n) = classify("x", &cells, &[false; 5], &|_| true, false).unwrap() else {
            panic!("numeric expected")
        };
        assert_eq!(n.missing, Missing::Replace(3.0));
        assert_eq!((n.min, n.max, n.integer), (1.0, 10.0, true));
    }

    #[test]
    fn levels_are_ordered_by_churn_rate() {
        let cells = vec![Some("a"), Some("a"), Some("b"), Some("b"), Some("c")];
        let labels = vec![true, true, false, true, false];
        // Rates: a 1.0, b 0.5, c 0.0.
        let FieldKind::Categorical(c) = classify("x", &cells, &labels, &|_| true, false).unwrap() else {
            panic!("categorical expected")
        };
        assert_eq!(c.levels, vec!["c", "b", "a"]);
    }

    #[test]
    fn split_is_stratified_and_seeded() {
        let labels: Vec<bool> = (0..1000).map(|i| i % 4 == 0).collect();
        let t = stratified_test_rows(&labels, 0.2, 42);
        assert_eq!(t.iter().filter(|&&x| x).count(), 200);
        assert_eq!((0..1000).filter(|&r| t[r] && labels[r]).count(), 50);
        assert_eq!(t, stratified_test_rows(&labels, 0.2, 42));
        assert_ne!(t, stratified_test_rows(&labels, 0.2, 43));
    }
}

//! Output rules, once for every surface: how a CSV's columns are found, how a bad row is
//! reported, how a scored row is written, how a label is read for evaluation, and how a number
//! becomes text.
//!
//! `churn score`/`churn evaluate` and the page's CSV scoring (through the JS bindings) both call
//! this module, so a scored file and an error list are the same bytes on both.

use std::borrow::Cow;
use std::fmt;

use crate::doc::{self, Doc};
use crate::metrics::{roc_curve, Metrics};
use crate::schema::Target;
use crate::value::{quote, InputError};
use crate::{Explanation, Mark, Model, Value};

/// Writes `x` as the shortest decimal that reads back as the same `f64`, never in exponent
/// notation: `0.1`, `0.0000001`, `1000000000000000000000`, `-0`, `NaN`, `inf`, `-inf`. This is
/// Rust's `{}` for f64, and JS's `String(x)` without the exponent. One difference with Rust's
/// `{}`: when two shortest decimals are equally near (possible only for large numbers with few
/// fraction bits, e.g. 26829767983277.3125; never for a probability), the even digit wins, as
/// in JS.
///
/// The digits come from `ryu` natively and from the JS engine's `Number.prototype.toString` in
/// wasm (the same digits by definition: shortest, nearest, ties to even; tested on both), which
/// keeps ~7 KB of float printing out of the wasm; the notation is rewritten here, once.
pub fn write_number(out: &mut String, x: f64) {
    if x.is_nan() {
        return out.push_str("NaN");
    }
    if x.is_infinite() {
        return out.push_str(if x > 0.0 { "inf" } else { "-inf" });
    }
    if x == 0.0 {
        return out.push_str(if x.is_sign_negative() { "-0" } else { "0" });
    }
    #[cfg(not(target_arch = "wasm32"))]
    let mut buf = ryu::Buffer::new();
    #[cfg(not(target_arch = "wasm32"))]
    let s = buf.format_finite(x);
    #[cfg(target_arch = "wasm32")]
    let text = crate::wasm::shortest_digits(x);
    #[cfg(target_arch = "wasm32")]
    let s = text.as_str();
    let s = match s.strip_prefix('-') {
        Some(rest) => {
            out.push('-');
            rest
        }
        None => s,
    };
    // `d.ddd`, `0.000ddd` or `d.ddde±x`: gather the digits and where the point goes.
    let (mantissa, exp) = match s.split_once('e') {
        Some((m, e)) => (m, parse_exponent(e)),
        None => (s, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all: Vec<u8> = int.bytes().chain(frac.bytes()).collect();
    let lead = all.iter().take_while(|&&d| d == b'0').count();
    let digits = &all[lead..];
    let digits = &digits[..digits.len() - digits.iter().rev().take_while(|&&d| d == b'0').count()];
    let point = int.len() as i32 + exp - lead as i32;
    let n = digits.len() as i32;
    let text = |d: &[u8]| std::str::from_utf8(d).unwrap_or_default().to_string();
    if point <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-point) as usize));
        out.push_str(&text(digits));
    } else if point >= n {
        out.push_str(&text(digits));
        out.extend(std::iter::repeat_n('0', (point - n) as usize));
    } else {
        out.push_str(&text(&digits[..point as usize]));
        out.push('.');
        out.push_str(&text(&digits[point as usize..]));
    }
}

/// The exponent (`-7`, `16`, `+21`): at most three digits.
fn parse_exponent(e: &str) -> i32 {
    let (sign, digits) = match e.strip_prefix('-') {
        Some(d) => (-1, d),
        None => (1, e.trim_start_matches('+')),
    };
    sign * digits.bytes().fold(0i32, |n, d| n * 10 + i32::from(d - b'0'))
}

/// [`write_number`] into a new string.
pub fn number(x: f64) -> String {
    let mut s = String::new();
    write_number(&mut s, x);
    s
}

/// A CSV field as written: quoted when it holds a comma, a quote or a line break (quotes
/// doubled), else as it is.
pub fn csv_field(v: &str) -> Cow<'_, str> {
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\"")).into()
    } else {
        v.into()
    }
}

/// One CSV record as the host read it.
pub trait Record {
    /// Number of fields.
    fn width(&self) -> usize;
    /// Field `i`, or `None` when it is not valid UTF-8 (or past the end).
    fn get(&self, i: usize) -> Option<&str>;
    /// Field `i` for display: invalid UTF-8 replaced, "" past the end.
    fn show(&self, i: usize) -> Cow<'_, str> {
        self.get(i).unwrap_or_default().into()
    }
}

impl<S: AsRef<str>> Record for [S] {
    fn width(&self) -> usize {
        self.len()
    }
    fn get(&self, i: usize) -> Option<&str> {
        <[S]>::get(self, i).map(AsRef::as_ref)
    }
}

/// Why a CSV row was not scored (or its label not used).
#[derive(Clone, Debug, PartialEq)]
pub enum RowProblem {
    /// The record has another number of fields than the header.
    Width { got: usize, header: usize },
    /// A column the model reads is not valid UTF-8 (1-based column number).
    NotUtf8 { column: usize },
    /// The model's verdict on the fields.
    Input(InputError),
}

/// A bad row: where it is and what is wrong, field by field.
#[derive(Clone, Debug, PartialEq)]
pub struct RowError {
    /// Data row, 1-based (the header is not a row).
    pub row: u64,
    /// Line in the file where the record starts, as the CSV reader counts it (0 if unknown).
    pub line: u64,
    pub problem: RowProblem,
}

impl RowError {
    /// What is wrong, without the position (`tenure: expected a number, got "abc"`).
    pub fn message(&self) -> String {
        match &self.problem {
            RowProblem::Width { got, header } => format!("has {got} fields, the header has {header}"),
            RowProblem::NotUtf8 { column } => format!("column {column} is not valid UTF-8"),
            RowProblem::Input(e) => e.to_string(),
        }
    }

    /// `(field, message)` for each problem; the field is `None` when the whole row is wrong.
    pub fn details(&self) -> Vec<(Option<&str>, String)> {
        match &self.problem {
            RowProblem::Input(e) => e.errors.iter().map(|fe| (Some(fe.field.as_str()), fe.message())).collect(),
            _ => vec![(None, self.message())],
        }
    }
}

impl fmt::Display for RowError {
    /// `line 7: tenure: expected a number, got "abc"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message())
    }
}

/// The columns of a scored file, after the id: `churn_probability` (rounded by the policy),
/// `churn_prediction`, `risk_level`, then optionally `churn_probability_raw` and, for each of
/// the top `explain` factors, `why_k`, `why_k_value`, `why_k_contribution`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ScoredColumns {
    pub raw: bool,
    pub explain: usize,
}

/// The first column's name when the input has no id column: rows are numbered from 1.
pub const ROW_COLUMN: &str = "row";

impl ScoredColumns {
    /// The names of the scored columns after the id, in order.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = ["churn_probability", "churn_prediction", "risk_level"].map(String::from).into();
        if self.raw {
            names.push("churn_probability_raw".into());
        }
        for k in 1..=self.explain {
            names.extend([format!("why_{k}"), format!("why_{k}_value"), format!("why_{k}_contribution")]);
        }
        names
    }
}

/// Where a model's fields, id and target sit in a CSV's columns, found from its header.
#[derive(Clone, Debug, PartialEq)]
pub struct CsvLayout {
    fields: Vec<usize>,
    id: Option<usize>,
    target: Option<usize>,
    width: usize,
    id_header: String,
    /// What the scored file has after the id (default: the three decision columns).
    columns: ScoredColumns,
}

impl CsvLayout {
    /// Finds the model's columns in a header (a leading byte-order mark is ignored). The error
    /// names every column that is missing; the caller puts the file's name before it.
    pub fn new<S: AsRef<str>>(model: &Model, header: &[S]) -> Result<CsvLayout, String> {
        let find = |name: &str| header.iter().position(|h| h.as_ref().trim_start_matches('\u{feff}') == name);
        let schema = model.schema();
        let found: Vec<Option<usize>> = schema.fields.iter().map(|f| find(&f.name)).collect();
        let missing: Vec<&str> =
            schema.fields.iter().zip(&found).filter(|(_, c)| c.is_none()).map(|(f, _)| f.name.as_str()).collect();
        if !missing.is_empty() {
            return Err(format!("lacks column(s) the model needs: {}", missing.join(", ")));
        }
        let id = schema.id_column.as_deref().and_then(find);
        Ok(CsvLayout {
            fields: found.into_iter().flatten().collect(),
            id,
            target: find(&schema.target.column),
            width: header.len(),
            id_header: match id {
                Some(_) => schema.id_column.clone().unwrap_or_default(),
                None => ROW_COLUMN.to_string(),
            },
            columns: ScoredColumns::default(),
        })
    }

    pub fn columns(&self) -> ScoredColumns {
        self.columns
    }

    /// Sets the scored file's optional columns.
    pub fn with_columns(mut self, columns: ScoredColumns) -> CsvLayout {
        self.columns = columns;
        self
    }

    /// The model's id column when the file lacks it (rows are then numbered instead).
    pub fn missing_id<'m>(&self, model: &'m Model) -> Option<&'m str> {
        model.schema().id_column.as_deref().filter(|_| self.id.is_none())
    }

    /// Refuses a file without the target column (evaluation needs the known outcomes).
    pub fn require_target(&self, model: &Model) -> Result<(), String> {
        match self.target {
            Some(_) => Ok(()),
            None => Err(format!(
                "has no target column {}: metrics need the known outcomes",
                quote(&model.schema().target.column)
            )),
        }
    }

    /// The scored file's first column: the model's id column when the file has it, else `row`.
    pub fn id_header(&self) -> &str {
        &self.id_header
    }

    /// A record's id (its text in the id column), or "" when the file has none.
    pub fn id_of<'r>(&self, rec: &'r (impl Record + ?Sized)) -> Cow<'r, str> {
        self.id.map_or(Cow::Borrowed(""), |i| rec.show(i))
    }

    /// What the scored file's first column says for a record: its id, or its row number when
    /// the file has no id column.
    pub fn row_id<'r>(&self, rec: &'r (impl Record + ?Sized), row: u64) -> Cow<'r, str> {
        self.id.map_or_else(|| Cow::Owned(row.to_string()), |i| rec.show(i))
    }

    /// Whether column `i` is read at all (a field, the id or the target).
    pub fn uses(&self, i: usize) -> bool {
        self.fields.contains(&i) || self.id == Some(i) || self.target == Some(i)
    }

    /// The column of each of the model's fields, in schema order.
    pub fn field_columns(&self) -> &[usize] {
        &self.fields
    }

    /// The column of the model's id, when the header has it.
    pub fn id_column(&self) -> Option<usize> {
        self.id
    }

    pub fn has_target(&self) -> bool {
        self.target.is_some()
    }

    /// The target's text in a record.
    pub fn label<'r>(&self, rec: &'r (impl Record + ?Sized)) -> Cow<'r, str> {
        self.target.map_or(Cow::Borrowed(""), |t| rec.show(t))
    }

    /// Encodes record `row` (1-based; `line` as the reader counts it) into `x`.
    pub fn encode(
        &self,
        model: &Model,
        rec: &(impl Record + ?Sized),
        row: u64,
        line: u64,
        x: &mut [f64],
    ) -> Result<(), RowError> {
        let cells = self.cells(rec, row, line)?;
        let get = |i: usize, _: &str| Value::Text(cells[i]);
        model.encode(get, x).map_err(|e| RowError { row, line, problem: RowProblem::Input(e) })
    }

    /// [`CsvLayout::encode`], also marking each value missing or unseen (for profiles).
    pub fn encode_marked(
        &self,
        model: &Model,
        rec: &(impl Record + ?Sized),
        (row, line): (u64, u64),
        x: &mut [f64],
        marks: &mut [Mark],
    ) -> Result<(), RowError> {
        let cells = self.cells(rec, row, line)?;
        let get = |i: usize, _: &str| Value::Text(cells[i]);
        model.encode_marked(get, x, marks).map_err(|e| RowError { row, line, problem: RowProblem::Input(e) })
    }

    /// The cells the model reads, in field order, after checking the record's width and each
    /// cell's UTF-8 (once: that check costs about as much as encoding).
    fn cells<'r>(&self, rec: &'r (impl Record + ?Sized), row: u64, line: u64) -> Result<Vec<&'r str>, RowError> {
        let fail = |problem| Err(RowError { row, line, problem });
        if rec.width() != self.width {
            return fail(RowProblem::Width { got: rec.width(), header: self.width });
        }
        let mut cells = Vec::with_capacity(self.fields.len());
        for &c in &self.fields {
            match rec.get(c) {
                Some(t) => cells.push(t),
                None => return fail(RowProblem::NotUtf8 { column: c + 1 }),
            }
        }
        Ok(cells)
    }

    /// The scored file's header line (with its `\n`).
    pub fn header(&self) -> String {
        let mut head = vec![self.id_header.clone()];
        head.extend(self.columns.names());
        let mut line = head.iter().map(|h| csv_field(h)).collect::<Vec<_>>().join(",");
        line.push('\n');
        line
    }

    /// Writes one scored row (with its `\n`): the record's id (or its row number), the policy's
    /// decision on `p`, and the optional columns. `explanation` is needed when they include
    /// factors; the factors' values are the record's own text.
    pub fn write_row(
        &self,
        out: &mut String,
        model: &Model,
        rec: &(impl Record + ?Sized),
        row: u64,
        p: f64,
        explanation: Option<&Explanation>,
    ) {
        let cols = self.columns;
        out.push_str(&csv_field(&self.row_id(rec, row)));
        let d = model.decide(p);
        out.push(',');
        write_number(out, d.rounded);
        for s in [",", d.prediction(), ",", d.risk.as_str()] {
            out.push_str(s);
        }
        if cols.raw {
            out.push(',');
            write_number(out, p);
        }
        if cols.explain > 0 {
            let factors = explanation.map_or(&[][..], |e| &e.contributions[..]);
            let fields = &model.schema().fields;
            for c in factors.iter().take(cols.explain) {
                out.push(',');
                out.push_str(&csv_field(&fields[c.field].name));
                out.push(',');
                out.push_str(&csv_field(&rec.show(self.fields[c.field])));
                out.push(',');
                write_number(out, c.contribution);
            }
            for _ in factors.len().min(cols.explain)..cols.explain {
                out.push_str(",,,");
            }
        }
        out.push('\n');
    }
}

impl Target {
    /// The label rule: the text, trimmed, is the positive value (churn) or the negative one;
    /// anything else is unusable (`None`).
    pub fn label(&self, text: &str) -> Option<bool> {
        let t = text.trim();
        if t == self.positive {
            Some(true)
        } else if t == self.negative {
            Some(false)
        } else {
            None
        }
    }
}

/// Metrics over scored rows with known outcomes. The one rule for labels everywhere: a row
/// whose label is neither value is counted and reported (the first one is named), never
/// silently dropped, and left out of the metrics.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Evaluation {
    p: Vec<f64>,
    y: Vec<bool>,
    unusable: u64,
    /// (line, label) of the first unusable label.
    first_unusable: Option<(u64, String)>,
}

impl Evaluation {
    pub fn new() -> Evaluation {
        Evaluation::default()
    }

    /// Adds a scored row's raw probability and its label text (at `line`).
    pub fn push(&mut self, target: &Target, p: f64, label: &str, line: u64) {
        match target.label(label) {
            Some(y) => {
                self.p.push(p);
                self.y.push(y);
            }
            None => {
                self.unusable += 1;
                self.first_unusable.get_or_insert_with(|| (line, label.to_string()));
            }
        }
    }

    /// Appends another evaluation's rows (in order: the rows of `other` come after).
    pub fn extend(&mut self, other: Evaluation) {
        self.p.extend(other.p);
        self.y.extend(other.y);
        self.unusable += other.unusable;
        if self.first_unusable.is_none() {
            self.first_unusable = other.first_unusable;
        }
    }

    /// Rows with a usable label.
    pub fn rows(&self) -> usize {
        self.p.len()
    }

    /// Rows whose label was neither value.
    pub fn unusable(&self) -> u64 {
        self.unusable
    }

    /// The metrics at the model's threshold (`None` without a usable row).
    pub fn metrics(&self, model: &Model) -> Option<Metrics> {
        (!self.p.is_empty()).then(|| Metrics::compute(&self.p, &self.y, model.policy().threshold))
    }

    /// What to tell the user about unusable labels, if there were any.
    pub fn note(&self, model: &Model) -> Option<String> {
        let (line, label) = self.first_unusable.as_ref()?;
        let t = &model.schema().target;
        Some(format!(
            "{} row(s) have a {} that is neither {} nor {} (the first at line {line}: {}); they are left out of the metrics",
            self.unusable,
            t.column,
            quote(&t.positive),
            quote(&t.negative),
            quote(label)
        ))
    }

    /// `churn evaluate --json` and the JS `evaluate`: the metrics (see [`doc::metrics`]) plus
    /// `unusable_labels` and the ROC curve (`roc`, at most 200 points). `Null` without a usable row.
    pub fn doc(&self, model: &Model) -> Doc {
        let Some(m) = self.metrics(model) else { return Doc::Null };
        let Doc::Map(mut entries) = doc::metrics(&m) else { return Doc::Null };
        entries.insert(1, ("unusable_labels", Doc::Count(self.unusable)));
        Doc::Map(entries).with("roc", doc::roc(&roc_curve(&self.p, &self.y, 200)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rust's `{}`, which `write_number` equals except on exact ties between two shortest
    /// decimals (possible only for large numbers with few fraction bits).
    fn std_text(x: f64) -> String {
        format!("{x}")
    }

    #[test]
    fn numbers_are_written_as_rust_and_js_write_them_without_an_exponent() {
        for (x, want) in [
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (0.1, "0.1"),
            (0.001, "0.001"),
            (1e-7, "0.0000001"),
            (1.5e-7, "0.00000015"),
            (1e16, "10000000000000000"),
            (1e21, "1000000000000000000000"),
            (123.45, "123.45"),
            (-2.5, "-2.5"),
            (5e-324, &format!("{}", 5e-324)),
            (f64::MAX, &format!("{}", f64::MAX)),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
        ] {
            assert_eq!(number(x), want, "{x:e}");
        }
        // A million probabilities and a million arbitrary doubles: Rust's `{}` digits.
        let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut ties = 0;
        for _ in 0..1_000_000 {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let p = (s >> 11) as f64 / (1u64 << 53) as f64;
            assert_eq!(number(p), std_text(p));
            let x = f64::from_bits(s);
            if x.is_finite() && number(x) != std_text(x) {
                // Only a tie may differ: as many digits, and both read back as x.
                let (a, b) = (number(x), std_text(x));
                assert!(a.len() == b.len() && a.parse::<f64>() == Ok(x), "{x:e}: {a} vs {b}");
                ties += 1;
            }
        }
        assert!(ties < 1000, "{ties} ties");
    }

    #[test]
    fn fields_are_quoted_only_when_needed() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_field("cr\r"), "\"cr\r\"");
    }

    #[test]
    fn labels_are_trimmed_and_others_are_unusable() {
        let t = Target { column: "Churn".into(), positive: "Yes".into(), negative: "No".into() };
        assert_eq!(t.label(" Yes "), Some(true));
        assert_eq!(t.label("No"), Some(false));
        assert_eq!(t.label("yes"), None);
        assert_eq!(t.label(""), None);
    }
}

//! Profiles and drift: what the scored rows looked like, and how far that is from training.
//!
//! A [`Profile`] counts, per field, the rows in each bin (numeric fields: bins between edges at
//! the training rows' quantiles, plus a missing bin; categorical fields: one bin per level, plus
//! unseen and missing), the rows whose field failed validation, the scores in 20 fixed bins on
//! [0, 1] and the rows per risk band. Counts are integers, so profiles merge exactly
//! ([`Profile::merge`] is associative and commutative). The model file carries the training rows'
//! profile (format version 3); [`drift`] compares a current profile with it.

use bincode::{Decode, Encode};

use crate::doc::Doc;
use crate::schema::{FieldKind, Schema, Unknown};
use crate::value::{InputError, Problem, Value};
use crate::{Model, Risk};

/// Score bins on [0, 1]: `[k/20, (k+1)/20)`, the last one closed.
pub const SCORE_BINS: usize = 20;
/// Quantile bins for a numeric field (fewer when the training values have ties).
pub const NUMERIC_BINS: usize = 10;

/// The conventional meaning of a population stability index: below `watch` stable, from `watch`
/// to `drifted` worth watching, from `drifted` up drifted.
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Clone, Copy, Debug, PartialEq, Encode, Decode)]
pub struct DriftThresholds {
    pub watch: f64,
    pub drifted: f64,
}

impl Default for DriftThresholds {
    fn default() -> Self {
        DriftThresholds { watch: 0.1, drifted: 0.2 }
    }
}

impl DriftThresholds {
    pub fn validate(&self) -> Result<(), String> {
        if !(self.watch.is_finite() && self.drifted.is_finite() && 0.0 < self.watch && self.watch <= self.drifted) {
            return Err(format!(
                "drift thresholds must satisfy 0 < watch <= drifted (got watch {}, drifted {})",
                crate::output::number(self.watch),
                crate::output::number(self.drifted)
            ));
        }
        Ok(())
    }

    /// The level of one PSI.
    pub fn level(&self, psi: f64) -> Level {
        if psi >= self.drifted {
            Level::Drifted
        } else if psi >= self.watch {
            Level::Watch
        } else {
            Level::Stable
        }
    }
}

/// How much a distribution moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Stable,
    Watch,
    Drifted,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Stable => "stable",
            Level::Watch => "watch",
            Level::Drifted => "drifted",
        }
    }
}

/// One field's counts.
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Clone, Debug, PartialEq, Encode, Decode)]
pub struct FieldProfile {
    /// Numeric fields: the bin edges, ascending (a value `x` goes to the first bin whose edge
    /// is ≥ x, or to the last bin). Empty for categorical fields.
    pub edges: Vec<f64>,
    /// Rows per bin: `edges.len() + 1` bins for a numeric field, one per level for a
    /// categorical one (an unseen category scored as a level is counted in `unseen`, not there).
    pub counts: Vec<u64>,
    /// Blank or null values (scored with the field's missing-value rule, or refused).
    pub missing: u64,
    /// Categories never seen in training.
    pub unseen: u64,
    /// Rows refused because of this field.
    pub invalid: u64,
}

/// Counts of scored rows: per field, the score and the risk bands.
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Clone, Debug, PartialEq, Encode, Decode)]
pub struct Profile {
    /// Rows scored.
    pub rows: u64,
    /// Rows refused (each also counted in the `invalid` of every field at fault).
    pub invalid_rows: u64,
    pub fields: Vec<FieldProfile>,
    /// Scores per bin of width 1/20.
    pub scores: Vec<u64>,
    /// Rows per risk band: HIGH, MEDIUM, LOW.
    pub risk: [u64; 3],
    /// The PSI levels used when this profile is the reference.
    pub thresholds: DriftThresholds,
}

/// How one field's value was read, for the profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    Seen,
    Missing,
    Unseen,
}

/// Whether a value is missing or an unseen category, as the encoder judges it (the value was
/// encoded successfully).
pub fn mark(schema: &Schema, field: usize, value: Value<'_>, encoded: f64) -> Mark {
    let blank = match value {
        Value::Null | Value::Absent => true,
        Value::Text(s) => s.trim().is_empty(),
        _ => false,
    };
    match &schema.fields[field].kind {
        FieldKind::Numeric(_) if blank => Mark::Missing,
        FieldKind::Numeric(_) => Mark::Seen,
        FieldKind::Categorical(_) if blank => Mark::Missing,
        FieldKind::Categorical(c) => match (c.unknown, value) {
            (Unknown::AsLevel(code), Value::Text(s)) if f64::from(code) == encoded => {
                // The unknown level's own text is seen; anything else that became it is unseen.
                let level = &c.levels[code as usize];
                if s == level.as_str() || s.trim() == level.as_str() {
                    Mark::Seen
                } else {
                    Mark::Unseen
                }
            }
            _ => Mark::Seen,
        },
    }
}

impl Profile {
    /// An empty profile for `schema` with numeric bin edges at the quantiles of `numeric(i)`
    /// (field i's non-missing training values; asked only for numeric fields, one at a time, so
    /// a caller can gather one column at a time).
    pub fn from_values(schema: &Schema, numeric: impl Fn(usize) -> Vec<f64>, thresholds: DriftThresholds) -> Profile {
        let fields = schema
            .fields
            .iter()
            .enumerate()
            .map(|(i, f)| match &f.kind {
                FieldKind::Numeric(_) => {
                    let edges = quantile_edges(&numeric(i));
                    FieldProfile { counts: vec![0; edges.len() + 1], edges, missing: 0, unseen: 0, invalid: 0 }
                }
                FieldKind::Categorical(c) => FieldProfile {
                    edges: Vec::new(),
                    counts: vec![0; c.levels.len()],
                    missing: 0,
                    unseen: 0,
                    invalid: 0,
                },
            })
            .collect();
        Profile { rows: 0, invalid_rows: 0, fields, scores: vec![0; SCORE_BINS], risk: [0; 3], thresholds }
    }

    /// The same bins with every count at zero.
    pub fn empty_like(&self) -> Profile {
        let mut p = self.clone();
        p.rows = 0;
        p.invalid_rows = 0;
        for f in &mut p.fields {
            f.counts.iter_mut().for_each(|c| *c = 0);
            f.missing = 0;
            f.unseen = 0;
            f.invalid = 0;
        }
        p.scores.iter_mut().for_each(|c| *c = 0);
        p.risk = [0; 3];
        p
    }

    /// Adds one scored row: its encoded features, how each was read, its probability and band.
    pub fn add(&mut self, x: &[f64], marks: &[Mark], p: f64, risk: Risk) {
        self.rows += 1;
        for ((f, &v), &m) in self.fields.iter_mut().zip(x).zip(marks) {
            match m {
                Mark::Missing => f.missing += 1,
                Mark::Unseen => f.unseen += 1,
                Mark::Seen if f.edges.is_empty() => {
                    if let Some(c) = f.counts.get_mut(v as usize) {
                        *c += 1;
                    }
                }
                Mark::Seen => f.counts[f.edges.partition_point(|&e| e < v)] += 1,
            }
        }
        let bin = ((p * SCORE_BINS as f64) as usize).min(SCORE_BINS - 1);
        self.scores[bin] += 1;
        self.risk[match risk {
            Risk::High => 0,
            Risk::Medium => 1,
            Risk::Low => 2,
        }] += 1;
    }

    /// Adds a refused row: each field at fault counts it as invalid.
    pub fn add_invalid(&mut self, schema: &Schema, e: &InputError) {
        self.invalid_rows += 1;
        for fe in &e.errors {
            if let Some(i) = schema.index_of(&fe.field) {
                self.fields[i].invalid += 1;
                // A blank where the model has no rule is missing too, and a category it refuses
                // unseen: a new level must show as drift even where it cannot be scored.
                match fe.problem {
                    Problem::MissingValue => self.fields[i].missing += 1,
                    Problem::UnknownCategory { .. } => self.fields[i].unseen += 1,
                    _ => {}
                }
            }
        }
    }

    /// Whether two profiles have the same bins (profiles of the same model do).
    pub fn same_bins(&self, other: &Profile) -> bool {
        self.fields.len() == other.fields.len()
            && self.scores.len() == other.scores.len()
            && self.fields.iter().zip(&other.fields).all(|(a, b)| {
                a.counts.len() == b.counts.len()
                    && a.edges.len() == b.edges.len()
                    && a.edges.iter().zip(&b.edges).all(|(x, y)| x.to_bits() == y.to_bits())
            })
    }

    /// Adds `other`'s counts (exact; order does not matter). Refuses a profile with other bins
    /// (another model's).
    pub fn merge(&mut self, other: &Profile) -> Result<(), String> {
        if !self.same_bins(other) {
            return Err("the profiles have different bins: they come from different models".into());
        }
        self.rows += other.rows;
        self.invalid_rows += other.invalid_rows;
        for (a, b) in self.fields.iter_mut().zip(&other.fields) {
            a.counts.iter_mut().zip(&b.counts).for_each(|(x, y)| *x += y);
            a.missing += b.missing;
            a.unseen += b.unseen;
            a.invalid += b.invalid;
        }
        self.scores.iter_mut().zip(&other.scores).for_each(|(x, y)| *x += y);
        for k in 0..3 {
            self.risk[k] += other.risk[k];
        }
        Ok(())
    }

    /// Checks what the types cannot: bins that fit the schema, ascending finite edges.
    pub fn validate(&self, schema: &Schema) -> Result<(), String> {
        if self.fields.len() != schema.fields.len() {
            return Err(format!("profile has {} fields, the schema {}", self.fields.len(), schema.fields.len()));
        }
        if self.scores.len() != SCORE_BINS {
            return Err(format!("profile has {} score bins, expected {SCORE_BINS}", self.scores.len()));
        }
        self.thresholds.validate()?;
        for (f, p) in schema.fields.iter().zip(&self.fields) {
            let want = match &f.kind {
                FieldKind::Numeric(_) => {
                    if !p.edges.iter().all(|e| e.is_finite()) || p.edges.windows(2).any(|w| w[0] >= w[1]) {
                        return Err(format!("{}: profile edges are not finite and ascending", f.name));
                    }
                    p.edges.len() + 1
                }
                FieldKind::Categorical(c) => {
                    if !p.edges.is_empty() {
                        return Err(format!("{}: a categorical field's profile has edges", f.name));
                    }
                    c.levels.len()
                }
            };
            if p.counts.len() != want {
                return Err(format!("{}: profile has {} bins, expected {want}", f.name, p.counts.len()));
            }
        }
        Ok(())
    }
}

/// Up to [`NUMERIC_BINS`] − 1 edges at the deciles of `values` (distinct, ascending).
fn quantile_edges(values: &[f64]) -> Vec<f64> {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let order = crate::schema::order_by(finite.len(), &|a, b| finite[a].total_cmp(&finite[b]));
    let n = order.len();
    let mut edges: Vec<f64> = Vec::new();
    if n == 0 {
        return edges;
    }
    for k in 1..NUMERIC_BINS {
        let e = finite[order[(k * n / NUMERIC_BINS).min(n - 1)]];
        // An edge at the maximum would leave an empty last bin.
        if edges.last().is_none_or(|&last| e > last) && e < finite[order[n - 1]] {
            edges.push(e);
        }
    }
    edges
}

/// A distribution's shares with a floor (1e-4, as PSI tools use) so that empty bins do not make
/// the index infinite.
fn shares(counts: &[u64]) -> Vec<f64> {
    let total: u64 = counts.iter().sum();
    counts.iter().map(|&c| if total == 0 { 0.0 } else { c as f64 / total as f64 }.max(1e-4)).collect()
}

/// Population stability index: Σ (a − e) ln(a / e) over the bins.
pub fn psi(expected: &[u64], actual: &[u64]) -> f64 {
    let (e, a) = (shares(expected), shares(actual));
    e.iter().zip(&a).map(|(e, a)| (a - e) * (a / e).ln()).sum()
}

/// Jensen–Shannon distance (base 2, in [0, 1]): the square root of the divergence.
pub fn js_distance(expected: &[u64], actual: &[u64]) -> f64 {
    let total = |c: &[u64]| c.iter().sum::<u64>().max(1) as f64;
    let (te, ta) = (total(expected), total(actual));
    let mut d = 0.0;
    for (&e, &a) in expected.iter().zip(actual) {
        let (p, q) = (e as f64 / te, a as f64 / ta);
        let m = (p + q) / 2.0;
        if p > 0.0 {
            d += 0.5 * p * (p / m).log2();
        }
        if q > 0.0 {
            d += 0.5 * q * (q / m).log2();
        }
    }
    d.max(0.0).sqrt()
}

/// One field's bins with missing and unseen as two more bins (so a rise in either moves the PSI).
fn full_counts(f: &FieldProfile) -> Vec<u64> {
    let mut c = f.counts.clone();
    c.push(f.missing);
    c.push(f.unseen);
    c
}

/// How far one field moved.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldDrift {
    pub field: usize,
    pub psi: f64,
    pub js: f64,
    pub level: Level,
    /// Missing and unseen rates, reference then current.
    pub missing: (f64, f64),
    pub unseen: (f64, f64),
    /// Share of current rows refused because of this field.
    pub invalid: f64,
}

/// A current profile against the reference.
#[derive(Clone, Debug, PartialEq)]
pub struct Drift {
    /// Fields, most drifted first.
    pub fields: Vec<FieldDrift>,
    pub score_psi: f64,
    pub score_level: Level,
    /// Share of each band (HIGH, MEDIUM, LOW), reference then current.
    pub risk: [(f64, f64); 3],
    pub rows: u64,
    pub invalid_rows: u64,
    /// The worst level of the fields and the score.
    pub level: Level,
}

fn rate(n: u64, of: u64) -> f64 {
    if of == 0 {
        0.0
    } else {
        n as f64 / of as f64
    }
}

/// Compares `current` with the model's reference profile.
pub fn drift(reference: &Profile, current: &Profile) -> Result<Drift, String> {
    if !reference.same_bins(current) {
        return Err("the profile does not fit this model (different bins): it comes from another model".into());
    }
    let t = reference.thresholds;
    let rows_all = |p: &Profile| p.rows + p.invalid_rows;
    let mut fields: Vec<FieldDrift> = reference
        .fields
        .iter()
        .zip(&current.fields)
        .enumerate()
        .map(|(i, (r, c))| {
            let (rc, cc) = (full_counts(r), full_counts(c));
            let psi = psi(&rc, &cc);
            FieldDrift {
                field: i,
                psi,
                js: js_distance(&rc, &cc),
                level: t.level(psi),
                missing: (rate(r.missing, rows_all(reference)), rate(c.missing, rows_all(current))),
                unseen: (rate(r.unseen, rows_all(reference)), rate(c.unseen, rows_all(current))),
                invalid: rate(c.invalid, rows_all(current)),
            }
        })
        .collect();
    let order = crate::schema::order_by(fields.len(), &|a, b| fields[b].psi.total_cmp(&fields[a].psi));
    fields = order.into_iter().map(|k| fields[k].clone()).collect();
    let score_psi = psi(&reference.scores, &current.scores);
    let band = |p: &Profile, k: usize| rate(p.risk[k], p.rows);
    let score_level = t.level(score_psi);
    let level = fields.iter().map(|f| f.level).chain([score_level]).max().unwrap_or(Level::Stable);
    Ok(Drift {
        score_psi,
        score_level,
        risk: [0, 1, 2].map(|k| (band(reference, k), band(current, k))),
        rows: current.rows,
        invalid_rows: current.invalid_rows,
        level,
        fields,
    })
}

impl Drift {
    /// `churn monitor --json`: `{level, rows, invalid_rows, score: {psi, level, risk: {HIGH:
    /// {reference, current}, ...}}, fields: [{field, psi, js, level, missing: {reference,
    /// current}, unseen: {...}, invalid}]}`, fields most drifted first.
    pub fn doc(&self, model: &Model) -> Doc {
        let pair = |(r, c): (f64, f64)| Doc::map().with("reference", r).with("current", c);
        let names = [Risk::High, Risk::Medium, Risk::Low];
        let mut risk = Doc::map();
        for (k, r) in names.iter().enumerate() {
            risk = risk.with(r.as_str(), pair(self.risk[k]));
        }
        let fields = self
            .fields
            .iter()
            .map(|f| {
                Doc::map()
                    .with("field", model.schema().fields[f.field].name.as_str())
                    .with("psi", f.psi)
                    .with("js", f.js)
                    .with("level", f.level.as_str())
                    .with("missing", pair(f.missing))
                    .with("unseen", pair(f.unseen))
                    .with("invalid", f.invalid)
            })
            .collect::<Vec<_>>();
        Doc::map()
            .with("level", self.level.as_str())
            .with("rows", self.rows)
            .with("invalid_rows", self.invalid_rows)
            .with(
                "score",
                Doc::map().with("psi", self.score_psi).with("level", self.score_level.as_str()).with("risk", risk),
            )
            .with("fields", fields)
    }
}

/// An empty current profile with the bins of `model`'s reference; `None` when the model file
/// carries no reference (format versions 1 and 2).
pub fn empty_profile(model: &Model) -> Option<Profile> {
    model.artifact().profile.as_ref().map(Profile::empty_like)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psi_and_js_are_zero_for_the_same_shares_and_grow_with_a_shift() {
        assert!(psi(&[10, 20, 30], &[20, 40, 60]).abs() < 1e-12);
        assert!(js_distance(&[10, 20, 30], &[20, 40, 60]).abs() < 1e-6);
        let shifted = psi(&[100, 100, 100, 100], &[160, 100, 80, 60]);
        assert!(shifted > 0.05 && shifted < 0.5, "{shifted}");
        assert!((js_distance(&[1, 0], &[0, 1]) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn quantile_edges_are_distinct_and_leave_no_empty_last_bin() {
        let v: Vec<f64> = (0..1000).map(|i| (i % 50) as f64).collect();
        let e = quantile_edges(&v);
        assert_eq!(e.len(), 9);
        assert!(e.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(quantile_edges(&[3.0; 100]), Vec::<f64>::new());
        assert_eq!(quantile_edges(&[0.0, 0.0, 0.0, 1.0]), vec![0.0]);
    }

    #[test]
    fn merging_is_exact_in_any_order_and_refuses_other_bins() {
        use crate::schema::{CategoricalField, Field, NumericField, Target};
        let schema = Schema {
            fields: vec![
                Field {
                    name: "n".into(),
                    kind: FieldKind::Numeric(NumericField {
                        missing: crate::Missing::Replace(0.0),
                        min: 0.0,
                        max: 100.0,
                        integer: false,
                    }),
                },
                Field {
                    name: "c".into(),
                    kind: FieldKind::Categorical(CategoricalField {
                        levels: vec!["a".into(), "b".into()],
                        unknown: Unknown::Error,
                    }),
                },
            ],
            id_column: None,
            target: Target { column: "y".into(), positive: "1".into(), negative: "0".into() },
        };
        let values: Vec<f64> = (0..100).map(f64::from).collect();
        let empty = Profile::from_values(&schema, |_| values.clone(), DriftThresholds::default());
        let mut s: u64 = 7;
        let mut rows = Vec::new();
        for _ in 0..300 {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let x = [(s >> 33) as f64 % 120.0, ((s >> 20) & 1) as f64];
            let m = [if s % 11 == 0 { Mark::Missing } else { Mark::Seen }, Mark::Seen];
            let p = ((s >> 40) % 1000) as f64 / 1000.0;
            let risk = [Risk::High, Risk::Medium, Risk::Low][(s % 3) as usize];
            rows.push((x, m, p, risk));
        }
        let profile_of = |rows: &[([f64; 2], [Mark; 2], f64, Risk)]| {
            let mut p = empty.clone();
            for (x, m, q, r) in rows {
                p.add(x, m, *q, *r);
            }
            p
        };
        let all = profile_of(&rows);
        let (a, b, c) = (profile_of(&rows[..70]), profile_of(&rows[70..200]), profile_of(&rows[200..]));
        let mut abc = a.clone();
        abc.merge(&b).unwrap();
        abc.merge(&c).unwrap();
        let mut cba = c.clone();
        cba.merge(&b).unwrap();
        cba.merge(&a).unwrap();
        assert_eq!(abc, all);
        assert_eq!(cba, all);
        assert_eq!(all.rows, 300);
        let other = Profile::from_values(&schema, |_| vec![1.0, 2.0, 3.0], DriftThresholds::default());
        assert!(all.clone().merge(&other).is_err());
        assert!(drift(&all, &other).is_err());
        assert_eq!(drift(&all, &all).unwrap().level, Level::Stable);
    }

    #[test]
    fn thresholds_give_levels() {
        let t = DriftThresholds::default();
        assert_eq!(t.level(0.05), Level::Stable);
        assert_eq!(t.level(0.1), Level::Watch);
        assert_eq!(t.level(0.25), Level::Drifted);
        assert!(DriftThresholds { watch: 0.3, drifted: 0.2 }.validate().is_err());
    }
}

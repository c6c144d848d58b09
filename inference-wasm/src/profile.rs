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
use crate::json::Json;
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

/// The natural logarithm, one software implementation on every target (std's calls the
/// platform's libm), so that the CLI, the browser and the Worker report the same drift figures.
fn ln(x: f64) -> f64 {
    libm::log(x)
}

/// Population stability index: Σ (a − e) ln(a / e) over the bins.
pub fn psi(expected: &[u64], actual: &[u64]) -> f64 {
    let (e, a) = (shares(expected), shares(actual));
    e.iter().zip(&a).map(|(e, a)| (a - e) * ln(a / e)).sum()
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
            d += 0.5 * p * ln(p / m);
        }
        if q > 0.0 {
            d += 0.5 * q * ln(q / m);
        }
    }
    (d / std::f64::consts::LN_2).max(0.0).sqrt()
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

/// The `format` of a profile as JSON ([`Profile::doc`], [`Profile::from_json`]).
pub const PROFILE_FORMAT: &str = "churn-profile/1";

/// Whole counts a JSON number holds exactly (JavaScript's safe integers).
const MAX_COUNT: f64 = 9_007_199_254_740_991.0;

impl Profile {
    /// Scores one record into the profile: encodes it (also marking missing and unseen values),
    /// scores it, and counts it; a record the model refuses is counted as invalid for each field
    /// at fault, and its error returned. `x` and `marks` are scratch space of
    /// [`Model::n_features`] each (reused by the caller: nothing is allocated for a good row).
    pub fn score<'a>(
        &mut self,
        model: &Model,
        get: impl FnMut(usize, &str) -> Value<'a>,
        x: &mut [f64],
        marks: &mut [Mark],
    ) -> Result<f64, InputError> {
        match model.encode_marked(get, x, marks) {
            Ok(()) => {
                let p = model.probability(x);
                self.add(x, marks, p, model.decide(p).risk);
                Ok(p)
            }
            Err(e) => {
                self.add_invalid(model.schema(), &e);
                Err(e)
            }
        }
    }

    /// The profile as JSON (what the Worker's `GET /monitoring` serves, `ChurnProfile.toJSON()`
    /// returns and `churn monitor --from` merges): `{format, model: {name, version}, rows,
    /// invalid_rows, fields: [{name, edges (numeric) | levels (categorical), counts, missing,
    /// unseen, invalid}], scores, risk: {HIGH, MEDIUM, LOW}, thresholds: {watch, drifted}}`
    /// (the thresholds are the model's; reading a profile takes them from the model).
    pub fn doc(&self, model: &Model) -> Doc {
        let counts = |c: &[u64]| Doc::List(c.iter().map(|&n| Doc::Count(n)).collect());
        let fields = model
            .schema()
            .fields
            .iter()
            .zip(&self.fields)
            .map(|(f, p)| {
                let d = Doc::map().with("name", f.name.as_str());
                let d = match &f.kind {
                    FieldKind::Numeric(_) => {
                        d.with("edges", Doc::List(p.edges.iter().map(|&e| Doc::Number(e)).collect()))
                    }
                    FieldKind::Categorical(c) => {
                        d.with("levels", Doc::List(c.levels.iter().map(|l| Doc::from(l.as_str())).collect()))
                    }
                };
                d.with("counts", counts(&p.counts))
                    .with("missing", p.missing)
                    .with("unseen", p.unseen)
                    .with("invalid", p.invalid)
            })
            .collect::<Vec<_>>();
        let card = model.card();
        Doc::map()
            .with("format", PROFILE_FORMAT)
            .with("model", Doc::map().with("name", card.name.as_str()).with("version", card.version.as_str()))
            .with("rows", self.rows)
            .with("invalid_rows", self.invalid_rows)
            .with("fields", fields)
            .with("scores", counts(&self.scores))
            .with("risk", Doc::map().with("HIGH", self.risk[0]).with("MEDIUM", self.risk[1]).with("LOW", self.risk[2]))
            .with(
                "thresholds",
                Doc::map().with("watch", self.thresholds.watch).with("drifted", self.thresholds.drifted),
            )
    }

    /// Reads a profile written by [`Profile::doc`] for `model`: checks that it is a profile of
    /// this model (name, version, fields, levels and bin edges, bit for bit) and that its counts
    /// are whole, consistent numbers. Any text gives a profile or an error naming the problem.
    pub fn from_json(model: &Model, text: &str) -> Result<Profile, String> {
        let v = crate::json::parse(text)?;
        let mut p = empty_profile(model).ok_or_else(|| {
            format!(
                "model {} {} carries no training profile (format version 3 or later is needed to monitor)",
                model.card().name,
                model.card().version
            )
        })?;
        let format = text_at(&v, "", "format")?;
        if format != PROFILE_FORMAT {
            return Err(format!("profile: format is \"{format}\", expected \"{PROFILE_FORMAT}\""));
        }
        let m = at(&v, "", "model")?;
        let (name, version) = (text_at(m, "model.", "name")?, text_at(m, "model.", "version")?);
        let card = model.card();
        if name != card.name || version != card.version {
            return Err(format!(
                "profile is of model {name} {version}, not of {} {}: profiles of different models cannot be merged or compared",
                card.name, card.version
            ));
        }
        p.rows = count_at(&v, "", "rows")?;
        p.invalid_rows = count_at(&v, "", "invalid_rows")?;
        let fields = list_at(&v, "", "fields")?;
        let schema = &model.schema().fields;
        if fields.len() != schema.len() {
            return Err(format!("profile: {} fields, this model has {}", fields.len(), schema.len()));
        }
        let all = p.rows + p.invalid_rows;
        for ((j, f), fp) in fields.iter().zip(schema).zip(&mut p.fields) {
            let got = text_at(j, "fields[].", "name")?;
            if got != f.name {
                return Err(format!(
                    "profile: field \"{got}\" where this model has \"{}\": another model's profile",
                    f.name
                ));
            }
            let path = format!("{}.", f.name);
            let same = match &f.kind {
                FieldKind::Numeric(_) => {
                    let edges = list_at(j, &path, "edges")?;
                    edges.len() == fp.edges.len()
                        && edges
                            .iter()
                            .zip(&fp.edges)
                            .all(|(a, b)| matches!(a, Json::Number(x) if x.to_bits() == b.to_bits()))
                }
                FieldKind::Categorical(c) => {
                    let levels = list_at(j, &path, "levels")?;
                    levels.len() == c.levels.len()
                        && levels.iter().zip(&c.levels).all(|(a, b)| matches!(a, Json::Text(t) if t == b))
                }
            };
            if !same {
                return Err(format!("profile: {}: its bins differ from this model's: another model's profile", f.name));
            }
            counts_at(j, &path, "counts", &mut fp.counts)?;
            fp.missing = count_at(j, &path, "missing")?;
            fp.unseen = count_at(j, &path, "unseen")?;
            fp.invalid = count_at(j, &path, "invalid")?;
            let seen =
                fp.counts.iter().try_fold(fp.missing, |a, &c| a.checked_add(c)).and_then(|s| s.checked_add(fp.unseen));
            if seen.is_none_or(|s| s > all) || fp.invalid > p.invalid_rows {
                return Err(format!("profile: {}: counts add up to more rows than the profile has", f.name));
            }
        }
        counts_at(&v, "", "scores", &mut p.scores)?;
        let r = at(&v, "", "risk")?;
        for (k, band) in ["HIGH", "MEDIUM", "LOW"].into_iter().enumerate() {
            p.risk[k] = count_at(r, "risk.", band)?;
        }
        let sum = |c: &[u64]| c.iter().try_fold(0u64, |a, &c| a.checked_add(c));
        if sum(&p.scores) != Some(p.rows) || sum(&p.risk) != Some(p.rows) {
            return Err("profile: scores and risk bands must each add up to rows".into());
        }
        Ok(p)
    }
}

/// `v[key]`, with `path` naming `v` in the error.
#[inline(never)]
fn at<'j>(v: &'j Json, path: &str, key: &str) -> Result<&'j Json, String> {
    match v {
        Json::Map(_) => v.get(key).ok_or_else(|| format!("profile: {path}{key}: missing")),
        other => Err(format!("profile: {path}{key}: expected an object around it, got {}", other.kind())),
    }
}

fn text_at<'j>(v: &'j Json, path: &str, key: &str) -> Result<&'j str, String> {
    match at(v, path, key)? {
        Json::Text(t) => Ok(t),
        other => Err(format!("profile: {path}{key}: expected a string, got {}", other.kind())),
    }
}

fn list_at<'j>(v: &'j Json, path: &str, key: &str) -> Result<&'j [Json], String> {
    match at(v, path, key)? {
        Json::List(items) => Ok(items),
        other => Err(format!("profile: {path}{key}: expected an array, got {}", other.kind())),
    }
}

/// A whole number ≥ 0 that JSON holds exactly.
#[inline(never)]
fn count(v: &Json, path: &str, key: &str) -> Result<u64, String> {
    match *v {
        Json::Number(x) if (0.0..=MAX_COUNT).contains(&x) && x.fract() == 0.0 => Ok(x as u64),
        ref other => Err(format!("profile: {path}{key}: expected a whole number >= 0, got {}", describe(other))),
    }
}

fn count_at(v: &Json, path: &str, key: &str) -> Result<u64, String> {
    count(at(v, path, key)?, path, key)
}

/// `v[key]` into `out`, which has the model's number of bins.
fn counts_at(v: &Json, path: &str, key: &str, out: &mut [u64]) -> Result<(), String> {
    let items = list_at(v, path, key)?;
    if items.len() != out.len() {
        return Err(format!("profile: {path}{key}: {} bins, this model has {}", items.len(), out.len()));
    }
    for (o, c) in out.iter_mut().zip(items) {
        *o = count(c, path, key)?;
    }
    Ok(())
}

/// A JSON value for a message: numbers as they are, other values by kind.
fn describe(v: &Json) -> String {
    match v {
        Json::Number(x) => crate::output::number(*x),
        other => other.kind().to_string(),
    }
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

    /// JSON text of a Doc, as the CLI's serde_json and the bindings' JSON.stringify write it.
    fn text(d: &Doc) -> String {
        match d {
            Doc::Null => "null".into(),
            Doc::Bool(b) => b.to_string(),
            Doc::Number(x) => crate::output::number(*x),
            Doc::Count(n) => n.to_string(),
            Doc::Text(t) => format!("\"{}\"", t.replace('\\', "\\\\").replace('"', "\\\"")),
            Doc::List(v) => format!("[{}]", v.iter().map(text).collect::<Vec<_>>().join(",")),
            Doc::Map(e) => {
                format!("{{{}}}", e.iter().map(|(k, v)| format!("\"{k}\":{}", text(v))).collect::<Vec<_>>().join(","))
            }
        }
    }

    fn golden() -> (Model, Vec<Vec<String>>, Vec<String>) {
        let model = Model::from_bytes(include_bytes!("../../tests/fixtures/golden.bin")).unwrap();
        let csv = include_str!("../../tests/fixtures/golden_cases.csv");
        let mut lines = csv.lines();
        let header: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
        let rows = lines.map(|l| l.split(',').map(String::from).collect()).collect();
        (model, rows, header)
    }

    /// The golden cases scored into a profile with `Profile::score`, plus one refused row.
    fn scored(model: &Model, rows: &[Vec<String>], header: &[String]) -> Profile {
        let mut p = empty_profile(model).unwrap();
        let n = model.n_features();
        let (mut x, mut marks) = (vec![0.0; n], vec![Mark::Seen; n]);
        for r in rows {
            let get = |_: usize, name: &str| Value::Text(&r[header.iter().position(|h| h == name).unwrap()]);
            let prob = p.score(model, get, &mut x, &mut marks).unwrap();
            assert_eq!(prob.to_bits(), model.probability_of(get).unwrap().to_bits());
        }
        let bad = |_: usize, name: &str| {
            Value::Text(if name == "tenure" {
                "abc"
            } else if name == "Contract" {
                "Weekly"
            } else {
                "1"
            })
        };
        assert!(p.score(model, bad, &mut x, &mut marks).is_err());
        p
    }

    #[test]
    fn score_counts_rows_and_refusals_by_field() {
        let (model, rows, header) = golden();
        let p = scored(&model, &rows, &header);
        assert_eq!(p.rows, rows.len() as u64);
        assert_eq!(p.invalid_rows, 1);
        let f = |name: &str| &p.fields[model.schema().index_of(name).unwrap()];
        assert_eq!(f("tenure").invalid, 1);
        assert_eq!((f("Contract").invalid, f("Contract").unseen), (1, 1));
        assert_eq!(f("gender").invalid, 1); // "1" is no gender
        assert_eq!(p.scores.iter().sum::<u64>(), p.rows);
        assert_eq!(p.risk.iter().sum::<u64>(), p.rows);
    }

    #[test]
    fn json_round_trips_exactly_and_refuses_another_models_or_a_damaged_profile() {
        let (model, rows, header) = golden();
        let p = scored(&model, &rows, &header);
        let json = text(&p.doc(&model));
        assert!(
            json.starts_with(r#"{"format":"churn-profile/1","model":{"name":"golden","version":"golden-1"},"rows":"#),
            "{json}"
        );
        assert_eq!(Profile::from_json(&model, &json).unwrap(), p);
        let reference = model.artifact().profile.clone().unwrap();
        assert_eq!(Profile::from_json(&model, &text(&reference.doc(&model))).unwrap(), reference);
        let refused = |edit: &dyn Fn(&str) -> String, want: &str| {
            let bad = edit(&json);
            assert_ne!(bad, json, "the edit for {want:?} changed nothing");
            let e = Profile::from_json(&model, &bad).unwrap_err();
            assert!(e.contains(want), "{want:?} not in {e:?}");
        };
        refused(&|j| j.replace("golden-1", "golden-2"), "profile is of model golden golden-2, not of golden golden-1");
        refused(&|j| j.replace("churn-profile/1", "churn-profile/9"), "format is \"churn-profile/9\"");
        let tenure = &reference.fields[model.schema().index_of("tenure").unwrap()];
        let e0 = crate::output::number(tenure.edges[0]);
        refused(&|j| j.replacen(&format!("\"edges\":[{e0},"), &format!("\"edges\":[{e0}.5,"), 1), "its bins differ");
        refused(
            &|j| j.replacen("\"name\":\"gender\"", "\"name\":\"sex\"", 1),
            "field \"sex\" where this model has \"gender\"",
        );
        refused(&|j| j.replacen("\"counts\":[", "\"counts\":[1,", 1), "bins, this model has");
        refused(&|j| j.replacen("\"missing\":0", "\"missing\":-1", 1), "missing: expected a whole number >= 0, got -1");
        refused(&|j| j.replacen("\"missing\":0", "\"missing\":0.5", 1), "got 0.5");
        refused(&|j| j.replacen("\"missing\":0", "\"missing\":\"0\"", 1), "got a string");
        refused(&|j| j.replacen("\"missing\":0", "\"missing\":1e9", 1), "counts add up to more rows");
        refused(&|j| j.replacen("\"HIGH\":", "\"HIGH\":1000+", 1), "malformed JSON");
        refused(&|j| j.replacen("\"LOW\":", "\"LOW\":1", 1), "scores and risk bands must each add up to rows");
        refused(&|j| j.replacen("\"risk\":", "\"riskk\":", 1), "profile: risk: missing");
        refused(&|_| "[]".into(), "profile: format: expected an object around it, got an array");
        // No input panics: every truncation and many byte edits of a good profile.
        for i in 0..json.len() {
            assert!(Profile::from_json(&model, &json[..i]).is_err());
        }
        let b = json.as_bytes();
        for i in (0..b.len()).step_by(3) {
            for c in [b'0', b'9', b'-', b'"', b'[', b'{', b'.', b'e'] {
                let mut v = b.to_vec();
                v[i] = c;
                let _ = Profile::from_json(&model, std::str::from_utf8(&v).unwrap());
            }
        }
        // A profile of another model (the v1 fixture has no reference; the GBT golden has other bins).
        let gbt = Model::from_bytes(include_bytes!("../../tests/fixtures/golden_gbt.bin")).unwrap();
        if let Some(g) = empty_profile(&gbt) {
            let e = Profile::from_json(&model, &text(&g.doc(&gbt))).unwrap_err();
            assert!(e.starts_with("profile is of model"), "{e}");
        }
        let v1 = Model::from_bytes(include_bytes!("../../tests/fixtures/format_v1.bin")).unwrap();
        assert!(Profile::from_json(&v1, &json).unwrap_err().contains("carries no training profile"));
    }
}

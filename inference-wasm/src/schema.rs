//! The input schema and its encoders: the one place a raw value becomes a feature.
//!
//! Every field is one feature of the forest, in schema order:
//! - numeric: the number itself; a missing value (blank string, `null`) takes the field's
//!   [`Missing`] rule (the trainer stores the training median);
//! - categorical: the level's code, an index into `levels`. The trainer orders levels by their
//!   churn rate in the training data, so a threshold on the code splits "riskier" levels from
//!   "safer" ones (the classic optimal ordering for a binary target).

use bincode::{Decode, Encode};

use crate::value::{describe, format_number, quote, FieldError, InputError, Problem, Value};

/// The model's input: ordered fields, plus the id and target columns of the training file.
#[cfg_attr(any(feature = "serde", target_arch = "wasm32"), derive(serde::Serialize))]
#[derive(Clone, Debug, PartialEq, Encode, Decode)]
pub struct Schema {
    pub fields: Vec<Field>,
    /// Identifier column (e.g. `customerID`): not a feature, carried into scored output.
    pub id_column: Option<String>,
    pub target: Target,
}

/// The training target: its column and which value counts as churn.
#[cfg_attr(any(feature = "serde", target_arch = "wasm32"), derive(serde::Serialize))]
#[derive(Clone, Debug, PartialEq, Encode, Decode)]
pub struct Target {
    pub column: String,
    /// The value meaning "churned" (e.g. `Yes`, `1`).
    pub positive: String,
    /// The other value (e.g. `No`, `0`).
    pub negative: String,
}

#[cfg_attr(any(feature = "serde", target_arch = "wasm32"), derive(serde::Serialize))]
#[derive(Clone, Debug, PartialEq, Encode, Decode)]
pub struct Field {
    pub name: String,
    #[cfg_attr(any(feature = "serde", target_arch = "wasm32"), serde(flatten))]
    pub kind: FieldKind,
}

#[cfg_attr(any(feature = "serde", target_arch = "wasm32"), derive(serde::Serialize))]
#[derive(Clone, Debug, PartialEq, Encode, Decode)]
#[cfg_attr(any(feature = "serde", target_arch = "wasm32"), serde(tag = "kind", rename_all = "lowercase"))]
pub enum FieldKind {
    Numeric(NumericField),
    Categorical(CategoricalField),
}

#[cfg_attr(any(feature = "serde", target_arch = "wasm32"), derive(serde::Serialize))]
#[derive(Clone, Debug, PartialEq, Encode, Decode)]
pub struct NumericField {
    /// What a missing value (blank string, null) becomes.
    pub missing: Missing,
    /// Smallest and largest value seen in training (for forms and docs; not enforced).
    pub min: f64,
    pub max: f64,
    /// Every training value was a whole number.
    pub integer: bool,
}

/// Rule for a missing numeric value.
#[cfg_attr(any(feature = "serde", target_arch = "wasm32"), derive(serde::Serialize))]
#[derive(Clone, Copy, Debug, PartialEq, Encode, Decode)]
#[cfg_attr(any(feature = "serde", target_arch = "wasm32"), serde(rename_all = "snake_case"))]
pub enum Missing {
    /// Refuse the record.
    Error,
    /// Use this value instead (the trainer stores the training median).
    Replace(f64),
}

#[cfg_attr(any(feature = "serde", target_arch = "wasm32"), derive(serde::Serialize))]
#[derive(Clone, Debug, PartialEq, Encode, Decode)]
pub struct CategoricalField {
    /// Levels in code order: `levels[c]` is encoded as `c as f64`.
    pub levels: Vec<String>,
    pub unknown: Unknown,
}

/// Rule for a category not seen in training (and for a blank/null value when `""` is no level).
#[cfg_attr(any(feature = "serde", target_arch = "wasm32"), derive(serde::Serialize))]
#[derive(Clone, Copy, Debug, PartialEq, Encode, Decode)]
#[cfg_attr(any(feature = "serde", target_arch = "wasm32"), serde(rename_all = "snake_case"))]
pub enum Unknown {
    /// Refuse the record, listing the known levels.
    Error,
    /// Encode it as this level's code (the trainer uses the most frequent level).
    AsLevel(u32),
}

impl Schema {
    /// Position of a field by name.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }
}

/// Encoders for every field of a schema: the one implementation of "record → feature vector",
/// used by the trainer on its training rows and by every scoring surface.
#[derive(Clone, Debug)]
pub struct Encoders(Vec<Encoder>);

impl Encoders {
    pub fn new(schema: &Schema) -> Encoders {
        Encoders(schema.fields.iter().map(Encoder::new).collect())
    }

    /// Encodes one record into `out` (one value per field). `get(i, name)` returns the record's
    /// value for field `i`. Every field is checked and all problems are reported.
    pub fn encode<'a>(
        &self,
        schema: &Schema,
        mut get: impl FnMut(usize, &str) -> Value<'a>,
        out: &mut [f64],
    ) -> Result<(), InputError> {
        let mut errors = Vec::new();
        for (i, (field, enc)) in schema.fields.iter().zip(&self.0).enumerate() {
            match enc.encode(field, get(i, &field.name)) {
                Ok(x) => out[i] = x,
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(InputError { errors })
        }
    }
}

/// A field with its lookup table, ready to encode values.
#[derive(Clone, Debug)]
pub(crate) struct Encoder {
    /// For categorical fields: level indices sorted by level text, for binary search.
    sorted: Vec<u32>,
}

impl Encoder {
    pub(crate) fn new(field: &Field) -> Encoder {
        let sorted = match &field.kind {
            FieldKind::Numeric(_) => Vec::new(),
            FieldKind::Categorical(c) => {
                let mut idx: Vec<u32> = (0..c.levels.len() as u32).collect();
                idx.sort_by(|&a, &b| c.levels[a as usize].cmp(&c.levels[b as usize]));
                idx
            }
        };
        Encoder { sorted }
    }

    /// Encodes one value of `field` into its feature.
    pub(crate) fn encode(&self, field: &Field, value: Value<'_>) -> Result<f64, FieldError> {
        let err = |problem| FieldError { field: field.name.clone(), problem };
        match &field.kind {
            FieldKind::Numeric(n) => encode_number(n, value).map_err(err),
            FieldKind::Categorical(c) => self.encode_category(c, value).map_err(err),
        }
    }

    fn lookup(&self, c: &CategoricalField, text: &str) -> Option<u32> {
        self.sorted
            .binary_search_by(|&i| c.levels[i as usize].as_str().cmp(text))
            .ok()
            .map(|k| self.sorted[k])
    }

    fn encode_category(&self, c: &CategoricalField, value: Value<'_>) -> Result<f64, Problem> {
        let number_text;
        let text = match value {
            Value::Absent => return Err(Problem::Missing),
            Value::Null => "",
            Value::Text(s) => s,
            // A column of integer codes read as categories accepts the number too.
            Value::Number(x) if x.is_finite() => {
                number_text = format_number(x);
                &number_text
            }
            other => return Err(Problem::NotAString(describe(&other))),
        };
        let code = self
            .lookup(c, text)
            .or_else(|| {
                let trimmed = text.trim();
                (trimmed.len() != text.len()).then(|| self.lookup(c, trimmed)).flatten()
            })
            .or(match c.unknown {
                Unknown::AsLevel(code) => Some(code),
                Unknown::Error => None,
            });
        match code {
            Some(code) => Ok(code as f64),
            None if text.trim().is_empty() => Err(Problem::MissingValue),
            None => {
                let mut expected = c.levels.clone();
                expected.sort();
                Err(Problem::UnknownCategory { got: quote(text), expected })
            }
        }
    }
}

fn encode_number(n: &NumericField, value: Value<'_>) -> Result<f64, Problem> {
    let missing = || match n.missing {
        Missing::Replace(v) => Ok(v),
        Missing::Error => Err(Problem::MissingValue),
    };
    match value {
        Value::Absent => Err(Problem::Missing),
        Value::Null => missing(),
        Value::Number(x) if x.is_finite() => Ok(x),
        Value::Number(x) => Err(Problem::NotFinite(format_number(x))),
        Value::Text(s) => {
            let t = s.trim();
            if t.is_empty() {
                return missing();
            }
            match parse_number(t) {
                Some(x) if x.is_finite() => Ok(x),
                Some(_) => Err(Problem::NotFinite(quote(s))),
                None => Err(Problem::NotANumber(quote(s))),
            }
        }
        other => Err(Problem::NotANumber(describe(&other))),
    }
}

/// Parses a decimal number the way a CSV or JSON user writes it. Rust's `f64::from_str`
/// is exact (correctly rounded) and platform-independent, so native and wasm agree bit for bit.
/// It also accepts `inf`/`NaN` spellings, which the caller refuses as non-finite.
pub fn parse_number(t: &str) -> Option<f64> {
    t.parse::<f64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contract() -> Field {
        Field {
            name: "Contract".into(),
            kind: FieldKind::Categorical(CategoricalField {
                levels: vec!["Two year".into(), "One year".into(), "Month-to-month".into()],
                unknown: Unknown::Error,
            }),
        }
    }

    fn tenure(missing: Missing) -> Field {
        Field {
            name: "tenure".into(),
            kind: FieldKind::Numeric(NumericField { missing, min: 0.0, max: 72.0, integer: true }),
        }
    }

    #[test]
    fn categories_encode_to_their_code() {
        let f = contract();
        let e = Encoder::new(&f);
        // Codes are positions in `levels`, not alphabetical positions.
        assert_eq!(e.encode(&f, Value::Text("Two year")).unwrap(), 0.0);
        assert_eq!(e.encode(&f, Value::Text("One year")).unwrap(), 1.0);
        assert_eq!(e.encode(&f, Value::Text("Month-to-month")).unwrap(), 2.0);
        assert_eq!(e.encode(&f, Value::Text(" One year ")).unwrap(), 1.0);
    }

    #[test]
    fn unknown_category_lists_levels() {
        let f = contract();
        let e = Encoder::new(&f);
        let err = e.encode(&f, Value::Text("Weekly")).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"Contract: unknown category "Weekly" (expected one of: Month-to-month, One year, Two year)"#
        );
        let err = e.encode(&f, Value::Null).unwrap_err();
        assert_eq!(err.problem, Problem::MissingValue);
        let err = e.encode(&f, Value::Other("an object")).unwrap_err();
        assert_eq!(err.to_string(), "Contract: expected a string, got an object");
    }

    #[test]
    fn unknown_category_can_map_to_a_level() {
        let mut f = contract();
        if let FieldKind::Categorical(c) = &mut f.kind {
            c.unknown = Unknown::AsLevel(2);
        }
        let e = Encoder::new(&f);
        assert_eq!(e.encode(&f, Value::Text("Weekly")).unwrap(), 2.0);
    }

    #[test]
    fn integer_coded_categories_accept_numbers() {
        let f = Field {
            name: "SeniorCitizen".into(),
            kind: FieldKind::Categorical(CategoricalField {
                levels: vec!["0".into(), "1".into()],
                unknown: Unknown::Error,
            }),
        };
        let e = Encoder::new(&f);
        assert_eq!(e.encode(&f, Value::Number(1.0)).unwrap(), 1.0);
        assert_eq!(e.encode(&f, Value::Text("0")).unwrap(), 0.0);
        assert!(e.encode(&f, Value::Number(2.0)).is_err());
    }

    #[test]
    fn numbers_strings_blanks_and_junk() {
        let f = tenure(Missing::Replace(29.0));
        let e = Encoder::new(&f);
        assert_eq!(e.encode(&f, Value::Number(5.0)).unwrap(), 5.0);
        assert_eq!(e.encode(&f, Value::Text("5")).unwrap(), 5.0);
        assert_eq!(e.encode(&f, Value::Text(" 29.85 ")).unwrap(), 29.85);
        assert_eq!(e.encode(&f, Value::Text(" ")).unwrap(), 29.0);
        assert_eq!(e.encode(&f, Value::Null).unwrap(), 29.0);
        let msg = |v| e.encode(&f, v).unwrap_err().to_string();
        assert_eq!(msg(Value::Text("abc")), r#"tenure: expected a number, got "abc""#);
        assert_eq!(msg(Value::Number(f64::NAN)), "tenure: expected a finite number, got NaN");
        assert_eq!(msg(Value::Text("Infinity")), r#"tenure: expected a finite number, got "Infinity""#);
        assert_eq!(msg(Value::Bool(true)), "tenure: expected a number, got true");
        assert_eq!(msg(Value::Absent), "missing field: tenure");
        let strict = tenure(Missing::Error);
        let e = Encoder::new(&strict);
        assert_eq!(e.encode(&strict, Value::Text("")).unwrap_err().problem, Problem::MissingValue);
    }
}

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
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Clone, Debug, PartialEq, Encode, Decode)]
pub struct Schema {
    pub fields: Vec<Field>,
    /// Identifier column (e.g. `customerID`): not a feature, carried into scored output.
    pub id_column: Option<String>,
    pub target: Target,
}

/// The training target: its column and which value counts as churn.
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Clone, Debug, PartialEq, Encode, Decode)]
pub struct Target {
    pub column: String,
    /// The value meaning "churned" (e.g. `Yes`, `1`).
    pub positive: String,
    /// The other value (e.g. `No`, `0`).
    pub negative: String,
}

#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Clone, Debug, PartialEq, Encode, Decode)]
pub struct Field {
    pub name: String,
    #[cfg_attr(feature = "serde", serde(flatten))]
    pub kind: FieldKind,
}

#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Clone, Debug, PartialEq, Encode, Decode)]
#[cfg_attr(feature = "serde", serde(tag = "kind", rename_all = "lowercase"))]
pub enum FieldKind {
    Numeric(NumericField),
    Categorical(CategoricalField),
}

#[cfg_attr(feature = "serde", derive(serde::Serialize))]
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
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Clone, Copy, Debug, PartialEq, Encode, Decode)]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Missing {
    /// Refuse the record.
    Error,
    /// Use this value instead (the trainer stores the training median).
    Replace(f64),
}

#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Clone, Debug, PartialEq, Encode, Decode)]
pub struct CategoricalField {
    /// Levels in code order: `levels[c]` is encoded as `c as f64`.
    pub levels: Vec<String>,
    pub unknown: Unknown,
}

/// Rule for a category not seen in training (and for a blank/null value when `""` is no level).
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Clone, Copy, Debug, PartialEq, Encode, Decode)]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
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

/// Indices of `levels` in the byte order of their text. The encoder's lookup table, the
/// "expected one of" list and the artifact's duplicate check share this one sort.
pub(crate) fn level_order(levels: &[String]) -> Vec<u32> {
    order_by(levels.len(), &|a, b| levels[a].cmp(&levels[b])).into_iter().map(|i| i as u32).collect()
}

/// `0..n` sorted by `cmp`, stably (ties keep index order). Every sort of the core goes through
/// this one function: each distinct `sort_by` instance adds 5–7 KB to the wasm build.
pub(crate) fn order_by(n: usize, cmp: &dyn Fn(usize, usize) -> std::cmp::Ordering) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&a, &b| cmp(a, b));
    idx
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
            FieldKind::Categorical(c) => level_order(&c.levels),
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

    /// The level whose text is exactly `text`. Levels are unique, so every search finds the same
    /// one. A field with few levels (most categorical fields: Yes/No, a plan, a contract) is
    /// scanned comparing lengths first, which rules out most levels without reading their bytes;
    /// a binary search would compare bytes at every step (scoring a Telco row spent 40 % of its
    /// time there).
    fn lookup(&self, c: &CategoricalField, text: &str) -> Option<u32> {
        const SCAN_MAX: usize = 16;
        if c.levels.len() <= SCAN_MAX {
            let t = text.as_bytes();
            return c.levels.iter().position(|l| l.len() == t.len() && l.as_bytes() == t).map(|i| i as u32);
        }
        self.sorted.binary_search_by(|&i| c.levels[i as usize].as_str().cmp(text)).ok().map(|k| self.sorted[k])
    }

    fn encode_category(&self, c: &CategoricalField, value: Value<'_>) -> Result<f64, Problem> {
        let number_text;
        let text = match value {
            Value::Level(k) if (k as usize) < c.levels.len() => return Ok(k as f64),
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
                // The levels in text order (what sorting a copy of them would give).
                let expected = self.sorted.iter().map(|&i| c.levels[i as usize].clone()).collect();
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
#[cfg(not(target_arch = "wasm32"))]
pub fn parse_number(t: &str) -> Option<f64> {
    t.parse::<f64>().ok()
}

/// The wasm build's [`parse_number`]: the same grammar and the same, correctly rounded values
/// (tested against `f64::from_str` below), in a fraction of the size. std's parser carries a
/// 10 KB table of powers of five that no compressor can shrink (~9 KB of the npm package's
/// gzip size); lexical's compact mode computes what it needs instead.
#[cfg(target_arch = "wasm32")]
#[inline(never)] // kept out of the encoder: the number path stays small where it is hot
pub fn parse_number(t: &str) -> Option<f64> {
    parse_compact(t)
}

/// `f64::from_str`'s grammar (`[+-]? (inf | infinity | nan | digits [. digits] [e [+-] digits])`,
/// the words in any case, at least one digit before or after the point) checked here; the
/// conversion of an accepted number is lexical's.
#[cfg(any(test, target_arch = "wasm32"))]
fn parse_compact(t: &str) -> Option<f64> {
    let b = t.as_bytes();
    let (negative, body) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
        return Some(if negative { f64::NEG_INFINITY } else { f64::INFINITY });
    }
    if body.eq_ignore_ascii_case(b"nan") {
        return Some(f64::NAN);
    }
    let digits = |s: &[u8]| s.iter().take_while(|c| c.is_ascii_digit()).count();
    let int = digits(body);
    let mut rest = &body[int..];
    let mut frac = 0;
    if rest.first() == Some(&b'.') {
        frac = digits(&rest[1..]);
        rest = &rest[1 + frac..];
    }
    if int + frac == 0 {
        return None;
    }
    if let Some((b'e' | b'E', exp)) = rest.split_first() {
        let exp = match exp.first() {
            Some(b'-' | b'+') => &exp[1..],
            _ => exp,
        };
        if exp.is_empty() || digits(exp) != exp.len() {
            return None;
        }
    } else if !rest.is_empty() {
        return None;
    }
    <f64 as lexical_parse_float::FromLexical>::from_lexical(b).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The wasm build's parser against `f64::from_str`: same acceptance, same bits.
    fn same_as_std(t: &str) {
        let (ours, std) = (parse_compact(t), t.parse::<f64>().ok());
        let same = match (ours, std) {
            (Some(a), Some(b)) => a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
            (None, None) => true,
            _ => false,
        };
        assert!(same, "{t:?}: wasm parser {ours:?}, std {std:?}");
    }

    #[test]
    fn wasm_number_parser_agrees_with_std_on_edge_cases() {
        let long = |d: &str, n: usize| d.repeat(n);
        let cases = [
            "0",
            "-0",
            "+0",
            "00",
            "1",
            "-1",
            "+1",
            "1.",
            ".1",
            "-.5",
            "+5.",
            "1e5",
            "1E5",
            "1e+5",
            "1e-5",
            "1.5e3",
            ".5e-3",
            "5.e2",
            "0.0",
            "29.85",
            " 1",
            "1 ",
            "",
            ".",
            "-",
            "+",
            "+-1",
            "--1",
            "e5",
            ".e5",
            "1e",
            "1e+",
            "1e-",
            "1e5.5",
            "1.2.3",
            "0x10",
            "1_000",
            "1,5",
            "١",
            "1e5x",
            "x1",
            "inf",
            "-INF",
            "+Inf",
            "infinity",
            "-Infinity",
            "INFINITY",
            "infinit",
            "infinityy",
            "in",
            "nan",
            "NaN",
            "-nan",
            "+NAN",
            "nana",
            "9007199254740993",
            "9007199254740992.5",
            "0.1",
            "0.2",
            "0.30000000000000004",
            "2.2250738585072011e-308",
            "2.2250738585072012e-308",
            "2.2250738585072014e-308",
            "4.9e-324",
            "5e-324",
            "2.4703282292062327e-324",
            "2.4703282292062328e-324",
            "3e-324",
            "1e-400",
            "1.7976931348623157e308",
            "1.7976931348623158e308",
            "1.7976931348623159e308",
            "1e309",
            "1e400",
            "1e99999999999999999999",
            "-1e99999999999999999999",
            "0e99999999999999999999",
            "1e-99999999999999999999",
            "123456789012345678901234567890",
            "0.000000000000000000000000000001",
            "7.2057594037927933e16",
            "9223372036854775807",
            "18446744073709551616",
            "1.00000000000000011102230246251565404236316680908203125",
            "1.00000000000000011102230246251565404236316680908203124",
            "1.00000000000000011102230246251565404236316680908203126",
        ];
        for t in cases {
            same_as_std(t);
        }
        // Long mantissas: past every fast path, into the big-number one.
        for t in [
            format!("{}e-300", long("9", 800)),
            format!("0.{}1", long("0", 400)),
            format!("1{}", long("0", 308)),
            format!("1{}", long("0", 309)),
            format!("{}.{}", long("1", 500), long("2", 500)),
            "2.47032822920623272088284396434110686182529901307162382212792841250337753635104375932649918180817996189898282347722858865463328355177969898199387398005390939063150356595155702263922908583924491051844359318028499365361525003193704576782492193656236698636584807570015857692699037063119282795585513329278343384093519780155312465972635795746227664652728272200563740064854999770965994704540208281662262378573934507363390079677619305775067401763246736009689513405355374585166611342237666786041621596804619144672918403005300575308490487653917113865916462395249126236538818796362393732804238910186723484976682350898633885879256283027559956575244555072551893136908362547791869486679949683240497058210285131854513962138377228261454376934125320985913276672363281255e-324".to_string(),
            format!("1.7976931348623157081452742373170435679807056752584499659891747680315726078002853876058955863276687817154045895351438246423432132688946418276846754670353751698604991057655128207624549009038932894407586850845513394230458323690322294816580855933212334827479782620414472316873817718091929988125040402618412485836{}", long("8", 3)),
        ] {
            same_as_std(&t);
        }
    }

    /// Random strings over the grammar's alphabet, and exact decimal expansions of random
    /// doubles cut at random lengths (the hard, near-halfway inputs).
    #[test]
    fn wasm_number_parser_agrees_with_std_on_random_inputs() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let alphabet = b"0123456789012345678901234567890123456789..eE+-";
        for _ in 0..200_000 {
            let len = (next() % 24) as usize;
            let t: String = (0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize] as char).collect();
            same_as_std(&t);
        }
        for _ in 0..100_000 {
            let x = f64::from_bits(next() >> 1);
            let exact = format!("{x:.40e}");
            let (mantissa, exp) = exact.split_once('e').unwrap_or((&exact, "0"));
            let cut = 1 + (next() % mantissa.len().min(40) as u64) as usize;
            same_as_std(&format!("{}e{exp}", &mantissa[..cut.max(1)]));
            same_as_std(&format!("{x}"));
            same_as_std(&format!("{x:e}"));
        }
    }

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
        // A level by index encodes as its text does; an index out of range is refused.
        assert_eq!(e.encode(&f, Value::Level(2)).unwrap(), 2.0);
        assert_eq!(e.encode(&f, Value::Level(3)).unwrap_err().problem, Problem::NotAString("level 3".into()));
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
    fn scan_and_binary_search_find_the_same_levels() {
        // Up to 16 levels are scanned, more are binary-searched: every level, padded or not,
        // and texts that are no level must come out the same from both.
        for n in [1, 3, 16, 17, 40] {
            let levels: Vec<String> =
                (0..n).map(|i| format!("{}{}", ["b", "a", "", "ab"][i % 4], i * 7 % 13)).collect();
            let mut levels = levels;
            levels.sort();
            levels.dedup();
            levels.reverse();
            let f = Field {
                name: "plan".into(),
                kind: FieldKind::Categorical(CategoricalField { levels: levels.clone(), unknown: Unknown::Error }),
            };
            let e = Encoder::new(&f);
            for (k, l) in levels.iter().enumerate() {
                assert_eq!(e.encode(&f, Value::Text(l)).unwrap(), k as f64, "{n} levels: {l:?}");
                assert_eq!(e.encode(&f, Value::Text(&format!(" {l} "))).unwrap(), k as f64);
            }
            for other in ["zz", "a", "b100", "A1"] {
                if !levels.iter().any(|l| l == other) {
                    assert!(e.encode(&f, Value::Text(other)).is_err(), "{n} levels: {other:?}");
                }
            }
        }
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

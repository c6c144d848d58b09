//! Input values as every surface hands them to the core, and the errors bad ones produce.
//!
//! A CSV cell, a JSON value and a JS value all become a [`Value`]; the schema then turns it into
//! one feature. Messages follow the shared contract: they name the field and say what was wrong,
//! e.g. `tenure: expected a number, got "abc"`.

use std::fmt;

/// One input value, borrowed from wherever the record lives.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value<'a> {
    /// The record has no such field.
    Absent,
    /// JSON `null` / JS `null` or `undefined`.
    Null,
    Bool(bool),
    Number(f64),
    /// A string: a CSV cell, a JSON string.
    Text(&'a str),
    /// A categorical field's level by its index in the schema, for callers that matched the
    /// level's exact text themselves (the JS bindings do, with maps built from the schema).
    Level(u32),
    /// Anything else (an object, an array, a function...), named for the error message.
    Other(&'static str),
}

/// One input value, owned: what a binding reads out of its host's objects (JS, Python) before
/// the core borrows it as a [`Value`].
#[derive(Clone, Debug, PartialEq)]
pub enum OwnedValue {
    Absent,
    Null,
    Bool(bool),
    Number(f64),
    Text(String),
    Level(u32),
    Other(&'static str),
}

impl OwnedValue {
    /// The core's view of this value.
    pub fn value(&self) -> Value<'_> {
        match self {
            OwnedValue::Absent => Value::Absent,
            OwnedValue::Null => Value::Null,
            OwnedValue::Bool(b) => Value::Bool(*b),
            OwnedValue::Number(x) => Value::Number(*x),
            OwnedValue::Text(s) => Value::Text(s),
            OwnedValue::Level(code) => Value::Level(*code),
            OwnedValue::Other(k) => Value::Other(k),
        }
    }
}

/// What is wrong with one field's value.
#[derive(Clone, Debug, PartialEq)]
pub enum Problem {
    /// The field is not in the record at all.
    Missing,
    /// A numeric field got something that is not a number.
    NotANumber(String),
    /// A numeric field got NaN or an infinity.
    NotFinite(String),
    /// A categorical field got a value it never saw in training.
    UnknownCategory { got: String, expected: Vec<String> },
    /// A categorical field got a string-less value (object, bool...).
    NotAString(String),
    /// Blank or null where the model has no rule for missing values.
    MissingValue,
}

/// One field's problem, named.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldError {
    pub field: String,
    pub problem: Problem,
}

impl FieldError {
    /// The message without the field name (for `{"field": .., "message": ..}` details).
    pub fn message(&self) -> String {
        match &self.problem {
            Problem::Missing => "missing field".to_string(),
            Problem::NotANumber(got) => format!("expected a number, got {got}"),
            Problem::NotFinite(got) => format!("expected a finite number, got {got}"),
            Problem::UnknownCategory { got, expected } => {
                format!("unknown category {got} (expected one of: {})", expected.join(", "))
            }
            Problem::NotAString(got) => format!("expected a string, got {got}"),
            Problem::MissingValue => {
                "missing value (blank or null), and this field has no rule for missing values".to_string()
            }
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.problem {
            Problem::Missing => write!(f, "missing field: {}", self.field),
            _ => write!(f, "{}: {}", self.field, self.message()),
        }
    }
}

/// Every problem found in one record (all fields are checked, not just the first bad one).
#[derive(Clone, Debug, PartialEq)]
pub struct InputError {
    pub errors: Vec<FieldError>,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for InputError {}

/// Longest part of a user's string quoted back in a message: a 10 MB string must not become
/// a 10 MB error.
const QUOTE_MAX_CHARS: usize = 40;

/// How a value is shown inside an error message.
pub(crate) fn describe(v: &Value<'_>) -> String {
    match v {
        Value::Absent => "nothing".to_string(),
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(x) => format_number(*x),
        Value::Text(s) => quote(s),
        Value::Level(k) => format!("level {k}"),
        Value::Other(kind) => (*kind).to_string(),
    }
}

/// Quotes a user's string for a message: `"…"` with `"`, `\\` and control characters escaped,
/// cut after 40 characters. (Hand-made rather than `{:?}`, whose Unicode tables would add
/// kilobytes to the wasm build.)
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(QUOTE_MAX_CHARS * 4) + 2);
    out.push('"');
    let mut chars = s.chars();
    for c in chars.by_ref().take(QUOTE_MAX_CHARS) {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                out.push_str("\\u{");
                out.push_str(&hex(c as u32));
                out.push('}');
            }
            c => out.push(c),
        }
    }
    out.push('"');
    if chars.next().is_some() {
        out.push_str("… (");
        out.push_str(&s.len().to_string());
        out.push_str(" bytes)");
    }
    out
}

pub(crate) fn hex(mut v: u32) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut buf = Vec::new();
    loop {
        buf.push(DIGITS[(v & 15) as usize]);
        v >>= 4;
        if v == 0 {
            break;
        }
    }
    buf.reverse();
    String::from_utf8(buf).unwrap_or_default()
}

/// Whole numbers as integers (`1`, never `1.0`), NaN and infinities by name, other numbers as
/// "a fractional number". The core never formats a fraction: float printing would add ~20 KB
/// to the wasm build, and no message or lookup needs it (a categorical field accepts numbers
/// only where its levels are integer codes).
pub(crate) fn format_number(x: f64) -> String {
    if x.is_nan() {
        "NaN".to_string()
    } else if x.is_infinite() {
        if x > 0.0 { "Infinity" } else { "-Infinity" }.to_string()
    } else if x.fract() == 0.0 && x.abs() < 9.0e15 {
        (x as i64).to_string()
    } else {
        "a fractional number".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_follow_the_contract() {
        let e = FieldError { field: "tenure".into(), problem: Problem::NotANumber(quote("abc")) };
        assert_eq!(e.to_string(), r#"tenure: expected a number, got "abc""#);
        let e = FieldError { field: "MonthlyCharges".into(), problem: Problem::Missing };
        assert_eq!(e.to_string(), "missing field: MonthlyCharges");
        let e = FieldError {
            field: "Contract".into(),
            problem: Problem::UnknownCategory {
                got: quote("Weekly"),
                expected: vec!["Month-to-month".into(), "One year".into(), "Two year".into()],
            },
        };
        assert_eq!(
            e.to_string(),
            r#"Contract: unknown category "Weekly" (expected one of: Month-to-month, One year, Two year)"#
        );
    }

    #[test]
    fn huge_strings_are_cut_in_messages() {
        let big = "x".repeat(1_000_000);
        let q = quote(&big);
        assert!(q.len() < 80, "{q}");
        assert!(q.ends_with("(1000000 bytes)"));
    }
}

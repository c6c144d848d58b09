//! A small JSON reader for the one JSON input the core takes: a profile (`Profile::from_json`).
//! The CLI (`churn monitor --from`) and the JS bindings (`ChurnProfile.merge`) hand it the same
//! text, so both read a profile the same way. Any byte string gives a value or an error naming
//! the position, never a panic; nesting is limited to [`MAX_DEPTH`].

/// A JSON value with its keys in document order.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Number(f64),
    Text(String),
    List(Vec<Json>),
    Map(Vec<(String, Json)>),
}

/// Deepest nesting accepted (a profile needs 3).
pub const MAX_DEPTH: usize = 16;

impl Json {
    /// The value of `key` in a map.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// What kind of value this is, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(_) => "a number",
            Json::Text(_) => "a string",
            Json::List(_) => "an array",
            Json::Map(_) => "an object",
        }
    }
}

/// Parses one JSON document (surrounding whitespace allowed).
pub fn parse(text: &str) -> Result<Json, String> {
    let mut p = Parser { b: text.as_bytes(), at: 0 };
    let v = p.value(0)?;
    p.space();
    if p.at != p.b.len() {
        return Err(p.error("unexpected text after the JSON value"));
    }
    Ok(v)
}

struct Parser<'a> {
    b: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn error(&self, what: &str) -> String {
        format!("malformed JSON at byte {}: {what}", self.at)
    }

    fn space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.at) {
            self.at += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.b.get(self.at) == Some(&c) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn word(&mut self, w: &str, v: Json) -> Result<Json, String> {
        if self.b.get(self.at..self.at + w.len()) == Some(w.as_bytes()) {
            self.at += w.len();
            Ok(v)
        } else {
            Err(self.error("expected a value"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, String> {
        if depth > MAX_DEPTH {
            return Err(self.error(&format!("nested deeper than {MAX_DEPTH} levels")));
        }
        self.space();
        match self.b.get(self.at) {
            None => Err(self.error("unexpected end")),
            Some(b'n') => self.word("null", Json::Null),
            Some(b't') => self.word("true", Json::Bool(true)),
            Some(b'f') => self.word("false", Json::Bool(false)),
            Some(b'"') => self.string().map(Json::Text),
            Some(b'[') => {
                self.at += 1;
                let mut items = Vec::new();
                self.space();
                if self.eat(b']') {
                    return Ok(Json::List(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    self.space();
                    if self.eat(b']') {
                        return Ok(Json::List(items));
                    }
                    if !self.eat(b',') {
                        return Err(self.error("expected , or ]"));
                    }
                }
            }
            Some(b'{') => {
                self.at += 1;
                let mut entries = Vec::new();
                self.space();
                if self.eat(b'}') {
                    return Ok(Json::Map(entries));
                }
                loop {
                    self.space();
                    if self.b.get(self.at) != Some(&b'"') {
                        return Err(self.error("expected a key in quotes"));
                    }
                    let k = self.string()?;
                    self.space();
                    if !self.eat(b':') {
                        return Err(self.error("expected :"));
                    }
                    entries.push((k, self.value(depth + 1)?));
                    self.space();
                    if self.eat(b'}') {
                        return Ok(Json::Map(entries));
                    }
                    if !self.eat(b',') {
                        return Err(self.error("expected , or }"));
                    }
                }
            }
            Some(b'-' | b'0'..=b'9') => {
                let start = self.at;
                while let Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') = self.b.get(self.at) {
                    self.at += 1;
                }
                let n = self.b.get(start..self.at).unwrap_or_default();
                // The scan stopped at ASCII, so this is text.
                let t = std::str::from_utf8(n).unwrap_or_default();
                // JSON's grammar is narrower than the number parser's: no leading +, no bare
                // point, no leading zero.
                let digit_at = |i: usize| n.get(i).is_some_and(u8::is_ascii_digit);
                let lead = usize::from(n.first() == Some(&b'-'));
                let ok = digit_at(lead)
                    && !(n.get(lead) == Some(&b'0') && digit_at(lead + 1))
                    && n.windows(2).all(|w| w[0] != b'.' || w[1].is_ascii_digit())
                    && n.last() != Some(&b'.');
                match crate::schema::parse_number(t) {
                    Some(x) if ok && x.is_finite() => Ok(Json::Number(x)),
                    _ => {
                        self.at = start;
                        Err(self.error(&format!("bad number \"{t}\"")))
                    }
                }
            }
            Some(_) => Err(self.error("expected a value")),
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let h = self.b.get(self.at..self.at + 4).ok_or_else(|| self.error("short \\u escape"))?;
        let mut v = 0;
        for &c in h {
            v = v * 16 + (c as char).to_digit(16).ok_or_else(|| self.error("bad \\u escape"))?;
        }
        self.at += 4;
        Ok(v)
    }

    /// A string at `self.at` (which is `"`).
    fn string(&mut self) -> Result<String, String> {
        self.at += 1;
        let mut s = Vec::new();
        loop {
            match self.b.get(self.at) {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => {
                    self.at += 1;
                    // The input was a &str and escapes add whole characters.
                    return String::from_utf8(s).map_err(|_| self.error("bad text"));
                }
                Some(b'\\') => {
                    self.at += 1;
                    let c = match self.b.get(self.at) {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.at += 1;
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                if !(self.eat(b'\\') && self.eat(b'u')) {
                                    return Err(self.error("lone surrogate in \\u escape"));
                                }
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(self.error("lone surrogate in \\u escape"));
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            let c = char::from_u32(code).ok_or_else(|| self.error("lone surrogate in \\u escape"))?;
                            s.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                            continue;
                        }
                        _ => return Err(self.error("bad escape")),
                    };
                    self.at += 1;
                    s.push(c as u8);
                }
                Some(&c) if c < 0x20 => return Err(self.error("control character in a string")),
                Some(&c) => {
                    s.push(c);
                    self.at += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_json_and_names_where_it_is_wrong() {
        let v = parse(r#" {"a": [1, -2.5e3, true, null], "b": "x\"\u00e9\ud83d\ude00", "c": {}} "#).unwrap();
        assert_eq!(
            v.get("a"),
            Some(&Json::List(vec![Json::Number(1.0), Json::Number(-2500.0), Json::Bool(true), Json::Null]))
        );
        assert_eq!(v.get("b"), Some(&Json::Text("x\"é😀".into())));
        assert_eq!(v.get("c"), Some(&Json::Map(vec![])));
        for (bad, msg) in [
            ("", "byte 0: unexpected end"),
            ("{\"a\" 1}", "byte 5: expected :"),
            ("[1,]", "byte 3: expected a value"),
            ("[1 2]", "byte 3: expected , or ]"),
            ("01", "byte 0: bad number \"01\""),
            ("+1", "byte 0: expected a value"),
            ("1.", "byte 0: bad number \"1.\""),
            ("1e999", "byte 0: bad number \"1e999\""),
            ("\"\\ud800\"", "lone surrogate"),
            ("\"a", "unterminated string"),
            ("{} x", "byte 3: unexpected text after the JSON value"),
            ("nul", "byte 0: expected a value"),
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains(msg), "{bad}: {e}");
        }
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert!(parse(&deep).unwrap_err().contains("nested deeper than 16 levels"));
    }

    #[test]
    fn never_panics_on_any_prefix_or_byte_flip() {
        let doc = r#"{"k": [1, 2.5, "s\u0041\n", {"x": null}], "t": true, "f": false}"#;
        for i in 0..=doc.len() {
            if doc.is_char_boundary(i) {
                let _ = parse(&doc[..i]);
            }
        }
        let b = doc.as_bytes();
        for i in 0..b.len() {
            for flip in [b'"', b'\\', b'{', b'}', b'[', b']', b',', b':', b'-', b'e', b'0', 0x7f] {
                let mut v = b.to_vec();
                v[i] = flip;
                if let Ok(s) = std::str::from_utf8(&v) {
                    let _ = parse(s);
                }
            }
        }
    }
}

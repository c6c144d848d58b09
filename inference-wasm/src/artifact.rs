//! The model file: header + bincode payload. Field-by-field spec: `docs/FORMAT.md`.
//!
//! ```text
//! offset size
//!  0     8    magic  b"CHURNMDL"
//!  8     2    format version, u16 little-endian (this build writes 2, reads 1 and 2)
//! 10     2    flags, u16 LE, must be 0
//! 12     4    payload length in bytes, u32 LE (at most MAX_PAYLOAD)
//! 16     4    CRC-32 (IEEE) of the payload, u32 LE
//! 20     n    payload: `Artifact` in bincode 2.0.1 "standard" encoding (varint, LE)
//! ```
//! Decoding is bounded: the payload size is capped, every container length the payload claims
//! counts against a fixed allocation budget before anything is allocated, and any malformed
//! byte string yields an [`ArtifactError`], never a panic.

use bincode::{Decode, Encode};

use crate::card::{Candidate, ForestSettings, KindParams, ModelCard, TrainParams};
use crate::forest::{Ensemble, Forest};
use crate::metrics::{Metrics, RocPoint};
use crate::policy::RiskPolicy;
use crate::profile::Profile;
use crate::schema::{FieldKind, Missing, Schema, Unknown};

pub const MAGIC: [u8; 8] = *b"CHURNMDL";
/// The format version this build writes. Versions 1 (random forests only, no model kind) and 2
/// (no reference profile) still load, and score bit-identically.
pub const FORMAT_VERSION: u16 = 3;
/// The oldest format version this build reads.
pub const OLDEST_FORMAT_VERSION: u16 = 1;
pub const HEADER_LEN: usize = 20;
/// Largest payload accepted (64 MiB; the default Telco model is ~0.1 MiB).
pub const MAX_PAYLOAD: usize = 64 << 20;
/// Allocation budget while decoding: each container claims `len × element size` from it first.
const DECODE_LIMIT: usize = 64 << 20;

/// Everything needed to score: what `churn train` writes and every surface loads. (Decoded by
/// [`Payload`], which reads every format version.)
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Clone, Debug, PartialEq, Encode)]
pub struct Artifact {
    pub schema: Schema,
    pub policy: RiskPolicy,
    /// The trees, of one model kind.
    pub ensemble: Ensemble,
    pub card: ModelCard,
    /// The training rows' profile, the reference for drift (format version 3; `None` in files
    /// of versions 1 and 2).
    pub profile: Option<Profile>,
}

/// A payload of any version, decoded by one decoder (one copy of it in the wasm build). The
/// context is the format version. Version 1 differs in three places: a `Forest` where
/// `ensemble` is (no kind index), `ForestSettings` where `params.kind` is (no kind index), and
/// no `selection` at the end of the card. Versions 1 and 2 end after the card; version 3 adds
/// the reference profile.
struct Payload(Artifact);

impl bincode::Decode<u16> for Payload {
    fn decode<D: bincode::de::Decoder<Context = u16>>(d: &mut D) -> Result<Self, bincode::error::DecodeError> {
        let v1 = *d.context() == 1;
        let schema = Schema::decode(d)?;
        let policy = RiskPolicy::decode(d)?;
        let ensemble = if v1 { Ensemble::Forest(Forest::decode(d)?) } else { Ensemble::decode(d)? };
        let card = ModelCard {
            name: Decode::decode(d)?,
            version: Decode::decode(d)?,
            created_at: Decode::decode(d)?,
            trainer: Decode::decode(d)?,
            data_sha256: Decode::decode(d)?,
            rows_total: Decode::decode(d)?,
            rows_train: Decode::decode(d)?,
            rows_test: Decode::decode(d)?,
            params: TrainParams {
                kind: if v1 { KindParams::Forest(ForestSettings::decode(d)?) } else { KindParams::decode(d)? },
                seed: Decode::decode(d)?,
                test_fraction: Decode::decode(d)?,
            },
            test_metrics: Option::<Metrics>::decode(d)?,
            importances: Decode::decode(d)?,
            roc: Vec::<RocPoint>::decode(d)?,
            selection: if v1 { Vec::new() } else { Vec::<Candidate>::decode(d)? },
        };
        let profile = if *d.context() >= 3 { Option::<Profile>::decode(d)? } else { None };
        Ok(Payload(Artifact { schema, policy, ensemble, card, profile }))
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ArtifactError {
    #[error("truncated at byte {at}: {what}")]
    Truncated { at: usize, what: String },
    #[error("not a churn model file (bad magic bytes {}, expected \"CHURNMDL\")", hex_bytes(found))]
    BadMagic { found: Vec<u8> },
    #[error("unsupported format version {found} (this build reads {OLDEST_FORMAT_VERSION} to {supported})")]
    UnsupportedVersion { found: u16, supported: u16 },
    #[error("unsupported flags {0:#06x} in header")]
    Flags(u16),
    #[error("payload of {0} bytes is over the {MAX_PAYLOAD}-byte limit")]
    TooLarge(usize),
    #[error("checksum mismatch: header says {expected:08x}, payload has {actual:08x} (file corrupted)")]
    ChecksumMismatch { expected: u32, actual: u32 },
    #[error("{0} unexpected bytes after the payload")]
    TrailingBytes(usize),
    #[error("malformed payload: {0}")]
    Malformed(String),
    #[error("invalid model: {0}")]
    Invalid(String),
}

fn hex_bytes(b: &[u8]) -> String {
    b.iter().map(|&x| format!("{x:02x}")).collect::<Vec<_>>().join(" ")
}

/// CRC-32 (IEEE 802.3, reflected, as zlib and PNG use), from a 1 KiB table built at compile
/// time: a few hundred bytes of wasm instead of a 16 KiB slice-by-16 table.
pub fn crc32(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut t = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
                k += 1;
            }
            t[i] = c;
            i += 1;
        }
        t
    };
    let mut c = !0u32;
    for &b in data {
        c = TABLE[((c ^ b as u32) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

/// Says what went wrong in bincode's terms without its `Debug`-based messages.
fn decode_problem(e: &bincode::error::DecodeError) -> String {
    use bincode::error::DecodeError as E;
    match e {
        E::LimitExceeded => format!("a length in the file needs more than the {DECODE_LIMIT}-byte decoding budget"),
        E::UnexpectedVariant { type_name, found, .. } => format!("invalid tag {found} for {type_name}"),
        E::Utf8 { .. } => "a string is not valid UTF-8".to_string(),
        E::InvalidIntegerType { .. } => "an integer has an invalid length prefix".to_string(),
        E::OutsideUsizeRange(n) => format!("a length of {n} does not fit in memory"),
        E::InvalidBooleanValue(b) => format!("invalid boolean byte {b}"),
        _ => "invalid data".to_string(),
    }
}

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<DECODE_LIMIT>()
}

/// A payload behind this build's header: magic, format version, reserved zero, payload length,
/// CRC-32 of the payload. (Tests and fuzzers use it to put any bytes behind a valid header.)
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

impl Artifact {
    /// Serializes with header and checksum.
    pub fn to_bytes(&self) -> Vec<u8> {
        let payload =
            bincode::encode_to_vec(self, bincode::config::standard()).expect("encoding into a Vec cannot fail");
        frame(&payload)
    }

    /// Parses and validates a model file. Never panics; the error says what is wrong.
    pub fn from_bytes(bytes: &[u8]) -> Result<Artifact, ArtifactError> {
        let head = |at: usize, what: &str| ArtifactError::Truncated { at, what: what.into() };
        if bytes.len() < MAGIC.len() {
            if MAGIC.starts_with(bytes) {
                return Err(head(bytes.len(), "the 20-byte header is incomplete"));
            }
            return Err(ArtifactError::BadMagic { found: bytes.to_vec() });
        }
        if bytes[..8] != MAGIC {
            return Err(ArtifactError::BadMagic { found: bytes[..8].to_vec() });
        }
        if bytes.len() < HEADER_LEN {
            return Err(head(bytes.len(), "the 20-byte header is incomplete"));
        }
        let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
        let u32_at = |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        let version = u16_at(8);
        if !(OLDEST_FORMAT_VERSION..=FORMAT_VERSION).contains(&version) {
            return Err(ArtifactError::UnsupportedVersion { found: version, supported: FORMAT_VERSION });
        }
        let flags = u16_at(10);
        if flags != 0 {
            return Err(ArtifactError::Flags(flags));
        }
        let len = u32_at(12) as usize;
        if len > MAX_PAYLOAD {
            return Err(ArtifactError::TooLarge(len));
        }
        let body = &bytes[HEADER_LEN..];
        if body.len() < len {
            return Err(head(
                bytes.len(),
                &format!("the header announces a {len}-byte payload, the file has {}", body.len()),
            ));
        }
        if body.len() > len {
            return Err(ArtifactError::TrailingBytes(body.len() - len));
        }
        let expected = u32_at(16);
        let actual = crc32(body);
        if expected != actual {
            return Err(ArtifactError::ChecksumMismatch { expected, actual });
        }
        let decode_error = |e| match e {
            bincode::error::DecodeError::UnexpectedEnd { .. } => {
                head(bytes.len(), "the payload ends in the middle of a value")
            }
            other => ArtifactError::Malformed(decode_problem(&other)),
        };
        let (Payload(artifact), used) =
            bincode::decode_from_slice_with_context(body, config(), version).map_err(decode_error)?;
        if used != len {
            return Err(ArtifactError::TrailingBytes(len - used));
        }
        artifact.validate()?;
        Ok(artifact)
    }

    /// Checks what the type system cannot: lengths that must agree, sane policy and rules.
    /// (The forest's own structure is checked when it is compiled.)
    pub fn validate(&self) -> Result<(), ArtifactError> {
        let bad = |m: String| Err(ArtifactError::Invalid(m));
        self.policy.validate().or_else(|m| bad(format!("policy: {m}")))?;
        let fields = &self.schema.fields;
        if fields.is_empty() {
            return bad("schema has no fields".into());
        }
        if fields.len() != self.ensemble.n_features() as usize {
            return bad(format!("schema has {} fields, the trees expect {}", fields.len(), self.ensemble.n_features()));
        }
        if self.ensemble.kind() != self.card.params.kind.kind() {
            return bad(format!(
                "the trees are {} but the model card's settings are for {}",
                self.ensemble.kind().name(),
                self.card.params.kind.kind().name()
            ));
        }
        for (i, f) in fields.iter().enumerate() {
            if fields[..i].iter().any(|g| g.name == f.name) {
                return bad(format!("field {} appears twice", crate::value::quote(&f.name)));
            }
            match &f.kind {
                FieldKind::Numeric(n) => {
                    if let Missing::Replace(v) = n.missing {
                        if !v.is_finite() {
                            return bad(format!("{}: the missing-value replacement is not finite", f.name));
                        }
                    }
                }
                FieldKind::Categorical(c) => {
                    if c.levels.is_empty() {
                        return bad(format!("{}: no levels", f.name));
                    }
                    if let Unknown::AsLevel(code) = c.unknown {
                        if code as usize >= c.levels.len() {
                            return bad(format!("{}: unknown-category level {code} does not exist", f.name));
                        }
                    }
                    let sorted = crate::schema::level_order(&c.levels);
                    if sorted.windows(2).any(|w| c.levels[w[0] as usize] == c.levels[w[1] as usize]) {
                        return bad(format!("{}: a level appears twice", f.name));
                    }
                }
            }
        }
        if self.card.importances.len() > fields.len() {
            return bad("more importances than fields".into());
        }
        if let Some(p) = &self.profile {
            p.validate(&self.schema).or_else(bad)?;
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::card::{ForestSettings, KindParams, TrainParams};
    use crate::forest::BuildNode;
    use crate::schema::{CategoricalField, Field, NumericField, Target};

    /// A two-field model: tenure <= 12.5 ? (Contract code <= 0.5 ? 0.5 : 0.8) : 0.1.
    pub(crate) fn tiny() -> Artifact {
        let tree = vec![
            BuildNode::Split { feature: 0, threshold: 12.5, value: 0.4, left: 1, right: 4 },
            BuildNode::Split { feature: 1, threshold: 0.5, value: 0.6, left: 2, right: 3 },
            BuildNode::Leaf { value: 0.5 },
            BuildNode::Leaf { value: 0.8 },
            BuildNode::Leaf { value: 0.1 },
        ];
        Artifact {
            schema: Schema {
                fields: vec![
                    Field {
                        name: "tenure".into(),
                        kind: FieldKind::Numeric(NumericField {
                            missing: Missing::Replace(29.0),
                            min: 0.0,
                            max: 72.0,
                            integer: true,
                        }),
                    },
                    Field {
                        name: "Contract".into(),
                        kind: FieldKind::Categorical(CategoricalField {
                            levels: vec!["Two year".into(), "Month-to-month".into()],
                            unknown: Unknown::Error,
                        }),
                    },
                ],
                id_column: Some("customerID".into()),
                target: Target { column: "Churn".into(), positive: "Yes".into(), negative: "No".into() },
            },
            policy: RiskPolicy::default(),
            ensemble: Ensemble::Forest(Forest::build(2, &[tree]).unwrap()),
            card: ModelCard {
                name: "tiny".into(),
                version: "t1".into(),
                created_at: "2026-11-26T00:00:00Z".into(),
                trainer: "test".into(),
                data_sha256: "00".repeat(32),
                rows_total: 10,
                rows_train: 10,
                rows_test: 0,
                params: TrainParams {
                    kind: KindParams::Forest(ForestSettings {
                        trees: 1,
                        max_depth: 2,
                        min_samples_leaf: 1,
                        min_samples_split: 2,
                        mtry: 2,
                    }),
                    seed: 42,
                    test_fraction: 0.0,
                },
                test_metrics: None,
                importances: vec![0.7, 0.3],
                roc: vec![],
                selection: vec![],
            },
            profile: None,
        }
    }

    #[test]
    fn crc32_matches_the_standard_check_value() {
        // The CRC-32/ISO-HDLC check value of "123456789".
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn round_trip() {
        let a = tiny();
        let bytes = a.to_bytes();
        assert_eq!(&bytes[..8], b"CHURNMDL");
        assert_eq!(Artifact::from_bytes(&bytes).unwrap(), a);
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = tiny().to_bytes();
        for cut in 0..bytes.len() {
            let err = Artifact::from_bytes(&bytes[..cut]).unwrap_err();
            assert!(matches!(err, ArtifactError::Truncated { .. } | ArtifactError::BadMagic { .. }), "{cut}: {err}");
            if cut >= 8 {
                assert!(err.to_string().starts_with(&format!("truncated at byte {cut}")), "{err}");
            }
        }
    }

    #[test]
    fn header_errors_say_what_is_wrong() {
        let bytes = tiny().to_bytes();
        let mut b = bytes.clone();
        b[0] = b'X';
        assert!(Artifact::from_bytes(&b).unwrap_err().to_string().contains("bad magic"));
        let mut b = bytes.clone();
        b[8] = 9;
        assert_eq!(
            Artifact::from_bytes(&b).unwrap_err().to_string(),
            "unsupported format version 9 (this build reads 1 to 3)"
        );
        let mut b = bytes.clone();
        let last = b.len() - 1;
        b[last] ^= 0x40;
        assert!(Artifact::from_bytes(&b).unwrap_err().to_string().starts_with("checksum mismatch"));
        let mut b = bytes.clone();
        b.push(0);
        assert!(matches!(Artifact::from_bytes(&b), Err(ArtifactError::TrailingBytes(1))));
        let mut b = bytes;
        b[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(Artifact::from_bytes(&b), Err(ArtifactError::TooLarge(_))));
    }

    #[test]
    fn absurd_lengths_are_refused_without_allocating_them() {
        // A payload whose first container (the schema's field list) claims 2^60 entries:
        // varint tag 253 = u64 follows.
        let mut payload = vec![253u8];
        payload.extend_from_slice(&(1u64 << 60).to_le_bytes());
        let err = Artifact::from_bytes(&frame(&payload)).unwrap_err();
        assert!(matches!(err, ArtifactError::Malformed(_)), "{err}");
        // 2^40 entries of a small type: still over the allocation budget.
        let mut payload = vec![253u8];
        payload.extend_from_slice(&(1u64 << 40).to_le_bytes());
        assert!(Artifact::from_bytes(&frame(&payload)).is_err());
    }

    #[test]
    fn semantic_checks_run_after_decoding() {
        let mut a = tiny();
        a.policy.medium = 0.9;
        let err = Artifact::from_bytes(&a.to_bytes()).unwrap_err();
        assert!(err.to_string().contains("policy"), "{err}");
        let mut a = tiny();
        if let Ensemble::Forest(f) = &mut a.ensemble {
            f.n_features = 3;
        }
        let err = Artifact::from_bytes(&a.to_bytes()).unwrap_err().to_string();
        assert_eq!(err, "invalid model: schema has 2 fields, the trees expect 3");
    }

    #[cfg(not(target_arch = "wasm32"))]
    mod properties {
        use super::*;
        use crate::{Model, Value};
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            #[test]
            fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
                let _ = Artifact::from_bytes(&bytes);
                let _ = Model::from_bytes(&frame(&bytes));
            }

            #[test]
            fn bit_flips_never_panic(pos in any::<proptest::sample::Index>(), bit in 0u8..8) {
                let mut bytes = tiny().to_bytes();
                let i = pos.index(bytes.len());
                bytes[i] ^= 1 << bit;
                prop_assert!(Model::from_bytes(&bytes).is_err());
                // Past the header, also with a recomputed checksum (the decoder itself is tested).
                if i >= HEADER_LEN {
                    let _ = Model::from_bytes(&frame(&bytes[HEADER_LEN..]));
                }
            }

            #[test]
            fn round_trip_any_policy(t in 0.0f64..=1.0, m in 0.0f64..=1.0, h in 0.0f64..=1.0, d in 0u8..16) {
                let mut a = tiny();
                a.policy = RiskPolicy { threshold: t, medium: m.min(h), high: m.max(h), decimals: d };
                prop_assert_eq!(Artifact::from_bytes(&a.to_bytes()).unwrap(), a);
            }

            #[test]
            fn probabilities_stay_in_unit_interval(tenure in any::<f64>(), code in 0usize..3, text in ".{0,12}") {
                let model = Model::new(tiny()).unwrap();
                let levels = ["Two year", "Month-to-month", text.as_str()];
                let r = model.score(|i, _| if i == 0 { Value::Number(tenure) } else { Value::Text(levels[code]) });
                if let Ok(d) = r {
                    prop_assert!((0.0..=1.0).contains(&d.raw));
                    prop_assert!(tenure.is_finite());
                }
            }
        }
    }
}

//! The model file: header + bincode payload. Field-by-field spec: `docs/FORMAT.md`.
//!
//! ```text
//! offset size
//!  0     8    magic  b"CHURNMDL"
//!  8     2    format version, u16 little-endian (this build writes and reads 1)
//! 10     2    flags, u16 LE, must be 0
//! 12     4    payload length in bytes, u32 LE (at most MAX_PAYLOAD)
//! 16     4    CRC-32 (IEEE) of the payload, u32 LE
//! 20     n    payload: `Artifact` in bincode 2.0.1 "standard" encoding (varint, LE)
//! ```
//! Decoding is bounded: the payload size is capped, every container length the payload claims
//! counts against a fixed allocation budget before anything is allocated, and any malformed
//! byte string yields an [`ArtifactError`], never a panic.

use bincode::{Decode, Encode};

use crate::card::ModelCard;
use crate::forest::Forest;
use crate::policy::RiskPolicy;
use crate::schema::{FieldKind, Missing, Schema, Unknown};

pub const MAGIC: [u8; 8] = *b"CHURNMDL";
pub const FORMAT_VERSION: u16 = 1;
pub const HEADER_LEN: usize = 20;
/// Largest payload accepted (64 MiB; the default Telco model is ~0.1 MiB).
pub const MAX_PAYLOAD: usize = 64 << 20;
/// Allocation budget while decoding: each container claims `len × element size` from it first.
const DECODE_LIMIT: usize = 64 << 20;

/// Everything needed to score: what `churn train` writes and every surface loads.
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Clone, Debug, PartialEq, Encode, Decode)]
pub struct Artifact {
    pub schema: Schema,
    pub policy: RiskPolicy,
    pub forest: Forest,
    pub card: ModelCard,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ArtifactError {
    #[error("truncated at byte {at}: {what}")]
    Truncated { at: usize, what: String },
    #[error("not a churn model file (bad magic bytes {found:02x?}, expected \"CHURNMDL\")")]
    BadMagic { found: Vec<u8> },
    #[error("unsupported format version {found} (this build reads {supported})")]
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

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<DECODE_LIMIT>()
}

impl Artifact {
    /// Serializes with header and checksum.
    pub fn to_bytes(&self) -> Vec<u8> {
        let payload = bincode::encode_to_vec(self, bincode::config::standard())
            .expect("encoding into a Vec cannot fail");
        let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        out.extend_from_slice(&payload);
        out
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
        if version != FORMAT_VERSION {
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
        let actual = crc32fast::hash(body);
        if expected != actual {
            return Err(ArtifactError::ChecksumMismatch { expected, actual });
        }
        let (artifact, used): (Artifact, usize) =
            bincode::decode_from_slice(body, config()).map_err(|e| match e {
                bincode::error::DecodeError::UnexpectedEnd { .. } => {
                    head(bytes.len(), "the payload ends in the middle of a value")
                }
                other => ArtifactError::Malformed(other.to_string()),
            })?;
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
        if fields.len() != self.forest.n_features as usize {
            return bad(format!(
                "schema has {} fields, the forest expects {}",
                fields.len(),
                self.forest.n_features
            ));
        }
        for (i, f) in fields.iter().enumerate() {
            if fields[..i].iter().any(|g| g.name == f.name) {
                return bad(format!("field {:?} appears twice", f.name));
            }
            match &f.kind {
                FieldKind::Numeric(n) => {
                    if let Missing::Replace(v) = n.missing {
                        if !v.is_finite() {
                            return bad(format!("{}: missing-value replacement {v} is not finite", f.name));
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
                    let mut sorted: Vec<&String> = c.levels.iter().collect();
                    sorted.sort();
                    if sorted.windows(2).any(|w| w[0] == w[1]) {
                        return bad(format!("{}: a level appears twice", f.name));
                    }
                }
            }
        }
        if self.card.importances.len() > fields.len() {
            return bad("more importances than fields".into());
        }
        Ok(())
    }
}

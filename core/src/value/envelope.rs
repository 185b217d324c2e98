//! What a shared store holds for one key: a fixed header, then the body.
//!
//! ```text
//! offset  size  field
//!  0       2    magic "FC"
//!  2       1    format version (1)
//!  3       1    body kind: 0 a value (MessagePack, see `codec`), 1 a loader failure,
//!               2 a value for the waiters of the load that just ended only (`ttl` 0)
//!  4       8    created        epoch ms, big-endian
//! 12       8    fresh_until    epoch ms; u64::MAX never expires
//! 20       8    stale_until    epoch ms; may be served stale until then (>= fresh_until)
//! 28       4    load_ms        how long the load took (for refresh-ahead), 0 for a `set`
//! 32       …    body
//! ```
//!
//! Deadlines are wall-clock epoch milliseconds so that an entry expires at the same
//! instant for every process. A reader that meets a newer version reads a miss and never
//! overwrites the entry blindly; the major version is also part of every store key
//! ([`KEY_PREFIX`]), so two major versions never meet.

use std::fmt;

use super::codec::{self, CodecError};
use super::Value;

pub const MAGIC: [u8; 2] = *b"FC";
pub const VERSION: u8 = 1;
pub const HEADER_LEN: usize = 32;
/// Every key flightcache writes into a shared store starts with this.
pub const KEY_PREFIX: &str = "fc:v1:";

const BODY_VALUE: u8 = 0;
const BODY_FAILURE: u8 = 1;
const BODY_HANDOFF: u8 = 2;

/// One stored entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub created: u64,
    pub fresh_until: u64,
    pub stale_until: u64,
    pub load_ms: u32,
    pub body: Body,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// The value, already encoded by [`codec::encode`].
    Value(Vec<u8>),
    /// A loader failed: waiters in every process get this error, for a short while.
    Failure { type_name: String, message: String },
    /// A loaded value that is not to be kept (`ttl` 0): only the callers that waited for
    /// that load take it; any other reader sees nothing.
    Handoff(Vec<u8>),
}

/// Why bytes in a store are not an entry this version can use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvelopeError {
    /// Not written by flightcache.
    Foreign,
    /// Written by a newer flightcache: leave it alone.
    NewerVersion(u8),
    /// Written by flightcache, but damaged.
    Corrupt(String),
}

impl fmt::Display for EnvelopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvelopeError::Foreign => f.write_str("not a flightcache entry"),
            EnvelopeError::NewerVersion(v) => write!(
                f,
                "written by a newer flightcache (format version {v}; this one reads {VERSION})"
            ),
            EnvelopeError::Corrupt(why) => write!(f, "a damaged flightcache entry: {why}"),
        }
    }
}

impl std::error::Error for EnvelopeError {}

impl From<CodecError> for EnvelopeError {
    fn from(e: CodecError) -> Self {
        EnvelopeError::Corrupt(e.0)
    }
}

/// The fixed header of an envelope, read without decoding its body (what a store needs to
/// index an entry: its kind and deadlines).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// 0 a value, 1 a loader failure, 2 a hand-off (see [`Body`]).
    pub kind: u8,
    pub created: u64,
    pub fresh_until: u64,
    pub stale_until: u64,
}

impl Header {
    /// The header of `bytes`, if they start like an envelope of this version.
    pub fn read(bytes: &[u8]) -> Option<Header> {
        if bytes.len() < HEADER_LEN || bytes[..2] != MAGIC || bytes[2] != VERSION {
            return None;
        }
        let u64_at = |i: usize| u64::from_be_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
        Some(Header {
            kind: bytes[3],
            created: u64_at(4),
            fresh_until: u64_at(12),
            stale_until: u64_at(20),
        })
    }

    pub fn is_value(&self) -> bool {
        self.kind == BODY_VALUE
    }
}

impl Envelope {
    pub fn encode(&self) -> Vec<u8> {
        let body_len = match &self.body {
            Body::Value(b) | Body::Handoff(b) => b.len(),
            Body::Failure { type_name, message } => type_name.len() + message.len() + 8,
        };
        let mut out = Vec::with_capacity(HEADER_LEN + body_len);
        out.extend_from_slice(&MAGIC);
        out.push(VERSION);
        out.push(match self.body {
            Body::Value(_) => BODY_VALUE,
            Body::Failure { .. } => BODY_FAILURE,
            Body::Handoff(_) => BODY_HANDOFF,
        });
        out.extend_from_slice(&self.created.to_be_bytes());
        out.extend_from_slice(&self.fresh_until.to_be_bytes());
        out.extend_from_slice(&self.stale_until.to_be_bytes());
        out.extend_from_slice(&self.load_ms.to_be_bytes());
        match &self.body {
            Body::Value(b) | Body::Handoff(b) => out.extend_from_slice(b),
            Body::Failure { type_name, message } => codec::encode_into(
                &Value::List(vec![
                    Value::Str(type_name.clone()),
                    Value::Str(message.clone()),
                ]),
                &mut out,
            ),
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Envelope, EnvelopeError> {
        if bytes.len() < 3 || bytes[..2] != MAGIC {
            return Err(EnvelopeError::Foreign);
        }
        if bytes[2] > VERSION {
            return Err(EnvelopeError::NewerVersion(bytes[2]));
        }
        if bytes[2] != VERSION {
            return Err(EnvelopeError::Corrupt(format!(
                "format version {}",
                bytes[2]
            )));
        }
        if bytes.len() < HEADER_LEN {
            return Err(EnvelopeError::Corrupt("a truncated header".into()));
        }
        let u64_at = |i: usize| u64::from_be_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
        let body = &bytes[HEADER_LEN..];
        let body = match bytes[3] {
            BODY_VALUE | BODY_HANDOFF => {
                // Check it now: a damaged value is a miss, not a decoding error later.
                codec::decode(body)?;
                if bytes[3] == BODY_VALUE {
                    Body::Value(body.to_vec())
                } else {
                    Body::Handoff(body.to_vec())
                }
            }
            BODY_FAILURE => match codec::decode(body)? {
                Value::List(mut parts) if parts.len() == 2 => {
                    let (Value::Str(message), Value::Str(type_name)) =
                        (parts.pop().expect("2"), parts.pop().expect("2"))
                    else {
                        return Err(EnvelopeError::Corrupt("a failure record".into()));
                    };
                    Body::Failure { type_name, message }
                }
                _ => return Err(EnvelopeError::Corrupt("a failure record".into())),
            },
            other => return Err(EnvelopeError::Corrupt(format!("body kind {other}"))),
        };
        let env = Envelope {
            created: u64_at(4),
            fresh_until: u64_at(12),
            stale_until: u64_at(20),
            load_ms: u32::from_be_bytes(bytes[28..32].try_into().expect("4 bytes")),
            body,
        };
        if env.stale_until < env.fresh_until {
            return Err(EnvelopeError::Corrupt(
                "stale_until before fresh_until".into(),
            ));
        }
        Ok(env)
    }

    /// The value, decoded; `None` for a failure record.
    pub fn value(&self) -> Option<Value> {
        match &self.body {
            Body::Value(b) | Body::Handoff(b) => codec::decode(b).ok(),
            Body::Failure { .. } => None,
        }
    }

    pub fn is_fresh(&self, epoch_now: u64) -> bool {
        self.fresh_until > epoch_now
    }

    /// Milliseconds of freshness left at `epoch_now` (`u64::MAX` when it never expires).
    pub fn remaining(&self, epoch_now: u64) -> u64 {
        if self.fresh_until == u64::MAX {
            u64::MAX
        } else {
            self.fresh_until.saturating_sub(epoch_now)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(body: Body) -> Envelope {
        Envelope {
            created: 1_700_000_000_000,
            fresh_until: 1_700_000_060_000,
            stale_until: 1_700_000_120_000,
            load_ms: 200,
            body,
        }
    }

    #[test]
    fn round_trips_values_and_failures() {
        let v = sample(Body::Value(codec::encode(&Value::Str("tok".into()))));
        let b = v.encode();
        assert_eq!(&b[..4], b"FC\x01\x00");
        assert_eq!(Envelope::decode(&b).unwrap(), v);
        assert_eq!(v.value(), Some(Value::Str("tok".into())));
        let f = sample(Body::Failure {
            type_name: "ValueError".into(),
            message: "boom".into(),
        });
        assert_eq!(Envelope::decode(&f.encode()).unwrap(), f);
    }

    #[test]
    fn foreign_newer_and_damaged_bytes_are_told_apart() {
        assert_eq!(Envelope::decode(b"hello"), Err(EnvelopeError::Foreign));
        assert_eq!(Envelope::decode(b""), Err(EnvelopeError::Foreign));
        let mut b = sample(Body::Value(codec::encode(&Value::Null))).encode();
        b[2] = 9;
        assert_eq!(Envelope::decode(&b), Err(EnvelopeError::NewerVersion(9)));
        let mut b = sample(Body::Value(codec::encode(&Value::Null))).encode();
        b.push(0xc0);
        assert!(matches!(
            Envelope::decode(&b),
            Err(EnvelopeError::Corrupt(_))
        ));
        let b = sample(Body::Value(codec::encode(&Value::Null))).encode();
        assert!(matches!(
            Envelope::decode(&b[..20]),
            Err(EnvelopeError::Corrupt(_))
        ));
    }
}

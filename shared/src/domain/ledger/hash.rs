//! Content hashes for change detection: FNV-1a 64 over a canonical byte encoding.
//!
//! Not for security: FNV is not collision-resistant against an adversary. It only has to tell
//! "this mirrored record is the same as last time" from "something changed", for data we read from
//! Tripletex ourselves. A collision would make one sync skip one write; the nightly re-sync after
//! any further change of the record would write it.
//!
//! The canonical encoding is the record's compact JSON (`serde_json::to_vec`) prefixed with a
//! schema tag. Field order is the struct's declaration order, lists are sorted by the builder and
//! maps are `BTreeMap`s, so equal records always give equal bytes. Changing a mirrored type (or
//! [`HASH_SCHEMA`]) changes every hash once: the next sync rewrites everything, which is safe.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Bumped when the meaning of a mirrored record changes without its JSON changing.
pub const HASH_SCHEMA: &str = "inndrive.ledger.v1";

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a, 64 bits.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h = FNV_OFFSET;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

/// A content hash, shown as 16 lowercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ContentHash(pub u64);

impl ContentHash {
    /// The hash of a record's canonical encoding. Serialising our own plain data types to JSON
    /// cannot fail (no maps with non-string keys, no failing `Serialize` impls); if it ever did,
    /// the hash of the empty encoding is returned, which only causes one extra write.
    pub fn of<T: Serialize>(record: &T) -> Self {
        let mut bytes = HASH_SCHEMA.as_bytes().to_vec();
        bytes.push(0);
        if let Ok(json) = serde_json::to_vec(record) {
            bytes.extend_from_slice(&json);
        }
        ContentHash(fnv1a64(&bytes))
    }

    pub fn to_hex(self) -> String {
        format!("{:016x}", self.0)
    }

    pub fn parse_hex(s: &str) -> Option<Self> {
        if s.len() != 16 {
            return None;
        }
        u64::from_str_radix(s, 16).ok().map(ContentHash)
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl Serialize for ContentHash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ContentHash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ContentHash::parse_hex(&s)
            .ok_or_else(|| serde::de::Error::custom("a content hash is 16 hex digits"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_known_vectors() {
        // Published FNV-1a 64 test vectors.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn hash_is_stable_and_sensitive() {
        let a = ContentHash::of(&("x", 1));
        assert_eq!(a, ContentHash::of(&("x", 1)));
        assert_ne!(a, ContentHash::of(&("x", 2)));
        assert_eq!(ContentHash::parse_hex(&a.to_hex()), Some(a));
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<ContentHash>(&json).unwrap(), a);
        assert!(serde_json::from_str::<ContentHash>("\"xyz\"").is_err());
    }
}

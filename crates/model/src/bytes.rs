//! Bytes from the kernel, kept as bytes.
//!
//! JSON encoding (documented in docs/json.md): valid UTF-8 is a JSON
//! string; anything else is an object `{"base64": "..."}` holding the exact
//! bytes (standard alphabet, padded). Nothing is lost or replaced.

use base64::Engine;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An owned byte string from `/proc` (a name, an argument, a path).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Bytes(pub Vec<u8>);

impl Bytes {
    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "b\"{}\"", self.0.escape_ascii())
    }
}

impl From<&[u8]> for Bytes {
    fn from(b: &[u8]) -> Self {
        Bytes(b.to_vec())
    }
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_bytes(&self.0, s)
    }
}

/// Reads what [`Serialize`] writes: a string, or `{"base64": …}` (a
/// consumer of the JSON documents gets the exact bytes back).
impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Wire {
            Text(String),
            Raw { base64: String },
        }
        match Wire::deserialize(d)? {
            Wire::Text(t) => Ok(Bytes(t.into_bytes())),
            Wire::Raw { base64 } => base64::engine::general_purpose::STANDARD
                .decode(base64)
                .map(Bytes)
                .map_err(serde::de::Error::custom),
        }
    }
}

/// Serializes bytes as a string when UTF-8, else as `{"base64": …}`.
pub fn serialize_bytes<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
    match std::str::from_utf8(b) {
        Ok(text) => s.serialize_str(text),
        Err(_) => {
            use serde::ser::SerializeMap;
            let mut m = s.serialize_map(Some(1))?;
            m.serialize_entry(
                "base64",
                &base64::engine::general_purpose::STANDARD.encode(b),
            )?;
            m.end()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_lossless() {
        assert_eq!(
            serde_json::to_string(&Bytes(b"a\nb".to_vec())).unwrap(),
            r#""a\nb""#
        );
        assert_eq!(
            serde_json::to_string(&Bytes(b"\xff\xfe".to_vec())).unwrap(),
            r#"{"base64":"//4="}"#
        );
        assert_eq!(
            serde_json::to_string(&Bytes(b"\x1b[0m".to_vec())).unwrap(),
            r#""\u001b[0m""#
        );
        for b in [&b"a\nb"[..], b"\xff\xfe", b"\x1b[0m", b""] {
            let json = serde_json::to_string(&Bytes(b.to_vec())).unwrap();
            assert_eq!(
                serde_json::from_str::<Bytes>(&json).unwrap(),
                Bytes(b.to_vec())
            );
        }
    }

    #[test]
    fn json_round_trips() {
        for b in [&b""[..], b"plain", b"\xff\xfe", b"a\0b\x1b", "é".as_bytes()] {
            let j = serde_json::to_string(&Bytes(b.to_vec())).unwrap();
            let back: Bytes = serde_json::from_str(&j).unwrap();
            assert_eq!(back.0, b, "{j}");
        }
        assert!(serde_json::from_str::<Bytes>(r#"{"base64":"!!"}"#).is_err());
    }
}

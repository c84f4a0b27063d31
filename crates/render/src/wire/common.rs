//! Pieces every document shares: bytes, error objects, values that may be
//! an error, and the envelope's version.

use base64::Engine;
use procscope_model::{Failure, Need, Outcome};
use serde::{Deserialize, Serialize};

/// Bytes from the kernel (a name, an argument, a path): a JSON string when
/// they are valid UTF-8, else `{"base64": "…"}` holding them exactly
/// (standard alphabet, padded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Bytes {
    /// Valid UTF-8 (control characters use JSON's own escapes).
    Text(String),
    /// Anything else.
    Base64(Base64),
}

/// The `{"base64": …}` form of [`Bytes`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Base64 {
    /// The bytes, base64 (standard alphabet, padded).
    pub base64: String,
}

impl Bytes {
    /// The wire form of `b`.
    pub fn new(b: &[u8]) -> Bytes {
        match std::str::from_utf8(b) {
            Ok(s) => Bytes::Text(s.to_string()),
            Err(_) => Bytes::Base64(Base64 {
                base64: base64::engine::general_purpose::STANDARD.encode(b),
            }),
        }
    }

    /// The exact bytes back (`None`: invalid base64).
    pub fn decode(&self) -> Option<Vec<u8>> {
        match self {
            Bytes::Text(s) => Some(s.as_bytes().to_vec()),
            Bytes::Base64(b) => base64::engine::general_purpose::STANDARD
                .decode(&b.base64)
                .ok(),
        }
    }
}

impl From<&procscope_model::bytes::Bytes> for Bytes {
    fn from(b: &procscope_model::bytes::Bytes) -> Self {
        Bytes::new(b.as_slice())
    }
}

/// The wire form of model bytes (a function, for `map`s and [`or_error`]).
pub fn bytes(b: &procscope_model::bytes::Bytes) -> Bytes {
    Bytes::new(b.as_slice())
}

/// The wire form of optional bytes.
pub fn opt_bytes(b: Option<&procscope_model::bytes::Bytes>) -> Option<Bytes> {
    b.map(Bytes::from)
}

/// Why a value could not be read: the `error` member of an error object
/// (docs/json.md, "Values that could not be read").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    /// `gone`, `denied`, `timed_out`, `skipped`, `malformed`,
    /// `unsupported`, `absent` or `io`.
    pub reason: String,
    /// For `denied`: `cap_sys_admin`, `ptrace_read`, `ptrace_attach` or
    /// `privilege`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub need: Option<String>,
    /// For `timed_out`: the deadline that passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_ms: Option<u64>,
    /// For `skipped`: how many reads were already stuck.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stuck: Option<usize>,
    /// For `io`: the errno.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno: Option<i32>,
    /// The reason in words, for people.
    pub message: String,
}

/// `{"error": {…}}`: a value that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorObject {
    /// Why.
    pub error: ErrorBody,
}

/// The name of what would allow a denied read, as the JSON names it.
fn need_name(n: Need) -> String {
    match n {
        Need::CapSysAdmin => "cap_sys_admin".into(),
        Need::PtraceRead => "ptrace_read".into(),
        Need::PtraceAttach => "ptrace_attach".into(),
        Need::Privilege => "privilege".into(),
        // A need added to the reader later: its Debug name, in snake
        // case, is what its serde name would be.
        other => snake(&format!("{other:?}")),
    }
}

fn snake(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

impl From<&Failure> for ErrorObject {
    fn from(f: &Failure) -> Self {
        let mut e = ErrorBody {
            reason: f.kind().to_string(),
            need: None,
            after_ms: None,
            stuck: None,
            errno: None,
            message: f.to_string(),
        };
        match f {
            Failure::Denied { need } => e.need = Some(need_name(*need)),
            Failure::TimedOut { after } => {
                e.after_ms = Some(u64::try_from(after.as_millis()).unwrap_or(u64::MAX));
            }
            Failure::Skipped { stuck } => e.stuck = Some(*stuck),
            Failure::Io { errno, .. } => e.errno = Some(*errno),
            _ => {}
        }
        ErrorObject { error: e }
    }
}

/// A value, or the error object saying why it could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OrError<T> {
    /// Could not be read. First: an error object is never taken for a
    /// value whose type would also accept it.
    Error(ErrorObject),
    /// The value.
    Value(T),
}

impl<T> OrError<T> {
    /// The value, when it was read.
    pub fn ok(&self) -> Option<&T> {
        match self {
            OrError::Value(v) => Some(v),
            OrError::Error(_) => None,
        }
    }

    /// The error, when it was not.
    pub fn err(&self) -> Option<&ErrorBody> {
        match self {
            OrError::Error(e) => Some(&e.error),
            OrError::Value(_) => None,
        }
    }
}

/// The wire form of an outcome, its value converted by `f`.
pub fn or_error<T, U>(o: &Outcome<T>, f: impl FnOnce(&T) -> U) -> OrError<U> {
    match o {
        Ok(v) => OrError::Value(f(v)),
        Err(e) => OrError::Error(e.into()),
    }
}

/// The wire form of a failure where only the error is kept.
pub fn failed<U>(f: &Failure) -> OrError<U> {
    OrError::Error(f.into())
}

/// `deserialize_with` for a member that is always written, possibly as
/// null, inside a group of members that may be absent together: present
/// (even null) is `Some`, absent is `None` (with `#[serde(default)]`).
pub fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// The name of a command line's shape, as JSON has it.
pub fn shape_name(s: procscope_parse::cmdline::Shape) -> String {
    use procscope_parse::cmdline::Shape;
    match s {
        Shape::Empty => "empty",
        Shape::Argv => "argv",
        Shape::Unterminated => "rewritten_unterminated",
        Shape::Padded { .. } => "rewritten_padded",
    }
    .into()
}

/// Every argument of a command line, empty ones included.
pub fn args(raw: &[u8]) -> Vec<Bytes> {
    procscope_parse::cmdline::Cmdline::parse(raw)
        .args()
        .map(Bytes::new)
        .collect()
}

/// Names of the set bits of `v` in `table`, unknown bits as one hex
/// number: the list form of [`procscope_parse::decode::bits`].
pub fn bit_names(v: u64, table: &[(u64, &str)]) -> Vec<String> {
    procscope_parse::decode::bit_names(v, table)
}

/// The JSON name of a model enum (its serde `snake_case` name): the stable
/// key a document carries, from the one place that spells it.
pub fn name<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bytes_round_trip_exactly() {
        for b in [&b"a\nb"[..], b"\xff\xfe", b"\x1b[0m", b""] {
            let w = Bytes::new(b);
            let s = serde_json::to_string(&w).unwrap();
            let back: Bytes = serde_json::from_str(&s).unwrap();
            assert_eq!(back.decode().unwrap(), b);
        }
        assert_eq!(
            serde_json::to_string(&Bytes::new(b"\xff\xfe")).unwrap(),
            r#"{"base64":"//4="}"#
        );
        assert!(serde_json::from_str::<Bytes>(r#"{"base64":"AA==","x":1}"#).is_err());
    }

    #[test]
    fn errors_keep_their_members() {
        let v: OrError<u64> = failed(&Failure::TimedOut {
            after: Duration::from_millis(250),
        });
        let s = serde_json::to_string(&v).unwrap();
        assert_eq!(
            s,
            r#"{"error":{"reason":"timed_out","after_ms":250,"message":"timed out after 250 ms (the process's memory lock is held: see its D-state threads)"}}"#
        );
        let back: OrError<u64> = serde_json::from_str(&s).unwrap();
        assert_eq!(back, v);
        let d: OrError<u64> = failed(&Failure::Denied {
            need: Need::PtraceRead,
        });
        assert_eq!(d.err().unwrap().need.as_deref(), Some("ptrace_read"));
        let ok: OrError<Option<u64>> = serde_json::from_str("null").unwrap();
        assert_eq!(ok, OrError::Value(None));
    }
}

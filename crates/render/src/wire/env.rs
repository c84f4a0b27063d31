//! `procscope env --json`.

use super::common::{Bytes, OrError};
use serde::{Deserialize, Serialize};

/// The whole document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// Format version.
    pub procscope: u32,
    /// `env`.
    pub kind: String,
    /// One per process.
    pub processes: Vec<Process>,
}

impl Document {
    /// The document of `processes`.
    pub fn new(processes: Vec<Process>) -> Document {
        Document {
            procscope: crate::json::VERSION,
            kind: "env".into(),
            processes,
        }
    }
}

/// One process's environment. A process whose environment could not be
/// read has only `pid` and `environ` (the error object).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Process {
    /// Process ID.
    pub pid: i32,
    /// Its name (null when its `stat` could not be read); absent with an
    /// error.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::common::present"
    )]
    pub comm: Option<Option<Bytes>>,
    /// The entries, in the kernel's order (or sorted, or filtered).
    pub environ: OrError<Vec<Entry>>,
    /// Cut at the read cap or the entry cap; absent with an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncated: Option<bool>,
}

/// One `KEY=value` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The key (before the first `=`).
    pub key: Bytes,
    /// The value (masked with `--redact`); null for an entry without `=`.
    pub value: Option<Bytes>,
    /// A key that appeared earlier (`getenv` returns the first).
    pub duplicate: bool,
}

//! `procscope diff --json` (docs/json.md).

use super::common::Bytes;
use super::snapshot::Source;
use serde::{Deserialize, Serialize};

/// The document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// Format version.
    pub procscope: u32,
    /// `diff`.
    pub kind: String,
    /// The first side.
    pub a: SideInfo,
    /// The second side.
    pub b: SideInfo,
    /// Processes only in B (by PID and start time).
    pub appeared: Vec<Process>,
    /// Processes only in A.
    pub gone: Vec<Process>,
    /// Processes in both that changed.
    pub changed: Vec<Changed>,
}

/// One side: a snapshot, or the live host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SideInfo {
    /// The snapshot (null: the live host, read now).
    pub snapshot: Option<Source>,
}

/// A process that appeared or went away.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Process {
    /// PID.
    pub pid: i32,
    /// Start time, clock ticks after boot (with `pid`, the identity).
    pub start_ticks: u64,
    /// Name.
    pub comm: Bytes,
    /// State letter.
    pub state: String,
}

/// A value before and after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change<T> {
    /// In A.
    pub from: T,
    /// In B.
    pub to: T,
}

/// An fd opened or closed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fd {
    /// The fd number.
    pub fd: i32,
    /// Its type as `fds` names it (`file`, `pipe`, `socket`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// The link's text (null when it could not be read).
    pub link: Option<Bytes>,
    /// Decoded as `fds` does in one line.
    pub description: String,
}

/// A thread newly in D.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Blocked {
    /// Thread ID.
    pub tid: i32,
    /// Thread name.
    pub comm: Bytes,
    /// Where it sleeps.
    pub wchan: Bytes,
}

/// A changed limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    /// As `limits` names it (`Max open files`).
    pub name: String,
    /// Soft, hard and units, before.
    pub from: String,
    /// After.
    pub to: String,
}

/// A changed environment variable (values masked unless `--reveal`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Env {
    /// Name.
    pub key: Bytes,
    /// Value in A (null: added in B).
    pub from: Option<Bytes>,
    /// Value in B (null: removed).
    pub to: Option<Bytes>,
}

/// What changed in one process (members absent when unchanged).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Changed {
    /// PID.
    pub pid: i32,
    /// Name.
    pub comm: Bytes,
    /// State letters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<Change<String>>,
    /// Threads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<Change<i64>>,
    /// Resident size, bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rss_bytes: Option<Change<u64>>,
    /// User + system CPU time, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_time_ms: Option<Change<u64>>,
    /// fds open in B only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fds_opened: Vec<Fd>,
    /// fds open in A only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fds_closed: Vec<Fd>,
    /// Threads in D in B that were not in A.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub new_blocked_threads: Vec<Blocked>,
    /// Limits.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub limits: Vec<Limit>,
    /// Environment.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<Env>,
}

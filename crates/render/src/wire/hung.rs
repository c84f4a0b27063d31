//! The body of `procscope hung --json` (the envelope's `procscope` and
//! `kind` are added by [`crate::json::write_document`]). See docs/json.md.

use procscope_model::bytes::Bytes;
pub use procscope_model::hung::Cause;
use serde::{Deserialize, Serialize};

/// What was sampled and what is stuck.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hung {
    /// The window asked for, ms.
    pub window_ms: u64,
    /// The samples asked for.
    pub samples: u32,
    /// The samples taken (sampling stops once no candidate is left).
    pub samples_taken: u32,
    /// The time sampling took, measured, ms.
    pub elapsed_ms: u64,
    /// Candidates at the first sample.
    pub candidates_at_first_sample: usize,
    /// The one sample is a snapshot's: the states when it was taken (no
    /// window; nothing was seen to last). Left out when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub at_snapshot: bool,
    /// Tasks reported stuck.
    pub stuck: usize,
    /// The groups, largest first.
    pub groups: Vec<Group>,
}

/// Stuck tasks doing the same thing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// How many.
    pub count: usize,
    /// `D`, or `S` for a task asleep too long (`--over`); null when not read.
    pub state: Option<String>,
    /// How long since any of them last ran, ms, when known.
    pub idle_ms: Option<u64>,
    /// The likely cause in words (lossy UTF-8 for names and paths).
    pub cause: String,
    /// The kind of cause (`fuse`, `file_lock`, `vfork`…).
    pub cause_kind: Cause,
    /// What the tasks' system calls are about.
    pub files: Vec<File>,
    /// The system call (`read`, `syscall_N`, `running`…).
    pub syscall: String,
    /// Where the first task sleeps.
    pub wchan: Option<Bytes>,
    /// The first task's kernel frames; null when not readable.
    pub stack: Option<Vec<Bytes>>,
    /// The tasks.
    pub tasks: Vec<Task>,
}

/// A stuck task's fd argument.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    /// A file's path, or the fd in words for anything else.
    pub what: Bytes,
    /// Its mount point (files).
    pub mount_point: Option<Bytes>,
    /// Its filesystem type (files).
    pub fs_type: Option<Bytes>,
    /// Who holds a lock on it (not the task itself).
    pub lock_holders: Vec<LockHolder>,
}

/// A process holding a lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockHolder {
    /// Its PID (-1 for an OFD lock).
    pub pid: i64,
    /// Its name, when read.
    pub comm: Option<Bytes>,
}

/// A stuck task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Task {
    /// Process ID.
    pub pid: i32,
    /// Thread ID.
    pub tid: i32,
    /// Process name.
    pub process: Bytes,
    /// Thread name.
    pub comm: Bytes,
}

//! `procscope repro --json`.

use super::common::{Bytes, ErrorObject};
use serde::{Deserialize, Serialize};

/// The whole document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// Format version.
    pub procscope: u32,
    /// `repro`.
    pub kind: String,
    /// One per process.
    pub processes: Vec<Process>,
}

impl Document {
    /// The document of `processes`.
    pub fn new(processes: Vec<Process>) -> Document {
        Document {
            procscope: crate::json::VERSION,
            kind: "repro".into(),
            processes,
        }
    }
}

/// One process: its script and the script's parts, or why it got none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Process {
    /// A process with a script.
    Script(Box<Script>),
    /// A process that gets none (a kernel thread or zombie, an unreadable
    /// command line or environment).
    NoScript(NoScript),
}

/// A process that gets no script.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoScript {
    /// Process ID.
    pub pid: i32,
    /// Its name (null when its `stat` could not be read).
    pub comm: Option<Bytes>,
    /// Why there is no script.
    pub script: ErrorObject,
}

/// A process's script and its parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    /// Process ID.
    pub pid: i32,
    /// Its name.
    pub comm: Option<Bytes>,
    /// The UID it runs as.
    pub uid: Option<u32>,
    /// That user's name.
    pub user: Option<Bytes>,
    /// Exactly what `procscope repro` prints for it (the bare snippet).
    pub script: String,
    /// Where it changes to (null: unreadable working directory).
    pub cwd: Option<Bytes>,
    /// The working directory was deleted.
    pub cwd_deleted: bool,
    /// What runs.
    pub program: Bytes,
    /// Its arguments, `argv[0]` first.
    pub argv: Vec<Bytes>,
    /// `env` or `perl`.
    pub exec_via: String,
    /// What is set, in the kernel's order.
    pub environment: Vec<Variable>,
    /// Entries env(1) cannot set (the first 1,024).
    pub left_out: Vec<LeftOut>,
    /// How many were left out in all.
    pub left_out_count: usize,
    /// The snippet's `# note:` lines.
    pub notes: Vec<String>,
    /// The snippet's limits comment.
    pub limits: Option<String>,
    /// The snippet's cgroup comment lines.
    pub cgroup: Vec<Bytes>,
    /// Values were masked (`--redact`).
    pub redacted: bool,
    /// The command line or environment was cut at the read cap.
    pub truncated: bool,
}

/// A variable the script sets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variable {
    /// Its name.
    pub key: Bytes,
    /// Its value.
    pub value: Bytes,
}

/// An entry the script cannot set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeftOut {
    /// `duplicate`, `no_name` or `empty`.
    pub reason: String,
    /// The whole entry.
    pub entry: Bytes,
}

//! The body of `procscope who-has --json` (the envelope's `procscope` and
//! `kind` are added by [`crate::json::write_document`]). See docs/json.md.

use procscope_model::bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Who holds it, and who could not be looked into.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhoHas {
    /// Every use, by PID.
    pub holders: Vec<Holder>,
    /// Processes whose fds could not be read.
    pub unreadable: Vec<Unreadable>,
}

/// How a process uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Use {
    /// An open fd.
    Fd,
    /// Its working directory.
    Cwd,
    /// Its root directory.
    Root,
    /// Its executable.
    Exe,
    /// A mapped file.
    Mem,
}

/// One use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Holder {
    /// Process ID.
    pub pid: i32,
    /// Its name.
    pub comm: Bytes,
    /// Its user's name (or UID when it has none); null when not read.
    pub user: Option<Bytes>,
    /// Its effective UID, when read.
    pub uid: Option<u32>,
    /// How it uses it.
    #[serde(rename = "use")]
    pub what: Use,
    /// The fd (`use` `fd`).
    pub fd: Option<i32>,
    /// The fd's access mode: `r`, `w`, `rw` (`use` `fd`).
    pub mode: Option<String>,
    /// The link: a path, `pipe:[N]`, `socket:[N]`.
    pub link: Bytes,
    /// A deleted file's size (`--deleted`), when read.
    pub size: Option<u64>,
}

/// A process whose fds could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unreadable {
    /// Process ID.
    pub pid: i32,
    /// Why.
    pub error: super::common::ErrorBody,
}

//! The snapshot file format (docs/snapshot.md): names and the manifest.

use procscope_read::Failure;
use serde::{Deserialize, Serialize};

/// The format this procscope writes and the newest it reads.
pub const FORMAT: u32 = 1;

/// The first entry: `procscope-snapshot <FORMAT>\n`. Read before anything
/// else, so that a newer format is refused with a clear message.
pub const FORMAT_ENTRY: &str = ".procscope/format";

/// The manifest (JSON), the second-to-last entry.
pub const MANIFEST_ENTRY: &str = ".procscope/manifest.json";

/// The recorded live-only answers ([`procscope_read::tape::Records`],
/// JSON), the last entry.
pub const LIVE_ENTRY: &str = ".procscope/live.json";

/// Where files shared by processes are kept once (a network namespace's
/// tables, a mount namespace's mount table); each process's own name is a
/// hard link to them.
pub const SHARED_DIR: &str = ".procscope/shared";

/// The text of [`FORMAT_ENTRY`].
pub fn format_line(v: u32) -> String {
    format!("procscope-snapshot {v}\n")
}

/// When, where and how a snapshot was taken, and what it lacks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`] of the file.
    pub format: u32,
    /// procscope's version that took it.
    pub procscope_version: String,
    /// When it was taken (the start), ms since the epoch.
    pub taken_at_unix_ms: u64,
    /// The same, RFC 3339 in UTC.
    pub taken_at: String,
    /// How long taking it took, ms.
    pub duration_ms: u64,
    /// The host's name (`uname -n`).
    pub hostname: String,
    /// The kernel release (`uname -r`).
    pub kernel_release: String,
    /// `/proc/sys/kernel/random/boot_id`: which boot of the host.
    pub boot_id: Option<String>,
    /// The procscope command line that took it.
    pub command_line: Vec<String>,
    /// The PID of the procscope that took it (left out of `ps` patterns
    /// like a running procscope is).
    pub own_pid: i32,
    /// The TARGETs asked for (empty: the whole host).
    pub targets: Vec<String>,
    /// Environments left out (`--no-env`).
    pub no_env: bool,
    /// Environments and command lines redacted before writing (`--redact`).
    pub redacted: bool,
    /// The deadline reads were taken under, ms.
    pub timeout_ms: u64,
    /// Processes in the file.
    pub processes: usize,
    /// Files that could not be read, and why (timed out, denied, …).
    pub unreadable: Vec<Unreadable>,
    /// Files cut at the size cap.
    pub truncated: Vec<String>,
    /// "Now" on the scheduler's clock when the snapshot was taken, ms (the
    /// `se.exec_start` of the taking procscope's running thread, read with
    /// `uptime`): how long a thread has been idle is measured against it,
    /// as live (`/proc/uptime` runs ahead of the scheduler's clock on a
    /// VM). Absent in files of older procscopes; then uptime is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sched_now_ms: Option<u64>,
    /// Realtime, monotonic and boot-time clocks when the snapshot was
    /// taken, ms: a sleep until an absolute time is counted down from
    /// them. Absent in files of older procscopes; then such a sleep's
    /// countdown is not known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clocks: Option<procscope_read::tape::ClocksNow>,
}

impl Manifest {
    /// What a reader of the tree must answer with that only the manifest
    /// says: cut files, files left out by an option, the scheduler's "now".
    pub fn facts(&self) -> procscope_read::tape::Facts {
        let mut cut: std::collections::BTreeMap<i32, std::collections::BTreeSet<String>> =
            std::collections::BTreeMap::new();
        for p in &self.truncated {
            if let Some((pid, name)) = tape_key(p) {
                cut.entry(pid).or_default().insert(name);
            }
        }
        let mut left_out = std::collections::BTreeMap::new();
        if self.no_env {
            left_out.insert("environ".to_owned(), "--no-env".to_owned());
        }
        procscope_read::tape::Facts {
            cut,
            left_out,
            sched_now_ms: self.sched_now_ms,
            clocks: self.clocks,
        }
    }
}

/// A file that could not be read when the snapshot was taken.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unreadable {
    /// Its path in the tree (`1234/cmdline`).
    pub path: String,
    /// Why.
    pub error: Failure,
}

/// `taken_at_unix_ms` as RFC 3339 in UTC, always to the millisecond
/// (`2026-12-06T14:52:37.270Z`). A reader prints this, not the manifest's
/// own `taken_at` string, which a crafted file could set to anything.
pub fn taken_at(unix_ms: u64) -> String {
    i64::try_from(unix_ms)
        .ok()
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_else(|| format!("{unix_ms} ms after the epoch"))
}

/// The tree-relative PID and file name of a path (`12/task/13/stack` →
/// 13, `stack`), as the tape keys failed files.
pub fn tape_key(path: &str) -> Option<(i32, String)> {
    let mut parts = path.splitn(2, '/');
    let pid: i32 = parts.next()?.parse().ok()?;
    let rest = parts.next()?;
    if let Some(t) = rest.strip_prefix("task/") {
        let mut tp = t.splitn(2, '/');
        let tid: i32 = tp.next()?.parse().ok()?;
        return Some((tid, tp.next()?.to_owned()));
    }
    Some((pid, rest.to_owned()))
}

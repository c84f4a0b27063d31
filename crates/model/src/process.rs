//! One row of a process (or thread) listing.

use crate::bytes::Bytes;
use procscope_parse::cmdline::Cmdline;
use procscope_parse::stat::TaskState;
use procscope_read::{Failure, Outcome};
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

/// The `stat` facts of a process or thread, with units resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatInfo {
    /// Command name (comm), raw bytes.
    pub comm: Bytes,
    /// Scheduler state.
    pub state: TaskState,
    /// Parent PID.
    pub ppid: i32,
    /// Process group.
    pub pgrp: i32,
    /// Session.
    pub session: i32,
    /// Controlling terminal device number (0: none).
    pub tty_nr: i32,
    /// Threads in the process.
    pub threads: i64,
    /// Resident set size in bytes.
    pub rss_bytes: u64,
    /// Virtual size in bytes.
    pub vsz_bytes: u64,
    /// User + system CPU time, milliseconds.
    pub cpu_time_ms: u64,
    /// Start time, seconds since the epoch.
    pub start_time_unix: u64,
    /// Seconds since start.
    pub elapsed_secs: u64,
    /// Nice value.
    pub nice: i64,
    /// Kernel priority: `stat` field 18 (20 + nice for normal tasks,
    /// -1 - rt_priority for real-time ones).
    pub priority: i64,
    /// Scheduling policy (`stat` field 41, `SCHED_*`), when the kernel gives it.
    pub policy: Option<u64>,
    /// True for kernel threads.
    pub kernel_thread: bool,
    /// Start time in ticks after boot (with the PID, the process identity).
    pub start_ticks: u64,
    /// The thread-group leader exited while other threads still run: the
    /// leader's `stat` says `Z`, so `state` is taken from a live thread.
    pub leader_exited: bool,
    /// Threads in `D` (uninterruptible sleep), the leader included; when
    /// any is, `state` is `D` (see [`crate::listing::read_process`]).
    pub blocked_threads: u32,
}

impl StatInfo {
    /// procps' `pri` (`ps -o pri`): `39 - priority`, so that a larger
    /// number runs first (nice 0 is 19; real-time priority 50 is 90).
    pub fn pri(&self) -> i64 {
        39_i64.saturating_sub(self.priority)
    }

    /// Whether nice applies (procps shows `-` in `NI` otherwise): normal
    /// and batch tasks, or when the policy is unknown.
    pub fn nice_applies(&self) -> bool {
        matches!(self.policy, None | Some(0) | Some(3))
    }
}

/// The command line as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmdlineInfo {
    /// The exact bytes (up to the read cap).
    pub raw: Vec<u8>,
    /// True if the file was longer than the cap.
    pub truncated: bool,
}

impl CmdlineInfo {
    /// A parsed view.
    pub fn view(&self) -> Cmdline<'_> {
        Cmdline::parse(&self.raw)
    }

    /// Arguments joined by single spaces, as `pgrep -f` matches them
    /// (padding of rewritten titles dropped).
    pub fn joined(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.raw.len());
        for (i, a) in self.view().display_args().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            out.extend_from_slice(a);
        }
        out
    }
}

/// The open `/proc/PID` directory a row was read through, kept so that a
/// later read (the command line, streamed while printing) reaches the same
/// process even if the PID has been reused since. Compares equal to any
/// other handle: it is not part of the row's value.
#[derive(Debug, Clone)]
pub struct Handle(pub procscope_read::ProcDir);

impl PartialEq for Handle {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Handle {}

/// One process or thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessRow {
    /// Process ID (thread-group ID).
    pub pid: i32,
    /// Thread ID, for per-thread rows.
    pub tid: Option<i32>,
    /// `stat`, or why it could not be read.
    pub stat: Outcome<StatInfo>,
    /// Effective UID from `status`, when asked for.
    pub uid: Option<Outcome<u32>>,
    /// User name for `uid`, when known.
    pub user: Option<Bytes>,
    /// Command line, when asked for.
    pub cmdline: Option<Outcome<CmdlineInfo>>,
    /// The directory handle, when the listing was asked to keep it.
    pub handle: Option<Handle>,
}

impl ProcessRow {
    /// The comm, if `stat` was read.
    pub fn comm(&self) -> Option<&[u8]> {
        self.stat.as_ref().ok().map(|s| s.comm.as_slice())
    }

    /// The parent PID, if known.
    pub fn ppid(&self) -> Option<i32> {
        self.stat.as_ref().ok().map(|s| s.ppid)
    }

    /// The state, if known.
    pub fn state(&self) -> Option<TaskState> {
        self.stat.as_ref().ok().map(|s| s.state)
    }

    /// True for kernel threads.
    pub fn is_kernel_thread(&self) -> bool {
        self.stat.as_ref().is_ok_and(|s| s.kernel_thread)
    }
}

/// Serializes a failure as `{"reason": …, …, "message": …}`.
pub struct FailureJson<'a>(pub &'a Failure);

impl Serialize for FailureJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("reason", self.0.kind())?;
        match self.0 {
            Failure::Denied { need } => m.serialize_entry("need", need)?,
            Failure::TimedOut { after } => m.serialize_entry(
                "after_ms",
                &u64::try_from(after.as_millis()).unwrap_or(u64::MAX),
            )?,
            Failure::Skipped { stuck } => m.serialize_entry("stuck", stuck)?,
            Failure::Io { errno, .. } => m.serialize_entry("errno", errno)?,
            _ => {}
        }
        m.serialize_entry("message", &self.0.to_string())?;
        m.end()
    }
}

/// `serialize_with` for `Outcome` fields: see [`OutcomeJson`].
pub fn ser_outcome<S: Serializer, T: Serialize>(v: &Outcome<T>, s: S) -> Result<S::Ok, S::Error> {
    OutcomeJson(v).serialize(s)
}

/// `serialize_with` for optional `Outcome` fields (`None`: null).
pub fn ser_opt_outcome<S: Serializer, T: Serialize>(
    v: &Option<Outcome<T>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some(o) => ser_outcome(o, s),
        None => s.serialize_none(),
    }
}

/// An outcome as JSON: the value itself, or `{"error": {…}}`.
pub struct OutcomeJson<'a, T>(pub &'a Outcome<T>);

impl<T: Serialize> Serialize for OutcomeJson<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Ok(v) => v.serialize(s),
            Err(f) => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("error", &FailureJson(f))?;
                m.end()
            }
        }
    }
}

//! `procscope ps --json`.

use super::common::{Bytes, ErrorObject, OrError, args, or_error, present, shape_name};
use procscope_model::process::ProcessRow;
use serde::{Deserialize, Serialize};

/// The whole document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// Format version.
    pub procscope: u32,
    /// `ps`.
    pub kind: String,
    /// The proc root listed.
    pub proc_root: String,
    /// One row per process (or thread), in display order.
    pub processes: Vec<Row>,
    /// PIDs whose command line read timed out.
    pub timed_out: Vec<i32>,
}

/// The members before `processes` (the document is streamed row by row).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Head {
    /// Format version.
    pub procscope: u32,
    /// `ps`.
    pub kind: &'static str,
    /// The proc root listed.
    pub proc_root: String,
}

impl Head {
    /// The head of a listing of `proc_root`.
    pub fn new(proc_root: String) -> Head {
        Head {
            procscope: crate::json::VERSION,
            kind: "ps",
            proc_root,
        }
    }
}

/// The members after `processes`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tail {
    /// PIDs whose command line read timed out.
    pub timed_out: Vec<i32>,
}

/// One process or thread. The `stat` members are absent when `stat` could
/// not be read (then `stat` holds the error object).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Row {
    /// Process ID.
    pub pid: i32,
    /// Thread ID (`--threads`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tid: Option<i32>,
    /// Parent PID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ppid: Option<i32>,
    /// Process (or thread) name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comm: Option<Bytes>,
    /// One letter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// The letter in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_meaning: Option<String>,
    /// A kernel thread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_thread: Option<bool>,
    /// Present and true when the main thread exited while others run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader_exited: Option<bool>,
    /// Threads in `D`, the leader included (process rows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked_threads: Option<u32>,
    /// Threads in the process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<i64>,
    /// Resident size, bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rss_bytes: Option<u64>,
    /// Virtual size, bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vsz_bytes: Option<u64>,
    /// User + system CPU time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_time_ms: Option<u64>,
    /// Start time, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time_unix: Option<u64>,
    /// Seconds since start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elapsed_secs: Option<u64>,
    /// Nice value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nice: Option<i64>,
    /// `stat` field 18.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    /// procps' `pri`: 39 - `priority`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pri: Option<i64>,
    /// Scheduling policy number (null on kernels without it).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub policy: Option<Option<u64>>,
    /// Its name (`SCHED_OTHER`, …).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub policy_name: Option<Option<String>>,
    /// Process group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pgrp: Option<i32>,
    /// Session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<i32>,
    /// Controlling terminal device number (0: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tty_nr: Option<i32>,
    /// Its name as the TTY column shows it (`pts/0`; null: none).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub tty: Option<Option<String>>,
    /// Why `stat` could not be read (then the members above are absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stat: Option<ErrorObject>,
    /// Effective UID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<OrError<u32>>,
    /// User name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<Bytes>,
    /// Every argument, or the error object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmdline: Option<OrError<Vec<Bytes>>>,
    /// `argv`, `empty`, `rewritten_unterminated`, `rewritten_padded`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmdline_shape: Option<String>,
    /// Present and true past the read cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmdline_truncated: Option<bool>,
}

/// A terminal's name, or `None` for no terminal.
pub fn tty(tty_nr: i32) -> Option<String> {
    (tty_nr != 0).then(|| crate::ps::tty_name(tty_nr))
}

impl From<&ProcessRow> for Row {
    fn from(r: &ProcessRow) -> Row {
        let st = r.stat.as_ref().ok();
        let cmd = r.cmdline.as_ref();
        Row {
            pid: r.pid,
            tid: r.tid,
            ppid: st.map(|s| s.ppid),
            comm: st.map(|s| Bytes::from(&s.comm)),
            state: st.map(|s| s.state.letter().to_string()),
            state_meaning: st.map(|s| s.state.meaning().to_string()),
            kernel_thread: st.map(|s| s.kernel_thread),
            leader_exited: st.and_then(|s| s.leader_exited.then_some(true)),
            blocked_threads: st.filter(|_| r.tid.is_none()).map(|s| s.blocked_threads),
            threads: st.map(|s| s.threads),
            rss_bytes: st.map(|s| s.rss_bytes),
            vsz_bytes: st.map(|s| s.vsz_bytes),
            cpu_time_ms: st.map(|s| s.cpu_time_ms),
            start_time_unix: st.map(|s| s.start_time_unix),
            elapsed_secs: st.map(|s| s.elapsed_secs),
            nice: st.map(|s| s.nice),
            priority: st.map(|s| s.priority),
            pri: st.map(|s| s.pri()),
            policy: st.map(|s| s.policy),
            policy_name: st.map(|s| s.policy.map(procscope_parse::decode::sched_policy)),
            pgrp: st.map(|s| s.pgrp),
            session: st.map(|s| s.session),
            tty_nr: st.map(|s| s.tty_nr),
            tty: st.map(|s| tty(s.tty_nr)),
            stat: r.stat.as_ref().err().map(ErrorObject::from),
            uid: r.uid.as_ref().map(|u| or_error(u, |v| *v)),
            user: r.user.as_ref().map(Bytes::from),
            cmdline: cmd.map(|c| or_error(c, |i| args(&i.raw))),
            cmdline_shape: cmd
                .and_then(|c| c.as_ref().ok())
                .map(|i| shape_name(i.view().shape())),
            cmdline_truncated: cmd
                .and_then(|c| c.as_ref().ok())
                .and_then(|i| i.truncated.then_some(true)),
        }
    }
}

//! Signals by name: pending, blocked, ignored, caught — per thread where
//! threads differ (each thread has its own pending set and mask; the
//! dispositions are shared by the process).

use super::Source;
use crate::bytes::Bytes;
use crate::process::ser_outcome;
use procscope_parse::decode::signals;
use procscope_parse::status::Status;
use procscope_read::Outcome;
use serde::Serialize;

/// The process-wide view (from the main thread's `status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sets {
    /// Pending for the whole process (`ShdPnd`).
    pub pending: Vec<String>,
    /// Pending for the main thread only (`SigPnd`).
    pub thread_pending: Vec<String>,
    /// Blocked by the main thread (`SigBlk`).
    pub blocked: Vec<String>,
    /// Ignored (`SigIgn`).
    pub ignored: Vec<String>,
    /// Caught by a handler (`SigCgt`).
    pub caught: Vec<String>,
    /// Queued signals of its real user and the `RLIMIT_SIGPENDING` limit.
    pub queued: Option<(u64, u64)>,
}

/// A thread whose pending or blocked set differs from the main thread's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ThreadSignals {
    /// Thread ID.
    pub tid: i32,
    /// Thread name.
    pub name: Option<Bytes>,
    /// Its pending set.
    pub pending: Vec<String>,
    /// Its blocked set.
    pub blocked: Vec<String>,
}

/// The signals section.
#[derive(Debug, Clone, Serialize)]
pub struct Signals {
    /// Process-wide sets.
    #[serde(serialize_with = "ser_outcome")]
    pub process: Outcome<Sets>,
    /// Threads that differ from the main thread.
    #[serde(serialize_with = "ser_outcome")]
    pub threads: Outcome<Vec<ThreadSignals>>,
}

/// Threads beyond this many are not compared (a dossier stays quick).
pub const MAX_THREADS: usize = 4096;

pub(crate) fn read(src: &Source<'_>) -> Signals {
    let process = src.status().map(|s| Sets {
        pending: signals(s.shd_pnd.unwrap_or(0)),
        thread_pending: signals(s.sig_pnd.unwrap_or(0)),
        blocked: signals(s.sig_blk.unwrap_or(0)),
        ignored: signals(s.sig_ign.unwrap_or(0)),
        caught: signals(s.sig_cgt.unwrap_or(0)),
        queued: s.sig_q,
    });
    let main = src
        .status
        .as_ref()
        .ok()
        .map(|s| (s.sig_pnd.unwrap_or(0), s.sig_blk.unwrap_or(0)));
    let threads = src.dir.tids().map(|tids| {
        let mut out = Vec::new();
        let mut buf = Vec::with_capacity(2048);
        for tid in tids.into_iter().take(MAX_THREADS) {
            if tid == src.dir.pid() {
                continue;
            }
            let Ok(t) = src.dir.task(tid) else { continue };
            if t.read(c"status", &mut buf, procscope_read::cap::RECORD)
                .is_err()
            {
                continue;
            }
            let Ok(s) = Status::parse(&buf) else { continue };
            let mine = (s.sig_pnd.unwrap_or(0), s.sig_blk.unwrap_or(0));
            if Some(mine) != main {
                out.push(ThreadSignals {
                    tid,
                    name: s.name.map(Bytes),
                    pending: signals(mine.0),
                    blocked: signals(mine.1),
                });
            }
        }
        out
    });
    Signals { process, threads }
}

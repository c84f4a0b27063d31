//! Tasks stuck in `D`, by cause: what no other exporter says.
//!
//! The collector counts threads in `D` per process. A task counts as
//! blocked when it was in `D` at two collections in a row (one `D` moment
//! is a disk read); for those, the engine's `hung` report reads the
//! stacks and system calls and names the cause — the FUSE or NFS mount
//! (its daemon or server is not answering), a file lock's holder, a
//! process's memory lock, a vfork child, block I/O…
//!
//! Only processes with a thread in `D` are read, so a healthy host costs
//! nothing here.

use procscope_model::collect::Snapshot;
use procscope_model::hung::{self, GroupCause, Sample};
use procscope_read::{ProcRoot, Session};
use std::collections::BTreeMap;

/// Blocked tasks sharing a cause, what they are blocked on, and a group.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    /// The cause's name (`fuse`, `nfs`, `file_lock`, `memory_lock_holder`…).
    pub cause: String,
    /// What on: a mount point, a lock holder (`PID (COMM)`), or empty.
    pub on: String,
    /// The blocked tasks' process group (see [`crate::rules`]).
    pub group: String,
}

/// How many tasks, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Count {
    /// Tasks.
    pub tasks: u64,
    /// The longest any of them has not run, seconds (0 when unknown).
    pub max_seconds: f64,
}

/// Remembers the last collection's `D` threads.
#[derive(Debug, Default)]
pub struct Tracker {
    prev: Option<Sample>,
}

impl Tracker {
    /// Blocked tasks by cause, from a snapshot and the one before;
    /// `group_of` names a PID's group.
    pub fn update(
        &mut self,
        root: &ProcRoot,
        session: &Session,
        snap: &Snapshot,
        group_of: impl Fn(i32) -> String,
    ) -> BTreeMap<Key, Count> {
        // Not our own threads: a read of a hung process's memory waits in
        // D too (abandoned under the deadline), and is not what anyone
        // alerts on.
        let me = i32::try_from(std::process::id()).unwrap_or(0);
        let candidates: Vec<i32> = snap
            .processes
            .iter()
            .filter(|p| p.thread_states.disk_sleep > 0 && p.pid != me)
            .map(|p| p.pid)
            .collect();
        let mut out = BTreeMap::new();
        if candidates.is_empty() {
            self.prev = None;
            return out;
        }
        let Ok(sampler) = hung::Sampler::new(root, None) else {
            return out;
        };
        let now = sampler.first_of(root, candidates);
        let Some(prev) = self.prev.replace(now.clone()) else {
            return out;
        };
        let sampling = hung::fold(Some(hung::fold(None, prev)), now);
        if sampling.stuck.is_empty() {
            return out;
        }
        let report = hung::report(root, &sampling, session);
        for g in &report.groups {
            let cause = procscope_render::wire::common::name(&g.cause.kind());
            let on = match &g.cause {
                GroupCause::Fuse { mount, .. }
                | GroupCause::Nfs { mount, .. }
                | GroupCause::OnMount { mount, .. } => crate::rules::text(&mount.0),
                GroupCause::FileLock { holders, .. } => holders
                    .first()
                    .map(|h| match &h.comm {
                        Some(c) => format!("{} ({})", h.pid, crate::rules::text(&c.0)),
                        None => h.pid.to_string(),
                    })
                    .unwrap_or_default(),
                GroupCause::MemoryLock { pid, .. } => pid.to_string(),
                GroupCause::Kernel(_) => String::new(),
            };
            for t in &g.tasks {
                let c: &mut Count = out
                    .entry(Key {
                        cause: cause.clone(),
                        on: on.clone(),
                        group: group_of(t.pid),
                    })
                    .or_default();
                c.tasks += 1;
                let secs = t.thread.idle_ms.unwrap_or(0) as f64 / 1000.0;
                c.max_seconds = c.max_seconds.max(secs);
            }
        }
        out
    }
}

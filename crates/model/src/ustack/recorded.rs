//! User-space stacks kept in a snapshot's tape, and answered from it.
//!
//! A snapshot holds neither a process's memory nor its module files, so
//! the stacks cannot be walked again from it: the answers [`super::read`]
//! gave while the snapshot was taken are kept per process
//! ([`procscope_read::tape::Records::user_stacks`]) and given back as they
//! were. A thread the snapshot has no stack for says "not in the
//! snapshot".

use super::UserStack;
use crate::threads::ProcessThreads;
use procscope_read::tape::not_in_snapshot;
use procscope_read::{Failure, Outcome, ProcRoot};
use std::collections::BTreeMap;

/// The recorded form: each thread's answer, by TID.
type Kept = BTreeMap<i32, Outcome<UserStack>>;

/// On a snapshot, fills every thread's user stack from the tape and says
/// so (true); on a live root does nothing (false).
pub(super) fn replay(root: &ProcRoot, p: &mut ProcessThreads) -> bool {
    let Some(tape) = root.tape().filter(|t| t.is_replay()) else {
        return false;
    };
    let kept: Result<Kept, Failure> = tape.user_stacks(p.pid).and_then(|v| {
        serde_json::from_value(v.clone()).map_err(|e| Failure::Malformed {
            detail: format!("user stacks in the snapshot: {e}"),
        })
    });
    for t in &mut p.threads {
        t.user = Some(match &kept {
            Ok(k) => k
                .get(&t.tid)
                .cloned()
                .unwrap_or_else(|| Err(not_in_snapshot())),
            Err(f) => Err(f.clone()),
        });
    }
    true
}

/// While a snapshot is taken (a recording tape on a live root), keeps what
/// was answered for `p`'s threads.
pub(super) fn keep(root: &ProcRoot, p: &ProcessThreads) {
    let Some(tape) = root.tape().filter(|t| !t.is_replay()) else {
        return;
    };
    let kept: Kept = p
        .threads
        .iter()
        .filter_map(|t| Some((t.tid, t.user.clone()?)))
        .collect();
    if let Ok(v) = serde_json::to_value(&kept) {
        tape.keep_user_stacks(p.pid, v);
    }
}

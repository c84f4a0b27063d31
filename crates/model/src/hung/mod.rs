//! Finding tasks stuck in uninterruptible sleep (`D`) across the host.
//!
//! A momentary `D` (a disk read) is normal; a task still in `D` at every
//! sample over a window is stuck. [`Sampler::first`] reads every thread's
//! `stat`; [`Sampler::again`] re-reads only the threads still candidates,
//! so the cost after the first pass is proportional to what is stuck.
//! [`fold`] is a pure function of the samples: the frontend decides when
//! to take them (and sleeps between them); nothing here sleeps.
//! [`report`] then reads the stuck threads' stacks and system calls and
//! groups them with their likely cause.

use crate::bytes::Bytes;
use crate::clock::Clock;
use crate::listing::read_stat;
use procscope_parse::stat::TaskState;
use procscope_read::{Outcome, ProcRoot};
use std::time::Duration;

mod cause;
mod report;
pub use cause::{Cause, likely_cause, memory_lock_stuck, thread_cause};
pub use report::{
    CallName, GroupCause, HungGroup, HungKey, LockHolder, Report, Resource, StuckTask, report,
    waits_by_design,
};

/// A thread seen by a sample: in `D`, or (with `over`) asleep too long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StuckThread {
    /// Process ID.
    pub pid: i32,
    /// Thread ID.
    pub tid: i32,
    /// Process name.
    pub process: Bytes,
    /// Thread name.
    pub comm: Bytes,
    /// [`TaskState::DiskSleep`], or [`TaskState::Sleeping`] for a task that
    /// has not run for longer than `over`; in a later sample, the state the
    /// thread was seen in.
    pub state: TaskState,
    /// How long since it last ran (ms), when `sched` tells.
    pub idle_ms: Option<u64>,
    /// When it last started running (`se.exec_start`, ms since boot), read
    /// for sleeping threads: one that ran between samples is not stuck.
    pub exec_start: Option<u64>,
}

/// What one pass over the host (or over the candidates left) saw.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sample {
    /// The threads seen: every candidate in a first pass; in a later pass
    /// each candidate asked about that could still be read, in whatever
    /// state it was found.
    pub threads: Vec<StuckThread>,
}

/// What sampling found, and what it did: it stops early once no
/// candidate is left, so the samples taken can be fewer than asked for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sampling {
    /// Threads in `D` (or, with `over`, asleep) at every sample taken.
    pub stuck: Vec<StuckThread>,
    /// Candidates at the first sample (threads in `D`, or asleep too long).
    pub first: usize,
    /// Samples taken (1 when the first found no candidate).
    pub samples: u32,
    /// Time from the first sample's start to the last one's end, measured
    /// by whoever took the samples ([`fold`] leaves it as it was).
    pub elapsed: Duration,
    /// The one sample is a snapshot's: the states when it was taken, not
    /// states that lasted over a window (set by whoever took it).
    pub snapshot: bool,
}

/// Takes samples: the clock that idle times are measured on, read once.
#[derive(Debug, Clone)]
pub struct Sampler {
    clock: Clock,
    over_ms: Option<u64>,
}

/// When a thread last started running (`se.exec_start`, ms since boot).
fn exec_start(t: &procscope_read::ProcDir, buf: &mut Vec<u8>) -> Option<u64> {
    t.read(c"sched", buf, 64 * 1024).ok()?;
    procscope_parse::sched::exec_start_ms(buf)
}

impl Sampler {
    /// A sampler for `root`; with `over`, threads asleep (`S`) without
    /// running for longer than that are candidates too (they sat in the
    /// same system call all along).
    pub fn new(root: &ProcRoot, over: Option<Duration>) -> Outcome<Sampler> {
        Ok(Sampler {
            clock: Clock::read(root)?.with_sched_now(root),
            over_ms: over.map(|o| u64::try_from(o.as_millis()).unwrap_or(u64::MAX)),
        })
    }

    /// The first pass: every thread of every process; the candidates.
    pub fn first(&self, root: &ProcRoot) -> Outcome<Sample> {
        Ok(self.first_of(root, root.pids()?))
    }

    /// A first pass over these processes only (a collector already knows
    /// which have a thread in `D`).
    pub fn first_of(&self, root: &ProcRoot, pids: Vec<i32>) -> Sample {
        let clock = &self.clock;
        let mut buf = Vec::with_capacity(1024);
        let mut threads = Vec::new();
        // In a snapshot, the procscope that took it is no answer: its
        // threads were reading (maybe stuck behind a hung target, or
        // writing the file) — live, `hung` never sees its own readers.
        let skip = root.is_snapshot().then(|| root.own_pid());
        for pid in pids.into_iter().filter(|&p| Some(p) != skip) {
            let Ok(dir) = root.process(pid) else { continue };
            let Ok(pst) = read_stat(&dir, c"stat", clock, &mut buf) else {
                continue;
            };
            let Ok(tids) = dir.tids() else { continue };
            for tid in tids {
                let Ok(t) = dir.task(tid) else { continue };
                let Ok(st) = read_stat(&t, c"stat", clock, &mut buf) else {
                    continue;
                };
                let idle = |buf: &mut Vec<u8>| exec_start(&t, buf).map(|s| (s, clock.idle_ms(s)));
                let (state, idle_ms, start) = match (st.state, self.over_ms) {
                    (TaskState::DiskSleep, _) => {
                        (TaskState::DiskSleep, idle(&mut buf).map(|i| i.1), None)
                    }
                    // Kernel threads sleep between jobs by design.
                    (TaskState::Sleeping, Some(o)) if !pst.kernel_thread => match idle(&mut buf) {
                        Some((start, ms)) if ms >= o => {
                            (TaskState::Sleeping, Some(ms), Some(start))
                        }
                        _ => continue,
                    },
                    _ => continue,
                };
                threads.push(StuckThread {
                    pid,
                    tid,
                    process: pst.comm.clone(),
                    comm: st.comm,
                    state,
                    idle_ms,
                    exec_start: start,
                });
            }
        }
        Sample { threads }
    }

    /// A later pass: only the candidates left in `s`, as they are now.
    pub fn again(&self, root: &ProcRoot, s: &Sampling) -> Sample {
        let mut buf = Vec::with_capacity(1024);
        let threads = s
            .stuck
            .iter()
            .filter_map(|c| {
                let t = root.process(c.pid).and_then(|p| p.task(c.tid)).ok()?;
                let st = read_stat(&t, c"stat", &self.clock, &mut buf).ok()?;
                let exec_start = match c.state {
                    TaskState::Sleeping => exec_start(&t, &mut buf),
                    _ => None,
                };
                Some(StuckThread {
                    state: st.state,
                    exec_start,
                    ..c.clone()
                })
            })
            .collect();
        Sample { threads }
    }
}

/// Folds a sample into what sampling found so far (`None`: `sample` is
/// the first). A candidate stays stuck when the sample saw it again in
/// `D`, or — one asleep too long — still asleep without having run since.
pub fn fold(so_far: Option<Sampling>, sample: Sample) -> Sampling {
    let Some(mut s) = so_far else {
        // In (PID, TID) order, each thread once, whatever order the pass
        // read them in.
        let mut threads = sample.threads;
        threads.sort_by_key(|t| (t.pid, t.tid));
        threads.dedup_by_key(|t| (t.pid, t.tid));
        return Sampling {
            first: threads.len(),
            stuck: threads,
            samples: 1,
            elapsed: Duration::ZERO,
            snapshot: false,
        };
    };
    s.samples = s.samples.saturating_add(1);
    s.stuck.retain(|c| {
        sample
            .threads
            .iter()
            .find(|t| (t.pid, t.tid) == (c.pid, c.tid))
            .is_some_and(|t| match c.state {
                TaskState::Sleeping => {
                    t.state == TaskState::Sleeping && t.exec_start == c.exec_start
                }
                _ => t.state == TaskState::DiskSleep,
            })
    });
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn tree(state: char) -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        fs::write(t.path().join("stat"), "btime 1700000000\n").unwrap();
        fs::write(t.path().join("uptime"), "100.00 50.00\n").unwrap();
        let task = t.path().join("7/task/7");
        fs::create_dir_all(&task).unwrap();
        set_state(&t, state);
        t
    }

    fn set_state(t: &tempfile::TempDir, state: char) {
        let stat =
            format!("7 (p7) {state} 1 7 7 0 -1 4194304 0 0 0 0 1 1 0 0 20 0 1 0 500 1000 10 0\n");
        fs::write(t.path().join("7/stat"), &stat).unwrap();
        fs::write(t.path().join("7/task/7/stat"), &stat).unwrap();
    }

    fn seen(pid: i32, tid: i32, state: TaskState, exec_start: Option<u64>) -> StuckThread {
        StuckThread {
            pid,
            tid,
            process: Bytes::default(),
            comm: Bytes::default(),
            state,
            idle_ms: None,
            exec_start,
        }
    }

    #[test]
    fn samples_of_a_tree_fold_into_what_stayed_in_d() {
        // Nothing in D at the first sample: no candidate.
        let t = tree('S');
        let root = ProcRoot::open(t.path()).unwrap();
        let sampler = Sampler::new(&root, None).unwrap();
        let s = fold(None, sampler.first(&root).unwrap());
        assert_eq!((s.stuck.len(), s.first, s.samples), (0, 0, 1));
        // In D at both samples: stuck.
        let t = tree('D');
        let root = ProcRoot::open(t.path()).unwrap();
        let sampler = Sampler::new(&root, None).unwrap();
        let s = fold(None, sampler.first(&root).unwrap());
        assert_eq!((s.stuck.len(), s.first, s.samples), (1, 1, 1));
        let next = sampler.again(&root, &s);
        let s = fold(Some(s), next);
        assert_eq!((s.stuck.len(), s.first, s.samples), (1, 1, 2));
        assert_eq!(s.stuck[0].state, TaskState::DiskSleep);
        // Out of D at the third: not stuck.
        set_state(&t, 'R');
        let next = sampler.again(&root, &s);
        let s = fold(Some(s), next);
        assert_eq!((s.stuck.len(), s.first, s.samples), (0, 1, 3));
    }

    #[test]
    fn fold_keeps_what_is_seen_again_in_the_same_wait() {
        let first = Sample {
            threads: vec![
                seen(1, 1, TaskState::DiskSleep, None),
                seen(1, 2, TaskState::Sleeping, Some(500)),
                seen(3, 3, TaskState::Sleeping, Some(700)),
                seen(4, 4, TaskState::DiskSleep, None),
            ],
        };
        let s = fold(None, first);
        assert_eq!((s.first, s.samples), (4, 1));
        let next = Sample {
            threads: vec![
                seen(1, 1, TaskState::DiskSleep, None),
                // Asleep still, and it has not run since.
                seen(1, 2, TaskState::Sleeping, Some(500)),
                // Asleep again, but it ran in between.
                seen(3, 3, TaskState::Sleeping, Some(900)),
                // 4 exited: not seen.
            ],
        };
        let s = fold(Some(s), next);
        let left: Vec<(i32, i32)> = s.stuck.iter().map(|t| (t.pid, t.tid)).collect();
        assert_eq!(left, [(1, 1), (1, 2)]);
        assert_eq!((s.first, s.samples), (4, 2));
    }
}

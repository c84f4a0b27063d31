//! Deadline-guarded reads, for the whole life of the process.
//!
//! Reading `cmdline`, `environ`, `maps` or `smaps*` takes the target's
//! memory-map lock; when a thread of the target is stuck holding it (or a
//! writer is queued behind a stuck holder) the read blocks in the kernel and
//! cannot be cancelled. So such reads never run on the caller's thread. A
//! [`Session`] owns what that takes, for as long as the program runs (a
//! one-shot command, or an exporter that runs for days):
//!
//! - **one pool of worker threads.** [`Session::run`] hands one job per item
//!   (usually per process) to pooled workers. A job first delivers the part
//!   of its result that needs no risky read ([`Ctx::checkpoint`]), then
//!   performs risky reads inside [`Ctx::guarded`]. Workers go back to the
//!   pool after a run, so a frontend refreshing every second does not spawn
//!   threads every second.
//! - **one stuck budget.** A worker inside `guarded` for longer than the
//!   deadline is abandoned: its job is reported as [`Failure::TimedOut`]
//!   (with the checkpointed part kept) and a replacement takes the remaining
//!   jobs. At most [`Limits::max_stuck`] threads may ever be stuck at once
//!   across every run of the session (abandoned ones plus live ones that
//!   could still get stuck); past it, risky reads are refused
//!   ([`Failure::Skipped`]). An abandoned read that finally returns gives
//!   its budget back and its thread to the pool.
//! - **a quarantine.** While an abandoned read of a target is outstanding,
//!   that target (PID and start time, [`Target`]) is answered "timed out" at
//!   once and not read again: a hung process costs one stuck thread, not one
//!   per refresh.
//! - **counters** ([`Session::stats`]) that frontends show and export.
//!
//! Nothing ever joins an abandoned worker. The memory-lock reads wait with
//! `mmap_read_lock_killable()`, so process exit is not held up by them.
//! There is no global state: two sessions in one process share nothing.
//!
//! With nothing hung, the cost is a few uncontended mutex operations per
//! guarded read, and the pool makes listings faster by using every core.

mod pool;
mod run;

pub use run::{Ctx, Finished};

use crate::failure::{Failure, Outcome};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// How a [`Session`] behaves.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Deadline for one guarded read; `None` disables the guard (risky reads
    /// then run unchecked: only for measuring its cost).
    pub timeout: Option<Duration>,
    /// Worker threads a run starts (at least 1).
    pub workers: usize,
    /// At most this many threads may ever be stuck at once, over every run
    /// of the session (abandoned ones plus live ones that could still get
    /// stuck).
    pub max_stuck: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Some(Duration::from_secs(1)),
            workers: default_workers(),
            max_stuck: 8,
        }
    }
}

/// One worker per core, at least 2 (so one stuck read never serialises the
/// rest behind a replacement spawn), at most 8.
pub fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(2, 8)
}

/// What a guarded read may wait for in the kernel. A process's reads are
/// quarantined per lock: a stuck memory-map lock (`cmdline`, `environ`,
/// `maps`, `mem`) says nothing about `stack` and `syscall`, which wait only
/// for the exec lock — they stay readable, and show where it is stuck.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lock {
    /// The memory-map lock (`mmap_lock`): command line, environment, maps,
    /// memory. The default.
    #[default]
    MemoryMap,
    /// The exec lock (`exec_update_lock`): kernel stack, system call.
    Exec,
}

/// Which process a guarded read is about, for the quarantine: its PID and,
/// when the job knows it, its start time (clock ticks after boot, `stat`
/// field 22), which tells a reused PID from the process that hung.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Target {
    /// The process ID.
    pub pid: i32,
    /// Its start time in clock ticks, when known.
    pub start: Option<u64>,
}

impl Target {
    /// A target known by PID only.
    pub fn pid(pid: i32) -> Self {
        Target { pid, start: None }
    }

    /// Whether `self` and `other` may be the same process: same PID, and
    /// the same start time where both know it.
    fn may_be(&self, other: &Target) -> bool {
        self.pid == other.pid
            && match (self.start, other.start) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }
}

/// What a session has done so far, and what is stuck now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Guarded reads started.
    pub reads: u64,
    /// Guarded reads abandoned at the deadline.
    pub timeouts: u64,
    /// Reads answered "timed out" at once because their target already had
    /// a read stuck (quarantine).
    pub quarantined: u64,
    /// Reads refused because the stuck budget was spent.
    pub skipped: u64,
    /// Abandoned reads still outstanding.
    pub stuck_now: usize,
    /// The budget for stuck threads ([`Limits::max_stuck`]).
    pub max_stuck: usize,
    /// The targets with a read outstanding (quarantined), in PID order.
    pub quarantine: Vec<Target>,
    /// Worker threads alive now (pooled, busy or stuck).
    pub threads: usize,
}

/// A read that was abandoned and has not returned yet.
#[derive(Debug, Clone)]
struct StuckRead {
    id: u64,
    target: Option<(Target, Lock)>,
}

/// The abandoned reads still outstanding. Each run also counts its own
/// live workers against the budget (they could get stuck too), but not
/// other runs' — a run next to a healthy one is not refused.
#[derive(Debug, Default)]
struct Budget {
    stuck: Vec<StuckRead>,
}

/// What every handle of one session shares.
struct Shared {
    max_stuck: usize,
    budget: Mutex<Budget>,
    pool: pool::Pool,
    next_id: AtomicU64,
    reads: AtomicU64,
    timeouts: AtomicU64,
    quarantined: AtomicU64,
    skipped: AtomicU64,
    threads: AtomicUsize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl Shared {
    /// How many of `want` more workers a run that has `own_live` workers
    /// may start: its workers and every outstanding stuck read together
    /// stay within the budget.
    fn acquire(&self, want: usize, own_live: usize) -> usize {
        let b = lock(&self.budget);
        let free = self
            .max_stuck
            .saturating_sub(own_live.saturating_add(b.stuck.len()));
        want.min(free)
    }

    /// Records an abandoned read.
    fn abandon(&self, target: Option<(Target, Lock)>) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut b = lock(&self.budget);
        b.stuck.push(StuckRead { id, target });
        self.timeouts.fetch_add(1, Ordering::Relaxed);
        id
    }

    /// An abandoned read returned: its target may be read again.
    fn release(&self, id: u64) {
        lock(&self.budget).stuck.retain(|s| s.id != id);
    }

    fn stuck_now(&self) -> usize {
        lock(&self.budget).stuck.len()
    }

    fn quarantined(&self, t: &Target, l: Lock) -> bool {
        lock(&self.budget)
            .stuck
            .iter()
            .any(|s| s.target.is_some_and(|(q, ql)| ql == l && q.may_be(t)))
    }
}

/// A read session: the worker pool, the stuck budget, the quarantine and
/// the counters, for as long as any handle lives. Handles are cheap to
/// clone and share everything; [`Session::with_timeout`] makes a handle
/// with another deadline over the same pool and budget.
#[derive(Clone)]
pub struct Session {
    shared: Arc<Shared>,
    timeout: Option<Duration>,
    workers: usize,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("timeout", &self.timeout)
            .field("workers", &self.workers)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Default for Session {
    fn default() -> Self {
        Session::new(Limits::default())
    }
}

impl Session {
    /// A new session with its own pool, budget and quarantine.
    pub fn new(limits: Limits) -> Self {
        let workers = limits.workers.max(1);
        Session {
            shared: Arc::new(Shared {
                max_stuck: limits.max_stuck.max(1),
                budget: Mutex::new(Budget::default()),
                pool: pool::Pool::new(workers),
                next_id: AtomicU64::new(0),
                reads: AtomicU64::new(0),
                timeouts: AtomicU64::new(0),
                quarantined: AtomicU64::new(0),
                skipped: AtomicU64::new(0),
                threads: AtomicUsize::new(0),
            }),
            timeout: limits.timeout,
            workers,
        }
    }

    /// A handle on the same session whose guarded reads use `timeout`.
    pub fn with_timeout(&self, timeout: Option<Duration>) -> Session {
        Session {
            timeout,
            ..self.clone()
        }
    }

    /// A handle on the same session whose runs start at most `workers`
    /// workers.
    pub fn with_workers(&self, workers: usize) -> Session {
        Session {
            workers: workers.max(1),
            ..self.clone()
        }
    }

    /// The deadline of one guarded read (`None`: unguarded).
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// Whether a read of `t` is outstanding (so `t` is not read again).
    pub fn is_quarantined(&self, t: Target) -> bool {
        self.shared.quarantined(&t, Lock::MemoryMap)
    }

    /// The session's counters and what is stuck now.
    pub fn stats(&self) -> Stats {
        let s = &self.shared;
        let (stuck_now, mut quarantine) = {
            let b = lock(&s.budget);
            (
                b.stuck.len(),
                b.stuck
                    .iter()
                    .filter_map(|r| r.target.map(|(t, _)| t))
                    .collect::<Vec<_>>(),
            )
        };
        quarantine.sort_unstable();
        quarantine.dedup();
        Stats {
            reads: s.reads.load(Ordering::Relaxed),
            timeouts: s.timeouts.load(Ordering::Relaxed),
            quarantined: s.quarantined.load(Ordering::Relaxed),
            skipped: s.skipped.load(Ordering::Relaxed),
            stuck_now,
            max_stuck: s.max_stuck,
            quarantine,
            threads: s.threads.load(Ordering::Relaxed),
        }
    }

    /// Runs `job` once per item on the pool and returns the results in the
    /// items' order. Returns only when every job finished, timed out, or was
    /// run with risky reads refused: never later than about one deadline
    /// after the last healthy job.
    pub fn run<I, P, R, F>(&self, items: Vec<I>, job: F) -> Vec<Finished<P, R>>
    where
        I: Send + 'static,
        P: Send + 'static,
        R: Send + 'static,
        F: Fn(I, &Ctx<P, R>) -> R + Send + Sync + 'static,
    {
        let mut out = Vec::with_capacity(items.len());
        self.run_ordered(items, job, |_, f| out.push(f));
        out
    }

    /// Like [`Session::run`], but hands each result to `sink` as soon as it
    /// and every result before it are in, in the items' order, instead of
    /// collecting them: memory then holds only the results that finished
    /// out of order (about one per worker), so a listing can print rows
    /// while later ones are read.
    pub fn run_ordered<I, P, R, F>(
        &self,
        items: Vec<I>,
        job: F,
        sink: impl FnMut(usize, Finished<P, R>),
    ) where
        I: Send + 'static,
        P: Send + 'static,
        R: Send + 'static,
        F: Fn(I, &Ctx<P, R>) -> R + Send + Sync + 'static,
    {
        run::run_ordered(self, items, job, true, sink);
    }

    /// Like [`Session::run_ordered`], but hands each result to `sink` as
    /// soon as it is in, in any order: nothing waits behind a slow job (a
    /// read that runs to its deadline), so memory holds no finished
    /// results (a snapshot writes each process as it comes).
    pub fn run_unordered<I, P, R, F>(
        &self,
        items: Vec<I>,
        job: F,
        sink: impl FnMut(usize, Finished<P, R>),
    ) where
        I: Send + 'static,
        P: Send + 'static,
        R: Send + 'static,
        F: Fn(I, &Ctx<P, R>) -> R + Send + Sync + 'static,
    {
        run::run_ordered(self, items, job, false, sink);
    }

    /// Runs one risky read `f` about `target` on a pooled worker and waits
    /// at most the deadline. For commands about a single process; listings
    /// use [`Session::run`].
    pub fn once<T, F>(&self, target: Option<Target>, f: F) -> Outcome<T>
    where
        T: Send + 'static,
        F: FnOnce() -> Outcome<T> + Send + 'static,
    {
        let mut r = self
            .with_workers(1)
            .run(vec![f], move |f: F, ctx: &Ctx<(), Outcome<T>>| {
                if let Some(t) = target {
                    ctx.target(t);
                }
                ctx.guarded(|| Ok(f())).and_then(|x| x)
            });
        match r.pop() {
            Some(Finished { rest, .. }) => rest.and_then(|x| x),
            None => Err(Failure::Gone),
        }
    }
}

/// Deadline of a guarded read, as reported when it times out or is
/// answered from the quarantine.
fn after(timeout: Option<Duration>) -> Duration {
    timeout.unwrap_or_default()
}

#[cfg(test)]
mod tests;

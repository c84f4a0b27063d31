//! The stateful collector every long-running frontend stands on (`top`,
//! `serve`, `watch`, snapshots).
//!
//! [`Collector::collect`] returns a [`Snapshot`]: every process, keyed by
//! identity (PID and start time), with raw counters — CPU ticks (user and
//! system apart), faults, I/O, context switches, fds, threads by state.
//! Rates are a pure function of two snapshots ([`rates::rates`]); nothing
//! here sleeps.
//!
//! What makes a refresh cheap is what the collector remembers per identity
//! (`Known`):
//!
//! - `stat` is read for every process on every collection: it is what
//!   changes (CPU, state, faults, threads) and it tells a reused PID.
//! - `status`, `io`, the fd count and the threads' states are read again
//!   when `stat` changed, and otherwise every [`Want::recheck_every`]
//!   collections (staggered by PID): a process that did not run cannot
//!   have changed them, except through the tick granularity of CPU time,
//!   which the periodic recheck bounds.
//! - What does not change for an identity unless it runs — the command
//!   line (a rewritten title), the `exe` link (exec keeps PID and start
//!   time), the fd limit, the cgroup — is read on first sight, and again
//!   only when the process used CPU since and the value is older than
//!   [`Want::slow_age`].
//!
//! The command line takes the target's memory lock: it is read under the
//! session's deadline, and a process whose read is stuck is quarantined by
//! the session (answered at once, not read again until the read returns).

mod host;
pub mod rates;
mod read;
pub mod snapshot;

pub use snapshot::{CpuTicks, Host, Identity, IoCounters, Part, Proc, Snapshot, StateCounts};

use crate::bytes::Bytes;
use procscope_read::{Failure, ProcRoot, Session};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// What to collect.
#[derive(Debug, Clone)]
pub struct Want {
    /// Command lines (a memory-lock read, under the deadline).
    pub cmdline: bool,
    /// At most this many bytes of each command line.
    pub cmdline_cap: usize,
    /// Proportional set size (`smaps_rollup`'s `Pss`): a memory-lock read
    /// that walks every mapping, so off unless asked for; read with the
    /// command line, under the same deadline, when `stat` changed.
    pub pss: bool,
    /// The `exe` link.
    pub exe: bool,
    /// `io` counters (another user's need privilege).
    pub io: bool,
    /// Open fd counts and the fd limit.
    pub fds: bool,
    /// The cgroup path.
    pub cgroup: bool,
    /// `wchan`.
    pub wchan: bool,
    /// Every thread's state (for processes with several threads).
    pub threads: bool,
    /// User names for the UIDs seen.
    pub users: bool,
    /// Only these PIDs (`None`: every process).
    pub only: Option<Vec<i32>>,
    /// Re-read `status`, `io`, fds and threads of a process whose `stat`
    /// did not change once in this many collections.
    pub recheck_every: u32,
    /// Re-read the command line, `exe`, limits and cgroup of a process that
    /// ran since, at most this often.
    pub slow_age: Duration,
}

impl Default for Want {
    fn default() -> Self {
        Want {
            cmdline: true,
            cmdline_cap: 64 * 1024,
            pss: false,
            exe: true,
            io: true,
            fds: true,
            cgroup: true,
            wchan: false,
            threads: true,
            users: true,
            only: None,
            recheck_every: 10,
            slow_age: Duration::from_secs(5),
        }
    }
}

/// What the collector remembers about one identity between collections.
#[derive(Debug, Clone)]
pub(crate) struct Known {
    /// The last values seen (shared with the snapshots that hold them).
    pub proc: std::sync::Arc<Proc>,
    /// `stat`'s changing fields at the last read: equal means "did not
    /// run, did not change".
    pub fingerprint: Fingerprint,
    /// When the slow fields (command line, exe, limit, cgroup) were read,
    /// and the CPU ticks then.
    pub slow_at: Instant,
    /// CPU ticks when the slow fields were read.
    pub slow_cpu: u64,
    /// `stat`, kept open (live procfs, within the fd budget): the next
    /// collection re-reads it without a lookup, an open or a close.
    pub stat: Option<std::sync::Arc<procscope_read::Kept>>,
}

/// The fields of `stat` that change when a process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fingerprint {
    pub cpu: u64,
    pub minflt: u64,
    pub majflt: u64,
    pub state: u8,
    pub threads: i64,
    pub vsize: u64,
    pub rss_pages: i64,
}

/// Collects snapshots of one proc root, remembering what does not change.
/// Owns no global state: collectors are independent of each other (each
/// reads through its own [`Session`], or a shared one).
#[derive(Debug)]
pub struct Collector {
    root: ProcRoot,
    session: Session,
    want: Want,
    known: HashMap<i32, Known>,
    users: HashMap<u32, Option<Bytes>>,
    generation: u32,
    /// How many `stat` files may be kept open at once (0 for a tree).
    keep_budget: usize,
}

impl Collector {
    /// A collector of `root`, reading through `session`.
    pub fn new(root: ProcRoot, session: Session, want: Want) -> Self {
        Collector {
            keep_budget: keep_budget(&root),
            root,
            session,
            want,
            known: HashMap::new(),
            users: HashMap::new(),
            generation: 0,
        }
    }

    /// The read session (for its counters).
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The proc root.
    pub fn root(&self) -> &ProcRoot {
        &self.root
    }

    /// How many identities are remembered (every live process seen last).
    pub fn remembered(&self) -> usize {
        self.known.len()
    }

    /// Collects the processes asked for. Fails only when the proc root
    /// itself cannot be listed.
    pub fn collect(&mut self) -> Result<Snapshot, Failure> {
        let t0 = Instant::now();
        let boot_ms = host::boot_ms();
        let unix_ms = host::unix_ms();
        let clock = crate::clock::Clock::read(&self.root)?;
        let host = host::read(&self.root).ok();
        let mut pids = match &self.want.only {
            Some(p) => p.clone(),
            None => self.root.pids()?,
        };
        pids.sort_unstable();
        pids.dedup();
        self.generation = self.generation.wrapping_add(1);
        let every = self.want.recheck_every.max(1);
        let generation = self.generation;
        let mut kept = self.known.values().filter(|k| k.stat.is_some()).count();
        // A process that did not run since the last collection is finished
        // here, from its kept `stat` alone; the rest go to the pool.
        let mut done = Vec::new();
        let mut buf = Vec::with_capacity(1024);
        let mut items: Vec<read::Item> = Vec::with_capacity(pids.len());
        for pid in pids {
            let recheck = pid.unsigned_abs() % every == generation % every;
            let mut known = self.known.remove(&pid);
            let mut stat = None;
            if let Some(k) = known.take() {
                match read::quick(k, recheck, &clock, &mut buf) {
                    read::Quick::Done(k) => {
                        done.push(k);
                        continue;
                    }
                    read::Quick::Full(k, s) => (known, stat) = (k, s),
                }
            }
            let keep = known.as_ref().is_some_and(|k| k.stat.is_some())
                || (kept < self.keep_budget && {
                    kept += 1;
                    true
                });
            items.push(read::Item {
                pid,
                known,
                recheck,
                keep,
                stat,
            });
        }
        // Whatever was not taken above is a process that went away.
        self.known.clear();
        let (known, unreadable) = read::run(&self.root, &self.session, &self.want, &clock, items);
        let mut processes = Vec::with_capacity(known.len() + done.len());
        for k in known.into_iter().chain(done) {
            processes.push(std::sync::Arc::clone(&k.proc));
            self.known.insert(k.proc.pid, k);
        }
        processes.sort_unstable_by_key(|p| p.pid);
        let users = if self.want.users {
            self.user_names(&processes)
        } else {
            BTreeMap::new()
        };
        Ok(Snapshot {
            boot_ms,
            unix_ms,
            ticks_per_second: clock.ticks_per_second,
            boot_time_unix: clock.boot_time_unix,
            host,
            processes,
            users,
            unreadable,
            reads: self.session.stats(),
            took_us: u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX),
        })
    }

    /// Names of the UIDs in `procs`, looked up once per UID for the
    /// collector's life (a name that NSS could not give is not asked again).
    fn user_names(&mut self, procs: &[std::sync::Arc<Proc>]) -> BTreeMap<u32, Bytes> {
        let mut uids: Vec<u32> = procs.iter().filter_map(|p| p.uid).collect();
        uids.sort_unstable();
        uids.dedup();
        let new: Vec<u32> = uids
            .iter()
            .copied()
            .filter(|u| !self.users.contains_key(u))
            .collect();
        if !new.is_empty() {
            let found = crate::users::resolve(&self.root, new.iter().copied(), &self.session);
            for u in new {
                self.users.insert(u, found.get(&u).cloned());
            }
        }
        uids.into_iter()
            .filter_map(|u| Some((u, self.users.get(&u)?.clone()?)))
            .collect()
    }
}

/// How many `stat` files a collector of `root` keeps open: half of what
/// the soft fd limit leaves after a reserve for everything else (frontends
/// raise it to the hard limit first: `read::fdroom::raise_soft_limit`), at
/// most 65,536; none for a tree. The fd table is grown once, here, to hold
/// about every process's: growing it doubling by doubling while worker
/// threads share it costs an RCU grace period each time.
fn keep_budget(root: &ProcRoot) -> usize {
    if !root.is_live() {
        return 0;
    }
    let soft = procscope_read::fdroom::soft_limit();
    let budget = usize::try_from(soft.saturating_sub(512) / 2)
        .unwrap_or(0)
        .min(65_536);
    let want = root.process_count_hint().saturating_mul(5) / 4 + 256;
    procscope_read::fdroom::grow_table(want.min(budget.saturating_add(256)));
    budget
}

#[cfg(test)]
mod tests;

//! `procscope watch`: what changes in a process, interval by interval.
//!
//! - [`sample`] reads one cheap [`sample::Sample`] of a process (`stat`,
//!   `status`, `io`, fd links, the positions of followed files);
//! - [`process::Watcher`] compares each sample with the last and reports
//!   [`Event`]s: fds opened (decoded once, as `fds` decodes them) and
//!   closed, state, thread and blocking-call changes, rates, leaks (a count
//!   that only grows over the window), progress through regular files, and
//!   a summary when the watch of the process ends;
//! - [`trend`] holds the pure estimators (least-squares slope, "only
//!   grows", position rate, ETA);
//! - [`Watch`] follows a TARGET: one PID, or every process whose name
//!   matches a pattern (scanned once per interval; processes that appear
//!   are followed, those that exit end with their exit status).
//!
//! Nothing here sleeps: the frontend calls [`Watch::step`] every interval.
//! What can wait on a lock the target holds (its command line, `syscall`,
//! stats through fd links on a possibly hung filesystem) is read under
//! the session's deadline, and a timeout is itself an event.

pub mod event;
pub mod process;
pub mod sample;
pub mod trend;

pub use event::{
    Call, Direction, Event, Exit, FdClass, IoRates, Leak, Metric, Progress, Rates, Started, Summary,
};
pub use process::Watcher;

use crate::bytes::Bytes;
use crate::clock::Clock;
use crate::target::{self, Target as Pattern};
use procscope_read::{Outcome, ProcRoot, Session};
use std::collections::{BTreeMap, BTreeSet};

/// How a watch estimates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// The window leaks and progress rates are estimated over, ms.
    pub window_ms: u64,
    /// At most this many processes are followed (pattern watches).
    pub max_processes: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            window_ms: 5_000,
            max_processes: 64,
        }
    }
}

/// What identifies an open file: its mount ID and inode (fdinfo's
/// `mnt_id:` and `ino:`). Two links that differ can name one open file
/// (renamed, or unlinked: ` (deleted)`); one link can name two (the fd
/// reopened onto a new file at the same path).
pub type FileIdent = (u64, u64);

/// How the fds of two samples differ.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FdDiff {
    /// Closed (or their number now names another open file).
    pub gone: Vec<i32>,
    /// Opened (or reopened), with their links.
    pub new: Vec<(i32, Bytes)>,
    /// The same open file under a new link (renamed or deleted).
    pub renamed: Vec<(i32, Bytes)>,
}

/// fds gone from `prev` and new in `now`, in fd order. `prev` gives each
/// fd's link and, when known, its open file's identity; `ident(fd,
/// link_changed)` answers the identity now (when it can: the watcher
/// reads `fdinfo` for a changed link, and has it already for the files it
/// follows). A changed link with the same identity is a rename; the same
/// link with another identity is a close and an open; when either
/// identity is unknown the links decide.
pub fn diff_fds<'a>(
    prev: impl IntoIterator<Item = (i32, &'a [u8], Option<FileIdent>)>,
    now: &BTreeMap<i32, Bytes>,
    mut ident: impl FnMut(i32, bool) -> Option<FileIdent>,
) -> FdDiff {
    let mut d = FdDiff::default();
    let mut seen = BTreeSet::new();
    for (fd, link, id) in prev {
        seen.insert(fd);
        let Some(l) = now.get(&fd) else {
            d.gone.push(fd);
            continue;
        };
        let changed = l.as_slice() != link;
        let same = id.zip(ident(fd, changed)).map(|(a, b)| a == b);
        match (changed, same) {
            (false, Some(false)) | (true, None | Some(false)) => {
                d.gone.push(fd);
                d.new.push((fd, l.clone()));
            }
            (true, Some(true)) => d.renamed.push((fd, l.clone())),
            (false, _) => {}
        }
    }
    d.gone.sort_unstable();
    for (fd, l) in now {
        if !seen.contains(fd) {
            d.new.push((*fd, l.clone()));
        }
    }
    d.new.sort_by_key(|n| n.0);
    d.renamed.sort_by_key(|n| n.0);
    d
}

/// Per-second rates between two samples of one process.
pub fn rates(prev: &sample::Sample, cur: &sample::Sample, clock: &Clock) -> Rates {
    let interval_ms = cur.at_ms.saturating_sub(prev.at_ms);
    let secs = (interval_ms.max(1)) as f64 / 1000.0;
    let per = |a: u64, b: u64| b.saturating_sub(a) as f64 / secs;
    let cpu_ms = clock.ticks_to_ms(cur.cpu_ticks.saturating_sub(prev.cpu_ticks));
    let io_per_sec = match (&prev.io, &cur.io) {
        (Ok(a), Ok(b)) => Some(IoRates {
            read: per(a.rchar, b.rchar),
            write: per(a.wchar, b.wchar),
            disk_read: per(a.read_bytes, b.read_bytes),
            disk_write: per(a.write_bytes, b.write_bytes),
        }),
        _ => None,
    };
    Rates {
        interval_ms,
        cpu_percent: cpu_ms as f64 / (interval_ms.max(1)) as f64 * 100.0,
        rss_bytes: cur.rss_bytes,
        rss_change: i64::try_from(cur.rss_bytes)
            .unwrap_or(i64::MAX)
            .saturating_sub(i64::try_from(prev.rss_bytes).unwrap_or(i64::MAX)),
        io_per_sec,
        ctxsw_per_sec: prev
            .ctxsw
            .zip(cur.ctxsw)
            .map(|(a, b)| (per(a.0, b.0), per(a.1, b.1))),
        faults_per_sec: (
            per(prev.faults.0, cur.faults.0),
            per(prev.faults.1, cur.faults.1),
        ),
    }
}

/// Something about the watch as a whole (not about one process).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// The pattern matches no process (yet): the watch waits for one.
    Waiting,
    /// More processes match than are followed.
    Capped {
        /// Followed.
        watching: usize,
        /// Matching.
        matching: usize,
    },
    /// The processes could not be listed.
    ListFailed(procscope_read::Failure),
}

/// What one step reports: events by PID, and notices about the watch.
#[derive(Debug, Default)]
pub struct Report {
    /// Events, each with the PID it is about, in order.
    pub events: Vec<(i32, Event)>,
    /// Notices about the watch itself.
    pub notices: Vec<Notice>,
}

/// A watch of a TARGET: one PID, or a pattern's processes.
#[derive(Debug)]
pub struct Watch {
    root: ProcRoot,
    session: Session,
    clock: Clock,
    target: Pattern,
    opts: Options,
    watchers: BTreeMap<i32, Watcher>,
    /// Identities whose watch ended (a zombie still matches the pattern:
    /// it is not watched again).
    ended: BTreeSet<(i32, u64)>,
    /// Whether a process ever matched.
    matched: bool,
    waiting_said: bool,
    capped_said: bool,
    steps: u64,
}

impl Watch {
    /// A watch of `target` over `root`; nothing is read until
    /// [`Watch::step`].
    pub fn new(root: ProcRoot, session: Session, target: Pattern, opts: Options) -> Outcome<Watch> {
        let clock = Clock::read(&root)?;
        Ok(Watch {
            root,
            session,
            clock,
            target,
            opts,
            watchers: BTreeMap::new(),
            ended: BTreeSet::new(),
            matched: false,
            waiting_said: false,
            capped_said: false,
            steps: 0,
        })
    }

    /// The deadline of the guarded reads of the next steps (`None`: no
    /// deadline). The frontend shortens it so that a step never outlasts
    /// the watch's own end (`--for`): a stuck read gives up at whichever
    /// comes first.
    pub fn set_timeout(&mut self, timeout: Option<std::time::Duration>) {
        self.session = self.session.with_timeout(timeout);
        for w in self.watchers.values_mut() {
            w.set_timeout(timeout);
        }
    }

    /// Whether any process matched so far.
    pub fn matched(&self) -> bool {
        self.matched
    }

    /// A PID watch whose process is gone, and every process watched has
    /// ended: nothing is left to watch.
    pub fn is_over(&self) -> bool {
        matches!(self.target, Pattern::Pid(_)) && self.steps > 0 && self.watchers.is_empty()
    }

    /// One interval at `at_ms` (milliseconds since the watch began): new
    /// matches are opened, every watched process is sampled.
    pub fn step(&mut self, at_ms: u64) -> Report {
        let first = self.steps == 0;
        self.steps += 1;
        let mut r = Report::default();
        // Step those already watched, then look for new ones (a pattern
        // watch scans the host once per interval).
        let pids: Vec<i32> = self.watchers.keys().copied().collect();
        for pid in pids {
            let Some(w) = self.watchers.get_mut(&pid) else {
                continue;
            };
            r.events.extend(w.step(at_ms).into_iter().map(|e| (pid, e)));
            if w.is_done() {
                let t = w.target();
                self.ended.insert((pid, t.start.unwrap_or(0)));
                self.watchers.remove(&pid);
            }
        }
        let candidates = match &self.target {
            Pattern::Pid(p) if first => vec![*p],
            Pattern::Pid(_) => Vec::new(),
            pat @ Pattern::Pattern(_) => {
                match target::resolve(&self.root, pat, self.root.own_pid(), &self.session) {
                    Ok(v) => v,
                    Err(f) => {
                        r.notices.push(Notice::ListFailed(f));
                        Vec::new()
                    }
                }
            }
        };
        if matches!(self.target, Pattern::Pattern(_)) {
            // A zombie is remembered only while it is still listed.
            self.ended.retain(|(p, _)| candidates.contains(p));
        }
        let fresh: Vec<i32> = candidates
            .iter()
            .copied()
            .filter(|p| !self.watchers.contains_key(p))
            .collect();
        for pid in fresh {
            if self.watchers.len() >= self.opts.max_processes {
                if !self.capped_said {
                    self.capped_said = true;
                    r.notices.push(Notice::Capped {
                        watching: self.watchers.len(),
                        matching: candidates.len(),
                    });
                }
                break;
            }
            let Ok(mut w) =
                Watcher::open(&self.root, &self.session, self.clock, pid, at_ms, self.opts)
            else {
                continue;
            };
            let t = w.target();
            if self.ended.contains(&(pid, t.start.unwrap_or(0))) {
                continue;
            }
            self.matched = true;
            r.events
                .extend(w.begin(!first).into_iter().map(|e| (pid, e)));
            if w.is_done() {
                self.ended.insert((pid, t.start.unwrap_or(0)));
            } else {
                self.watchers.insert(pid, w);
            }
        }
        if !self.matched && !self.waiting_said && matches!(self.target, Pattern::Pattern(_)) {
            self.waiting_said = true;
            r.notices.push(Notice::Waiting);
        }
        r
    }

    /// Ends the watch: a summary of every process still watched.
    pub fn finish(&mut self) -> Report {
        let mut r = Report::default();
        for (pid, w) in self.watchers.iter_mut() {
            r.events.extend(w.finish().into_iter().map(|e| (*pid, e)));
        }
        self.watchers.clear();
        r
    }
}

#[cfg(test)]
mod tests;

//! What changed between two proc roots (two snapshots, or a snapshot and
//! the live host): processes that appeared or went away, by identity (PID
//! and start time), and per process the changes that matter — state,
//! threads, fds opened and closed, RSS, CPU time, threads newly blocked
//! in D, limits and environment.
//!
//! Each side is read the same way ([`read_side`]); on the live host the
//! environment is read under the session's deadline (it takes the
//! target's memory lock).

use crate::fds::FdEntry;
use procscope_parse::stat::{Stat, TaskState};
use procscope_read::guard::{Ctx, Session, Target};
use procscope_read::{Outcome, ProcDir, ProcRoot};
use std::collections::BTreeMap;

/// A process's identity: PID and start time (clock ticks after boot).
pub type Identity = (i32, u64);

/// What is compared of one process.
#[derive(Debug, Clone)]
pub struct ProcState {
    /// PID.
    pub pid: i32,
    /// Start time, ticks after boot.
    pub start_ticks: u64,
    /// Name.
    pub comm: Vec<u8>,
    /// Scheduler state.
    pub state: TaskState,
    /// Threads.
    pub threads: i64,
    /// Resident size, bytes.
    pub rss_bytes: u64,
    /// User + system CPU, ms.
    pub cpu_ms: u64,
    /// Open fds, decoded (absent when they could not be read).
    pub fds: Option<BTreeMap<i32, FdEntry>>,
    /// Threads in D: TID → (name, wchan).
    pub blocked: BTreeMap<i32, (Vec<u8>, Vec<u8>)>,
    /// Limits by name: "soft hard units".
    pub limits: BTreeMap<String, String>,
    /// Environment `KEY` → value, in order of first appearance (absent
    /// when it could not be read or was left out).
    pub env: Option<BTreeMap<Vec<u8>, Vec<u8>>>,
}

/// One side of a diff.
pub type Side = BTreeMap<Identity, ProcState>;

fn thread_blocked(dir: &ProcDir) -> BTreeMap<i32, (Vec<u8>, Vec<u8>)> {
    let mut out = BTreeMap::new();
    let mut b = Vec::new();
    for tid in dir.tids().unwrap_or_default() {
        let Ok(t) = dir.task(tid) else { continue };
        if t.read(c"stat", &mut b, 64 * 1024).is_err() {
            continue;
        }
        let Ok(s) = Stat::parse(&b) else { continue };
        if s.state != TaskState::DiskSleep {
            continue;
        }
        let comm = s.comm.to_vec();
        let wchan = t
            .read(c"wchan", &mut b, 4096)
            .map(|_| b.clone())
            .unwrap_or_default();
        out.insert(tid, (comm, wchan));
    }
    out
}

fn limits(dir: &ProcDir) -> BTreeMap<String, String> {
    let mut b = Vec::new();
    if dir.read(c"limits", &mut b, 64 * 1024).is_err() {
        return BTreeMap::new();
    }
    // "Limit                     Soft Limit           Hard Limit           Units"
    String::from_utf8_lossy(&b)
        .lines()
        .skip(1)
        .filter_map(|l| {
            let name = l.get(..26)?.trim().to_owned();
            let rest = l
                .get(26..)?
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            (!name.is_empty()).then_some((name, rest))
        })
        .collect()
}

fn environ(b: &[u8]) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut m = BTreeMap::new();
    for e in procscope_parse::environ::entries(b) {
        m.entry(e.key().to_vec())
            .or_insert_with(|| e.value().unwrap_or_default().to_vec());
    }
    m
}

/// Reads every process of `root` for a diff.
pub fn read_side(root: &ProcRoot, session: &Session) -> Outcome<Side> {
    let clock = crate::clock::Clock::read(root)?;
    let pids = root.pids()?;
    let own = root.own_pid();
    let r2 = root.clone();
    let mut side = Side::new();
    let results = session.run(
        pids,
        move |pid: i32, ctx: &Ctx<ProcState, Option<ProcState>>| {
            if pid == own {
                return None;
            }
            let dir = r2.process(pid).ok()?;
            let mut b = Vec::new();
            dir.read(c"stat", &mut b, 64 * 1024).ok()?;
            let s = Stat::parse(&b).ok()?;
            ctx.target(Target {
                pid,
                start: Some(s.starttime_ticks),
            });
            let mut p = ProcState {
                pid,
                start_ticks: s.starttime_ticks,
                comm: s.comm.to_vec(),
                state: s.state,
                threads: s.num_threads,
                rss_bytes: u64::try_from(s.rss_pages)
                    .unwrap_or(0)
                    .saturating_mul(clock.page_size),
                cpu_ms: clock.ticks_to_ms(s.utime_ticks.saturating_add(s.stime_ticks)),
                fds: crate::fds::read(&dir, &[])
                    .ok()
                    .map(|v| v.into_iter().map(|e| (e.fd, e)).collect()),
                blocked: thread_blocked(&dir),
                limits: limits(&dir),
                env: None,
            };
            ctx.checkpoint(p.clone());
            p.env = ctx
                .guarded(|| {
                    let mut b = Vec::new();
                    dir.read(c"environ", &mut b, procscope_read::cap::TEXT)
                        .map(|_| b)
                })
                .ok()
                .map(|b| environ(&b));
            Some(p)
        },
    );
    for f in results {
        let p = match (f.rest, f.partial) {
            (Ok(Some(p)), _) | (Err(_), Some(p)) => p,
            _ => continue,
        };
        side.insert((p.pid, p.start_ticks), p);
    }
    Ok(side)
}

/// A change of one value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change<T> {
    /// Before.
    pub from: T,
    /// After.
    pub to: T,
}

fn change<T: PartialEq + Clone>(a: &T, b: &T) -> Option<Change<T>> {
    (a != b).then(|| Change {
        from: a.clone(),
        to: b.clone(),
    })
}

/// Whether two values of a variable are the same as far as can be told:
/// equal, or one masked by `--redact` (`<redacted: 8-31 bytes>`) and the
/// other of a length its mask names. (A change within the same length
/// class cannot be seen through a mask.)
fn same_value(a: &[u8], b: &[u8]) -> bool {
    let masked = |m: &[u8]| m.starts_with(b"<redacted: ") && m.ends_with(b">");
    a == b
        || (masked(a) && !masked(b) && crate::redact::mask(b.len()) == a)
        || (masked(b) && !masked(a) && crate::redact::mask(a.len()) == b)
}

/// An environment variable that changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvChange {
    /// Its name.
    pub key: Vec<u8>,
    /// Before (absent: added).
    pub from: Option<Vec<u8>>,
    /// After (absent: removed).
    pub to: Option<Vec<u8>>,
}

/// What changed in one process.
#[derive(Debug, Clone)]
pub struct Changed {
    /// PID.
    pub pid: i32,
    /// Name (after).
    pub comm: Vec<u8>,
    /// State.
    pub state: Option<Change<TaskState>>,
    /// Threads.
    pub threads: Option<Change<i64>>,
    /// Resident size.
    pub rss_bytes: Option<Change<u64>>,
    /// CPU time.
    pub cpu_ms: Option<Change<u64>>,
    /// fds open in B and not in A (or another file under the same number).
    pub fds_opened: Vec<FdEntry>,
    /// fds open in A and not in B.
    pub fds_closed: Vec<FdEntry>,
    /// Threads in D in B that were not in A: TID, name, wchan.
    pub new_blocked: Vec<(i32, Vec<u8>, Vec<u8>)>,
    /// Limits by name.
    pub limits: Vec<(String, Change<String>)>,
    /// Environment.
    pub env: Vec<EnvChange>,
}

impl Changed {
    fn is_empty(&self) -> bool {
        self.state.is_none()
            && self.threads.is_none()
            && self.rss_bytes.is_none()
            && self.cpu_ms.is_none()
            && self.fds_opened.is_empty()
            && self.fds_closed.is_empty()
            && self.new_blocked.is_empty()
            && self.limits.is_empty()
            && self.env.is_empty()
    }
}

/// The differences between two sides.
#[derive(Debug, Clone, Default)]
pub struct Diff {
    /// In B only.
    pub appeared: Vec<ProcState>,
    /// In A only.
    pub gone: Vec<ProcState>,
    /// In both, changed.
    pub changed: Vec<Changed>,
}

impl Diff {
    /// True when nothing differs.
    pub fn is_empty(&self) -> bool {
        self.appeared.is_empty() && self.gone.is_empty() && self.changed.is_empty()
    }
}

fn same_fd(a: &FdEntry, b: &FdEntry) -> bool {
    a.link == b.link
}

/// Compares two sides. `cpu_and_rss`: also report CPU time and RSS (they
/// change all the time on a live process; the caller decides).
pub fn diff(a: &Side, b: &Side, cpu_and_rss: bool) -> Diff {
    let mut d = Diff::default();
    for (id, p) in b {
        if !a.contains_key(id) {
            d.appeared.push(p.clone());
        }
    }
    for (id, p) in a {
        let Some(q) = b.get(id) else {
            d.gone.push(p.clone());
            continue;
        };
        let mut c = Changed {
            pid: q.pid,
            comm: q.comm.clone(),
            state: change(&p.state, &q.state),
            threads: change(&p.threads, &q.threads),
            rss_bytes: cpu_and_rss
                .then(|| change(&p.rss_bytes, &q.rss_bytes))
                .flatten(),
            cpu_ms: cpu_and_rss.then(|| change(&p.cpu_ms, &q.cpu_ms)).flatten(),
            fds_opened: Vec::new(),
            fds_closed: Vec::new(),
            new_blocked: q
                .blocked
                .iter()
                .filter(|(t, _)| !p.blocked.contains_key(t))
                .map(|(t, (n, w))| (*t, n.clone(), w.clone()))
                .collect(),
            limits: Vec::new(),
            env: Vec::new(),
        };
        if let (Some(fa), Some(fb)) = (&p.fds, &q.fds) {
            for (n, e) in fb {
                if fa.get(n).is_none_or(|x| !same_fd(x, e)) {
                    c.fds_opened.push(e.clone());
                }
            }
            for (n, e) in fa {
                if fb.get(n).is_none_or(|x| !same_fd(x, e)) {
                    c.fds_closed.push(e.clone());
                }
            }
        }
        for (k, v) in &q.limits {
            if let Some(ch) = p.limits.get(k).and_then(|o| change(o, v)) {
                c.limits.push((k.clone(), ch));
            }
        }
        if let (Some(ea), Some(eb)) = (&p.env, &q.env) {
            for (k, v) in eb {
                match ea.get(k) {
                    Some(o) if same_value(o, v) => {}
                    o => c.env.push(EnvChange {
                        key: k.clone(),
                        from: o.cloned(),
                        to: Some(v.clone()),
                    }),
                }
            }
            for (k, v) in ea {
                if !eb.contains_key(k) {
                    c.env.push(EnvChange {
                        key: k.clone(),
                        from: Some(v.clone()),
                        to: None,
                    });
                }
            }
        }
        if !c.is_empty() {
            d.changed.push(c);
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proc_state(pid: i32, state: TaskState) -> ProcState {
        ProcState {
            pid,
            start_ticks: 100,
            comm: b"x".to_vec(),
            state,
            threads: 1,
            rss_bytes: 4096,
            cpu_ms: 10,
            fds: Some(BTreeMap::new()),
            blocked: BTreeMap::new(),
            limits: [("Max open files".to_owned(), "1024 4096 files".to_owned())]
                .into_iter()
                .collect(),
            env: Some([(b"A".to_vec(), b"1".to_vec())].into_iter().collect()),
        }
    }

    #[test]
    fn identity_changes_and_values() {
        let mut a = Side::new();
        let mut b = Side::new();
        a.insert((1, 100), proc_state(1, TaskState::Sleeping));
        a.insert((2, 100), proc_state(2, TaskState::Sleeping));
        let mut p1 = proc_state(1, TaskState::DiskSleep);
        p1.blocked.insert(1, (b"x".to_vec(), b"fuse_wait".to_vec()));
        p1.limits
            .insert("Max open files".into(), "65536 65536 files".into());
        p1.env = Some([(b"B".to_vec(), b"2".to_vec())].into_iter().collect());
        p1.cpu_ms = 20;
        b.insert((1, 100), p1);
        // PID 2 reused: a new start time is another process.
        let mut p2 = proc_state(2, TaskState::Sleeping);
        p2.start_ticks = 200;
        b.insert((2, 200), p2);
        let d = diff(&a, &b, false);
        assert_eq!(d.appeared.iter().map(|p| p.pid).collect::<Vec<_>>(), [2]);
        assert_eq!(d.gone.iter().map(|p| p.pid).collect::<Vec<_>>(), [2]);
        let c = d.changed.first().unwrap();
        assert_eq!(
            c.state,
            Some(Change {
                from: TaskState::Sleeping,
                to: TaskState::DiskSleep
            })
        );
        assert_eq!(c.cpu_ms, None, "CPU only when asked");
        assert_eq!(
            c.new_blocked,
            vec![(1, b"x".to_vec(), b"fuse_wait".to_vec())]
        );
        assert_eq!(c.limits.len(), 1);
        assert_eq!(c.env.len(), 2);
        // A value masked on one side is compared at the mask's precision.
        assert!(same_value(b"<redacted: 8-31 bytes>", b"hunter2xyz"));
        assert!(same_value(b"hunter2xyz", b"<redacted: 8-31 bytes>"));
        assert!(!same_value(b"<redacted: 1-7 bytes>", b"hunter2xyz"));
        assert!(!same_value(
            b"<redacted: 1-7 bytes>",
            b"<redacted: 8-31 bytes>"
        ));
        assert_eq!(
            diff(&a, &b, true)
                .changed
                .first()
                .unwrap()
                .cpu_ms
                .as_ref()
                .map(|c| c.to),
            Some(20)
        );
        assert!(diff(&a, &a, true).is_empty());
    }
}

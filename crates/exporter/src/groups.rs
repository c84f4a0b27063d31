//! Per-group figures from snapshots: gauges as they are now, counters
//! that never go backwards.
//!
//! A group's CPU seconds are not the sum of its processes' CPU times now:
//! when a process exits, its time would vanish from the sum and the
//! counter would drop (Prometheus reads a drop as a reset and invents a
//! spike). So counters are accumulated: each collection adds what every
//! process used since the previous one (all of it for a process seen for
//! the first time), and what a dead process used stays counted.
//!
//! Cardinality is bounded: at most `max_groups` groups have series; a
//! group is admitted while there is room and keeps its place while it is
//! seen (so its counters stay one series), the rest count in `other`; a
//! group not seen for [`FORGET_AFTER`] collections gives its place back.

use crate::rules::{OTHER, Rules};
use procscope_model::collect::{Identity, Proc, Snapshot, StateCounts};
use procscope_read::Failure;
use std::collections::{BTreeMap, HashMap};

/// Collections after which a group that was not seen gives its place up
/// (about five minutes at a 15 s scrape interval).
pub const FORGET_AFTER: u64 = 20;

/// Collections a process's last counters are kept after it was last seen:
/// a process that could not be read for a while (fds exhausted, a denied
/// read) must not count its whole life again when it comes back.
pub const KEEP_UNSEEN: u64 = 10;

/// A group's counters (monotonic over the exporter's life).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Counters {
    /// CPU seconds in user mode.
    pub cpu_user: f64,
    /// CPU seconds in kernel mode.
    pub cpu_system: f64,
    /// Bytes read from storage.
    pub read_bytes: u64,
    /// Bytes written to storage.
    pub write_bytes: u64,
    /// Bytes passed to read-like calls.
    pub rchar: u64,
    /// Bytes passed to write-like calls.
    pub wchar: u64,
    /// Voluntary context switches.
    pub ctxsw_voluntary: u64,
    /// Involuntary context switches.
    pub ctxsw_involuntary: u64,
    /// Major page faults.
    pub majflt: u64,
    /// Minor page faults.
    pub minflt: u64,
}

/// One process's raw counters, as last seen.
#[derive(Debug, Clone, Copy, Default)]
struct Raw {
    utime: u64,
    stime: u64,
    read_bytes: u64,
    write_bytes: u64,
    rchar: u64,
    wchar: u64,
    vol: u64,
    invol: u64,
    majflt: u64,
    minflt: u64,
}

impl Raw {
    fn of(p: &Proc) -> Raw {
        let io = p.io.unwrap_or_default();
        Raw {
            utime: p.utime_ticks,
            stime: p.stime_ticks,
            read_bytes: io.read_bytes,
            write_bytes: io.write_bytes,
            rchar: io.rchar,
            wchar: io.wchar,
            vol: p.ctxsw_voluntary.unwrap_or(0),
            invol: p.ctxsw_involuntary.unwrap_or(0),
            majflt: p.majflt,
            minflt: p.minflt,
        }
    }
}

/// What a group is now.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Group {
    /// Processes by state.
    pub processes: StateCounts,
    /// Threads by state.
    pub threads: StateCounts,
    /// Resident memory, bytes.
    pub rss_bytes: u64,
    /// Swapped-out memory, bytes.
    pub swap_bytes: u64,
    /// Proportional set size, bytes, when collected (`--collect.pss`).
    pub pss_bytes: Option<u64>,
    /// Open fds.
    pub fds: u64,
    /// The largest open-fds-to-soft-limit ratio of its processes.
    pub fd_limit_ratio_max: f64,
    /// The earliest start time, seconds since the epoch.
    pub oldest_start_unix: f64,
    /// Processes with a read that timed out this collection (a stuck
    /// memory lock): what they show may be stale.
    pub timed_out: u64,
    /// Counters since the exporter started.
    pub counters: Counters,
}

/// Groups processes and keeps the counters.
#[derive(Debug)]
pub struct Aggregator {
    rules: Rules,
    last: HashMap<Identity, (Raw, u64)>,
    totals: HashMap<String, Counters>,
    /// Admitted group → the collection it was last seen in.
    admitted: HashMap<String, u64>,
    generation: u64,
    assigned: HashMap<i32, String>,
}

impl Aggregator {
    /// An aggregator grouping by `rules`.
    pub fn new(rules: Rules) -> Self {
        Aggregator {
            rules,
            last: HashMap::new(),
            totals: HashMap::new(),
            admitted: HashMap::new(),
            generation: 0,
            assigned: HashMap::new(),
        }
    }

    /// The group each process of `snap` counts in (after the cap).
    fn assign(&mut self, snap: &Snapshot) -> Vec<String> {
        let names: Vec<String> = snap
            .processes
            .iter()
            .map(|p| {
                let user = p
                    .uid
                    .and_then(|u| snap.users.get(&u))
                    .map(|b| b.0.as_slice());
                self.rules.group_of(&crate::rules::Facts { proc: p, user })
            })
            .collect();
        let g = self.generation;
        self.admitted
            .retain(|_, seen| g.saturating_sub(*seen) < FORGET_AFTER);
        // Admit new groups by size, largest first, while there is room
        // (one place stays for `other`).
        let mut sizes: BTreeMap<&str, usize> = BTreeMap::new();
        for n in &names {
            *sizes.entry(n.as_str()).or_default() += 1;
        }
        let mut new: Vec<(&str, usize)> = sizes
            .iter()
            .filter(|(n, _)| !self.admitted.contains_key(**n))
            .map(|(n, c)| (*n, *c))
            .collect();
        new.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let room = self.rules.max_groups.saturating_sub(1);
        for (n, _) in new {
            if self.admitted.len() >= room {
                break;
            }
            self.admitted.insert(n.to_owned(), g);
        }
        names
            .into_iter()
            .map(|n| match self.admitted.get_mut(&n) {
                Some(seen) => {
                    *seen = g;
                    n
                }
                None => OTHER.to_owned(),
            })
            .collect()
    }

    /// Each PID's group in the last snapshot folded in (after the cap).
    pub fn assigned(&self) -> &HashMap<i32, String> {
        &self.assigned
    }

    /// Folds a snapshot in; returns every group with series, by name.
    pub fn update(&mut self, snap: &Snapshot) -> BTreeMap<String, Group> {
        self.generation = self.generation.saturating_add(1);
        let names = self.assign(snap);
        self.assigned = snap
            .processes
            .iter()
            .map(|p| p.pid)
            .zip(names.iter().cloned())
            .collect();
        let hz = snap.ticks_per_second.max(1) as f64;
        let mut out: BTreeMap<String, Group> = BTreeMap::new();
        let mut seen = HashMap::with_capacity(snap.processes.len());
        for (p, name) in snap.processes.iter().zip(names) {
            let raw = Raw::of(p);
            let before = self
                .last
                .get(&p.identity())
                .map(|(r, _)| *r)
                .unwrap_or_default();
            seen.insert(p.identity(), (raw, self.generation));
            let t = self.totals.entry(name.clone()).or_default();
            let d = |now: u64, then: u64| now.saturating_sub(then);
            t.cpu_user += d(raw.utime, before.utime) as f64 / hz;
            t.cpu_system += d(raw.stime, before.stime) as f64 / hz;
            t.read_bytes = t
                .read_bytes
                .saturating_add(d(raw.read_bytes, before.read_bytes));
            t.write_bytes = t
                .write_bytes
                .saturating_add(d(raw.write_bytes, before.write_bytes));
            t.rchar = t.rchar.saturating_add(d(raw.rchar, before.rchar));
            t.wchar = t.wchar.saturating_add(d(raw.wchar, before.wchar));
            t.ctxsw_voluntary = t.ctxsw_voluntary.saturating_add(d(raw.vol, before.vol));
            t.ctxsw_involuntary = t
                .ctxsw_involuntary
                .saturating_add(d(raw.invol, before.invol));
            t.majflt = t.majflt.saturating_add(d(raw.majflt, before.majflt));
            t.minflt = t.minflt.saturating_add(d(raw.minflt, before.minflt));
            let g = out.entry(name).or_default();
            g.processes.add(p.task_state());
            g.threads.merge(&p.thread_states);
            g.rss_bytes = g.rss_bytes.saturating_add(p.rss_bytes);
            g.swap_bytes = g.swap_bytes.saturating_add(p.swap_bytes.unwrap_or(0));
            if let Some(pss) = p.pss_bytes {
                g.pss_bytes = Some(g.pss_bytes.unwrap_or(0).saturating_add(pss));
            }
            if let Some(n) = p.fds {
                g.fds = g.fds.saturating_add(u64::from(n));
                if let Some(l) = p.fd_limit.filter(|l| *l > 0) {
                    g.fd_limit_ratio_max = g.fd_limit_ratio_max.max(f64::from(n) / l as f64);
                }
            }
            let start = snap.boot_time_unix as f64 + p.start_ticks as f64 / hz;
            if g.oldest_start_unix == 0.0 || start < g.oldest_start_unix {
                g.oldest_start_unix = start;
            }
            if p.missing
                .iter()
                .any(|(_, f)| matches!(f, Failure::TimedOut { .. }))
            {
                g.timed_out += 1;
            }
        }
        // Identities not seen this time stay a few collections.
        let g = self.generation;
        for (id, v) in self.last.drain() {
            if g.saturating_sub(v.1) < KEEP_UNSEEN {
                seen.entry(id).or_insert(v);
            }
        }
        self.last = seen;
        // Groups with no process now keep their counters (and series)
        // until forgotten.
        self.totals
            .retain(|n, _| n == OTHER || self.admitted.contains_key(n));
        // `other`, once it exists, stays (its counters are one series).
        for (n, c) in &self.totals {
            out.entry(n.clone()).or_default().counters = *c;
        }
        out
    }
}

#[cfg(test)]
#[path = "groups_tests.rs"]
mod tests;

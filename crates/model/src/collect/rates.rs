//! Rates from two snapshots and the time between them: a pure function,
//! so the model never sleeps and a recorded pair gives the same answer.

use super::snapshot::{Identity, Proc, Snapshot};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// How fast one process used what it used between two snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct ProcRates {
    /// CPU in user mode, in CPUs (1.0: one CPU busy all the time).
    pub cpu_user: f64,
    /// CPU in kernel mode, in CPUs.
    pub cpu_system: f64,
    /// Major page faults per second.
    pub majflt: f64,
    /// Minor page faults per second.
    pub minflt: f64,
    /// Bytes per second passed to read-like calls (`None`: `io` unread).
    pub rchar: Option<f64>,
    /// Bytes per second passed to write-like calls.
    pub wchar: Option<f64>,
    /// Bytes per second fetched from storage.
    pub read_bytes: Option<f64>,
    /// Bytes per second sent to storage.
    pub write_bytes: Option<f64>,
    /// Context switches per second, voluntary and involuntary.
    pub ctxsw: Option<f64>,
}

impl ProcRates {
    /// CPU in CPUs, user and system.
    pub fn cpu(&self) -> f64 {
        self.cpu_user + self.cpu_system
    }
}

/// The host's CPU use between two snapshots, as fractions of all CPUs.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct HostRates {
    /// User mode.
    pub user: f64,
    /// Kernel mode.
    pub system: f64,
    /// Waiting for I/O while idle.
    pub iowait: f64,
    /// Stolen by the hypervisor.
    pub steal: f64,
    /// Idle.
    pub idle: f64,
}

/// Rates between two snapshots.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rates {
    /// Seconds between the two snapshots.
    pub seconds: f64,
    /// Per process present in both (same identity).
    pub procs: HashMap<Identity, ProcRates>,
    /// The host's CPU, when both snapshots have it.
    pub host: Option<HostRates>,
}

/// Rates between `prev` and `next`. A process in only one of them has no
/// rate; a counter that went backwards (it cannot, for one identity,
/// unless the snapshots are swapped or replayed out of order) gives 0.
pub fn rates(prev: &Snapshot, next: &Snapshot) -> Rates {
    let ms = next.boot_ms.saturating_sub(prev.boot_ms);
    if ms == 0 {
        return Rates::default();
    }
    let secs = ms as f64 / 1000.0;
    let hz = next.ticks_per_second.max(1) as f64;
    let per_s = |a: u64, b: u64| b.saturating_sub(a) as f64 / secs;
    let mut procs = HashMap::with_capacity(next.processes.len());
    for p in &next.processes {
        let Some(q) = prev.get(p.identity()) else {
            continue;
        };
        procs.insert(p.identity(), proc_rates(q, p, secs, hz, per_s));
    }
    let host = match (prev.host, next.host) {
        (Some(a), Some(b)) => {
            let d = |x: u64, y: u64| y.saturating_sub(x) as f64;
            let (user, system, idle, iowait, steal) = (
                d(a.cpu.user, b.cpu.user),
                d(a.cpu.system, b.cpu.system),
                d(a.cpu.idle, b.cpu.idle),
                d(a.cpu.iowait, b.cpu.iowait),
                d(a.cpu.steal, b.cpu.steal),
            );
            let total = user + system + idle + iowait + steal;
            (total > 0.0).then(|| HostRates {
                user: user / total,
                system: system / total,
                iowait: iowait / total,
                steal: steal / total,
                idle: idle / total,
            })
        }
        _ => None,
    };
    Rates {
        seconds: secs,
        procs,
        host,
    }
}

fn proc_rates(
    q: &Proc,
    p: &Proc,
    secs: f64,
    hz: f64,
    per_s: impl Fn(u64, u64) -> f64,
) -> ProcRates {
    let io = |f: fn(&super::snapshot::IoCounters) -> u64| match (q.io, p.io) {
        (Some(a), Some(b)) => Some(per_s(f(&a), f(&b))),
        _ => None,
    };
    let ctxsw = match (
        q.ctxsw_voluntary,
        q.ctxsw_involuntary,
        p.ctxsw_voluntary,
        p.ctxsw_involuntary,
    ) {
        (Some(a), Some(b), Some(c), Some(d)) => {
            Some(per_s(a.saturating_add(b), c.saturating_add(d)))
        }
        _ => None,
    };
    ProcRates {
        cpu_user: p.utime_ticks.saturating_sub(q.utime_ticks) as f64 / hz / secs,
        cpu_system: p.stime_ticks.saturating_sub(q.stime_ticks) as f64 / hz / secs,
        majflt: per_s(q.majflt, p.majflt),
        minflt: per_s(q.minflt, p.minflt),
        rchar: io(|i| i.rchar),
        wchar: io(|i| i.wchar),
        read_bytes: io(|i| i.read_bytes),
        write_bytes: io(|i| i.write_bytes),
        ctxsw,
    }
}

#[cfg(test)]
mod tests {
    use super::super::snapshot::*;
    use super::*;

    pub(crate) fn proc(pid: i32, start: u64, utime: u64, stime: u64) -> Proc {
        Proc {
            pid,
            start_ticks: start,
            ppid: 1,
            pgrp: pid,
            tty_nr: 0,
            comm: crate::bytes::Bytes(b"p".to_vec()),
            state: 'S',
            kernel_thread: false,
            threads: 1,
            thread_states: StateCounts::default(),
            utime_ticks: utime,
            stime_ticks: stime,
            minflt: 0,
            majflt: 0,
            nice: 0,
            priority: 20,
            vsz_bytes: 0,
            rss_bytes: 0,
            swap_bytes: None,
            pss_bytes: None,
            uid: Some(0),
            ctxsw_voluntary: Some(10),
            ctxsw_involuntary: Some(0),
            io: Some(IoCounters {
                rchar: 1000,
                ..IoCounters::default()
            }),
            fds: None,
            fd_limit: None,
            exe: None,
            cmdline: None,
            cmdline_truncated: false,
            cgroup: None,
            wchan: None,
            missing: Vec::new(),
        }
    }

    fn snap(boot_ms: u64, processes: Vec<Proc>, idle: u64, user: u64) -> Snapshot {
        Snapshot {
            boot_ms,
            unix_ms: 0,
            ticks_per_second: 100,
            boot_time_unix: 0,
            host: Some(Host {
                cpu: CpuTicks {
                    user,
                    idle,
                    ..CpuTicks::default()
                },
                cpus: 2,
                ..Host::default()
            }),
            processes: processes.into_iter().map(std::sync::Arc::new).collect(),
            users: Default::default(),
            unreadable: Vec::new(),
            reads: Default::default(),
            took_us: 0,
        }
    }

    #[test]
    fn per_process_and_host() {
        let a = snap(
            10_000,
            vec![proc(5, 100, 10, 5), proc(6, 100, 0, 0)],
            1000,
            0,
        );
        let mut p5 = proc(5, 100, 60, 30);
        p5.io = Some(IoCounters {
            rchar: 5000,
            ..IoCounters::default()
        });
        p5.ctxsw_voluntary = Some(30);
        p5.majflt = 8;
        // PID 6 was reused by a new process: no rate for it.
        let b = snap(
            12_000,
            vec![p5, proc(6, 900, 500, 0), proc(7, 1, 0, 0)],
            1300,
            100,
        );
        let r = rates(&a, &b);
        assert_eq!(r.seconds, 2.0);
        assert_eq!(r.procs.len(), 1);
        let p = r.procs[&Identity {
            pid: 5,
            start_ticks: 100,
        }];
        // 50 user ticks over 2 s at 100 Hz: a quarter of one CPU.
        assert_eq!((p.cpu_user, p.cpu_system), (0.25, 0.125));
        assert_eq!(p.rchar, Some(2000.0));
        assert_eq!(p.ctxsw, Some(10.0));
        assert_eq!(p.majflt, 4.0);
        assert_eq!(p.read_bytes, Some(0.0));
        let h = r.host.unwrap();
        assert_eq!((h.user, h.idle), (0.25, 0.75));
    }

    #[test]
    fn no_time_no_rates_and_backwards_counters_are_zero() {
        let a = snap(5, vec![proc(5, 1, 10, 0)], 0, 0);
        assert!(rates(&a, &a).procs.is_empty());
        let b = snap(1005, vec![proc(5, 1, 0, 0)], 0, 0);
        let r = rates(&a, &b);
        assert_eq!(r.procs.values().next().unwrap().cpu_user, 0.0);
        assert_eq!(r.host, None, "no CPU time passed on the host");
    }
}

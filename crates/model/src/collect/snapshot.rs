//! What one collection saw: plain data that serializes and deserializes,
//! so it can be recorded, replayed and compared.

use crate::bytes::Bytes;
use procscope_parse::stat::TaskState;
use procscope_read::Failure;
use procscope_read::guard::Stats;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A process's identity: a PID is reused, a PID with its start time
/// (clock ticks after boot) is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Identity {
    /// The process ID.
    pub pid: i32,
    /// Start time, clock ticks after boot (`stat` field 22).
    pub start_ticks: u64,
}

/// One collection of the host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// When collected: milliseconds on the boot clock (`CLOCK_BOOTTIME`,
    /// which counts suspend and never jumps): the time base of rates.
    pub boot_ms: u64,
    /// When collected: milliseconds since the epoch (for people).
    pub unix_ms: u64,
    /// The unit of `stat`'s times (`sysconf(_SC_CLK_TCK)`).
    pub ticks_per_second: u64,
    /// Boot time, seconds since the epoch.
    pub boot_time_unix: u64,
    /// The host's own counters, when the proc root has them.
    pub host: Option<Host>,
    /// Every process seen, in PID order. Shared with the collector, which
    /// keeps the same `Arc` for a process that did not change: a refresh
    /// of an idle host copies pointers, not processes.
    pub processes: Vec<std::sync::Arc<Proc>>,
    /// User names of the UIDs above (`/etc/passwd`, then NSS).
    pub users: BTreeMap<u32, Bytes>,
    /// Processes that could not be looked into at all, and why.
    pub unreadable: Vec<(i32, Failure)>,
    /// The read session's counters after this collection.
    pub reads: Stats,
    /// How long the collection took, microseconds.
    pub took_us: u64,
}

impl Snapshot {
    /// The process with this identity, if it was seen.
    pub fn get(&self, id: Identity) -> Option<&Proc> {
        self.processes
            .binary_search_by_key(&id.pid, |p| p.pid)
            .ok()
            .and_then(|i| self.processes.get(i))
            .map(|p| &**p)
            .filter(|p| p.start_ticks == id.start_ticks)
    }
}

/// Host-wide counters (`/proc/stat`, `/proc/meminfo`, `/proc/loadavg`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Host {
    /// CPU time by mode, clock ticks, all CPUs summed.
    pub cpu: CpuTicks,
    /// CPUs online.
    pub cpus: u32,
    /// Memory in bytes.
    pub mem_total: u64,
    /// Memory available for new work without swapping, bytes.
    pub mem_available: u64,
    /// Swap size, bytes.
    pub swap_total: u64,
    /// Free swap, bytes.
    pub swap_free: u64,
    /// Load averages over 1, 5 and 15 minutes, in hundredths.
    pub load_centis: [u64; 3],
    /// Context switches since boot.
    pub ctxt: Option<u64>,
    /// Forks since boot.
    pub forks: Option<u64>,
}

/// CPU time by mode, clock ticks (see `man 5 proc`, `/proc/stat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CpuTicks {
    /// User mode (nice included).
    pub user: u64,
    /// Kernel mode, interrupts included.
    pub system: u64,
    /// Idle.
    pub idle: u64,
    /// Idle with I/O outstanding.
    pub iowait: u64,
    /// Stolen by the hypervisor.
    pub steal: u64,
}

/// Task counts by scheduler state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StateCounts {
    /// `R`.
    pub running: u32,
    /// `S`.
    pub sleeping: u32,
    /// `D`: uninterruptible sleep.
    pub disk_sleep: u32,
    /// `T`/`t`: stopped or traced.
    pub stopped: u32,
    /// `Z`.
    pub zombie: u32,
    /// `I`: idle kernel threads.
    pub idle: u32,
    /// `X` and anything newer.
    pub other: u32,
}

impl StateCounts {
    /// Counts one task in `s`.
    pub fn add(&mut self, s: TaskState) {
        let slot = match s {
            TaskState::Running => &mut self.running,
            TaskState::Sleeping => &mut self.sleeping,
            TaskState::DiskSleep => &mut self.disk_sleep,
            TaskState::Stopped | TaskState::TracingStop => &mut self.stopped,
            TaskState::Zombie => &mut self.zombie,
            TaskState::Idle => &mut self.idle,
            _ => &mut self.other,
        };
        *slot = slot.saturating_add(1);
    }

    /// Adds `other`'s counts to these.
    pub fn merge(&mut self, other: &StateCounts) {
        for (a, b) in [
            (&mut self.running, other.running),
            (&mut self.sleeping, other.sleeping),
            (&mut self.disk_sleep, other.disk_sleep),
            (&mut self.stopped, other.stopped),
            (&mut self.zombie, other.zombie),
            (&mut self.idle, other.idle),
            (&mut self.other, other.other),
        ] {
            *a = a.saturating_add(b);
        }
    }

    /// The counts with the state names used in metrics and JSON.
    pub fn named(&self) -> [(&'static str, u32); 7] {
        [
            ("running", self.running),
            ("sleeping", self.sleeping),
            ("disk_sleep", self.disk_sleep),
            ("stopped", self.stopped),
            ("zombie", self.zombie),
            ("idle", self.idle),
            ("other", self.other),
        ]
    }

    /// Every task counted.
    pub fn total(&self) -> u32 {
        [
            self.running,
            self.sleeping,
            self.disk_sleep,
            self.stopped,
            self.zombie,
            self.idle,
            self.other,
        ]
        .iter()
        .fold(0u32, |a, &b| a.saturating_add(b))
    }
}

/// I/O counters of a process (`/proc/PID/io`), bytes and calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct IoCounters {
    /// Bytes passed to read-like calls.
    pub rchar: u64,
    /// Bytes passed to write-like calls.
    pub wchar: u64,
    /// Bytes fetched from storage.
    pub read_bytes: u64,
    /// Bytes sent to storage.
    pub write_bytes: u64,
    /// Read-like calls.
    pub syscr: u64,
    /// Write-like calls.
    pub syscw: u64,
}

/// What a collection could not read about one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    /// `status` (UID, exact RSS, swap, context switches).
    Status,
    /// `io`.
    Io,
    /// `fd/` (the open fd count).
    Fds,
    /// `limits`.
    Limits,
    /// `cgroup`.
    Cgroup,
    /// The `exe` link.
    Exe,
    /// `cmdline` (a memory-lock read, under the deadline).
    Cmdline,
    /// `task/*/stat` (per-thread states).
    Threads,
    /// `wchan`.
    Wchan,
    /// `smaps_rollup` (a memory-lock read, under the deadline).
    Pss,
}

/// One process as a collection saw it: raw counters (ticks, bytes,
/// counts), no rates — rates come from two snapshots
/// ([`super::rates::rates`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proc {
    /// Process ID.
    pub pid: i32,
    /// Start time, clock ticks after boot.
    pub start_ticks: u64,
    /// Parent PID.
    pub ppid: i32,
    /// Process group.
    pub pgrp: i32,
    /// Controlling terminal device (0: none).
    pub tty_nr: i32,
    /// Command name (`comm`).
    pub comm: Bytes,
    /// State of the process as a whole, as a `stat` letter: `D` when any
    /// thread is in `D`, a live thread's when the leader exited first.
    pub state: char,
    /// A kernel thread.
    pub kernel_thread: bool,
    /// Threads.
    pub threads: u32,
    /// Threads by state (from every thread's `stat` when the process has
    /// several; the leader's alone otherwise).
    pub thread_states: StateCounts,
    /// CPU time in user mode, clock ticks (every thread, reaped ones too).
    pub utime_ticks: u64,
    /// CPU time in kernel mode, clock ticks.
    pub stime_ticks: u64,
    /// Minor page faults.
    pub minflt: u64,
    /// Major page faults (a page read from storage).
    pub majflt: u64,
    /// Nice value.
    pub nice: i64,
    /// Kernel priority (`stat` field 18).
    pub priority: i64,
    /// Virtual size, bytes.
    pub vsz_bytes: u64,
    /// Resident set, bytes (`VmRSS` of `status`: exact; `stat`'s
    /// approximate counter when `status` could not be read).
    pub rss_bytes: u64,
    /// Swapped out, bytes (`VmSwap`).
    pub swap_bytes: Option<u64>,
    /// Proportional set size, bytes (`smaps_rollup`), when asked for.
    #[serde(default)]
    pub pss_bytes: Option<u64>,
    /// Effective UID.
    pub uid: Option<u32>,
    /// Voluntary context switches (the process blocked).
    pub ctxsw_voluntary: Option<u64>,
    /// Involuntary context switches (the process was preempted).
    pub ctxsw_involuntary: Option<u64>,
    /// I/O counters.
    pub io: Option<IoCounters>,
    /// Open fds.
    pub fds: Option<u32>,
    /// The soft limit on open fds (`Max open files`; `None`: unlimited or
    /// not read).
    pub fd_limit: Option<u64>,
    /// The executable's path (the `exe` link).
    pub exe: Option<Bytes>,
    /// The command line, raw (NUL-separated), up to the cap.
    pub cmdline: Option<Bytes>,
    /// The command line was longer than the cap.
    pub cmdline_truncated: bool,
    /// The cgroup path (v2, or the first v1 line's).
    pub cgroup: Option<Bytes>,
    /// The kernel function the process sleeps in (`wchan`), when asked.
    pub wchan: Option<Bytes>,
    /// What could not be read this time, and why.
    pub missing: Vec<(Part, Failure)>,
}

impl Proc {
    /// The process's identity.
    pub fn identity(&self) -> Identity {
        Identity {
            pid: self.pid,
            start_ticks: self.start_ticks,
        }
    }

    /// The state as a [`TaskState`].
    pub fn task_state(&self) -> TaskState {
        TaskState::from_letter(u8::try_from(self.state).unwrap_or(b'?'))
    }

    /// User plus system CPU time, clock ticks.
    pub fn cpu_ticks(&self) -> u64 {
        self.utime_ticks.saturating_add(self.stime_ticks)
    }

    /// Why `part` could not be read this time, if it could not.
    pub fn missing(&self, part: Part) -> Option<&Failure> {
        self.missing
            .iter()
            .find(|(p, _)| *p == part)
            .map(|(_, f)| f)
    }
}

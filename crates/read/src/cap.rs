//! How much of each file procscope reads at most.
//!
//! Every byte can be hostile and huge: a process can point its argv and
//! environment at hundreds of MiB, a crafted proc root or snapshot can hold
//! files of any size. Each read is capped; a capped read says
//! `truncated`, and the commands say "cut at N MiB". The caps sit well
//! above what a real kernel produces for a real process:
//!
//! | cap | files | real-world size |
//! |---|---|---|
//! | [`TEXT`] 8 MiB | `cmdline`, `environ` | argv + environment ≤ ¼ of the stack limit at exec (2 MiB at the default 8 MiB) |
//! | [`RECORD`] 1 MiB | `stat`, `status`, `io`, `limits`, `fdinfo/N`, `stack`, `syscall`, `cgroup`, `children` … | a few KiB |
//! | [`MAPS`] 32 MiB | `maps` | ~100 bytes × `vm.max_map_count` (65,530 by default) |
//! | [`SMAPS`] 128 MiB | `smaps` | ~1 KiB per mapping |
//! | [`MOUNTINFO`] 8 MiB | `mountinfo` | ~150 bytes per mount |
//! | [`LOCKS`] 16 MiB | `/proc/locks` | ~60 bytes per lock |
//! | [`NET`] 256 MiB | `/proc/net/{tcp,udp,unix,…}` | ~150 bytes per socket on the host |
//! | [`CGROUP_PROCS`] 32 MiB | a cgroup's `cgroup.procs` | ≤ 8 bytes per PID, at most 2²² PIDs |
//! | [`USERS`] 64 MiB | `/etc/passwd`, `/etc/group` ([`crate::HostFiles`]) | ~60 bytes per user; a group line lists its members |

/// `cmdline` and `environ`.
pub const TEXT: usize = 8 << 20;
/// Single-record files (`stat`, `status`, `io`, `limits`, `fdinfo/N`,
/// `stack`, `cgroup`, `task/*/children`, top-level `stat` …).
pub const RECORD: usize = 1 << 20;
/// `maps`.
pub const MAPS: usize = 32 << 20;
/// `smaps`.
pub const SMAPS: usize = 128 << 20;
/// `mountinfo`.
pub const MOUNTINFO: usize = 8 << 20;
/// `/proc/locks`.
pub const LOCKS: usize = 16 << 20;
/// The host's socket tables under `/proc/net`.
pub const NET: usize = 256 << 20;

/// A cgroup's `cgroup.procs` (one PID per line).
pub const CGROUP_PROCS: usize = 32 << 20;

/// The host's user and group databases, `/etc/passwd` and `/etc/group`
/// (cgroupfs values are single records: [`RECORD`]).
pub const USERS: usize = 64 << 20;

/// Entries of `cmdline` or `environ` turned into values (one allocation
/// each) for JSON and the dossier: 8 MiB of NULs are 8 M empty entries.
/// More are cut, and the result says `truncated`.
pub const ENTRIES: usize = 1 << 16;

/// A cap in words, for "cut at …" messages.
pub fn describe(cap: usize) -> String {
    if cap >= 1 << 20 && cap % (1 << 20) == 0 {
        format!("{} MiB", cap >> 20)
    } else {
        format!("{cap} bytes")
    }
}

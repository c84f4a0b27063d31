//! `procscope show --json` and its focused commands (`limits`, `maps`,
//! `caps`, `signals`, `ns`, `cgroup`, `mounts`): one dossier per process,
//! with the sections asked for.

use super::common::{Bytes, OrError};
use procscope_model::dossier::Dossier as MDossier;
use serde::{Deserialize, Serialize};

mod convert;

/// The whole document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// Format version.
    pub procscope: u32,
    /// `show`, or the focused command (`caps`, `ns`, `limits`, …).
    pub kind: String,
    /// One dossier per process.
    pub processes: Vec<Dossier>,
}

impl Document {
    /// The document of `kind` for `found`.
    pub fn new(kind: &str, found: &[MDossier]) -> Document {
        Document {
            procscope: crate::json::VERSION,
            kind: kind.into(),
            processes: found.iter().map(Dossier::from).collect(),
        }
    }
}

/// One process's dossier; only the sections asked for are present.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dossier {
    /// Process ID.
    pub pid: i32,
    /// Its name.
    pub comm: OrError<Bytes>,
    /// Who it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
    /// What runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program: Option<Program>,
    /// Scheduling state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<State>,
    /// Memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Memory>,
    /// Open files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<OrError<Files>>,
    /// I/O counters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub io: Option<OrError<Io>>,
    /// Resource limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<OrError<Vec<Limit>>>,
    /// Capabilities and the rest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security: Option<Security>,
    /// Signal sets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signals: Option<Signals>,
    /// Namespaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<OrError<Namespaces>>,
    /// Control groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<Cgroup>,
    /// Memory mappings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maps: Option<OrError<Vec<MapRow>>>,
    /// The mount table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mounts: Option<Mounts>,
}

/// A process's parent, grandparent, ….
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ancestor {
    /// Process ID.
    pub pid: i32,
    /// Its name.
    pub comm: OrError<Bytes>,
}

/// An ID and its name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedId {
    /// The number.
    pub id: u32,
    /// Its name, when it has one.
    pub name: Option<Bytes>,
}

/// Real, effective, saved and filesystem IDs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdSet {
    /// Real.
    pub real: NamedId,
    /// Effective.
    pub effective: NamedId,
    /// Saved.
    pub saved: NamedId,
    /// Filesystem.
    pub filesystem: NamedId,
}

/// Who the process is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// Process ID.
    pub pid: i32,
    /// Its ancestors, PID 1 first.
    pub parents: OrError<Vec<Ancestor>>,
    /// Session.
    pub session: OrError<i32>,
    /// Process group.
    pub pgrp: OrError<i32>,
    /// Controlling terminal device number (0: none).
    pub tty_nr: OrError<i32>,
    /// Its name, as the text shows it (`pts/0`; null: none).
    pub tty: OrError<Option<String>>,
    /// Its PID in each nested PID namespace.
    pub ns_pids: OrError<Vec<i32>>,
    /// User IDs.
    pub uid: OrError<IdSet>,
    /// Group IDs.
    pub gid: OrError<IdSet>,
    /// Supplementary groups.
    pub groups: OrError<Vec<NamedId>>,
    /// Its tracer (0: none).
    pub tracer_pid: OrError<i32>,
    /// Start time, seconds since the epoch.
    pub start_time_unix: OrError<u64>,
    /// Seconds since start.
    pub elapsed_secs: OrError<u64>,
}

/// A command line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The arguments.
    pub args: Vec<Bytes>,
    /// Cut at the read cap.
    pub truncated: bool,
}

/// What runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Program {
    /// The executable's path.
    pub exe: OrError<Bytes>,
    /// `same`, `replaced`, `deleted`, `unknown`.
    pub exe_on_disk: String,
    /// Working directory.
    pub cwd: OrError<Bytes>,
    /// Root directory.
    pub root: OrError<Bytes>,
    /// Command line.
    pub cmdline: OrError<Args>,
}

/// Scheduling facts from `stat`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sched {
    /// State letter.
    pub state: String,
    /// The letter in words.
    pub meaning: String,
    /// Threads.
    pub threads: i64,
    /// User CPU time.
    pub user_ms: u64,
    /// System CPU time.
    pub system_ms: u64,
    /// Nice value.
    pub nice: i64,
    /// `stat` priority.
    pub priority: i64,
    /// Scheduling policy by name.
    pub policy: Option<String>,
    /// Real-time priority.
    pub rt_priority: Option<u64>,
    /// CPU it last ran on.
    pub last_cpu: Option<i64>,
    /// Minor faults.
    pub minor_faults: u64,
    /// Major faults.
    pub major_faults: u64,
}

/// Scheduling state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// From `stat`.
    pub sched: OrError<Sched>,
    /// Where it waits in the kernel (null: not waiting).
    pub wchan: OrError<Option<Bytes>>,
    /// CPU use over the sample (null: not sampled).
    pub cpu_percent: Option<f64>,
    /// `Cpus_allowed_list`.
    pub cpus_allowed: OrError<Bytes>,
    /// `Mems_allowed_list`.
    pub mems_allowed: OrError<Bytes>,
    /// Voluntary context switches.
    pub voluntary_switches: OrError<u64>,
    /// Involuntary context switches.
    pub involuntary_switches: OrError<u64>,
    /// OOM score.
    pub oom_score: OrError<i64>,
    /// OOM score adjustment.
    pub oom_score_adj: OrError<i64>,
}

/// `status` memory counters, bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Counters {
    pub rss: Option<u64>,
    pub rss_anon: Option<u64>,
    pub rss_file: Option<u64>,
    pub rss_shmem: Option<u64>,
    pub rss_peak: Option<u64>,
    pub swap: Option<u64>,
    pub vsz: Option<u64>,
    pub vsz_peak: Option<u64>,
    pub data: Option<u64>,
    pub stack: Option<u64>,
    pub locked: Option<u64>,
    pub page_tables: Option<u64>,
}

/// `smaps_rollup` totals, bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Totals {
    pub rss: u64,
    pub pss: u64,
    pub uss: u64,
    pub shared: u64,
    pub anonymous: u64,
    pub swap: u64,
    pub swap_pss: u64,
}

/// A mapping (or, in `memory.largest`, every mapping of one path).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapRow {
    /// Start address (0 in `largest`).
    pub start: u64,
    /// Size, bytes.
    pub size: u64,
    /// `r-xp` and the like.
    pub perms: Bytes,
    /// File offset.
    pub offset: u64,
    /// Path or kind (`[heap]`, `[anon]`).
    pub mapping: Bytes,
    /// Resident (null without `-x`).
    pub rss: Option<u64>,
    /// Proportional share.
    pub pss: Option<u64>,
    /// Dirty.
    pub dirty: Option<u64>,
    /// Swapped out.
    pub swap: Option<u64>,
    /// How many mappings it adds up.
    pub count: usize,
}

/// Memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Memory {
    /// From `status`.
    pub counters: OrError<Counters>,
    /// From `smaps_rollup`.
    pub totals: OrError<Totals>,
    /// The largest mappings by path.
    pub largest: OrError<Vec<MapRow>>,
}

/// An fd worth pointing out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notable {
    /// The fd.
    pub fd: i32,
    /// Why it is notable (`deleted`, `listening`, …).
    pub why: String,
    /// What it is.
    pub what: Bytes,
}

/// Open files in short.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Files {
    /// How many.
    pub open: usize,
    /// Soft `RLIMIT_NOFILE`.
    pub soft_limit: Option<u64>,
    /// `[type, count]`, most first.
    pub by_type: Vec<(String, usize)>,
    /// Fds worth pointing out.
    pub notable: Vec<Notable>,
}

/// `/proc/PID/io`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Io {
    pub rchar: Option<u64>,
    pub wchar: Option<u64>,
    pub syscr: Option<u64>,
    pub syscw: Option<u64>,
    pub read_bytes: Option<u64>,
    pub write_bytes: Option<u64>,
    pub cancelled_write_bytes: Option<u64>,
}

/// One resource limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    /// Short name (`nofile`).
    pub resource: String,
    /// The kernel's name (`Max open files`).
    pub name: String,
    /// Soft limit (null: unlimited).
    pub soft: Option<u64>,
    /// Hard limit (null: unlimited).
    pub hard: Option<u64>,
    /// Unit.
    pub unit: String,
    /// Current use, when known.
    pub usage: Option<u64>,
    /// What the usage counts, when it is not the obvious.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_note: Option<String>,
    /// Near the soft limit.
    pub near: bool,
}

/// A capability set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapSet {
    /// The mask, hex.
    pub mask: String,
    /// In words (`all`, `none`, or the names).
    pub summary: String,
    /// Every capability by name.
    pub names: Vec<String>,
}

/// Capabilities and the rest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Security {
    pub cap_last_cap: OrError<u32>,
    pub effective: OrError<CapSet>,
    pub permitted: OrError<CapSet>,
    pub inheritable: OrError<CapSet>,
    pub bounding: OrError<CapSet>,
    pub ambient: OrError<CapSet>,
    pub no_new_privs: OrError<bool>,
    /// `disabled`, `strict`, `filter`.
    pub seccomp: OrError<String>,
    pub seccomp_filters: OrError<u64>,
    pub lsm_label: OrError<Bytes>,
}

/// A process's signal sets, by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Sets {
    pub pending: Vec<String>,
    pub thread_pending: Vec<String>,
    pub blocked: Vec<String>,
    pub ignored: Vec<String>,
    pub caught: Vec<String>,
    /// `[queued, limit]`.
    pub queued: Option<(u64, u64)>,
}

/// One thread's signal sets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct ThreadSignals {
    pub tid: i32,
    pub name: Option<Bytes>,
    pub pending: Vec<String>,
    pub blocked: Vec<String>,
}

/// Signals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signals {
    /// The process's sets.
    pub process: OrError<Sets>,
    /// Threads whose sets differ.
    pub threads: OrError<Vec<ThreadSignals>>,
}

/// One namespace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Namespace {
    /// `mnt`, `pid`, `net`, …
    pub kind: String,
    /// Its inode.
    pub inode: OrError<u64>,
    /// The reference process's.
    pub reference_inode: OrError<u64>,
    /// They differ (null: unknown).
    pub differs: Option<bool>,
}

/// Namespaces compared with a reference process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Namespaces {
    /// 1, or procscope's own PID.
    pub reference_pid: i32,
    /// Each namespace.
    pub namespaces: Vec<Namespace>,
}

/// A `cgroup` line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct CgroupLine {
    pub hierarchy: u64,
    pub controllers: Bytes,
    pub path: Bytes,
}

/// What the cgroup path reveals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Owner {
    pub runtime: Option<String>,
    pub container_id: Option<String>,
    pub monitor: bool,
    pub pod_uid: Option<String>,
    pub qos_class: Option<String>,
    pub unit: Option<String>,
    pub slice: Option<String>,
}

/// `cpu.max`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct CpuQuota {
    pub quota_us: u64,
    pub period_us: u64,
}

/// cgroup limits and usage (null limits: unlimited).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Usage {
    pub memory_max: OrError<Option<u64>>,
    pub memory_current: OrError<u64>,
    pub cpu_max: OrError<Option<CpuQuota>>,
    pub pids_max: OrError<Option<u64>>,
    pub pids_current: OrError<u64>,
}

/// Control groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cgroup {
    /// The `cgroup` file's lines.
    pub lines: OrError<Vec<CgroupLine>>,
    /// The v2 path.
    pub path: Option<Bytes>,
    /// What it reveals.
    pub owner: Owner,
    /// Limits and usage.
    pub usage: Usage,
}

/// One mount.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct MountRow {
    pub id: u64,
    pub parent: u64,
    pub mount_point: Bytes,
    pub root: Bytes,
    pub fs_type: Bytes,
    pub source: Bytes,
    pub options: Bytes,
    pub super_options: Bytes,
    pub propagation: Bytes,
    /// Not in the reference process's table.
    pub only_here: bool,
}

/// The mount table compared with a reference process's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mounts {
    /// 1, or procscope's own PID.
    pub reference_pid: i32,
    /// Same mount namespace (null: unknown).
    pub same_namespace: Option<bool>,
    /// Its mounts.
    pub mounts: OrError<Vec<MountRow>>,
    /// The reference's mounts it lacks.
    pub only_in_reference: OrError<Vec<MountRow>>,
}

//! `procscope show --json` and its focused commands (`limits`, `maps`,
//! `caps`, `signals`, `ns`, `cgroup`, `mounts`): one dossier per process,
//! with the sections asked for.

use super::common::{Bytes, OrError, opt_bytes, or_error};
use procscope_model::dossier::{
    self as d, Dossier as MDossier, cgroup, files, identity, limits, memory, mounts, namespaces,
    program, security, signals, state,
};
use serde::{Deserialize, Serialize};

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

fn b(x: &procscope_model::bytes::Bytes) -> Bytes {
    Bytes::from(x)
}

fn named(n: &identity::NamedId) -> NamedId {
    NamedId {
        id: n.id,
        name: opt_bytes(n.name.as_ref()),
    }
}

fn id_set(s: &identity::IdSet) -> IdSet {
    IdSet {
        real: named(&s.real),
        effective: named(&s.effective),
        saved: named(&s.saved),
        filesystem: named(&s.filesystem),
    }
}

fn identity(x: &identity::Identity) -> Identity {
    Identity {
        pid: x.pid,
        parents: or_error(&x.parents, |v| {
            v.iter()
                .map(|a| Ancestor {
                    pid: a.pid,
                    comm: or_error(&a.comm, b),
                })
                .collect()
        }),
        session: or_error(&x.session, |v| *v),
        pgrp: or_error(&x.pgrp, |v| *v),
        tty_nr: or_error(&x.tty_nr, |v| *v),
        tty: or_error(&x.tty_nr, |v| super::ps::tty(*v)),
        ns_pids: or_error(&x.ns_pids, Clone::clone),
        uid: or_error(&x.uid, id_set),
        gid: or_error(&x.gid, id_set),
        groups: or_error(&x.groups, |v| v.iter().map(named).collect()),
        tracer_pid: or_error(&x.tracer_pid, |v| *v),
        start_time_unix: or_error(&x.start_time_unix, |v| *v),
        elapsed_secs: or_error(&x.elapsed_secs, |v| *v),
    }
}

fn program(p: &program::Program) -> Program {
    Program {
        exe: or_error(&p.exe, b),
        exe_on_disk: match p.exe_on_disk {
            program::OnDisk::Same => "same",
            program::OnDisk::Replaced => "replaced",
            program::OnDisk::Deleted => "deleted",
            program::OnDisk::Unknown => "unknown",
        }
        .into(),
        cwd: or_error(&p.cwd, b),
        root: or_error(&p.root, b),
        cmdline: or_error(&p.cmdline, |a| Args {
            args: a.args.iter().map(b).collect(),
            truncated: a.truncated,
        }),
    }
}

fn state(s: &state::State) -> State {
    State {
        sched: or_error(&s.sched, |x| Sched {
            state: x.state.to_string(),
            meaning: x.meaning.into(),
            threads: x.threads,
            user_ms: x.user_ms,
            system_ms: x.system_ms,
            nice: x.nice,
            priority: x.priority,
            policy: x.policy.clone(),
            rt_priority: x.rt_priority,
            last_cpu: x.last_cpu,
            minor_faults: x.minor_faults,
            major_faults: x.major_faults,
        }),
        wchan: or_error(&s.wchan, |w| opt_bytes(w.as_ref())),
        cpu_percent: s.cpu_percent,
        cpus_allowed: or_error(&s.cpus_allowed, b),
        mems_allowed: or_error(&s.mems_allowed, b),
        voluntary_switches: or_error(&s.voluntary_switches, |v| *v),
        involuntary_switches: or_error(&s.involuntary_switches, |v| *v),
        oom_score: or_error(&s.oom_score, |v| *v),
        oom_score_adj: or_error(&s.oom_score_adj, |v| *v),
    }
}

fn map_row(r: &memory::MapRow) -> MapRow {
    MapRow {
        start: r.start,
        size: r.size,
        perms: b(&r.perms),
        offset: r.offset,
        mapping: b(&r.mapping),
        rss: r.rss,
        pss: r.pss,
        dirty: r.dirty,
        swap: r.swap,
        count: r.count,
    }
}

fn memory(m: &memory::Memory) -> Memory {
    Memory {
        counters: or_error(&m.counters, |c| Counters {
            rss: c.rss,
            rss_anon: c.rss_anon,
            rss_file: c.rss_file,
            rss_shmem: c.rss_shmem,
            rss_peak: c.rss_peak,
            swap: c.swap,
            vsz: c.vsz,
            vsz_peak: c.vsz_peak,
            data: c.data,
            stack: c.stack,
            locked: c.locked,
            page_tables: c.page_tables,
        }),
        totals: or_error(&m.totals, |t| Totals {
            rss: t.rss,
            pss: t.pss,
            uss: t.uss,
            shared: t.shared,
            anonymous: t.anonymous,
            swap: t.swap,
            swap_pss: t.swap_pss,
        }),
        largest: or_error(&m.largest, |v| v.iter().map(map_row).collect()),
    }
}

fn files(f: &files::Files) -> OrError<Files> {
    or_error(&f.0, |s| Files {
        open: s.open,
        soft_limit: s.soft_limit,
        by_type: s.by_type.clone(),
        notable: s
            .notable
            .iter()
            .map(|n| Notable {
                fd: n.fd,
                why: n.why.into(),
                what: b(&n.what),
            })
            .collect(),
    })
}

fn io(x: &d::IoCounters) -> Io {
    Io {
        rchar: x.rchar,
        wchar: x.wchar,
        syscr: x.syscr,
        syscw: x.syscw,
        read_bytes: x.read_bytes,
        write_bytes: x.write_bytes,
        cancelled_write_bytes: x.cancelled_write_bytes,
    }
}

fn limit(l: &limits::LimitRow) -> Limit {
    Limit {
        resource: l.resource.clone(),
        name: l.name.clone(),
        soft: l.soft,
        hard: l.hard,
        unit: l.unit.clone(),
        usage: l.usage,
        usage_note: l.usage_note.map(String::from),
        near: l.near,
    }
}

fn cap_set(c: &security::CapSet) -> CapSet {
    CapSet {
        mask: c.mask.clone(),
        summary: c.summary.clone(),
        names: c.names.clone(),
    }
}

fn security(s: &security::Security) -> Security {
    Security {
        cap_last_cap: or_error(&s.cap_last_cap, |v| *v),
        effective: or_error(&s.effective, cap_set),
        permitted: or_error(&s.permitted, cap_set),
        inheritable: or_error(&s.inheritable, cap_set),
        bounding: or_error(&s.bounding, cap_set),
        ambient: or_error(&s.ambient, cap_set),
        no_new_privs: or_error(&s.no_new_privs, |v| *v),
        seccomp: or_error(&s.seccomp, |v| (*v).into()),
        seccomp_filters: or_error(&s.seccomp_filters, |v| *v),
        lsm_label: or_error(&s.lsm_label, b),
    }
}

fn signals(s: &signals::Signals) -> Signals {
    Signals {
        process: or_error(&s.process, |x| Sets {
            pending: x.pending.clone(),
            thread_pending: x.thread_pending.clone(),
            blocked: x.blocked.clone(),
            ignored: x.ignored.clone(),
            caught: x.caught.clone(),
            queued: x.queued,
        }),
        threads: or_error(&s.threads, |v| {
            v.iter()
                .map(|t| ThreadSignals {
                    tid: t.tid,
                    name: opt_bytes(t.name.as_ref()),
                    pending: t.pending.clone(),
                    blocked: t.blocked.clone(),
                })
                .collect()
        }),
    }
}

fn namespaces(t: &namespaces::Table) -> Namespaces {
    Namespaces {
        reference_pid: t.reference_pid,
        namespaces: t
            .namespaces
            .iter()
            .map(|n| Namespace {
                kind: n.kind.into(),
                inode: or_error(&n.inode, |v| *v),
                reference_inode: or_error(&n.reference_inode, |v| *v),
                differs: n.differs,
            })
            .collect(),
    }
}

fn cgroup(c: &cgroup::Cgroup) -> Cgroup {
    let o = &c.owner;
    let u = &c.usage;
    Cgroup {
        lines: or_error(&c.lines, |v| {
            v.iter()
                .map(|l| CgroupLine {
                    hierarchy: l.hierarchy,
                    controllers: b(&l.controllers),
                    path: b(&l.path),
                })
                .collect()
        }),
        path: opt_bytes(c.path.as_ref()),
        owner: Owner {
            runtime: o.runtime.map(String::from),
            container_id: o.container_id.clone(),
            monitor: o.monitor,
            pod_uid: o.pod_uid.clone(),
            qos_class: o.qos_class.map(String::from),
            unit: o.unit.clone(),
            slice: o.slice.clone(),
        },
        usage: Usage {
            memory_max: or_error(&u.memory_max, |v| *v),
            memory_current: or_error(&u.memory_current, |v| *v),
            cpu_max: or_error(&u.cpu_max, |v| {
                v.map(|q| CpuQuota {
                    quota_us: q.quota_us,
                    period_us: q.period_us,
                })
            }),
            pids_max: or_error(&u.pids_max, |v| *v),
            pids_current: or_error(&u.pids_current, |v| *v),
        },
    }
}

fn mount_rows(v: &[mounts::MountRow]) -> Vec<MountRow> {
    v.iter()
        .map(|m| MountRow {
            id: m.id,
            parent: m.parent,
            mount_point: b(&m.mount_point),
            root: b(&m.root),
            fs_type: b(&m.fs_type),
            source: b(&m.source),
            options: b(&m.options),
            super_options: b(&m.super_options),
            propagation: b(&m.propagation),
            only_here: m.only_here,
        })
        .collect()
}

fn mounts(m: &mounts::Mounts) -> Mounts {
    Mounts {
        reference_pid: m.reference_pid,
        same_namespace: m.same_namespace,
        mounts: or_error(&m.mounts, |v| mount_rows(v)),
        only_in_reference: or_error(&m.only_in_reference, |v| mount_rows(v)),
    }
}

impl From<&MDossier> for Dossier {
    fn from(x: &MDossier) -> Dossier {
        Dossier {
            pid: x.pid,
            comm: or_error(&x.comm, b),
            identity: x.identity.as_ref().map(identity),
            program: x.program.as_ref().map(program),
            state: x.state.as_ref().map(state),
            memory: x.memory.as_ref().map(memory),
            files: x.files.as_ref().map(files),
            io: x.io.as_ref().map(|o| or_error(o, io)),
            limits: x
                .limits
                .as_ref()
                .map(|o| or_error(o, |v| v.iter().map(limit).collect())),
            security: x.security.as_ref().map(security),
            signals: x.signals.as_ref().map(signals),
            namespaces: x.namespaces.as_ref().map(|o| or_error(o, namespaces)),
            cgroup: x.cgroup.as_ref().map(cgroup),
            maps: x
                .maps
                .as_ref()
                .map(|o| or_error(o, |v| v.iter().map(map_row).collect())),
            mounts: x.mounts.as_ref().map(mounts),
        }
    }
}

//! Resource limits with what the process uses of each, where /proc tells.

use super::Source;
use procscope_parse::limits::{LimitValue, Limits, Resource};
use procscope_read::{Failure, Outcome};
use serde::Serialize;
use std::collections::HashMap;

/// One limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LimitRow {
    /// `RLIMIT_*` name without the prefix, lowercase (`nofile`), or the
    /// kernel's row name for a resource this build does not know.
    pub resource: String,
    /// The kernel's row name (`Max open files`).
    pub name: String,
    /// Soft limit (`None`: unlimited).
    pub soft: Option<u64>,
    /// Hard limit (`None`: unlimited).
    pub hard: Option<u64>,
    /// Unit as the kernel prints it (`files`, `bytes`, `seconds`, …).
    pub unit: String,
    /// Current use, in the same unit, where known.
    pub usage: Option<u64>,
    /// What the usage counts, when that needs saying.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_note: Option<&'static str>,
    /// Usage at or above 80% of the soft limit.
    pub near: bool,
}

/// Share of the soft limit from which a limit counts as near.
pub const NEAR_PERCENT: u64 = 80;

/// `RLIMIT_*` short names in the kernel's order.
fn key(r: Resource) -> &'static str {
    match r {
        Resource::Cpu => "cpu",
        Resource::Fsize => "fsize",
        Resource::Data => "data",
        Resource::Stack => "stack",
        Resource::Core => "core",
        Resource::Rss => "rss",
        Resource::Nproc => "nproc",
        Resource::Nofile => "nofile",
        Resource::Memlock => "memlock",
        Resource::As => "as",
        Resource::Locks => "locks",
        Resource::Sigpending => "sigpending",
        Resource::Msgqueue => "msgqueue",
        Resource::Nice => "nice",
        Resource::Rtprio => "rtprio",
        Resource::Rttime => "rttime",
    }
}

/// `limits` as read (shared by the files section for the fd limit).
pub(crate) fn read_raw(src: &Source<'_>) -> Outcome<Vec<u8>> {
    src.file(c"limits")
}

/// The soft limit of `r`, from `limits` as read.
pub(crate) fn soft(raw: &Outcome<Vec<u8>>, r: Resource) -> Option<u64> {
    let raw = raw.as_ref().ok()?;
    match Limits::parse(raw).ok()?.get(r)?.soft {
        LimitValue::Value(v) => Some(v),
        LimitValue::Unlimited => None,
    }
}

pub(crate) fn read(src: &Source<'_>, raw: &Outcome<Vec<u8>>) -> Outcome<Vec<LimitRow>> {
    let raw = raw.as_ref().map_err(Clone::clone)?;
    let limits = Limits::parse(raw).map_err(|e| Failure::malformed("limits", e))?;
    let status = src.status.as_ref().ok();
    let stat = src.stat.as_ref().ok();
    let v = |x: LimitValue| match x {
        LimitValue::Value(v) => Some(v),
        LimitValue::Unlimited => None,
    };
    Ok(limits
        .rows
        .iter()
        .map(|l| {
            let (usage, note) = match l.resource {
                Some(Resource::Nofile) => (src.dir.fds().ok().map(|f| f.len() as u64), None),
                Some(Resource::Stack) => {
                    (status.and_then(|s| s.vm_stk), Some("main thread's stack"))
                }
                Some(Resource::Memlock) => (status.and_then(|s| s.vm_lck), None),
                Some(Resource::As) => (status.and_then(|s| s.vm_size), None),
                Some(Resource::Data) => (status.and_then(|s| s.vm_data), None),
                Some(Resource::Rss) => {
                    (status.and_then(|s| s.vm_rss), Some("not enforced by Linux"))
                }
                Some(Resource::Sigpending) => (
                    status.and_then(|s| s.sig_q).map(|q| q.0),
                    Some("signals queued for its real user"),
                ),
                Some(Resource::Cpu) => (stat.map(|s| s.cpu_time_ms / 1000), None),
                Some(Resource::Nproc) => (
                    status
                        .and_then(|s| s.uid)
                        .and_then(|u| threads_of_user(src, u.real)),
                    Some("threads of processes owned by its real user"),
                ),
                Some(Resource::Locks) => (file_locks(src), Some("entries in /proc/locks")),
                _ => (None, None),
            };
            let soft = v(l.soft);
            let near = match (usage, soft) {
                (Some(u), Some(s)) if s > 0 => {
                    u.saturating_mul(100) >= s.saturating_mul(NEAR_PERCENT)
                }
                _ => false,
            };
            LimitRow {
                resource: l.resource.map_or_else(
                    || String::from_utf8_lossy(l.name).into_owned(),
                    |r| key(r).to_string(),
                ),
                name: String::from_utf8_lossy(l.name).into_owned(),
                soft,
                hard: v(l.hard),
                unit: String::from_utf8_lossy(l.unit).into_owned(),
                usage,
                usage_note: note.filter(|_| usage.is_some()),
                near,
            }
        })
        .collect())
}

/// RLIMIT_NPROC counts the tasks (threads) of the real user; the kernel
/// keeps that count privately, so add up `num_threads` of every process
/// whose /proc directory the user owns. Counted for every user in one
/// pass, once per run ([`Shared`]): `limits '.*'` asks for each process.
fn threads_of_user(src: &Source<'_>, uid: u32) -> Option<u64> {
    let by_uid = src.shared.threads_by_uid.get_or_init(|| {
        let mut m: HashMap<u32, u64> = HashMap::new();
        let mut buf = Vec::with_capacity(1024);
        for pid in src.root.pids().unwrap_or_default() {
            let Ok(dir) = src.root.process(pid) else {
                continue;
            };
            let Ok(owner) = dir.owner_uid() else { continue };
            if dir
                .read(c"stat", &mut buf, procscope_read::cap::RECORD)
                .is_ok()
            {
                if let Ok(s) = procscope_parse::stat::Stat::parse(&buf) {
                    let n = u64::try_from(s.num_threads).unwrap_or(0);
                    let e = m.entry(owner).or_default();
                    *e = e.saturating_add(n);
                }
            }
        }
        Some(m)
    });
    Some(by_uid.as_ref()?.get(&uid).copied().unwrap_or(0))
}

/// Locks of this process in `/proc/locks` (RLIMIT_LOCKS is not enforced
/// since 2.4.25, but the count is still telling); the file is read and
/// counted per process once per run.
fn file_locks(src: &Source<'_>) -> Option<u64> {
    let by_pid = src.shared.locks_by_pid.get_or_init(|| {
        let mut b = Vec::new();
        src.root
            .read(c"locks", &mut b, procscope_read::cap::LOCKS)
            .ok()?;
        let mut m: HashMap<i64, u64> = HashMap::new();
        for l in procscope_parse::locks::parse(&b)
            .iter()
            .filter(|l| !l.waiter)
        {
            let e = m.entry(l.pid).or_default();
            *e = e.saturating_add(1);
        }
        Some(m)
    });
    Some(
        by_pid
            .as_ref()?
            .get(&i64::from(src.dir.pid()))
            .copied()
            .unwrap_or(0),
    )
}

/// Host-wide counts that every process's limits need: computed once per
/// run, on first use.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    threads_by_uid: std::cell::OnceCell<Option<HashMap<u32, u64>>>,
    locks_by_pid: std::cell::OnceCell<Option<HashMap<i64, u64>>>,
}

//! The hung report: the stuck threads' stacks and system calls, grouped
//! across processes by what they are doing, with the file each one's
//! system call is about and the likely cause of each group.

use super::{Cause, Sampling, likely_cause};
use crate::bytes::Bytes;
use crate::fds::{Detail, FdEntry};
use crate::threads::{self, GroupKey, ThreadInfo};
use procscope_parse::stat::TaskState;
use procscope_parse::syscall::{Abi, SyscallState};
use procscope_read::{ProcRoot, Session};
use std::collections::{BTreeMap, HashMap};

/// A stuck thread, read in full.
#[derive(Debug, Clone)]
pub struct StuckTask {
    /// Process ID.
    pub pid: i32,
    /// Process name.
    pub process: Bytes,
    /// The thread: state, wchan, system call, stack.
    pub thread: ThreadInfo,
    /// Its process's system call ABI, when known.
    pub abi: Option<Abi>,
}

/// A system call as `hung` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CallName {
    /// In a system call with a name in the task's ABI.
    Named(&'static str),
    /// In a system call whose number has no name (or the ABI is unknown).
    Number(i64),
    /// On a CPU.
    Running,
    /// Blocked outside a system call (a page fault?).
    NotInCall,
    /// The system call could not be read (the failure's kind).
    Unreadable(&'static str),
}

impl StuckTask {
    /// The system call it is in.
    pub fn call(&self) -> CallName {
        match &self.thread.syscall {
            Ok(SyscallState::InSyscall { nr, .. }) => self
                .abi
                .and_then(|a| a.name(*nr))
                .map_or(CallName::Number(*nr), CallName::Named),
            Ok(SyscallState::Running) => CallName::Running,
            Ok(SyscallState::Blocked { .. }) => CallName::NotInCall,
            Err(f) => CallName::Unreadable(f.kind()),
        }
    }

    /// Whether it is in `D` (else asleep too long: `--over`).
    pub fn in_d(&self) -> bool {
        self.thread
            .state
            .as_ref()
            .is_ok_and(|s| *s == TaskState::DiskSleep)
    }
}

/// What `hung` groups by: the system call's name (threads of processes
/// with different ABIs can share a number) and the thread's
/// [`GroupKey`] without its state (a task in `D` and one asleep too long
/// in the same call and stack are one group).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HungKey {
    /// The system call's name, when the task is in one that has a name.
    pub call: Option<&'static str>,
    /// State left out.
    pub key: GroupKey,
}

impl HungKey {
    /// The key of a stuck task.
    pub fn of(t: &StuckTask) -> HungKey {
        HungKey {
            call: match t.call() {
                CallName::Named(n) => Some(n),
                _ => None,
            },
            key: GroupKey {
                state: None,
                ..t.thread.group_key()
            },
        }
    }
}

/// Who holds a lock on a file a stuck task waits for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LockHolder {
    /// Its PID (-1 for an OFD lock).
    pub pid: i64,
    /// Its name, when it could be read.
    pub comm: Option<Bytes>,
}

/// The file (or other object) a stuck task's system call is about: its
/// fd argument, resolved from fd/fdinfo/mountinfo, with who holds a lock
/// on it.
#[derive(Debug, Clone)]
pub struct Resource {
    /// The fd, decoded.
    pub entry: FdEntry,
    /// Processes holding a lock on the file (not the task's own).
    pub lock_holders: Vec<LockHolder>,
}

impl Resource {
    /// A file's path, mount point and filesystem type.
    pub fn file(&self) -> Option<(&Bytes, Option<&Bytes>, Option<&Bytes>)> {
        match &self.entry.detail {
            Detail::File {
                path,
                mount_point,
                fs_type,
                ..
            } => Some((path, mount_point.as_ref(), fs_type.as_ref())),
            _ => None,
        }
    }
}

/// The likely cause of a group, sharpened by the mount its tasks' files
/// are on and the locks they wait for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupCause {
    /// Waiting for a file lock: on the group's file `files[on]`, held by
    /// these (every holder of a lock on any of the group's files, in no
    /// particular order, repeats possible).
    FileLock {
        /// Index into [`HungGroup::files`].
        on: usize,
        /// The holders.
        holders: Vec<LockHolder>,
    },
    /// Every file is on this one FUSE mount: its daemon is not answering.
    Fuse {
        /// Mount point.
        mount: Bytes,
        /// Filesystem type (`fuse.sshfs`).
        fs_type: Bytes,
    },
    /// Every file is on this one NFS mount: the server is not answering.
    Nfs {
        /// Mount point.
        mount: Bytes,
        /// Filesystem type.
        fs_type: Bytes,
    },
    /// What the frames say, and every file is on this one mount.
    OnMount {
        /// From the frames.
        cause: Cause,
        /// Mount point.
        mount: Bytes,
        /// Filesystem type.
        fs_type: Bytes,
    },
    /// A process's memory-map lock: its holder (faulting in a page) or
    /// its waiters, both named with the process and the holding threads,
    /// so that the groups read as one cause.
    MemoryLock {
        /// [`Cause::MemoryLockHolder`] or [`Cause::MemoryLockWaiter`].
        cause: Cause,
        /// The process whose lock it is.
        pid: i32,
        /// The stuck threads holding it (TIDs), when among the stuck.
        holders: Vec<i32>,
    },
    /// What the frames say.
    Kernel(Cause),
}

impl GroupCause {
    /// The kind of cause: a file lock, a FUSE or NFS mount, or what the
    /// frames say.
    pub fn kind(&self) -> Cause {
        match self {
            GroupCause::FileLock { .. } => Cause::FileLock,
            GroupCause::Fuse { .. } => Cause::Fuse,
            GroupCause::Nfs { .. } => Cause::Nfs,
            GroupCause::OnMount { cause, .. }
            | GroupCause::MemoryLock { cause, .. }
            | GroupCause::Kernel(cause) => *cause,
        }
    }
}

/// Stuck threads doing the same thing, across processes.
#[derive(Debug, Clone)]
pub struct HungGroup {
    /// What they share.
    pub key: HungKey,
    /// The threads, in (PID, TID) order.
    pub tasks: Vec<StuckTask>,
    /// What their system calls are about, one per task that has an fd
    /// argument that could be read.
    pub files: Vec<Resource>,
    /// The likely cause.
    pub cause: GroupCause,
}

impl HungGroup {
    /// How long since any of the threads last ran (ms), when known.
    pub fn idle_ms(&self) -> Option<u64> {
        self.tasks.iter().filter_map(|t| t.thread.idle_ms).min()
    }
}

/// The report.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The groups, largest first.
    pub groups: Vec<HungGroup>,
    /// Threads asleep at every sample in a call that waits by design
    /// (epoll, poll, sleep…): idle, not stuck, left out.
    pub idle: usize,
}

impl Report {
    /// Every stuck thread reported.
    pub fn tasks(&self) -> impl Iterator<Item = &StuckTask> {
        self.groups.iter().flat_map(|g| &g.tasks)
    }
}

/// System calls that wait by design: a task asleep in one of them for
/// hours is idle, not stuck.
pub fn waits_by_design(name: &str) -> bool {
    matches!(
        name,
        "epoll_wait"
            | "epoll_pwait"
            | "epoll_pwait2"
            | "poll"
            | "ppoll"
            | "select"
            | "pselect6"
            | "nanosleep"
            | "clock_nanosleep"
            | "pause"
            | "rt_sigsuspend"
            | "rt_sigtimedwait"
            | "sigsuspend"
            | "wait4"
            | "waitid"
            | "accept"
            | "accept4"
            | "io_getevents"
            | "io_uring_enter"
    )
}

/// Reads the stacks and system calls of what sampling found stuck (per
/// process), leaves out the idle, groups the rest and names each group's
/// likely cause.
pub fn report(root: &ProcRoot, sampling: &Sampling, session: &Session) -> Report {
    let mut by_pid: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
    for s in &sampling.stuck {
        by_pid.entry(s.pid).or_default().push(s.tid);
    }
    let mut tasks = Vec::new();
    let mut idle = 0usize;
    for (pid, tids) in by_pid {
        let Ok(p) = threads::read(root, pid, session) else {
            continue;
        };
        let abi = p.abi.as_ref().ok().copied();
        for t in p.threads.into_iter().filter(|t| tids.contains(&t.tid)) {
            // Asleep a long time in a call that waits by design: idle.
            let asleep = t.state.as_ref().is_ok_and(|s| *s != TaskState::DiskSleep);
            let idle_call = match &t.syscall {
                Ok(SyscallState::InSyscall { nr, .. }) => {
                    abi.and_then(|a| a.name(*nr)).is_some_and(waits_by_design)
                }
                _ => false,
            };
            if asleep && idle_call {
                idle += 1;
                continue;
            }
            tasks.push(StuckTask {
                pid,
                process: p.comm.clone(),
                thread: t,
                abi,
            });
        }
    }
    // Group across processes, in the order first seen; largest first.
    let mut groups: Vec<(HungKey, Vec<StuckTask>)> = Vec::new();
    let mut index: HashMap<HungKey, usize> = HashMap::new();
    for t in tasks {
        let key = HungKey::of(&t);
        let gi = *index.entry(key.clone()).or_insert_with(|| {
            groups.push((key, Vec::new()));
            groups.len() - 1
        });
        if let Some(g) = groups.get_mut(gi) {
            g.1.push(t);
        }
    }
    let mut out: Vec<HungGroup> = Vec::with_capacity(groups.len());
    for (key, tasks) in groups {
        let res: Vec<Option<Resource>> = tasks.iter().map(|t| resource(root, t, session)).collect();
        let files: Vec<Resource> = res.iter().flatten().cloned().collect();
        let cause = tasks
            .first()
            .map_or(GroupCause::Kernel(Cause::Unknown), |first| {
                group_cause(&first.thread, &files)
            });
        if !matches!(
            cause.kind(),
            Cause::MemoryLockHolder | Cause::MemoryLockWaiter
        ) {
            out.push(HungGroup {
                key,
                tasks,
                files,
                cause,
            });
            continue;
        }
        // The same stack in two processes is two locks: one group per
        // process whose memory-map lock it is.
        let mut parts: Vec<(i32, Vec<StuckTask>, Vec<Resource>)> = Vec::new();
        for (t, r) in tasks.into_iter().zip(res) {
            let owner = r.as_ref().and_then(proc_file_pid).unwrap_or(t.pid);
            let i = match parts.iter().position(|p| p.0 == owner) {
                Some(i) => i,
                None => {
                    parts.push((owner, Vec::new(), Vec::new()));
                    parts.len() - 1
                }
            };
            if let Some(p) = parts.get_mut(i) {
                p.1.push(t);
                p.2.extend(r);
            }
        }
        for (_, tasks, files) in parts {
            let cause = tasks
                .first()
                .map_or(GroupCause::Kernel(Cause::Unknown), |first| {
                    group_cause(&first.thread, &files)
                });
            out.push(HungGroup {
                key: key.clone(),
                tasks,
                files,
                cause,
            });
        }
    }
    out.sort_by_key(|g| std::cmp::Reverse(g.tasks.len()));
    let groups = out;
    Report {
        groups: memory_locks(groups),
        idle,
    }
}

/// The process whose memory a group's first task holds or waits for: the
/// `N` of a `/proc/N/…` file its call reads (mem, cmdline, environ, maps),
/// else its own. (Groups are split by it: one lock per group.)
fn lock_of(g: &HungGroup) -> Option<i32> {
    let own = g.tasks.first()?.pid;
    Some(g.files.iter().find_map(proc_file_pid).unwrap_or(own))
}

/// The `N` of a `/proc/N/…` file.
fn proc_file_pid(r: &Resource) -> Option<i32> {
    let (path, _, _) = r.file()?;
    let rest = path.as_slice().strip_prefix(b"/proc/")?;
    let n = rest.split(|b| *b == b'/').next()?;
    std::str::from_utf8(n).ok()?.parse::<i32>().ok()
}

/// Names memory-lock holder and waiter groups with the process whose lock
/// it is and the stuck threads that hold it.
fn memory_locks(mut groups: Vec<HungGroup>) -> Vec<HungGroup> {
    let mut holders: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
    for g in &groups {
        if g.cause.kind() == Cause::MemoryLockHolder {
            if let Some(pid) = lock_of(g) {
                holders
                    .entry(pid)
                    .or_default()
                    .extend(g.tasks.iter().map(|t| t.thread.tid));
            }
        }
    }
    for g in &mut groups {
        let kind = g.cause.kind();
        if matches!(kind, Cause::MemoryLockHolder | Cause::MemoryLockWaiter) {
            if let Some(pid) = lock_of(g) {
                g.cause = GroupCause::MemoryLock {
                    cause: kind,
                    pid,
                    holders: holders.get(&pid).cloned().unwrap_or_default(),
                };
            }
        }
    }
    groups
}

/// The file a stuck task's system call is about (its fd argument).
fn resource(root: &ProcRoot, t: &StuckTask, session: &Session) -> Option<Resource> {
    let SyscallState::InSyscall { nr, args, .. } = t.thread.syscall.as_ref().ok()? else {
        return None;
    };
    let fd = crate::calls::fd_arg(t.abi?.name(*nr)?, args)?;
    let dir = root.process(t.pid).ok()?;
    let mut v = crate::fds::read(&dir, &[fd]).ok()?;
    // Files only: no holder scan, just /proc/locks and the link count.
    if v.iter().all(|e| matches!(e.detail, Detail::File { .. })) {
        crate::fds::resolve_peers(root, t.pid, &mut v, session);
    }
    let entry = v.into_iter().next()?;
    let lock_holders = entry
        .file_locks
        .iter()
        .filter(|l| !l.waiting && l.pid != i64::from(t.pid))
        .map(|l| LockHolder {
            pid: l.pid,
            comm: l.comm.clone(),
        })
        .collect();
    Some(Resource {
        entry,
        lock_holders,
    })
}

/// The likely cause of a group from its first thread's frames, sharpened
/// by its files (a page-cache wait on a FUSE file is the FUSE daemon's
/// fault).
fn group_cause(first: &ThreadInfo, files: &[Resource]) -> GroupCause {
    let frames: Vec<&[u8]> = first
        .stack
        .as_ref()
        .map(|f| f.iter().map(|f| f.symbol.as_slice()).collect())
        .unwrap_or_default();
    let wchan = first.wchan.as_ref().ok().and_then(|w| w.as_ref());
    let base = likely_cause(&frames, wchan.map(Bytes::as_slice));
    // Waiting for a file lock: name the file and who holds it.
    if let Some(on) = files.iter().position(|r| !r.lock_holders.is_empty()) {
        return GroupCause::FileLock {
            on,
            holders: files
                .iter()
                .flat_map(|r| r.lock_holders.iter().cloned())
                .collect(),
        };
    }
    // procfs answers from memory: a task reading /proc/PID/mem waits for
    // that process, not for /proc.
    let mut mounts: Vec<(&Bytes, &Bytes)> = files
        .iter()
        .filter_map(|r| {
            let (_, m, t) = r.file()?;
            Some((m?, t?))
        })
        .filter(|(_, t)| t.as_slice() != b"proc")
        .collect();
    mounts.sort();
    mounts.dedup();
    match mounts.as_slice() {
        [(m, t)] if t.as_slice().starts_with(b"fuse") => GroupCause::Fuse {
            mount: (*m).clone(),
            fs_type: (*t).clone(),
        },
        [(m, t)] if t.as_slice().starts_with(b"nfs") => GroupCause::Nfs {
            mount: (*m).clone(),
            fs_type: (*t).clone(),
        },
        [(m, t)] => GroupCause::OnMount {
            cause: base,
            mount: (*m).clone(),
            fs_type: (*t).clone(),
        },
        _ => GroupCause::Kernel(base),
    }
}

//! `why`: what a process is waiting for, followed from process to process
//! — a pipe to the process at its other end, a lock to its holder, a socket
//! to the local peer, a FUSE file to the daemon, a wait to the child — until
//! something that is not waiting on another process, or a cycle (a
//! deadlock).

use crate::bytes::Bytes;
use crate::fds::{FdEntry, Peer};
use crate::threads::{self, ThreadInfo};
use procscope_parse::stat::TaskState;
use procscope_parse::syscall::{Abi, SyscallState};
use procscope_read::Session;
use procscope_read::{Outcome, ProcRoot};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, VecDeque};

mod classify;
mod memlock;
use classify::classify;
pub use memlock::FaultFile;

/// A process named as the cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Who {
    /// Process ID.
    pub pid: i32,
    /// Its name.
    pub comm: Bytes,
    /// The fd it holds (when that is how it was found).
    pub fd: Option<i32>,
}

/// What a group of threads waits for.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Wait {
    /// On a CPU or runnable.
    Running,
    /// Stopped by a signal (`T`).
    Stopped,
    /// Stopped by a debugger (`t`).
    Traced,
    /// Exited, not yet reaped by its parent.
    Zombie,
    /// Reading from an empty pipe, or writing to a full one.
    Pipe {
        /// The fd.
        fd: i32,
        /// The pipe's inode.
        inode: u64,
        /// The end it waits at.
        end: PipeEnd,
        /// Who holds the other end (writers of a read end, readers of a
        /// write end).
        other_end: Vec<Who>,
    },
    /// Reading from or writing to a socket.
    Socket {
        /// The fd.
        fd: i32,
        /// What the socket is (its fd, decoded, with who holds it).
        entry: Box<FdEntry>,
        /// Who holds its other end on this host.
        other_end: Vec<Who>,
    },
    /// Waiting for a file lock.
    Lock {
        /// The fd.
        fd: i32,
        /// The file.
        path: Bytes,
        /// Who holds a lock on it.
        holders: Vec<Who>,
    },
    /// Reading or writing a file on a network or FUSE filesystem.
    File {
        /// The fd.
        fd: i32,
        /// The file.
        path: Bytes,
        /// Its mount point.
        mount_point: Option<Bytes>,
        /// Its filesystem type.
        fs_type: Option<Bytes>,
        /// The FUSE daemons (processes holding `/dev/fuse`).
        daemons: Vec<Who>,
    },
    /// Waiting for a child (wait4, or a vfork parent).
    Children {
        /// The children.
        children: Vec<Who>,
    },
    /// A user-space lock or condition variable.
    Futex {
        /// The futex address (threads on the same address wait together).
        addr: u64,
    },
    /// A pthread mutex held by another thread of the same process.
    Mutex {
        /// The futex address.
        addr: u64,
        /// The owning thread's TID.
        owner: i32,
        /// Its name.
        owner_name: Bytes,
    },
    /// Holding a process's memory-map lock while faulting in a page (of a
    /// file whose filesystem does not answer): every reader of that
    /// process's memory, maps or command line, and its own mmap, waits.
    MemoryLockHolder {
        /// Whose memory: the process of a `/proc/N/mem` read, or its own.
        owner: i32,
        /// The address faulted on (a `pread64` offset on `/proc/N/mem`).
        addr: Option<u64>,
        /// `owner`'s open files on mounts that can hang: what the fault is
        /// most likely on (`maps` cannot be read while the lock is held).
        files: Vec<FaultFile>,
        /// FUSE daemons, when one of those files is on FUSE.
        daemons: Vec<Who>,
    },
    /// Waiting for the memory-map lock that threads of this process hold.
    MemoryLockWaiter {
        /// The holders.
        holders: Vec<ThreadRef>,
    },
    /// Waiting for events (epoll, poll, select): idle.
    Events,
    /// Sleeping by choice (nanosleep, pause, sigsuspend).
    Sleep {
        /// When a nanosleep wakes, in ms from now (its timespec, read from
        /// the process's memory), when known.
        wakes_in_ms: Option<i64>,
    },
    /// Waiting for a connection.
    Accept,
    /// In the kernel, for the reason its frames tell.
    Kernel {
        /// The likely cause.
        cause: crate::hung::Cause,
    },
    /// Another system call.
    Other,
    /// The system call could not be read.
    Unknown {
        /// Why not (denied without ptrace access, gone, timed out, …).
        reason: procscope_read::Failure,
    },
}

/// Which end of a pipe a thread waits at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PipeEnd {
    /// Reading from an empty pipe.
    Read,
    /// Writing to a full one.
    Write,
}

/// A blocked system call, with what its words need: its fd arguments
/// (and the fds it polls) resolved, with who is at their other ends.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Call {
    /// Its name in the task's ABI (`?` when the number has none).
    pub name: &'static str,
    /// The registers.
    pub args: [u64; 6],
    /// What its pointer arguments point at (poll, select).
    pub memory: Option<crate::callmem::CallMemory>,
    /// The fds it waits on, decoded.
    pub fds: Vec<FdEntry>,
}

/// Threads of one process doing the same thing.
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    /// Their TIDs.
    pub tids: Vec<i32>,
    /// Scheduler state letter.
    pub state: char,
    /// What it means.
    pub meaning: &'static str,
    /// The system call, with its fds resolved (the words are
    /// `procscope_render::why::call`).
    pub call: Option<Call>,
    /// Where it sleeps.
    pub wchan: Option<Bytes>,
    /// How long since any of these threads last ran (ms), when known.
    pub idle_ms: Option<u64>,
    /// What it waits for.
    pub wait: Wait,
    /// Where in the program it waits: the innermost user frame outside
    /// the C library (`stack --user`), when its stack could be read.
    pub place: Option<crate::ustack::UserFrame>,
    /// The processes it waits on (followed in turn).
    pub waits_for: Vec<i32>,
}

/// One process in the chain.
#[derive(Debug, Clone, Serialize)]
pub struct Process {
    /// Process ID.
    pub pid: i32,
    /// Its name.
    pub comm: Bytes,
    /// Its thread groups, the ones waiting on other processes first.
    pub groups: Vec<Group>,
    /// Threads of this process waiting on each other's mutexes in a cycle
    /// (a deadlock inside the process), the first repeated at the end.
    pub thread_cycle: Option<Vec<ThreadRef>>,
}

/// A thread, named.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ThreadRef {
    /// Its TID.
    pub tid: i32,
    /// Its name.
    pub name: Bytes,
}

/// The answer.
#[derive(Debug, Clone, Serialize)]
pub struct Why {
    /// The process asked about.
    pub target: i32,
    /// Every process visited, the target first, in the order followed.
    pub processes: Vec<Process>,
    /// A cycle of processes waiting on each other (a deadlock), when found:
    /// the PIDs in order, the first repeated at the end.
    pub cycle: Option<Vec<i32>>,
    /// The chain from the target to where it ends, as PIDs.
    pub chain: Vec<i32>,
}

/// What one `why` run looks up once and shares along the chain.
#[derive(Default)]
struct Shared {
    /// The FUSE daemons (holders of /dev/fuse).
    fuse: Option<Vec<Who>>,
    /// Unwind sections of the files seen, for user stacks.
    ustack: std::sync::Arc<crate::ustack::Cache>,
}

/// At most this many processes are followed.
pub const MAX_PROCESSES: usize = 32;

/// Follows what `pid` waits for.
pub fn explain(root: &ProcRoot, pid: i32, session: &Session) -> Outcome<Why> {
    let mut processes: Vec<Process> = Vec::new();
    let mut index: HashMap<i32, usize> = HashMap::new();
    let mut queue = VecDeque::from([pid]);
    let mut shared = Shared::default();
    while let Some(p) = queue.pop_front() {
        if index.contains_key(&p) || processes.len() >= MAX_PROCESSES {
            continue;
        }
        let proc = match analyse(root, p, session, &mut shared) {
            Ok(x) => x,
            Err(f) if p == pid => return Err(f),
            Err(_) => continue,
        };
        for g in &proc.groups {
            queue.extend(g.waits_for.iter().copied());
        }
        index.insert(p, processes.len());
        processes.push(proc);
    }
    let edges: BTreeMap<i32, Vec<i32>> = processes
        .iter()
        .map(|p| {
            let mut next: Vec<i32> = p.groups.iter().flat_map(|g| g.waits_for.clone()).collect();
            next.sort_unstable();
            next.dedup();
            (p.pid, next)
        })
        .collect();
    let cycle = find_cycle(pid, &edges);
    let chain = chain_from(pid, &edges);
    Ok(Why {
        target: pid,
        processes,
        cycle,
        chain,
    })
}

/// A cycle reachable from `start` (depth-first, in PID order).
fn find_cycle(start: i32, edges: &BTreeMap<i32, Vec<i32>>) -> Option<Vec<i32>> {
    fn dfs(
        n: i32,
        edges: &BTreeMap<i32, Vec<i32>>,
        path: &mut Vec<i32>,
        done: &mut Vec<i32>,
    ) -> Option<Vec<i32>> {
        if let Some(i) = path.iter().position(|&p| p == n) {
            let mut c = path.get(i..).unwrap_or_default().to_vec();
            c.push(n);
            return Some(c);
        }
        if done.contains(&n) {
            return None;
        }
        path.push(n);
        for &m in edges.get(&n).map(Vec::as_slice).unwrap_or_default() {
            if let Some(c) = dfs(m, edges, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.push(n);
        None
    }
    dfs(start, edges, &mut Vec::new(), &mut Vec::new())
}

/// The first path from `start`, following the first edge of each process,
/// until a process that waits on nobody (or one already on the path).
fn chain_from(start: i32, edges: &BTreeMap<i32, Vec<i32>>) -> Vec<i32> {
    let mut chain = vec![start];
    let mut n = start;
    while let Some(&next) = edges.get(&n).and_then(|v| v.first()) {
        let seen = chain.contains(&next);
        chain.push(next);
        if seen || !edges.contains_key(&next) {
            break;
        }
        n = next;
    }
    chain
}

fn comm_of(root: &ProcRoot, pid: i32) -> Bytes {
    let mut b = Vec::new();
    root.process(pid)
        .and_then(|d| d.read(c"comm", &mut b, 4096))
        .map(|_| Bytes::from(procscope_parse::comm::parse(&b)))
        .unwrap_or_default()
}

fn who(p: &Peer) -> Who {
    Who {
        pid: p.pid,
        comm: p.comm.clone(),
        fd: Some(p.fd),
    }
}

/// The processes holding `/dev/fuse` (FUSE daemons), found once per run.
fn fuse_daemons(root: &ProcRoot, session: &Session) -> Vec<Who> {
    let mut v: Vec<Who> = crate::fdscan::scan(root, session, |l: &[u8]| l == b"/dev/fuse")
        .into_iter()
        .map(|h| Who {
            pid: h.pid,
            comm: comm_of(root, h.pid),
            fd: Some(h.fd),
        })
        .collect();
    v.dedup_by_key(|w| w.pid);
    v
}

/// The FUSE daemons that serve `mount_point`, as far as can be told: the
/// kernel does not say which /dev/fuse holder serves which mount, but a
/// daemon is nearly always started with its mount point as an argument
/// (`sshfs host: /mnt/x`, `rclone mount r: /mnt/r`). The holders whose
/// command line names it, when any do (read under the deadline: a daemon
/// can be hung too); else every holder.
fn daemons_for(
    root: &ProcRoot,
    session: &Session,
    shared: &mut Shared,
    mount_point: Option<&Bytes>,
) -> Vec<Who> {
    let all = shared
        .fuse
        .get_or_insert_with(|| fuse_daemons(root, session))
        .clone();
    let Some(mp) = mount_point.map(|m| m.as_slice().to_vec()) else {
        return all;
    };
    if all.len() < 2 {
        return all;
    }
    let named: Vec<Who> = all
        .iter()
        .filter(|d| {
            let Ok(dir) = root.process(d.pid) else {
                return false;
            };
            let mp = mp.clone();
            session
                .once(
                    Some(procscope_read::Target {
                        pid: d.pid,
                        start: None,
                    }),
                    move || crate::listing::read_cmdline(&dir, 64 * 1024),
                )
                .is_ok_and(|c| names_mount(&c.raw, &mp))
        })
        .cloned()
        .collect();
    if named.is_empty() { all } else { named }
}

/// True when an argument of `cmdline` is `mp`, or a relative path that
/// ends it (`fuse-hang mnt` run in the mount's parent).
fn names_mount(cmdline: &[u8], mp: &[u8]) -> bool {
    let mp = mp.strip_suffix(b"/").unwrap_or(mp);
    cmdline.split(|b| *b == 0).any(|a| {
        let a = a.strip_suffix(b"/").unwrap_or(a);
        !a.is_empty()
            && (a == mp
                || (!a.starts_with(b"/")
                    && mp.ends_with(a)
                    && mp.len() > a.len()
                    && mp.get(mp.len() - a.len() - 1) == Some(&b'/')))
    })
}

fn children_of(root: &ProcRoot, pid: i32) -> Vec<Who> {
    crate::kin::children(root, pid)
        .unwrap_or_default()
        .into_iter()
        .map(|c| Who {
            pid: c,
            comm: comm_of(root, c),
            fd: None,
        })
        .collect()
}

fn analyse(root: &ProcRoot, pid: i32, session: &Session, shared: &mut Shared) -> Outcome<Process> {
    let mut pt = threads::read(root, pid, session)?;
    // User frames say where in the program each thread waits; not for a
    // process whose memory lock is stuck (its memory cannot be read).
    if !crate::hung::memory_lock_stuck(&pt) {
        // Running threads are not stopped for this: only where the
        // waiting ones wait matters.
        crate::ustack::read(root, &mut pt, session, &shared.ustack, false);
    }
    let abi = pt.abi.as_ref().ok().copied();
    let thread_names: HashMap<i32, Bytes> =
        pt.threads.iter().map(|t| (t.tid, t.comm.clone())).collect();
    let mut groups: Vec<Group> = threads::group(&pt.threads)
        .into_iter()
        .filter_map(|idx| {
            let first = pt.threads.get(*idx.first()?)?;
            let tids = idx
                .iter()
                .filter_map(|&i| pt.threads.get(i).map(|t| t.tid))
                .collect();
            // The most recently run member: the group has waited at least that long.
            let idle = idx
                .iter()
                .map(|&i| pt.threads.get(i).and_then(|t| t.idle_ms))
                .collect::<Option<Vec<u64>>>()
                .and_then(|v| v.into_iter().min());
            let mut g = group(root, pid, &thread_names, first, tids, abi, session, shared);
            g.idle_ms = idle;
            Some(g)
        })
        .collect();
    memlock::waiters(&mut groups, pid, &pt.threads);
    // Groups that wait on other processes first, then by size.
    groups.sort_by_key(|g| (g.waits_for.is_empty(), std::cmp::Reverse(g.tids.len())));
    let owners: BTreeMap<i32, Vec<i32>> = pt
        .threads
        .iter()
        .filter_map(|t| Some((t.tid, vec![t.futex_owner?])))
        .collect();
    let thread_cycle = owners
        .keys()
        .find_map(|&t| find_cycle(t, &owners))
        .map(|c| {
            c.into_iter()
                .map(|tid| ThreadRef {
                    tid,
                    name: thread_names.get(&tid).cloned().unwrap_or_default(),
                })
                .collect()
        });
    Ok(Process {
        pid,
        comm: pt.comm,
        groups,
        thread_cycle,
    })
}

/// The fds a call waits on, with who is at their other ends, looked for
/// outward from the process ([`crate::fds::PeerScope::Near`]: its relatives
/// first, the host only when the kernel says an end is held by none of
/// them).
fn fd_entries(root: &ProcRoot, pid: i32, fds: &[i32], session: &Session) -> Vec<FdEntry> {
    if fds.is_empty() {
        return Vec::new();
    }
    let Ok(dir) = root.process(pid) else {
        return Vec::new();
    };
    let Ok(mut v) = crate::fds::read(&dir, fds) else {
        return Vec::new();
    };
    crate::fds::resolve_peers(root, pid, &mut v, session);
    v
}

#[allow(clippy::too_many_arguments)]
fn group(
    root: &ProcRoot,
    pid: i32,
    thread_names: &HashMap<i32, Bytes>,
    t: &ThreadInfo,
    tids: Vec<i32>,
    abi: Option<Abi>,
    session: &Session,
    shared: &mut Shared,
) -> Group {
    let state = t.state.as_ref().ok().copied();
    let (letter, meaning) = state.map_or(('?', "unknown"), |s| (s.letter(), s.meaning()));
    let wchan = t.wchan.as_ref().ok().cloned().flatten();
    let kernel = || Wait::Kernel {
        cause: crate::hung::thread_cause(t),
    };
    let mut call = None;
    let wait = match (state, &t.syscall) {
        (Some(TaskState::Zombie | TaskState::Dead), _) => Wait::Zombie,
        (Some(TaskState::Stopped), _) => Wait::Stopped,
        (Some(TaskState::TracingStop), _) => Wait::Traced,
        (Some(TaskState::Running), _) | (_, Ok(SyscallState::Running)) => Wait::Running,
        (_, Err(f)) => match state {
            Some(TaskState::DiskSleep) => kernel(),
            _ if matches!(f, procscope_read::Failure::Absent { .. }) => Wait::Kernel {
                cause: crate::hung::Cause::IdleKernelThread,
            },
            _ => Wait::Unknown { reason: f.clone() },
        },
        (_, Ok(SyscallState::Blocked { .. })) => kernel(),
        (_, Ok(SyscallState::InSyscall { nr, args, .. })) => {
            let name = abi.and_then(|a| a.name(*nr)).unwrap_or("?");
            let mem = t.call_memory.as_ref();
            let entries = fd_entries(root, pid, &crate::calls::fds_in(name, args, mem), session);
            let entry = crate::calls::fd_arg(name, args)
                .and_then(|fd| entries.iter().find(|e| e.fd == fd))
                .cloned();
            call = Some(Call {
                name,
                args: *args,
                memory: mem.cloned(),
                fds: entries.clone(),
            });
            match classify(
                root,
                pid,
                name,
                args,
                entry.as_ref(),
                state,
                &kernel,
                session,
                shared,
            ) {
                Wait::Sleep { .. } => Wait::Sleep {
                    wakes_in_ms: t.wakes_in_ms(),
                },
                Wait::Futex { addr } => match t.futex_owner {
                    Some(owner) => Wait::Mutex {
                        addr,
                        owner,
                        owner_name: thread_names.get(&owner).cloned().unwrap_or_default(),
                    },
                    None => Wait::Futex { addr },
                },
                w => w,
            }
        }
    };
    let wait = match wait {
        Wait::Kernel {
            cause: crate::hung::Cause::MemoryLockHolder,
        } => memlock::holder(root, pid, call.as_ref(), session, shared),
        w => w,
    };
    let waits_for: Vec<i32> = {
        let mut v: Vec<i32> = match &wait {
            Wait::Pipe { other_end, .. } | Wait::Socket { other_end, .. } => {
                other_end.iter().map(|w| w.pid).collect()
            }
            Wait::Lock { holders, .. } => holders.iter().map(|w| w.pid).collect(),
            // The kernel does not say which /dev/fuse holder serves which
            // mount: followed only when there is one.
            Wait::File { daemons, .. } if daemons.len() == 1 => {
                daemons.iter().map(|w| w.pid).collect()
            }
            Wait::Children { children } => children.iter().map(|w| w.pid).collect(),
            Wait::MemoryLockHolder { daemons, .. } if daemons.len() == 1 => {
                daemons.iter().map(|w| w.pid).collect()
            }
            _ => Vec::new(),
        };
        v.retain(|p| *p != pid);
        v.sort_unstable();
        v.dedup();
        v
    };
    Group {
        tids,
        state: letter,
        meaning,
        call,
        wchan,
        idle_ms: None,
        wait,
        waits_for,
        place: t
            .user
            .as_ref()
            .and_then(|u| u.as_ref().ok())
            .and_then(|u| u.caller())
            .cloned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycles_and_chains() {
        let e: BTreeMap<i32, Vec<i32>> = [(1, vec![2]), (2, vec![3]), (3, vec![1])].into();
        assert_eq!(find_cycle(1, &e), Some(vec![1, 2, 3, 1]));
        let e: BTreeMap<i32, Vec<i32>> = [(1, vec![2]), (2, vec![3]), (3, vec![])].into();
        assert_eq!(find_cycle(1, &e), None);
        assert_eq!(chain_from(1, &e), vec![1, 2, 3]);
        let e: BTreeMap<i32, Vec<i32>> = [(1, vec![2, 5]), (2, vec![]), (5, vec![5])].into();
        assert_eq!(find_cycle(1, &e), Some(vec![5, 5]));
        assert_eq!(chain_from(1, &e), vec![1, 2]);
        let e: BTreeMap<i32, Vec<i32>> = [(1, vec![2]), (2, vec![1])].into();
        assert_eq!(chain_from(1, &e), vec![1, 2, 1]);
    }
}

#[cfg(test)]
mod mount_tests {
    use super::names_mount;

    #[test]
    fn a_daemon_names_its_mount_point() {
        assert!(names_mount(b"sshfs\0host:\0/mnt/x\0", b"/mnt/x"));
        assert!(names_mount(b"sshfs\0host:\0/mnt/x/\0", b"/mnt/x"));
        assert!(names_mount(b"fuse-hang\0x\0", b"/mnt/x"));
        assert!(!names_mount(b"fuse-hang\0/mnt/xy\0", b"/mnt/x"));
        assert!(!names_mount(b"fuse-hang\0nt/x2\0", b"/mnt/x"));
        assert!(!names_mount(b"fuse-hang\0t/x\0", b"/mnt/x"));
        assert!(!names_mount(b"\0\0", b"/mnt/x"));
    }
}

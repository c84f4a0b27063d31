//! What a thread's system call waits for, from the call and the fd it is
//! about: a pipe, a socket, a lock, a file on a hanging filesystem, a
//! child, a futex, events, a sleep.

use super::{PipeEnd, Shared, Wait, Who, children_of, daemons_for, who};
use crate::bytes::Bytes;
use crate::fds::{AccessMode, Detail, FdEntry};
use procscope_parse::stat::TaskState;
use procscope_read::{ProcRoot, Session};

#[allow(clippy::too_many_arguments)]
pub(super) fn classify(
    root: &ProcRoot,
    pid: i32,
    name: &str,
    args: &[u64; 6],
    entry: Option<&FdEntry>,
    state: Option<TaskState>,
    kernel: &dyn Fn() -> Wait,
    session: &Session,
    shared: &mut Shared,
) -> Wait {
    let reading = matches!(
        name,
        "read" | "readv" | "pread64" | "preadv" | "preadv2" | "recvfrom" | "recvmsg" | "recvmmsg"
    );
    let writing = matches!(
        name,
        "write"
            | "writev"
            | "pwrite64"
            | "pwritev"
            | "pwritev2"
            | "sendto"
            | "sendmsg"
            | "sendmmsg"
            | "splice"
            | "sendfile"
    );
    let locking =
        name == "flock" || (name.starts_with("fcntl") && crate::calls::fcntl_waits(args[1]));
    match (entry, name) {
        (Some(e), _) if locking => {
            let path = match &e.detail {
                Detail::File { path, .. } => path.clone(),
                _ => Bytes::default(),
            };
            let holders = e
                .file_locks
                .iter()
                .filter(|l| !l.waiting && l.pid != i64::from(pid))
                .filter_map(|l| {
                    Some(Who {
                        pid: i32::try_from(l.pid).ok().filter(|p| *p > 0)?,
                        comm: l.comm.clone().unwrap_or_default(),
                        fd: None,
                    })
                })
                .collect();
            Wait::Lock {
                fd: e.fd,
                path,
                holders,
            }
        }
        (Some(e), _) if reading || writing => match &e.detail {
            Detail::Pipe { inode } | Detail::Fifo { inode, .. } => {
                // The other side of the end it waits at: writers of the
                // pipe it reads, readers of the pipe it writes.
                let want = if reading {
                    [AccessMode::Write, AccessMode::ReadWrite]
                } else {
                    [AccessMode::Read, AccessMode::ReadWrite]
                };
                let other_end = e
                    .peers
                    .iter()
                    .filter(|p| p.mode.is_some_and(|m| want.contains(&m)))
                    .map(who)
                    .collect();
                Wait::Pipe {
                    fd: e.fd,
                    inode: *inode,
                    end: if reading {
                        PipeEnd::Read
                    } else {
                        PipeEnd::Write
                    },
                    other_end,
                }
            }
            Detail::Socket { .. } => Wait::Socket {
                fd: e.fd,
                entry: Box::new(e.clone()),
                other_end: e.other_end.iter().map(who).collect(),
            },
            Detail::File {
                path,
                mount_point,
                fs_type,
                ..
            } => {
                let remote = fs_type
                    .as_ref()
                    .is_some_and(|t| procscope_parse::mountinfo::may_hang(t.as_slice()));
                // procfs answers from memory: a wait on /proc/PID/mem,
                // cmdline or environ is a wait for that process's memory
                // (its lock, or a page fault in its mappings), which the
                // kernel frames tell.
                let procfs = fs_type.as_ref().is_some_and(|t| t.as_slice() == b"proc");
                if procfs {
                    kernel()
                } else if remote || state == Some(TaskState::DiskSleep) {
                    let is_fuse = fs_type
                        .as_ref()
                        .is_some_and(|t| t.as_slice().starts_with(b"fuse"));
                    let daemons = if is_fuse {
                        daemons_for(root, session, shared, mount_point.as_ref())
                    } else {
                        Vec::new()
                    };
                    Wait::File {
                        fd: e.fd,
                        path: path.clone(),
                        mount_point: mount_point.clone(),
                        fs_type: fs_type.clone(),
                        daemons,
                    }
                } else {
                    Wait::Other
                }
            }
            _ => Wait::Other,
        },
        (_, "wait4" | "waitid" | "waitpid") => Wait::Children {
            children: children_of(root, pid),
        },
        (_, "vfork" | "clone" | "clone3") if state == Some(TaskState::DiskSleep) => {
            Wait::Children {
                children: children_of(root, pid),
            }
        }
        (_, "futex" | "futex_time64" | "futex_waitv") => Wait::Futex { addr: args[0] },
        (
            _,
            "epoll_wait" | "epoll_pwait" | "epoll_pwait2" | "poll" | "ppoll" | "select"
            | "pselect6" | "io_getevents" | "io_uring_enter",
        ) => Wait::Events,
        (
            _,
            "nanosleep"
            | "clock_nanosleep"
            | "clock_nanosleep_time64"
            | "pause"
            | "rt_sigsuspend"
            | "rt_sigtimedwait"
            | "sigsuspend",
        ) => Wait::Sleep { wakes_in_ms: None },
        (_, "accept" | "accept4") => Wait::Accept,
        _ if state == Some(TaskState::DiskSleep) => kernel(),
        _ => Wait::Other,
    }
}

//! What the kernel itself knows about the other end of a process's pipes
//! and unix sockets, asked of duplicates made with `pidfd_getfd(2)` (5.6+;
//! ptrace attach rights):
//!
//! - a pipe end polls `POLLHUP` when no writer is left (read end) and
//!   `POLLERR` when no reader is left (write end) — `pipe_poll()` in
//!   fs/pipe.c. That says whether anybody holds the other side, without
//!   looking at any other process;
//! - a unix socket's `SO_PEERCRED` names the process that created its peer
//!   (the connecting or listening process, or the creator of a
//!   socketpair), translated into procscope's PID namespace.
//!
//! Together they let `fds PID` look for the other ends among a few likely
//! processes first, and search the whole host only when the kernel says
//! an end is held by somebody those did not include.
//!
//! The target decides what its fd numbers are: between listing fd 5 as a
//! pipe and copying it, fd 5 can become a file on a FUSE filesystem whose
//! `close()` never returns, uninterruptibly. So the copies are made, checked
//! and asked only in a forked helper child ([`crate::helper`]), never in
//! procscope's own process.

use crate::helper::{Cursor, Reader};
use crate::{Failure, Outcome, ProcDir};
use rustix::fd::{AsFd, AsRawFd, OwnedFd};
use std::collections::HashMap;
use std::time::Duration;

/// What the kernel says about the other ends of some of a process's fds.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Ends {
    /// Per pipe fd: whether the other side (writers of a read end, readers
    /// of a write end) is still open anywhere. Absent: not asked, not a
    /// pipe any more, or opened for both reading and writing.
    pub pipe_other_side_open: HashMap<i32, bool>,
    /// Per unix socket fd: the PID in `SO_PEERCRED` (0 and unconnected
    /// sockets are left out).
    pub unix_peer_pid: HashMap<i32, i32>,
}

/// A `pidfd_open`/`pidfd_getfd` error as a failure (shared with
/// [`crate::sockinfo`]).
pub(crate) fn errno(e: rustix::io::Errno) -> Failure {
    match e {
        rustix::io::Errno::PERM | rustix::io::Errno::ACCESS => Failure::Denied {
            need: crate::Need::PtraceAttach,
        },
        rustix::io::Errno::NOSYS => Failure::Unsupported {
            what: "pidfd_getfd (Linux 5.6+)".into(),
        },
        e => Failure::from_errno(e, b"pidfd_getfd"),
    }
}

/// A pidfd of the process `dir`, for the helper child to copy fds through.
pub(crate) fn pidfd_of(dir: &ProcDir) -> Outcome<OwnedFd> {
    if !dir.is_live() {
        return Err(Failure::Unsupported {
            what: "a live /proc (this proc root is a fixture or a copy)".into(),
        });
    }
    let pid = rustix::process::Pid::from_raw(dir.pid()).ok_or(Failure::Gone)?;
    rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).map_err(errno)
}

/// What the helper child may copy: a pipe (or FIFO) end, or a socket.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Want {
    Pipe,
    Socket,
}

/// In the helper child only: copies the target's fd `fd` and returns the
/// copy's raw number when it still is the `want`ed kind of object with
/// `inode`; `Err(errno)` when the copy failed, `Ok(None)` when the fd is
/// now something else.
///
/// The kind is checked first, with calls that never reach a filesystem:
/// `F_GETPIPE_SZ` answers only for pipes and FIFOs (`get_pipe_info()`,
/// fs/pipe.c), `SO_TYPE` only for sockets. Only then is the inode compared
/// (`statx` on pipefs or sockfs, or on a FIFO's inode from the kernel's
/// cache). The copy is never closed here: the child's exit closes it.
pub(crate) fn copy_in_child(
    pidfd: &OwnedFd,
    fd: i32,
    inode: u64,
    want: Want,
) -> Result<Option<i32>, rustix::io::Errno> {
    let d =
        rustix::process::pidfd_getfd(pidfd.as_fd(), fd, rustix::process::PidfdGetfdFlags::empty())?;
    // Never dropped: closing a file here could block before the answer is
    // written. `_exit` closes it.
    let raw = rustix::fd::IntoRawFd::into_raw_fd(d);
    // SAFETY: `raw` is an fd this child owns until it exits.
    let b = unsafe { rustix::fd::BorrowedFd::borrow_raw(raw) };
    let kind_ok = match want {
        // SAFETY: F_GETPIPE_SZ takes no argument and only reads the pipe's
        // size; it fails with EBADF for anything that is not a pipe.
        Want::Pipe => (unsafe { libc::fcntl(raw, libc::F_GETPIPE_SZ) }) >= 0,
        Want::Socket => rustix::net::sockopt::socket_type(b).is_ok(),
    };
    if !kind_ok {
        return Ok(None);
    }
    Ok(same_inode(b, inode).then_some(raw))
}

/// Whether the duplicate still is the object with `inode` (the number may
/// have been reused). Only called once the copy is known to be a pipe or a
/// socket, whose inodes live in memory.
pub(crate) fn same_inode(dup: rustix::fd::BorrowedFd<'_>, inode: u64) -> bool {
    rustix::fs::statx(
        dup,
        "",
        rustix::fs::AtFlags::EMPTY_PATH | rustix::fs::AtFlags::STATX_DONT_SYNC,
        rustix::fs::StatxFlags::INO,
    )
    .is_ok_and(|st| st.stx_ino == inode)
}

/// `Some(open)` for a pipe end opened for reading or for writing only.
fn other_side_open(dup: rustix::fd::BorrowedFd<'_>) -> Option<bool> {
    let fl = rustix::fs::fcntl_getfl(dup).ok()?;
    let acc = fl & rustix::fs::OFlags::ACCMODE;
    let mut p = [rustix::event::PollFd::new(
        &dup,
        rustix::event::PollFlags::empty(),
    )];
    let zero = rustix::time::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // A zero timeout: never waits.
    rustix::event::poll(&mut p, Some(&zero)).ok()?;
    let rev = p.first().map(|p| p.revents())?;
    // POLLHUP/POLLERR are reported whatever `events` asks for.
    if acc == rustix::fs::OFlags::RDONLY {
        // A FIFO opened for reading before any writer came does not poll
        // POLLHUP (fifo_open sets f_pipe = w_counter): "open" here then
        // only means "not known to be closed", which is what callers need.
        Some(!rev.contains(rustix::event::PollFlags::HUP))
    } else if acc == rustix::fs::OFlags::WRONLY {
        Some(!rev.contains(rustix::event::PollFlags::ERR))
    } else {
        None
    }
}

/// `SO_PEERCRED`'s PID, when there is one. (Not rustix's `socket_peercred`:
/// its `Pid` cannot be 0, which an unconnected socket reports.)
fn peer_pid(fd: rustix::fd::BorrowedFd<'_>) -> Option<i32> {
    let mut c = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = libc::socklen_t::try_from(std::mem::size_of::<libc::ucred>()).ok()?;
    // SAFETY: the buffer and its length are valid for the call.
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&raw mut c).cast(),
            &mut len,
        )
    };
    (r == 0 && c.pid > 0).then_some(c.pid)
}

/// One answer record: kind (0 pipe, 1 unix peer, 2 error), fd, value.
const RECORD: usize = 9;

/// Asks the process's pipe fds (`pipes`) and unix socket fds (`unix`),
/// each given with the inode it is expected to be, about their other ends.
/// An fd that was closed or now is something else is left out. Fails as a
/// whole when the process cannot be asked (not live, no rights, gone), or
/// when the helper did not answer within `timeout`.
///
/// The copies are made and asked in a forked helper ([`crate::helper`]):
/// the target decides what its fd numbers are, and closing a copy of a
/// file on a FUSE mount it serves could block procscope for good.
pub fn ends(
    dir: &ProcDir,
    pipes: &[(i32, u64)],
    unix: &[(i32, u64)],
    timeout: Duration,
) -> Outcome<Ends> {
    use crate::tape::{EndRecord, keep_per_fd, per_fd};
    let asked = || pipes.iter().chain(unix.iter()).copied();
    if let Some(rec) = dir.tape().and_then(|t| t.replayed()) {
        let got = per_fd(rec.ends.get(&dir.pid()), asked())?;
        let mut out = Ends::default();
        for (fd, e) in got {
            match e {
                EndRecord::Pipe(open) => {
                    out.pipe_other_side_open.insert(fd, open);
                }
                EndRecord::UnixPeer(p) => {
                    out.unix_peer_pid.insert(fd, p);
                }
            }
        }
        return Ok(out);
    }
    let r = ends_live(dir, pipes, unix, timeout);
    if let Some(t) = dir.tape() {
        let as_map = r.as_ref().map_err(Clone::clone).map(|e| {
            e.pipe_other_side_open
                .iter()
                .map(|(&fd, &o)| (fd, EndRecord::Pipe(o)))
                .chain(
                    e.unix_peer_pid
                        .iter()
                        .map(|(&fd, &p)| (fd, EndRecord::UnixPeer(p))),
                )
                .collect::<HashMap<_, _>>()
        });
        t.write(|rec| keep_per_fd(rec.ends.entry(dir.pid()).or_default(), asked(), &as_map));
    }
    r
}

fn ends_live(
    dir: &ProcDir,
    pipes: &[(i32, u64)],
    unix: &[(i32, u64)],
    timeout: Duration,
) -> Outcome<Ends> {
    let pidfd = pidfd_of(dir)?;
    let mut out = Ends::default();
    if pipes.is_empty() && unix.is_empty() {
        return Ok(out);
    }
    let cap = (pipes.len() + unix.len() + 1) * RECORD;
    let answer = crate::helper::in_child(timeout, &pidfd, cap, |buf| {
        let mut c = Cursor::new(buf);
        let mut rec = |kind: u8, fd: i32, v: i32| {
            // The buffer holds a record per fd: these always fit.
            c.put(&[kind]) && c.put(&fd.to_le_bytes()) && c.put(&v.to_le_bytes())
        };
        for (list, want) in [(pipes, Want::Pipe), (unix, Want::Socket)] {
            for &(fd, inode) in list {
                match copy_in_child(&pidfd, fd, inode, want) {
                    Ok(Some(raw)) => {
                        // SAFETY: the copy stays open until the child exits.
                        let b = unsafe { rustix::fd::BorrowedFd::borrow_raw(raw) };
                        match want {
                            Want::Pipe => {
                                if let Some(open) = other_side_open(b) {
                                    rec(0, fd, i32::from(open));
                                }
                            }
                            Want::Socket => {
                                if let Some(p) = peer_pid(b) {
                                    rec(1, fd, p);
                                }
                            }
                        }
                    }
                    Ok(None) | Err(rustix::io::Errno::BADF) => {} // closed or reused since
                    Err(e) => {
                        rec(2, fd, e.raw_os_error());
                        break;
                    }
                }
            }
        }
        c.len
    })?;
    let mut r = Reader::new(&answer);
    while let (Some([kind]), Some(fd), Some(v)) = (r.take::<1>(), r.take::<4>(), r.take::<4>()) {
        let (fd, v) = (i32::from_le_bytes(fd), i32::from_le_bytes(v));
        match kind {
            0 => {
                out.pipe_other_side_open.insert(fd, v != 0);
            }
            1 => {
                out.unix_peer_pid.insert(fd, v);
            }
            _ => return Err(errno(rustix::io::Errno::from_raw_os_error(v))),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    const T: Duration = Duration::from_secs(5);

    fn ino(fd: i32) -> u64 {
        std::fs::metadata(format!("/proc/self/fd/{fd}"))
            .unwrap()
            .ino()
    }

    #[test]
    fn pipes_say_whether_the_other_side_is_open() {
        let root = crate::ProcRoot::open("/proc").unwrap();
        let me = root.process(root.own_pid()).unwrap();
        let (r, w) = rustix::pipe::pipe().unwrap();
        let (rf, wf) = (r.as_raw_fd(), w.as_raw_fd());
        let got = ends(&me, &[(rf, ino(rf)), (wf, ino(wf))], &[], T).unwrap();
        assert_eq!(got.pipe_other_side_open.get(&rf), Some(&true));
        assert_eq!(got.pipe_other_side_open.get(&wf), Some(&true));
        let ri = ino(rf);
        assert_eq!(ri, ino(wf), "both ends are one pipe inode");
        drop(w);
        let got = ends(&me, &[(rf, ri)], &[], T).unwrap();
        assert_eq!(got.pipe_other_side_open.get(&rf), Some(&false));
        let (r2, w2) = rustix::pipe::pipe().unwrap();
        let wf2 = w2.as_raw_fd();
        let wi2 = ino(wf2);
        drop(r2);
        // A wrong inode: the fd is not the object asked about, left out.
        let got = ends(&me, &[(wf2, wi2), (rf, ri + 1)], &[], T).unwrap();
        assert_eq!(got.pipe_other_side_open.get(&wf2), Some(&false));
        assert_eq!(got.pipe_other_side_open.get(&rf), None);
    }

    #[test]
    fn unix_sockets_name_the_peer_process() {
        let root = crate::ProcRoot::open("/proc").unwrap();
        let me = root.process(root.own_pid()).unwrap();
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let af = a.as_raw_fd();
        let lone = std::os::unix::net::UnixDatagram::unbound().unwrap();
        let lf = lone.as_raw_fd();
        let got = ends(&me, &[], &[(af, ino(af)), (lf, ino(lf))], T).unwrap();
        assert_eq!(
            got.unix_peer_pid.get(&af),
            Some(&(std::process::id() as i32))
        );
        assert_eq!(got.unix_peer_pid.get(&lf), None);
    }
}

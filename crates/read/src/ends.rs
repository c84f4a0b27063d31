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
//! Like [`crate::sockinfo`], an fd number can be reused between listing it
//! and duplicating it (by a file on a hung filesystem, whose close would
//! block): callers run this under the deadline guard.

use crate::{Failure, Outcome, ProcDir};
use rustix::fd::{AsFd, AsRawFd, OwnedFd};
use std::collections::HashMap;

/// What the kernel says about the other ends of some of a process's fds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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

/// Whether the duplicate still is the object with `inode` (the number may
/// have been reused; a file on a FUSE mount must answer from its cache).
pub(crate) fn same_inode(dup: &OwnedFd, inode: u64) -> bool {
    rustix::fs::statx(
        dup,
        "",
        rustix::fs::AtFlags::EMPTY_PATH | rustix::fs::AtFlags::STATX_DONT_SYNC,
        rustix::fs::StatxFlags::INO,
    )
    .is_ok_and(|st| st.stx_ino == inode)
}

/// `Some(open)` for a pipe end opened for reading or for writing only.
fn other_side_open(dup: &OwnedFd) -> Option<bool> {
    let fl = rustix::fs::fcntl_getfl(dup).ok()?;
    let acc = fl & rustix::fs::OFlags::ACCMODE;
    let mut p = libc::pollfd {
        fd: dup.as_raw_fd(),
        events: 0,
        revents: 0,
    };
    // SAFETY: one valid pollfd, zero timeout (never waits).
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    if n < 0 {
        return None;
    }
    // POLLHUP/POLLERR are reported whatever `events` asks for.
    if acc == rustix::fs::OFlags::RDONLY {
        // A FIFO opened for reading before any writer came does not poll
        // POLLHUP (fifo_open sets f_pipe = w_counter): "open" here then
        // only means "not known to be closed", which is what callers need.
        Some(p.revents & libc::POLLHUP == 0)
    } else if acc == rustix::fs::OFlags::WRONLY {
        Some(p.revents & libc::POLLERR == 0)
    } else {
        None
    }
}

/// `SO_PEERCRED`'s PID, when there is one. (Not rustix's `socket_peercred`:
/// its `Pid` cannot be 0, which an unconnected socket reports.)
fn peer_pid(fd: &OwnedFd) -> Option<i32> {
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

/// Asks the process's pipe fds (`pipes`) and unix socket fds (`unix`),
/// each given with the inode it is expected to be, about their other ends.
/// An fd that was closed or now is something else is left out. Fails as a
/// whole when the process cannot be asked (not live, no rights, gone).
pub fn ends(dir: &ProcDir, pipes: &[(i32, u64)], unix: &[(i32, u64)]) -> Outcome<Ends> {
    if !dir.is_live() {
        return Err(Failure::Unsupported {
            what: "a live /proc (this proc root is a fixture or a copy)".into(),
        });
    }
    let mut out = Ends::default();
    if pipes.is_empty() && unix.is_empty() {
        return Ok(out);
    }
    let pid = rustix::process::Pid::from_raw(dir.pid()).ok_or(Failure::Gone)?;
    let pidfd =
        rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).map_err(errno)?;
    let dup = |fd: i32, inode: u64| -> Outcome<Option<OwnedFd>> {
        match rustix::process::pidfd_getfd(
            pidfd.as_fd(),
            fd,
            rustix::process::PidfdGetfdFlags::empty(),
        ) {
            Ok(d) => Ok(same_inode(&d, inode).then_some(d)),
            Err(rustix::io::Errno::BADF) => Ok(None), // closed since
            Err(e) => Err(errno(e)),
        }
    };
    for &(fd, inode) in pipes {
        if let Some(d) = dup(fd, inode)? {
            if let Some(open) = other_side_open(&d) {
                out.pipe_other_side_open.insert(fd, open);
            }
        }
    }
    for &(fd, inode) in unix {
        if let Some(d) = dup(fd, inode)? {
            if let Some(p) = peer_pid(&d) {
                out.unix_peer_pid.insert(fd, p);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

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
        let got = ends(&me, &[(rf, ino(rf)), (wf, ino(wf))], &[]).unwrap();
        assert_eq!(got.pipe_other_side_open.get(&rf), Some(&true));
        assert_eq!(got.pipe_other_side_open.get(&wf), Some(&true));
        let ri = ino(rf);
        assert_eq!(ri, ino(wf), "both ends are one pipe inode");
        drop(w);
        let got = ends(&me, &[(rf, ri)], &[]).unwrap();
        assert_eq!(got.pipe_other_side_open.get(&rf), Some(&false));
        let (r2, w2) = rustix::pipe::pipe().unwrap();
        let wf2 = w2.as_raw_fd();
        let wi2 = ino(wf2);
        drop(r2);
        // A wrong inode: the fd is not the object asked about, left out.
        let got = ends(&me, &[(wf2, wi2), (rf, ri + 1)], &[]).unwrap();
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
        let got = ends(&me, &[], &[(af, ino(af)), (lf, ino(lf))]).unwrap();
        assert_eq!(
            got.unix_peer_pid.get(&af),
            Some(&(std::process::id() as i32))
        );
        assert_eq!(got.unix_peer_pid.get(&lf), None);
    }
}

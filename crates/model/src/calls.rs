//! The facts of a blocked system call that the model needs: which of its
//! arguments are file descriptors (to resolve them), which fds poll and
//! select wait on (from [`crate::callmem`]), whether an fcntl waits for a
//! lock. The words (`read(fd 5 → pipe:[123] read end, 4096 bytes)`) are
//! `procscope_render::calls`.

use crate::callmem::CallMemory;

/// How one argument is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg {
    /// A file descriptor.
    Fd,
    /// A timeout in milliseconds (negative: forever).
    TimeoutMs,
    /// A futex address.
    Addr,
    /// A futex operation.
    FutexOp,
    /// An fcntl command.
    FcntlCmd,
    /// An flock operation.
    FlockOp,
    /// A wait target (pid, -1 any child, 0 same group, < -1 group).
    WaitPid,
    /// A byte count.
    Count,
    /// A `clockid_t`.
    Clock,
    /// clock_nanosleep flags (`TIMER_ABSTIME`).
    TimerFlags,
    /// Not shown.
    Skip,
}

/// The shown arguments of the system calls people find processes stuck in.
pub fn signature(name: &str) -> &'static [Arg] {
    use Arg::*;
    match name {
        "read" | "write" | "pread64" | "pwrite64" | "recvfrom" | "sendto" => &[Fd, Skip, Count],
        "readv" | "writev" | "preadv" | "pwritev" | "preadv2" | "pwritev2" | "recvmsg"
        | "sendmsg" | "recvmmsg" | "sendmmsg" | "accept" | "accept4" | "connect" | "fsync"
        | "fdatasync" | "getdents64" | "ioctl" | "splice" | "sendfile" | "lseek" | "ftruncate"
        | "fallocate" | "syncfs" => &[Fd],
        "flock" => &[Fd, FlockOp],
        "fcntl" | "fcntl64" => &[Fd, FcntlCmd],
        "epoll_wait" | "epoll_pwait" => &[Fd, Skip, Skip, TimeoutMs],
        "epoll_pwait2" => &[Fd],
        "futex" | "futex_time64" => &[Addr, FutexOp],
        "wait4" | "waitpid" => &[WaitPid],
        "clock_nanosleep" | "clock_nanosleep_time64" => &[Clock, TimerFlags],
        _ => &[],
    }
}

/// True for an fcntl command that waits for a lock.
pub fn fcntl_waits(cmd: u64) -> bool {
    matches!(cmd, 7 | 38)
}

/// A register as the C `int` it holds.
pub fn as_int(v: u64) -> i64 {
    i64::from(i32::from_ne_bytes((v as u32).to_ne_bytes()))
}

/// The first argument when the call takes a file descriptor first.
pub fn fd_arg(name: &str, args: &[u64; 6]) -> Option<i32> {
    (signature(name).first() == Some(&Arg::Fd))
        .then(|| i32::try_from(as_int(args[0])).ok())
        .flatten()
        .filter(|fd| *fd >= 0)
}

/// Every fd a blocked call waits on: its fd argument, the fds it polls and
/// the fds of its select sets (in that order, without repeats).
pub fn fds_in(name: &str, args: &[u64; 6], mem: Option<&CallMemory>) -> Vec<i32> {
    let mut v: Vec<i32> = fd_arg(name, args).into_iter().collect();
    if let Some(m) = mem {
        let polled = m.polled.iter().flatten().map(|p| p.fd);
        let sets = [&m.read_fds, &m.write_fds, &m.except_fds]
            .into_iter()
            .flatten()
            .flatten()
            .copied();
        for fd in polled.chain(sets).filter(|fd| *fd >= 0) {
            if !v.contains(&fd) {
                v.push(fd);
            }
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::callmem::{Polled, Timeout};

    #[test]
    fn fd_arguments_and_the_fds_a_call_waits_on() {
        assert_eq!(fd_arg("write", &[1, 0, 0, 0, 0, 0]), Some(1));
        assert_eq!(fd_arg("futex", &[1, 0, 0, 0, 0, 0]), None);
        assert_eq!(fd_arg("read", &[u64::MAX, 0, 0, 0, 0, 0]), None);
        assert!(fcntl_waits(7) && fcntl_waits(38) && !fcntl_waits(6));
        let polled = |fd| Polled { fd, events: 1 };
        let mem = CallMemory {
            polled: Some(vec![polled(3), polled(9), polled(-1)]),
            timeout: Some(Timeout::Never),
            ..CallMemory::default()
        };
        let sel = CallMemory {
            read_fds: Some(vec![3, 5]),
            write_fds: Some(vec![]),
            except_fds: Some(vec![5]),
            ..CallMemory::default()
        };
        assert_eq!(fds_in("ppoll", &[0; 6], Some(&mem)), [3, 9]);
        assert_eq!(fds_in("pselect6", &[0; 6], Some(&sel)), [3, 5]);
        assert_eq!(fds_in("epoll_wait", &[4, 0, 0, 0, 0, 0], None), [4]);
    }
}

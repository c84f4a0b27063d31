//! A blocked system call described for people: its name in the task's ABI
//! and the arguments that can be read from registers alone — file
//! descriptors (resolved by the caller to what they are), timeouts in
//! milliseconds, futex addresses and operations, lock commands, wait
//! targets. Pointers' contents are not read (that needs ptrace).

use procscope_parse::decode;

/// How one argument is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arg {
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
    /// A number of fds.
    Nfds,
    /// A `clockid_t`.
    Clock,
    /// clock_nanosleep flags (`TIMER_ABSTIME`).
    TimerFlags,
    /// Not shown.
    Skip,
}

/// The shown arguments of the system calls people find processes stuck in.
fn signature(name: &str) -> &'static [Arg] {
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
        "poll" => &[Skip, Nfds, TimeoutMs],
        "futex" | "futex_time64" => &[Addr, FutexOp],
        "wait4" | "waitpid" => &[WaitPid],
        "clock_nanosleep" | "clock_nanosleep_time64" => &[Clock, TimerFlags],
        _ => &[],
    }
}

fn fcntl_cmd(v: u64) -> String {
    match v {
        5 => "F_GETLK".into(),
        6 => "F_SETLK".into(),
        7 => "F_SETLKW".into(),
        36 => "F_OFD_GETLK".into(),
        37 => "F_OFD_SETLK".into(),
        38 => "F_OFD_SETLKW".into(),
        n => format!("cmd {n}"),
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

/// `name(arg, …)` with what registers say; `fd` describes a file
/// descriptor of the task's process (`fd 5 → pipe:[123] …`).
pub fn describe(name: &str, args: &[u64; 6], fd: &dyn Fn(i32) -> Option<String>) -> String {
    let sig = signature(name);
    if sig.is_empty() {
        return format!("{name}()");
    }
    let parts: Vec<String> = sig
        .iter()
        .zip(args.iter())
        .filter(|(a, _)| **a != Arg::Skip)
        .map(|(a, &v)| match a {
            Arg::Fd => {
                let n = as_int(v);
                match i32::try_from(n).ok().and_then(fd) {
                    Some(d) => format!("fd {n} → {d}"),
                    None => format!("fd {n}"),
                }
            }
            Arg::TimeoutMs => match as_int(v) {
                t if t < 0 => "no timeout".into(),
                0 => "timeout 0".into(),
                t => format!("timeout {}", crate::calls::ms(t.unsigned_abs())),
            },
            Arg::Addr => format!("{v:#x}"),
            Arg::FutexOp => decode::futex_op(v),
            Arg::FcntlCmd => fcntl_cmd(v),
            Arg::FlockOp => decode::bits(v & 0xffff_ffff, decode::FLOCK_OPS),
            Arg::WaitPid => match as_int(v) {
                -1 => "any child".into(),
                0 => "any child in its process group".into(),
                p if p < -1 => format!("any child in process group {}", -p),
                p => format!("child {p}"),
            },
            Arg::Count => format!("{v} bytes"),
            Arg::Nfds => format!("{v} fds"),
            Arg::Clock => match v {
                0 => "CLOCK_REALTIME".into(),
                1 => "CLOCK_MONOTONIC".into(),
                7 => "CLOCK_BOOTTIME".into(),
                n => format!("clock {n}"),
            },
            Arg::TimerFlags => match v & 0xffff_ffff {
                0 => "relative".into(),
                f => decode::bits(f, decode::TIMER_FLAGS),
            },
            Arg::Skip => String::new(),
        })
        .collect();
    format!("{name}({})", parts.join(", "))
}

/// `250 ms`, `3.5 s`, `2 min`.
pub fn ms(v: u64) -> String {
    if v < 1000 {
        format!("{v} ms")
    } else if v < 120_000 {
        let tenths = v / 100;
        format!("{}.{} s", tenths / 10, tenths % 10)
    } else {
        format!("{} min", v / 60_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_decoded_from_registers() {
        let none = |_: i32| None;
        let pipe = |fd: i32| (fd == 5).then(|| "pipe:[123] read end".to_string());
        assert_eq!(
            describe("read", &[5, 0x7ffd, 4096, 0, 0, 0], &pipe),
            "read(fd 5 → pipe:[123] read end, 4096 bytes)"
        );
        assert_eq!(
            describe("flock", &[9, 2, 0, 0, 0, 0], &none),
            "flock(fd 9, LOCK_EX)"
        );
        assert_eq!(
            describe("fcntl", &[3, 7, 0x7f, 0, 0, 0], &none),
            "fcntl(fd 3, F_SETLKW)"
        );
        assert_eq!(
            describe("futex", &[0x55d0_1234, 0x80, 0, 0, 0, 0], &none),
            "futex(0x55d01234, FUTEX_WAIT_PRIVATE)"
        );
        assert_eq!(
            describe("futex", &[0x7f00_0010, 0x189, 0, 0, 0, u64::MAX], &none),
            "futex(0x7f000010, FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME)"
        );
        assert_eq!(
            describe("flock", &[9, 6, 0, 0, 0, 0], &none),
            "flock(fd 9, LOCK_EX|LOCK_NB)"
        );
        assert_eq!(
            describe("clock_nanosleep", &[0, 1, 0x7ff0, 0, 0, 0], &none),
            "clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME)"
        );
        assert_eq!(
            describe("clock_nanosleep", &[0, 3, 0x7ff0, 0, 0, 0], &none),
            "clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME|0x2)"
        );
        assert_eq!(
            describe("epoll_wait", &[4, 0x1, 16, 2500, 0, 0], &none),
            "epoll_wait(fd 4, timeout 2.5 s)"
        );
        assert_eq!(
            describe("epoll_wait", &[4, 0x1, 16, 0xffff_ffff, 0, 0], &none),
            "epoll_wait(fd 4, no timeout)"
        );
        assert_eq!(
            describe("wait4", &[u64::MAX, 0, 0, 0, 0, 0], &none),
            "wait4(any child)"
        );
        assert_eq!(
            describe("wait4", &[812, 0, 0, 0, 0, 0], &none),
            "wait4(child 812)"
        );
        assert_eq!(describe("nanosleep", &[0; 6], &none), "nanosleep()");
        assert_eq!(
            describe("clock_nanosleep", &[1, 0, 0x7ff0, 0, 0, 0], &none),
            "clock_nanosleep(CLOCK_MONOTONIC, relative)"
        );
        assert_eq!(fd_arg("write", &[1, 0, 0, 0, 0, 0]), Some(1));
        assert_eq!(fd_arg("futex", &[1, 0, 0, 0, 0, 0]), None);
        assert_eq!(fd_arg("read", &[u64::MAX, 0, 0, 0, 0, 0]), None);
        assert!(fcntl_waits(7) && fcntl_waits(38) && !fcntl_waits(6));
        assert_eq!(ms(120_000), "2 min");
    }
}

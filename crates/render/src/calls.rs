//! A blocked system call described for people: its name in the task's ABI
//! and its arguments — file descriptors (resolved by the caller to what
//! they are), timeouts in human units, futex addresses and operations, lock
//! commands, wait targets from the registers; the fds and events poll and
//! select wait on and timeouts given by pointer from the process's memory
//! when `procscope_model::callmem` could read them. Which arguments are
//! fds, and which fds a call waits on, are the model's
//! (`procscope_model::calls`); the words are here.

use procscope_model::callmem::{CallMemory, Timeout};
use procscope_model::calls::{Arg, as_int, signature};
use procscope_parse::decode;

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

/// At most this many polled or selected fds are named in a description.
const SHOWN_FDS: usize = 16;

/// `fd 5 → what it is`, or `fd 5`.
fn fd_text(n: i64, fd: &dyn Fn(i32) -> Option<String>) -> String {
    match i32::try_from(n).ok().and_then(fd) {
        Some(d) => format!("fd {n} → {d}"),
        None => format!("fd {n}"),
    }
}

/// A timeout in milliseconds as a register holds it (negative: none).
fn timeout_ms(v: u64) -> String {
    match as_int(v) {
        t if t < 0 => "no timeout".into(),
        0 => "timeout 0".into(),
        t => format!("timeout {}", ms(t.unsigned_abs())),
    }
}

/// A timeout given by pointer.
fn timeout_text(t: Timeout) -> String {
    match t {
        Timeout::Never => "no timeout".into(),
        Timeout::After { ns: 0 } => "timeout 0".into(),
        Timeout::After { ns } if ns < 1_000_000 => format!("timeout {} µs", ns.div_ceil(1000)),
        Timeout::After { ns } => format!("timeout {}", ms(ns / 1_000_000)),
    }
}

/// poll, ppoll, select, pselect6 and epoll_pwait2, whose fds and timeouts
/// are (partly) in memory.
fn waiting(
    name: &str,
    args: &[u64; 6],
    mem: Option<&CallMemory>,
    fd: &dyn Fn(i32) -> Option<String>,
) -> Option<String> {
    let mut parts = Vec::new();
    let mut shown = 0usize;
    let mut more = mem.map_or(0, |m| m.not_read);
    let mut push_fd = |parts: &mut Vec<String>, text: String| {
        if shown < SHOWN_FDS {
            parts.push(text);
            shown += 1;
        } else {
            more += 1;
        }
    };
    let mem_timeout = mem.and_then(|m| m.timeout).map(timeout_text);
    match name {
        "poll" | "ppoll" | "ppoll_time64" => {
            match mem.and_then(|m| m.polled.as_ref()) {
                Some(p) => {
                    for x in p {
                        let t = if x.fd < 0 {
                            format!("fd {} ignored", x.fd)
                        } else {
                            let d = fd(x.fd).map_or_else(String::new, |d| format!(" → {d}"));
                            let names = procscope_parse::decode::bits(
                                u64::from(x.events),
                                procscope_parse::decode::POLL_EVENTS,
                            );
                            format!("fd {} {names}{d}", x.fd)
                        };
                        push_fd(&mut parts, t);
                    }
                }
                None => parts.push(format!("{} fds", args[1] & 0xffff_ffff)),
            }
            if more > 0 {
                parts.push(format!("and {more} more fds"));
            }
            if name == "poll" {
                parts.push(timeout_ms(args[2]));
            } else {
                parts.extend(mem_timeout);
            }
        }
        "select" | "_newselect" | "pselect6" | "pselect6_time64" => {
            let sets = mem.map(|m| {
                [
                    ("read", &m.read_fds),
                    ("write", &m.write_fds),
                    ("except", &m.except_fds),
                ]
            });
            match sets {
                Some(sets) if sets.iter().any(|(_, s)| s.is_some()) => {
                    for (what, set) in sets {
                        for &f in set.iter().flatten() {
                            push_fd(&mut parts, format!("{what} {}", fd_text(i64::from(f), fd)));
                        }
                    }
                }
                _ => parts.push(format!("nfds {}", as_int(args[0]))),
            }
            if more > 0 {
                parts.push(format!("and {more} more fds"));
            }
            parts.extend(mem_timeout);
        }
        "epoll_pwait2" => {
            parts.push(fd_text(as_int(args[0]), fd));
            parts.extend(mem_timeout);
        }
        _ => return None,
    }
    Some(format!("{name}({})", parts.join(", ")))
}

/// `name(arg, …)` with what registers say, and what `mem` read from the
/// process's memory for poll and select; `fd` describes a file descriptor
/// of the task's process (`fd 5 → pipe:[123] …`).
pub fn describe(
    name: &str,
    args: &[u64; 6],
    mem: Option<&CallMemory>,
    fd: &dyn Fn(i32) -> Option<String>,
) -> String {
    if let Some(s) = waiting(name, args, mem, fd) {
        return s;
    }
    let sig = signature(name);
    if sig.is_empty() {
        return format!("{name}()");
    }
    let parts: Vec<String> = sig
        .iter()
        .zip(args.iter())
        .filter(|(a, _)| **a != Arg::Skip)
        .map(|(a, &v)| match a {
            Arg::Fd => fd_text(as_int(v), fd),
            Arg::TimeoutMs => timeout_ms(v),
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

    fn describe_(name: &str, args: &[u64; 6], fd: &dyn Fn(i32) -> Option<String>) -> String {
        describe(name, args, None, fd)
    }

    #[test]
    fn poll_select_and_epoll_with_what_memory_said() {
        use procscope_model::callmem::Polled;
        let fds = |fd: i32| match fd {
            3 => Some("pipe:[12] read end".to_string()),
            4 => Some("epoll watching fd 3 pipe:[12]".to_string()),
            _ => None,
        };
        let polled = |fd, events| Polled { fd, events };
        let mem = CallMemory {
            polled: Some(vec![polled(3, 1), polled(9, 3), polled(-1, 1)]),
            timeout: Some(Timeout::After {
                ns: 1_800_000_000_000,
            }),
            ..CallMemory::default()
        };
        assert_eq!(
            describe("ppoll", &[0x7f00, 3, 0x7f10, 0, 8, 0], Some(&mem), &fds),
            "ppoll(fd 3 POLLIN → pipe:[12] read end, fd 9 POLLIN|POLLPRI, fd -1 ignored, timeout 30 min)"
        );
        // poll's timeout is a register; unread memory: only the count.
        assert_eq!(
            describe("poll", &[0x7f00, 2, 2500, 0, 0, 0], None, &fds),
            "poll(2 fds, timeout 2.5 s)"
        );
        let many = CallMemory {
            polled: Some((0..20).map(|i| polled(100 + i, 1)).collect()),
            not_read: 10,
            ..CallMemory::default()
        };
        let s = describe("poll", &[0x7f00, 30, u64::MAX, 0, 0, 0], Some(&many), &fds);
        assert!(
            s.ends_with("fd 115 POLLIN, and 14 more fds, no timeout)"),
            "{s}"
        );
        let sel = CallMemory {
            read_fds: Some(vec![3, 5]),
            write_fds: Some(vec![]),
            except_fds: Some(vec![5]),
            timeout: Some(Timeout::After { ns: 500_000 }),
            ..CallMemory::default()
        };
        assert_eq!(
            describe("pselect6", &[6, 1, 0, 2, 3, 0], Some(&sel), &fds),
            "pselect6(read fd 3 → pipe:[12] read end, read fd 5, except fd 5, timeout 500 µs)"
        );
        assert_eq!(
            describe("select", &[6, 1, 0, 0, 0, 0], None, &fds),
            "select(nfds 6)"
        );
        let never = CallMemory {
            timeout: Some(Timeout::Never),
            ..CallMemory::default()
        };
        assert_eq!(
            describe(
                "epoll_pwait2",
                &[4, 0x7f00, 16, 0, 0, 0],
                Some(&never),
                &fds
            ),
            "epoll_pwait2(fd 4 → epoll watching fd 3 pipe:[12], no timeout)"
        );
        assert_eq!(
            describe("epoll_pwait", &[4, 0x7f00, 16, 60_000, 0, 8], None, &fds),
            "epoll_pwait(fd 4 → epoll watching fd 3 pipe:[12], timeout 60.0 s)"
        );
    }

    #[test]
    fn calls_are_decoded_from_registers() {
        let none = |_: i32| None;
        let pipe = |fd: i32| (fd == 5).then(|| "pipe:[123] read end".to_string());
        assert_eq!(
            describe_("read", &[5, 0x7ffd, 4096, 0, 0, 0], &pipe),
            "read(fd 5 → pipe:[123] read end, 4096 bytes)"
        );
        assert_eq!(
            describe_("flock", &[9, 2, 0, 0, 0, 0], &none),
            "flock(fd 9, LOCK_EX)"
        );
        assert_eq!(
            describe_("fcntl", &[3, 7, 0x7f, 0, 0, 0], &none),
            "fcntl(fd 3, F_SETLKW)"
        );
        assert_eq!(
            describe_("futex", &[0x55d0_1234, 0x80, 0, 0, 0, 0], &none),
            "futex(0x55d01234, FUTEX_WAIT_PRIVATE)"
        );
        assert_eq!(
            describe_("futex", &[0x7f00_0010, 0x189, 0, 0, 0, u64::MAX], &none),
            "futex(0x7f000010, FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME)"
        );
        assert_eq!(
            describe_("flock", &[9, 6, 0, 0, 0, 0], &none),
            "flock(fd 9, LOCK_EX|LOCK_NB)"
        );
        assert_eq!(
            describe_("clock_nanosleep", &[0, 1, 0x7ff0, 0, 0, 0], &none),
            "clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME)"
        );
        assert_eq!(
            describe_("clock_nanosleep", &[0, 3, 0x7ff0, 0, 0, 0], &none),
            "clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME|0x2)"
        );
        assert_eq!(
            describe_("epoll_wait", &[4, 0x1, 16, 2500, 0, 0], &none),
            "epoll_wait(fd 4, timeout 2.5 s)"
        );
        assert_eq!(
            describe_("epoll_wait", &[4, 0x1, 16, 0xffff_ffff, 0, 0], &none),
            "epoll_wait(fd 4, no timeout)"
        );
        assert_eq!(
            describe_("wait4", &[u64::MAX, 0, 0, 0, 0, 0], &none),
            "wait4(any child)"
        );
        assert_eq!(
            describe_("wait4", &[812, 0, 0, 0, 0, 0], &none),
            "wait4(child 812)"
        );
        assert_eq!(describe_("nanosleep", &[0; 6], &none), "nanosleep()");
        assert_eq!(
            describe_("clock_nanosleep", &[1, 0, 0x7ff0, 0, 0, 0], &none),
            "clock_nanosleep(CLOCK_MONOTONIC, relative)"
        );
        assert_eq!(ms(120_000), "2 min");
    }
}

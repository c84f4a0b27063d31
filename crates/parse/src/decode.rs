//! Numbers from /proc as names: open flags, epoll events, inotify masks,
//! signals. The values are the x86_64 / generic Linux ABI
//! (include/uapi/asm-generic/fcntl.h, uapi/linux/eventpoll.h,
//! uapi/linux/inotify.h, asm-generic/signal.h).

/// `O_*` bits of fdinfo's `flags:` (octal there), as the generic ABI
/// defines them. The access mode (the low two bits) is decoded separately.
pub const OPEN_FLAGS: &[(u64, &str)] = &[
    (0o100, "O_CREAT"),
    (0o200, "O_EXCL"),
    (0o400, "O_NOCTTY"),
    (0o1000, "O_TRUNC"),
    (0o2000, "O_APPEND"),
    (0o4000, "O_NONBLOCK"),
    (0o10000, "O_DSYNC"),
    (0o20000, "O_ASYNC"),
    (0o40000, "O_DIRECT"),
    (0o100000, "O_LARGEFILE"),
    (0o200000, "O_DIRECTORY"),
    (0o400000, "O_NOFOLLOW"),
    (0o1000000, "O_NOATIME"),
    (0o2000000, "O_CLOEXEC"),
    (0o4000000, "__O_SYNC"),
    (0o10000000, "O_PATH"),
    (0o20000000, "__O_TMPFILE"),
];

/// The access mode: `r`, `w`, `rw`, or `?` for the invalid 3.
pub fn access_mode(flags: u64) -> &'static str {
    match flags & 3 {
        0 => "r",
        1 => "w",
        2 => "rw",
        _ => "?",
    }
}

/// `O_RDONLY|O_CLOEXEC`-style names of `flags`; unknown bits as hex.
pub fn open_flags(flags: u64) -> Vec<String> {
    let mode = match flags & 3 {
        0 => "O_RDONLY",
        1 => "O_WRONLY",
        2 => "O_RDWR",
        _ => "O_ACCMODE",
    };
    let mut out = vec![mode.to_string()];
    let mut rest = flags & !3;
    // __O_SYNC is O_SYNC together with O_DSYNC.
    if rest & 0o4010000 == 0o4010000 {
        out.push("O_SYNC".into());
        rest &= !0o4010000;
    }
    for &(bit, name) in OPEN_FLAGS {
        if rest & bit != 0 {
            out.push(name.into());
            rest &= !bit;
        }
    }
    if rest != 0 {
        out.push(format!("{rest:#o}"));
    }
    out
}

/// `EPOLL*` event bits.
pub const EPOLL_EVENTS: &[(u64, &str)] = &[
    (0x001, "EPOLLIN"),
    (0x002, "EPOLLPRI"),
    (0x004, "EPOLLOUT"),
    (0x008, "EPOLLERR"),
    (0x010, "EPOLLHUP"),
    (0x020, "EPOLLNVAL"),
    (0x040, "EPOLLRDNORM"),
    (0x080, "EPOLLRDBAND"),
    (0x100, "EPOLLWRNORM"),
    (0x200, "EPOLLWRBAND"),
    (0x400, "EPOLLMSG"),
    (0x2000, "EPOLLRDHUP"),
    (1 << 25, "EPOLLURING_WAKE"),
    (1 << 27, "EPOLLEXCLUSIVE"),
    (1 << 28, "EPOLLWAKEUP"),
    (1 << 29, "EPOLLONESHOT"),
    (1 << 31, "EPOLLET"),
];

/// `POLL*` event bits of `struct pollfd` (include/uapi/asm-generic/poll.h).
pub const POLL_EVENTS: &[(u64, &str)] = &[
    (0x001, "POLLIN"),
    (0x002, "POLLPRI"),
    (0x004, "POLLOUT"),
    (0x008, "POLLERR"),
    (0x010, "POLLHUP"),
    (0x020, "POLLNVAL"),
    (0x040, "POLLRDNORM"),
    (0x080, "POLLRDBAND"),
    (0x100, "POLLWRNORM"),
    (0x200, "POLLWRBAND"),
    (0x400, "POLLMSG"),
    (0x1000, "POLLREMOVE"),
    (0x2000, "POLLRDHUP"),
];

/// `IN_*` bits of inotify masks.
pub const INOTIFY_MASK: &[(u64, &str)] = &[
    (0x1, "IN_ACCESS"),
    (0x2, "IN_MODIFY"),
    (0x4, "IN_ATTRIB"),
    (0x8, "IN_CLOSE_WRITE"),
    (0x10, "IN_CLOSE_NOWRITE"),
    (0x20, "IN_OPEN"),
    (0x40, "IN_MOVED_FROM"),
    (0x80, "IN_MOVED_TO"),
    (0x100, "IN_CREATE"),
    (0x200, "IN_DELETE"),
    (0x400, "IN_DELETE_SELF"),
    (0x800, "IN_MOVE_SELF"),
    (0x2000, "IN_UNMOUNT"),
    (0x4000, "IN_Q_OVERFLOW"),
    (0x8000, "IN_IGNORED"),
    (0x0100_0000, "IN_ONLYDIR"),
    (0x0200_0000, "IN_DONT_FOLLOW"),
    (0x0400_0000, "IN_EXCL_UNLINK"),
    (0x1000_0000, "IN_MASK_CREATE"),
    (0x2000_0000, "IN_MASK_ADD"),
    (0x4000_0000, "IN_ISDIR"),
    (0x8000_0000, "IN_ONESHOT"),
];

/// `FAN_*` event bits (include/uapi/linux/fanotify.h).
pub const FANOTIFY_MASK: &[(u64, &str)] = &[
    (0x1, "FAN_ACCESS"),
    (0x2, "FAN_MODIFY"),
    (0x4, "FAN_ATTRIB"),
    (0x8, "FAN_CLOSE_WRITE"),
    (0x10, "FAN_CLOSE_NOWRITE"),
    (0x20, "FAN_OPEN"),
    (0x40, "FAN_MOVED_FROM"),
    (0x80, "FAN_MOVED_TO"),
    (0x100, "FAN_CREATE"),
    (0x200, "FAN_DELETE"),
    (0x400, "FAN_DELETE_SELF"),
    (0x800, "FAN_MOVE_SELF"),
    (0x1000, "FAN_OPEN_EXEC"),
    (0x4000, "FAN_Q_OVERFLOW"),
    (0x8000, "FAN_FS_ERROR"),
    (0x1_0000, "FAN_OPEN_PERM"),
    (0x2_0000, "FAN_ACCESS_PERM"),
    (0x4_0000, "FAN_OPEN_EXEC_PERM"),
    (0x8_0000, "FAN_PRE_ACCESS"),
    (0x0100_0000, "FAN_MNT_ATTACH"),
    (0x0200_0000, "FAN_MNT_DETACH"),
    (0x0800_0000, "FAN_EVENT_ON_CHILD"),
    (0x1000_0000, "FAN_RENAME"),
    (0x4000_0000, "FAN_ONDIR"),
];

/// `fanotify_init(2)` flags other than the class (include/uapi/linux/fanotify.h).
pub const FANOTIFY_INIT: &[(u64, &str)] = &[
    (0x1, "FAN_CLOEXEC"),
    (0x2, "FAN_NONBLOCK"),
    (0x10, "FAN_UNLIMITED_QUEUE"),
    (0x20, "FAN_UNLIMITED_MARKS"),
    (0x40, "FAN_ENABLE_AUDIT"),
    (0x80, "FAN_REPORT_PIDFD"),
    (0x100, "FAN_REPORT_TID"),
    (0x200, "FAN_REPORT_FID"),
    (0x400, "FAN_REPORT_DIR_FID"),
    (0x800, "FAN_REPORT_NAME"),
    (0x1000, "FAN_REPORT_TARGET_FID"),
    (0x2000, "FAN_REPORT_FD_ERROR"),
    (0x4000, "FAN_REPORT_MNT"),
];

/// A fanotify group's `fanotify_init` flags: its class (`FAN_CLASS_NOTIF`,
/// `FAN_CLASS_CONTENT`, `FAN_CLASS_PRE_CONTENT`, bits 2–3) then the other
/// flags by name.
pub fn fanotify_init(flags: u64) -> String {
    fanotify_init_names(flags).join("|")
}

/// [`fanotify_init`] as a list: the class first, then the other flags.
pub fn fanotify_init_names(flags: u64) -> Vec<String> {
    let class = match flags & 0xc {
        0 => "FAN_CLASS_NOTIF",
        0x4 => "FAN_CLASS_CONTENT",
        0x8 => "FAN_CLASS_PRE_CONTENT",
        _ => "FAN_CLASS_0xc",
    };
    let mut out = vec![class.to_string()];
    out.extend(bit_names(flags & !0xc, FANOTIFY_INIT));
    out
}

/// The name of a POSIX clock ID (a timerfd's `clockid:`;
/// include/uapi/linux/time.h), or `clock N`.
pub fn clock_name(id: i64) -> String {
    match id {
        0 => "CLOCK_REALTIME".into(),
        1 => "CLOCK_MONOTONIC".into(),
        2 => "CLOCK_PROCESS_CPUTIME_ID".into(),
        3 => "CLOCK_THREAD_CPUTIME_ID".into(),
        4 => "CLOCK_MONOTONIC_RAW".into(),
        5 => "CLOCK_REALTIME_COARSE".into(),
        6 => "CLOCK_MONOTONIC_COARSE".into(),
        7 => "CLOCK_BOOTTIME".into(),
        8 => "CLOCK_REALTIME_ALARM".into(),
        9 => "CLOCK_BOOTTIME_ALARM".into(),
        11 => "CLOCK_TAI".into(),
        n => format!("clock {n}"),
    }
}

/// Names of the set bits of `v` from `table`, `A|B`; unknown bits as hex;
/// `0` when none is set.
pub fn bits(v: u64, table: &[(u64, &str)]) -> String {
    let names = bit_names(v, table);
    if names.is_empty() {
        "0".into()
    } else {
        names.join("|")
    }
}

/// Names of the set bits of `v` from `table`, in the table's order; the
/// bits it does not name as one hex number last; empty when none is set.
/// (What [`bits`] joins, and JSON lists.)
pub fn bit_names(v: u64, table: &[(u64, &str)]) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = v;
    for &(bit, name) in table {
        if v & bit != 0 {
            names.push(name.to_string());
            rest &= !bit;
        }
    }
    if rest != 0 {
        names.push(format!("{rest:#x}"));
    }
    names
}

/// `futex(2)` commands (include/uapi/linux/futex.h), by the low 7 bits.
const FUTEX_CMDS: [&str; 14] = [
    "FUTEX_WAIT",
    "FUTEX_WAKE",
    "FUTEX_FD",
    "FUTEX_REQUEUE",
    "FUTEX_CMP_REQUEUE",
    "FUTEX_WAKE_OP",
    "FUTEX_LOCK_PI",
    "FUTEX_UNLOCK_PI",
    "FUTEX_TRYLOCK_PI",
    "FUTEX_WAIT_BITSET",
    "FUTEX_WAKE_BITSET",
    "FUTEX_WAIT_REQUEUE_PI",
    "FUTEX_CMP_REQUEUE_PI",
    "FUTEX_LOCK_PI2",
];

/// A futex operation as strace shows it: the command, `_PRIVATE` when
/// `FUTEX_PRIVATE_FLAG` (128) is set, `|FUTEX_CLOCK_REALTIME` (256), and
/// any other bit as hex (`FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME`
/// for 0x189). The operation is a C `int`: the register's upper half is
/// not part of it.
pub fn futex_op(op: u64) -> String {
    const PRIVATE: u64 = 128;
    const CLOCK_REALTIME: u64 = 256;
    let op = op & 0xffff_ffff;
    let cmd = op & 0x7f;
    let mut s = match FUTEX_CMDS.get(cmd as usize) {
        Some(name) if op & PRIVATE != 0 => format!("{name}_PRIVATE"),
        Some(name) => (*name).to_string(),
        None if op & PRIVATE != 0 => format!("{cmd:#x}|FUTEX_PRIVATE_FLAG"),
        None => format!("{cmd:#x}"),
    };
    if op & CLOCK_REALTIME != 0 {
        s.push_str("|FUTEX_CLOCK_REALTIME");
    }
    let rest = op & !(0x7f | PRIVATE | CLOCK_REALTIME);
    if rest != 0 {
        s.push_str(&format!("|{rest:#x}"));
    }
    s
}

/// `flock(2)` operation bits (include/uapi/asm-generic/fcntl.h).
pub const FLOCK_OPS: &[(u64, &str)] = &[
    (1, "LOCK_SH"),
    (2, "LOCK_EX"),
    (4, "LOCK_NB"),
    (8, "LOCK_UN"),
    (32, "LOCK_MAND"),
    (64, "LOCK_READ"),
    (128, "LOCK_WRITE"),
];

/// `clock_nanosleep(2)` flags.
pub const TIMER_FLAGS: &[(u64, &str)] = &[(1, "TIMER_ABSTIME")];

/// Signal names 1–31; 32 and 33 are glibc's; 34.. are `SIGRTMIN+n`.
const SIGNALS: [&str; 31] = [
    "SIGHUP",
    "SIGINT",
    "SIGQUIT",
    "SIGILL",
    "SIGTRAP",
    "SIGABRT",
    "SIGBUS",
    "SIGFPE",
    "SIGKILL",
    "SIGUSR1",
    "SIGSEGV",
    "SIGUSR2",
    "SIGPIPE",
    "SIGALRM",
    "SIGTERM",
    "SIGSTKFLT",
    "SIGCHLD",
    "SIGCONT",
    "SIGSTOP",
    "SIGTSTP",
    "SIGTTIN",
    "SIGTTOU",
    "SIGURG",
    "SIGXCPU",
    "SIGXFSZ",
    "SIGVTALRM",
    "SIGPROF",
    "SIGWINCH",
    "SIGIO",
    "SIGPWR",
    "SIGSYS",
];

/// The name of scheduling policy `p` (`stat` field 41; `SCHED_*` in
/// include/uapi/linux/sched.h; 7 is sched_ext, 6.12+).
pub fn sched_policy(p: u64) -> String {
    match p {
        0 => "SCHED_OTHER".into(),
        1 => "SCHED_FIFO".into(),
        2 => "SCHED_RR".into(),
        3 => "SCHED_BATCH".into(),
        4 => "SCHED_ISO".into(),
        5 => "SCHED_IDLE".into(),
        6 => "SCHED_DEADLINE".into(),
        7 => "SCHED_EXT".into(),
        _ => format!("policy {p}"),
    }
}

/// The name of signal `n` (1-based).
pub fn signal_name(n: u32) -> String {
    match n {
        1..=31 => SIGNALS
            .get(n as usize - 1)
            .map_or_else(|| n.to_string(), |s| (*s).to_string()),
        32 | 33 => format!("SIG{n} (glibc internal)"),
        34 => "SIGRTMIN".into(),
        35..=64 => format!("SIGRTMIN+{}", n - 34),
        _ => n.to_string(),
    }
}

/// The signals of a mask (bit n-1 is signal n), by name.
pub fn signals(mask: u64) -> Vec<String> {
    (1..=64u32)
        .filter(|n| mask & (1u64 << (n - 1)) != 0)
        .map(signal_name)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_masks() {
        assert_eq!(
            open_flags(0o2100000).join("|"),
            "O_RDONLY|O_LARGEFILE|O_CLOEXEC"
        );
        assert_eq!(
            open_flags(0o102001).join("|"),
            "O_WRONLY|O_APPEND|O_LARGEFILE"
        );
        assert_eq!(open_flags(0o4010002).join("|"), "O_RDWR|O_SYNC");
        assert_eq!(access_mode(0o2), "rw");
        assert_eq!(fanotify_init(0), "FAN_CLASS_NOTIF");
        assert_eq!(
            fanotify_init(0x4 | 0x200 | 0x800),
            "FAN_CLASS_CONTENT|FAN_REPORT_FID|FAN_REPORT_NAME"
        );
        assert_eq!(
            bits(0x4000_0028, FANOTIFY_MASK),
            "FAN_CLOSE_WRITE|FAN_OPEN|FAN_ONDIR"
        );
        assert_eq!(
            bits(0x8000_0019, EPOLL_EVENTS),
            "EPOLLIN|EPOLLERR|EPOLLHUP|EPOLLET"
        );
        assert_eq!(bits(0x300, INOTIFY_MASK), "IN_CREATE|IN_DELETE");
        assert_eq!(bits(0x2003, POLL_EVENTS), "POLLIN|POLLPRI|POLLRDHUP");
        assert_eq!(bits(0x8001, POLL_EVENTS), "POLLIN|0x8000");
        assert_eq!(bits(0, INOTIFY_MASK), "0");
        assert_eq!(bit_names(0, INOTIFY_MASK), Vec::<String>::new());
        assert_eq!(
            bit_names(0x8000_0019, EPOLL_EVENTS),
            ["EPOLLIN", "EPOLLERR", "EPOLLHUP", "EPOLLET"]
        );
        assert_eq!(bit_names(0x8001, POLL_EVENTS), ["POLLIN", "0x8000"]);
        assert_eq!(
            fanotify_init_names(0x4 | 0x200),
            ["FAN_CLASS_CONTENT", "FAN_REPORT_FID"]
        );
        assert_eq!(fanotify_init_names(0), ["FAN_CLASS_NOTIF"]);
        assert_eq!(clock_name(1), "CLOCK_MONOTONIC");
        assert_eq!(clock_name(9), "CLOCK_BOOTTIME_ALARM");
        assert_eq!(clock_name(42), "clock 42");
        assert_eq!(bits(0x10_0000, EPOLL_EVENTS), "0x100000");
        assert_eq!(signals(0x4200), vec!["SIGUSR1", "SIGTERM"]);
        assert_eq!(signal_name(34), "SIGRTMIN");
        assert_eq!(signal_name(64), "SIGRTMIN+30");
        assert_eq!(signals(1 << 63), vec!["SIGRTMIN+30"]);
        assert_eq!(sched_policy(1), "SCHED_FIFO");
        assert_eq!(sched_policy(99), "policy 99");
    }

    #[test]
    fn futex_ops_keep_every_bit() {
        assert_eq!(futex_op(0x80), "FUTEX_WAIT_PRIVATE");
        assert_eq!(futex_op(0), "FUTEX_WAIT");
        assert_eq!(
            futex_op(0x189),
            "FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME"
        );
        assert_eq!(futex_op(0x109), "FUTEX_WAIT_BITSET|FUTEX_CLOCK_REALTIME");
        assert_eq!(futex_op(0x8b), "FUTEX_WAIT_REQUEUE_PI_PRIVATE");
        assert_eq!(futex_op(13), "FUTEX_LOCK_PI2");
        // Unknown commands and bits as hex, never dropped.
        assert_eq!(futex_op(0x7e), "0x7e");
        assert_eq!(futex_op(0xfe), "0x7e|FUTEX_PRIVATE_FLAG");
        assert_eq!(
            futex_op(0x1000_0389),
            "FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME|0x10000200"
        );
        // Only the int: the register's upper half is not the operation.
        assert_eq!(futex_op(0xffff_ffff_0000_0080), "FUTEX_WAIT_PRIVATE");
        assert_eq!(bits(6, FLOCK_OPS), "LOCK_EX|LOCK_NB");
        assert_eq!(bits(0x108, FLOCK_OPS), "LOCK_UN|0x100");
        assert_eq!(bits(5, TIMER_FLAGS), "TIMER_ABSTIME|0x4");
    }
}

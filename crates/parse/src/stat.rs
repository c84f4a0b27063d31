//! `/proc/PID/stat` and `/proc/PID/task/TID/stat`.
//!
//! Trap: `comm` (field 2) is printed raw between parentheses by
//! `do_task_stat()` in fs/proc/array.c. It can hold spaces, `(`, `)`,
//! newlines, ESC and invalid UTF-8, so it spans from the first `(` to the
//! **last** `)` of the file; only the rest is split on spaces. Fields were
//! appended over the kernel's history, so everything after `rss` (field 24)
//! is optional here.

use crate::num::{dec_i64, dec_u64};
use crate::{ParseError, Result};

/// The scheduler state letter of field 3 (see `man 5 proc`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum TaskState {
    /// `R`: running or runnable.
    Running,
    /// `S`: interruptible sleep.
    Sleeping,
    /// `D`: uninterruptible sleep (usually I/O, or a kernel lock).
    DiskSleep,
    /// `T`: stopped by a signal.
    Stopped,
    /// `t`: stopped by a tracer.
    TracingStop,
    /// `Z`: zombie, exited but not reaped by its parent.
    Zombie,
    /// `X`: dead (should never be seen).
    Dead,
    /// `I`: idle kernel thread.
    Idle,
    /// `P`: parked kernel thread.
    Parked,
    /// `W`: paging (before 2.6) or waking.
    Waking,
    /// `K`: wakekill (3.9–3.13).
    WakeKill,
    /// `x`: dead (3.9–3.13).
    DeadLower,
    /// A letter this parser does not know.
    Other(u8),
}

impl TaskState {
    /// Maps the state letter.
    pub fn from_letter(c: u8) -> Self {
        match c {
            b'R' => Self::Running,
            b'S' => Self::Sleeping,
            b'D' => Self::DiskSleep,
            b'T' => Self::Stopped,
            b't' => Self::TracingStop,
            b'Z' => Self::Zombie,
            b'X' => Self::Dead,
            b'I' => Self::Idle,
            b'P' => Self::Parked,
            b'W' => Self::Waking,
            b'K' => Self::WakeKill,
            b'x' => Self::DeadLower,
            other => Self::Other(other),
        }
    }

    /// The letter as the kernel prints it.
    pub fn letter(self) -> char {
        match self {
            Self::Running => 'R',
            Self::Sleeping => 'S',
            Self::DiskSleep => 'D',
            Self::Stopped => 'T',
            Self::TracingStop => 't',
            Self::Zombie => 'Z',
            Self::Dead => 'X',
            Self::Idle => 'I',
            Self::Parked => 'P',
            Self::Waking => 'W',
            Self::WakeKill => 'K',
            Self::DeadLower => 'x',
            Self::Other(c) => char::from(c),
        }
    }

    /// What the state means, in words.
    pub fn meaning(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Sleeping => "sleeping",
            Self::DiskSleep => "uninterruptible sleep",
            Self::Stopped => "stopped",
            Self::TracingStop => "tracing stop",
            Self::Zombie => "zombie",
            Self::Dead | Self::DeadLower => "dead",
            Self::Idle => "idle",
            Self::Parked => "parked",
            Self::Waking => "waking",
            Self::WakeKill => "wakekill",
            Self::Other(_) => "unknown",
        }
    }
}

/// `PF_KTHREAD` from include/linux/sched.h: set in `flags` for kernel threads.
pub const PF_KTHREAD: u64 = 0x0020_0000;

/// The parsed fields of a `stat` line. `comm` borrows from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stat<'a> {
    /// Field 1: process (or thread) ID.
    pub pid: i32,
    /// Field 2: command name, raw bytes, without the parentheses.
    pub comm: &'a [u8],
    /// Field 3: state.
    pub state: TaskState,
    /// Field 4: parent PID.
    pub ppid: i32,
    /// Field 5: process group ID.
    pub pgrp: i32,
    /// Field 6: session ID.
    pub session: i32,
    /// Field 7: controlling terminal (device number), 0 if none.
    pub tty_nr: i32,
    /// Field 8: foreground process group of the terminal, -1 if none.
    pub tpgid: i32,
    /// Field 9: kernel flags word (`PF_*`).
    pub flags: u64,
    /// Field 10: minor faults.
    pub minflt: u64,
    /// Field 12: major faults.
    pub majflt: u64,
    /// Field 14: user-mode CPU time, in clock ticks.
    pub utime_ticks: u64,
    /// Field 15: kernel-mode CPU time, in clock ticks.
    pub stime_ticks: u64,
    /// Field 16: waited-for children's user time, in clock ticks.
    pub cutime_ticks: i64,
    /// Field 17: waited-for children's system time, in clock ticks.
    pub cstime_ticks: i64,
    /// Field 18: priority as the kernel reports it.
    pub priority: i64,
    /// Field 19: nice value.
    pub nice: i64,
    /// Field 20: number of threads.
    pub num_threads: i64,
    /// Field 22: start time after boot, in clock ticks.
    pub starttime_ticks: u64,
    /// Field 23: virtual memory size in bytes.
    pub vsize_bytes: u64,
    /// Field 24: resident set size in pages (inaccurate by design, see `man 5 proc`).
    pub rss_pages: i64,
    /// Field 39: CPU last run on (2.2.8+).
    pub processor: Option<i64>,
    /// Field 40: real-time priority (2.5.19+).
    pub rt_priority: Option<u64>,
    /// Field 41: scheduling policy (2.5.19+).
    pub policy: Option<u64>,
    /// Field 42: aggregated block I/O delays, in clock ticks (2.6.18+).
    pub delayacct_blkio_ticks: Option<u64>,
    /// Field 52: exit status as `waitpid` reports it (3.5+).
    pub exit_code: Option<i64>,
}

impl<'a> Stat<'a> {
    /// Parses the contents of a `stat` file.
    pub fn parse(b: &'a [u8]) -> Result<Self> {
        let open = b
            .iter()
            .position(|&c| c == b'(')
            .ok_or(ParseError::Shape("no `(` before comm"))?;
        let close = b
            .iter()
            .rposition(|&c| c == b')')
            .ok_or(ParseError::Shape("no `)` after comm"))?;
        if close < open {
            return Err(ParseError::Shape("`)` before `(`"));
        }
        let pid_b = b.get(..open).map(crate::num::trim).unwrap_or_default();
        let comm = b.get(open + 1..close).unwrap_or_default();
        let rest = b.get(close + 1..).unwrap_or_default();
        let pid = parse_i32(pid_b, "pid")?;

        // Field 3 onwards, split on spaces; f[0] is field 3.
        let mut f: [&[u8]; 50] = [&[]; 50];
        let mut n = 0usize;
        for (slot, w) in f.iter_mut().zip(crate::num::words(rest)) {
            *slot = w;
            n += 1;
        }
        let get = |field: usize, name: &'static str| -> Result<&[u8]> {
            if field < 3 || field - 3 >= n {
                return Err(ParseError::Missing(name));
            }
            f.get(field - 3).copied().ok_or(ParseError::Missing(name))
        };
        let opt = |field: usize| -> Option<&[u8]> {
            if field >= 3 && field - 3 < n {
                f.get(field - 3).copied()
            } else {
                None
            }
        };
        let state_b = get(3, "state")?;
        let state = match state_b {
            [c] => TaskState::from_letter(*c),
            _ => return Err(ParseError::invalid("state", state_b)),
        };
        let u = |field: usize, name: &'static str| -> Result<u64> {
            let v = get(field, name)?;
            dec_u64(v).ok_or_else(|| ParseError::invalid(name, v))
        };
        let i = |field: usize, name: &'static str| -> Result<i64> {
            let v = get(field, name)?;
            dec_i64(v).ok_or_else(|| ParseError::invalid(name, v))
        };
        let i32f = |field: usize, name: &'static str| -> Result<i32> {
            parse_i32(get(field, name)?, name)
        };
        Ok(Stat {
            pid,
            comm,
            state,
            ppid: i32f(4, "ppid")?,
            pgrp: i32f(5, "pgrp")?,
            session: i32f(6, "session")?,
            tty_nr: i32f(7, "tty_nr")?,
            tpgid: i32f(8, "tpgid")?,
            flags: u(9, "flags")?,
            minflt: u(10, "minflt")?,
            majflt: u(12, "majflt")?,
            utime_ticks: u(14, "utime")?,
            stime_ticks: u(15, "stime")?,
            cutime_ticks: i(16, "cutime")?,
            cstime_ticks: i(17, "cstime")?,
            priority: i(18, "priority")?,
            nice: i(19, "nice")?,
            num_threads: i(20, "num_threads")?,
            starttime_ticks: u(22, "starttime")?,
            vsize_bytes: u(23, "vsize")?,
            rss_pages: i(24, "rss")?,
            processor: opt(39).and_then(dec_i64),
            rt_priority: opt(40).and_then(dec_u64),
            policy: opt(41).and_then(dec_u64),
            delayacct_blkio_ticks: opt(42).and_then(dec_u64),
            exit_code: opt(52).and_then(dec_i64),
        })
    }

    /// True for kernel threads (`PF_KTHREAD`), which have no command line.
    pub fn is_kernel_thread(&self) -> bool {
        self.flags & PF_KTHREAD != 0
    }
}

fn parse_i32(b: &[u8], name: &'static str) -> Result<i32> {
    dec_i64(b)
        .and_then(|v| i32::try_from(v).ok())
        .ok_or_else(|| ParseError::invalid(name, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TAIL: &str = "S 3895 3836 1401 0 -1 4194368 21 0 0 0 7 9 0 0 20 0 1 0 306156 2535424 109 18446744073709551615 94695460835328 94695460848185 140721473090928 0 0 0 0 4 0 1 0 0 17 1 0 0 0 0 0 94695460863424 94695460864472 94695988207616 140721473092218 140721473092274 140721473092274 140721473093590 0";

    fn line(comm: &[u8]) -> Vec<u8> {
        let mut v = b"3899 (".to_vec();
        v.extend_from_slice(comm);
        v.extend_from_slice(b") ");
        v.extend_from_slice(TAIL.as_bytes());
        v.push(b'\n');
        v
    }

    #[test]
    fn plain() {
        let b = line(b"bash");
        let s = Stat::parse(&b).unwrap();
        assert_eq!(s.pid, 3899);
        assert_eq!(s.comm, b"bash");
        assert_eq!(s.state, TaskState::Sleeping);
        assert_eq!(s.ppid, 3895);
        assert_eq!(s.pgrp, 3836);
        assert_eq!(s.session, 1401);
        assert_eq!(s.tpgid, -1);
        assert_eq!(s.utime_ticks, 7);
        assert_eq!(s.stime_ticks, 9);
        assert_eq!(s.num_threads, 1);
        assert_eq!(s.starttime_ticks, 306156);
        assert_eq!(s.vsize_bytes, 2535424);
        assert_eq!(s.rss_pages, 109);
        assert_eq!(s.processor, Some(1));
        assert_eq!(s.policy, Some(0));
        assert_eq!(s.exit_code, Some(0));
        assert!(!s.is_kernel_thread());
    }

    #[test]
    fn hostile_comms() {
        for comm in [
            &b") S 1 (x"[..],
            b"a\nb",
            b"\x1b[31mRED",
            b"with space",
            b"((",
            b"))",
            b"",
            b"\xff\xfe",
            b"kworker/0:1H",
        ] {
            let b = line(comm);
            let s = Stat::parse(&b).unwrap();
            assert_eq!(s.comm, comm);
            assert_eq!(s.ppid, 3895, "comm {comm:?}");
        }
    }

    #[test]
    fn real_samples() {
        let b = include_bytes!("../tests/samples/comm_stat_breaker.stat");
        let s = Stat::parse(b).unwrap();
        assert_eq!(s.comm, b") S 1 (x");
        assert_eq!(s.ppid, 3895);
        let b = include_bytes!("../tests/samples/vfork_parent.stat");
        let s = Stat::parse(b).unwrap();
        assert_eq!(s.state, TaskState::DiskSleep);
        assert_eq!(s.comm, b"dstate-parent");
    }

    #[test]
    fn kernel_thread_flag() {
        let b = b"2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 2 0 0 18446744073709551615 0 0 0 0 0 0 0 2147483647 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0";
        let s = Stat::parse(b).unwrap();
        assert!(s.is_kernel_thread());
        assert_eq!(s.rss_pages, 0);
    }

    #[test]
    fn old_kernel_short_line() {
        // Only through `rss`: optional fields are None, not errors.
        let b = b"1 (init) S 0 1 1 0 -1 256 0 0 0 0 1 2 0 0 20 0 1 0 5 100 3";
        let s = Stat::parse(b).unwrap();
        assert_eq!(s.rss_pages, 3);
        assert_eq!(s.processor, None);
        assert_eq!(s.exit_code, None);
    }

    #[test]
    fn truncated_and_garbage() {
        assert_eq!(
            Stat::parse(b"1 (init) S 0 1"),
            Err(ParseError::Missing("session"))
        );
        assert!(matches!(
            Stat::parse(b"1 init S"),
            Err(ParseError::Shape(_))
        ));
        assert!(matches!(Stat::parse(b")("), Err(ParseError::Shape(_))));
        assert!(matches!(
            Stat::parse(b"x (a) S"),
            Err(ParseError::Invalid { field: "pid", .. })
        ));
        let b = line(b"a")
            .iter()
            .map(|&c| if c == b'3' { b'z' } else { c })
            .collect::<Vec<_>>();
        assert!(Stat::parse(&b).is_err());
    }

    #[test]
    fn state_letters_round_trip() {
        for c in *b"RSDTtZXIPWKx?" {
            assert_eq!(TaskState::from_letter(c).letter(), char::from(c));
        }
        assert_eq!(
            TaskState::from_letter(b'D').meaning(),
            "uninterruptible sleep"
        );
    }
}

//! What a watch reports: typed events (facts, no words; `render::watch`
//! says them), and the class of an fd that leak reports group by.

use crate::bytes::Bytes;
use crate::collect::IoCounters;
use crate::fds::{Detail, FdEntry, SocketDesc};
use procscope_parse::fdlink::{FdLink, classify};
use procscope_parse::stat::TaskState;
use procscope_read::Failure;

/// What kind of thing an fd is, for counting: leaks are named by the
/// classes that grow (`unix sockets and /dev/null`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FdClass {
    /// Files whose paths differ only in an id (`/tmp/job-*.log`): see
    /// [`path_pattern`].
    Path(Bytes),
    /// Unix sockets.
    Unix,
    /// TCP sockets.
    Tcp,
    /// UDP sockets.
    Udp,
    /// Sockets of another family (netlink, packet, …), or not found in
    /// the tables of the process's network namespace.
    Socket,
    /// Sockets known by their link only: more new fds appeared in one
    /// interval than are decoded ([`crate::watch::process::DECODE_MAX`]),
    /// so their family was never looked up.
    Undecoded,
    /// Pipes.
    Pipe,
    /// FIFOs (named pipes).
    Fifo,
    /// memfds.
    Memfd,
    /// An anonymous inode kind (`eventfd`, `eventpoll`, `timerfd`, …).
    Anon(Bytes),
    /// Anything else.
    Other,
}

/// The pattern of a path, for grouping files that differ only in an id:
/// in the last component every run of ASCII digits (and every hex-ish run:
/// at least [`HEX_ID_MIN`] hex digits with a digit among them) becomes
/// `*` (`/tmp/job-12.log` → `/tmp/job-*.log`); a directory component
/// becomes `*` only when it is an id as a whole (`/proc/1234/`,
/// `/run/user/1000/`, a hex or UUID directory). A directory named with
/// digits is a place, not an id: `/tmp/adv2/h2/x` stays as it is.
pub fn path_pattern(p: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(p.len());
    let mut parts = p.split(|&c| c == b'/').peekable();
    while let Some(part) = parts.next() {
        let last = parts.peek().is_none();
        if last {
            out.extend_from_slice(&ids_starred(part));
        } else {
            if is_id(part) {
                out.push(b'*');
            } else {
                out.extend_from_slice(part);
            }
            out.push(b'/');
        }
    }
    Bytes(out)
}

/// Hex runs at least this long (with a digit) are ids.
pub const HEX_ID_MIN: usize = 8;

/// A component that is an id as a whole: digits, or hex (and `-`, as in a
/// UUID) at least [`HEX_ID_MIN`] long with a digit.
fn is_id(part: &[u8]) -> bool {
    if part.is_empty() {
        return false;
    }
    if part.iter().all(u8::is_ascii_digit) {
        return true;
    }
    part.len() >= HEX_ID_MIN
        && part.iter().all(|c| c.is_ascii_hexdigit() || *c == b'-')
        && part.iter().any(u8::is_ascii_digit)
}

/// `part` with each digit run, and each hex-ish run, replaced by `*`.
fn ids_starred(part: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(part.len());
    let mut rest = part;
    while let Some(&c) = rest.first() {
        let hex = rest.iter().take_while(|c| c.is_ascii_hexdigit()).count();
        let run = rest.get(..hex).unwrap_or_default();
        let n = if hex >= HEX_ID_MIN && run.iter().any(u8::is_ascii_digit) {
            hex
        } else if c.is_ascii_digit() {
            rest.iter().take_while(|c| c.is_ascii_digit()).count()
        } else {
            0
        };
        if n > 0 {
            if out.last() != Some(&b'*') {
                out.push(b'*');
            }
            rest = rest.get(n..).unwrap_or_default();
        } else {
            out.push(c);
            rest = rest.get(1..).unwrap_or_default();
        }
    }
    out
}

impl FdClass {
    /// The class of an fd known only by its link.
    pub fn of_link(link: &[u8]) -> FdClass {
        match classify(link) {
            FdLink::Socket(_) => FdClass::Socket,
            FdLink::Pipe(_) => FdClass::Pipe,
            FdLink::Memfd(_) => FdClass::Memfd,
            FdLink::Anon(n) => FdClass::Anon(Bytes::from(n)),
            FdLink::Path { path, .. } => FdClass::Path(path_pattern(path)),
            FdLink::Other(_) => FdClass::Other,
        }
    }

    /// The class of a decoded fd.
    pub fn of_entry(e: &FdEntry) -> FdClass {
        match &e.detail {
            Detail::Socket {
                socket: Some(SocketDesc::Unix { .. }),
                ..
            } => FdClass::Unix,
            Detail::Socket {
                socket: Some(SocketDesc::Inet { proto, .. }),
                ..
            } => match proto.name() {
                n if n.starts_with("tcp") => FdClass::Tcp,
                n if n.starts_with("udp") => FdClass::Udp,
                _ => FdClass::Socket,
            },
            Detail::Fifo { .. } => FdClass::Fifo,
            Detail::Other if e.undecoded_socket() => FdClass::Undecoded,
            _ => match &e.link {
                Ok(l) => FdClass::of_link(l.as_slice()),
                Err(_) => FdClass::Other,
            },
        }
    }
}

/// A counted value a leak can be found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Metric {
    /// Open fds.
    Fds,
    /// Resident memory, bytes.
    Rss,
    /// Threads.
    Threads,
    /// Child processes.
    Children,
}

/// A value that only grows over the window.
#[derive(Debug, Clone, PartialEq)]
pub struct Leak {
    /// What grows.
    pub metric: Metric,
    /// How fast, per second (least-squares slope over the window).
    pub per_sec: f64,
    /// Its value now.
    pub value: u64,
    /// Its value at the window's start.
    pub from: u64,
    /// The window, milliseconds.
    pub window_ms: u64,
    /// For fds: the classes that grew over the window, most first, with
    /// how many more there are and their rate per second.
    pub growing: Vec<(FdClass, u64, f64)>,
    /// The limit it runs into (the soft fd limit), when known.
    pub limit: Option<u64>,
    /// Seconds until the limit at this rate.
    pub limit_eta_secs: Option<f64>,
}

/// Which way a regular file's position moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Read: the position moves through a file of known size.
    Read,
    /// Written: the fd is write-only, or the position is the file's end
    /// (it grows with it), or the process wrote and did not read while it
    /// moved (a file written in place).
    Write,
    /// An fd open for reading and writing whose position moved while the
    /// process both read and wrote (or its I/O counters are unreadable):
    /// which of the two moved it cannot be told.
    Moving,
}

/// How far a process has got through a regular file.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// The fd.
    pub fd: i32,
    /// Its path.
    pub path: Bytes,
    /// Read or written.
    pub direction: Direction,
    /// The position now.
    pub pos: u64,
    /// The file's size, or why it is not known (a stat that timed out on
    /// a hung filesystem says so).
    pub size: Result<u64, Failure>,
    /// Bytes per second over the window (`None`: not moving).
    pub per_sec: Option<f64>,
    /// Percent of the size (reads, and files written in place: not
    /// growing).
    pub percent: Option<f64>,
    /// Seconds to the end of the file at this rate (as `percent`).
    pub eta_secs: Option<f64>,
}

/// The blocking call of the leader, once seen twice in a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// System call number (in the process's ABI), when `syscall` was read.
    pub nr: Option<i64>,
    /// Its name, when known.
    pub name: Option<&'static str>,
    /// `wchan`: where in the kernel it sleeps.
    pub wchan: Option<Bytes>,
}

/// Rates over one interval.
#[derive(Debug, Clone, PartialEq)]
pub struct Rates {
    /// The interval, milliseconds.
    pub interval_ms: u64,
    /// CPU use, percent of one CPU.
    pub cpu_percent: f64,
    /// Resident memory now, and its change over the interval.
    pub rss_bytes: u64,
    /// Change of resident memory, bytes.
    pub rss_change: i64,
    /// Bytes per second through read-like and write-like calls (`rchar`,
    /// `wchar`: files, pipes and sockets), and from/to storage.
    pub io_per_sec: Option<IoRates>,
    /// Voluntary and involuntary context switches per second.
    pub ctxsw_per_sec: Option<(f64, f64)>,
    /// Minor and major page faults per second.
    pub faults_per_sec: (f64, f64),
}

/// I/O bytes per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IoRates {
    /// `rchar`.
    pub read: f64,
    /// `wchar`.
    pub write: f64,
    /// `read_bytes`.
    pub disk_read: f64,
    /// `write_bytes`.
    pub disk_write: f64,
}

/// How a watched process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    /// The raw wait status from a zombie's `stat` (`None`: the process
    /// was reaped before it was seen as a zombie, or the PID was reused).
    pub wait_status: Option<i64>,
}

impl Exit {
    /// The exit status (`exit(n)`), when it exited normally.
    pub fn code(&self) -> Option<i32> {
        let w = self.wait_status?;
        (w & 0x7f == 0).then_some(((w >> 8) & 0xff) as i32)
    }

    /// The signal that killed it.
    pub fn signal(&self) -> Option<i32> {
        let w = self.wait_status?;
        let s = (w & 0x7f) as i32;
        (s != 0).then_some(s)
    }

    /// It dumped core.
    pub fn core_dumped(&self) -> bool {
        self.wait_status.is_some_and(|w| w & 0x80 != 0)
    }
}

/// What the watch saw of a process when it began (or appeared).
#[derive(Debug, Clone, PartialEq)]
pub struct Started {
    /// `comm`.
    pub comm: Bytes,
    /// The command line, or why not (it takes the memory lock: read
    /// under the deadline).
    pub cmdline: Result<Bytes, Failure>,
    /// Start time, seconds since the epoch.
    pub start_unix: u64,
    /// State.
    pub state: TaskState,
    /// Threads.
    pub threads: u64,
    /// Resident memory, bytes.
    pub rss_bytes: u64,
    /// Open fds by class, or why they could not be listed.
    pub fds: Result<Vec<(FdClass, u64)>, Failure>,
    /// The soft fd limit.
    pub fd_limit: Option<u64>,
    /// It appeared after the watch began (pattern watches).
    pub appeared: bool,
}

/// The whole watch of one process, for the summary.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// How long it was watched, milliseconds.
    pub watched_ms: u64,
    /// Samples taken.
    pub samples: u64,
    /// CPU time used meanwhile, milliseconds.
    pub cpu_ms: u64,
    /// Resident memory at the first and last sample, and the most seen.
    pub rss: (u64, u64, u64),
    /// Open fds at the first and last sample, and the most seen.
    pub fds: Option<(u64, u64, u64)>,
    /// Threads at the first and last sample.
    pub threads: (u64, u64),
    /// I/O over the watch.
    pub io: Option<IoCounters>,
    /// Voluntary and involuntary context switches over the watch.
    pub ctxsw: Option<(u64, u64)>,
    /// fds opened and closed that the watch saw.
    pub opened: u64,
    /// fds closed.
    pub closed: u64,
    /// The leaks named that still grow at the end, with their last rates
    /// (one that ended was said by [`Event::LeakEnded`]).
    pub leaks: Vec<Leak>,
    /// Reads that timed out.
    pub timeouts: u64,
    /// How it ended, when it exited.
    pub exit: Option<Exit>,
}

/// One thing a watch reports about one process.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The watch of this process began.
    Started(Box<Started>),
    /// An fd was opened (or its number now names another file).
    FdOpened {
        /// The fd, decoded as `fds` decodes it (link only when too many
        /// were opened at once to decode each).
        entry: Box<FdEntry>,
        /// Its class.
        class: FdClass,
        /// The holders of its other end were looked for.
        searched: bool,
    },
    /// An fd was closed.
    FdClosed {
        /// The fd as it was decoded when it opened (or its link).
        entry: Box<FdEntry>,
        /// Its class.
        class: FdClass,
    },
    /// An open file got a new link: renamed, or deleted (` (deleted)`);
    /// the same open file (mount and inode), so not a close and an open.
    FdRenamed {
        /// The fd.
        fd: i32,
        /// Its link before.
        from: Bytes,
        /// Its link now.
        to: Bytes,
    },
    /// The process state changed.
    State {
        /// Before.
        from: TaskState,
        /// Now.
        to: TaskState,
    },
    /// The thread count changed.
    Threads {
        /// Before.
        from: u64,
        /// Now.
        to: u64,
    },
    /// The process changed its name (`comm`; an exec or a prctl).
    Renamed {
        /// Before.
        from: Bytes,
        /// Now.
        to: Bytes,
    },
    /// The leader now blocks in another call (seen twice in a row).
    Blocked(Call),
    /// CPU, memory, I/O and context switches over the last interval.
    Rates(Rates),
    /// A count that only grows.
    Leak(Leak),
    /// A leak named before stopped growing.
    LeakEnded {
        /// What.
        metric: Metric,
        /// Its value now.
        value: u64,
    },
    /// A regular file's position moved.
    Progress(Progress),
    /// A file whose position was moving stopped.
    Stalled(Progress),
    /// The process reads (its read counters rise) while no followed file's
    /// position moves: `pread` and `mmap` reads (and reads of pipes and
    /// sockets) move no position, so per-file progress cannot be shown.
    /// Said once.
    PositionsStill {
        /// Regular files open for reading that were followed.
        files: u64,
    },
    /// Reads of the process timed out (the line says which).
    TimedOut {
        /// What was being read.
        what: Vec<&'static str>,
        /// The failure.
        failure: Failure,
    },
    /// Something could not be read (named once).
    Unreadable {
        /// What.
        what: &'static str,
        /// Why.
        failure: Failure,
    },
    /// The process exited.
    Exited(Exit),
    /// The end of this process's watch.
    Summary(Box<Summary>),
}

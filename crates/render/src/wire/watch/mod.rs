//! `procscope watch --json`: JSON lines, one event per line.
//!
//! Every line is a [`Line`]: the envelope (`procscope`, `kind`), when it
//! happened (`time`, `elapsed_ms`), the process it is about (`pid`), and
//! the `event` object, whose `type` says which of [`Event`]'s members it
//! is.

use super::common::{Bytes, ErrorBody, OrError};
use super::fds::Fd;
use procscope_model::watch as m;
use serde::{Deserialize, Serialize};

/// One line of output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Line {
    /// Format version.
    pub procscope: u32,
    /// `watch`.
    pub kind: String,
    /// When, RFC 3339 UTC with milliseconds.
    pub time: String,
    /// Milliseconds since the watch began.
    pub elapsed_ms: u64,
    /// The process the event is about (absent for the watch's own events:
    /// `waiting`, `capped`, `list_failed`, `ended`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
    /// What happened.
    pub event: Event,
}

/// What happened; `type` names the member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The watch of a process began (at the start, or when it appeared).
    Started(Started),
    /// An fd was opened (or its number now names another file).
    FdOpened(FdChange),
    /// An fd was closed.
    FdClosed(FdChange),
    /// An open file got a new link (renamed or deleted): the same open
    /// file, not a close and an open.
    FdRenamed(FdRenamed),
    /// The process state changed (seen in two samples in a row).
    State(StateChange),
    /// The thread count changed.
    Threads(Change),
    /// `comm` changed (an exec or a prctl).
    Renamed(Renamed),
    /// The main thread now blocks in another call (seen twice in a row).
    Blocked(Blocked),
    /// Rates over the last interval.
    Rates(Rates),
    /// A count that only grows over the window.
    Leak(Leak),
    /// A leak named before stopped growing.
    LeakEnded(LeakEnded),
    /// A regular file's position moved.
    Progress(Progress),
    /// A file whose position was moving stopped.
    Stalled(Progress),
    /// The process reads while no followed file's position moves (said
    /// once).
    PositionsStill(PositionsStill),
    /// Reads of the process timed out.
    TimedOut(TimedOut),
    /// Something could not be read (said once).
    Unreadable(Unreadable),
    /// The process exited.
    Exited(Exited),
    /// The end of a process's watch.
    Summary(Summary),
    /// The pattern matches no process yet.
    Waiting(Empty),
    /// More processes match than are followed.
    Capped(Capped),
    /// The processes could not be listed.
    ListFailed(Failed),
    /// The watch ended.
    Ended(Ended),
}

/// No members.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// An fd class: what leak reports count by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Class {
    /// `path` (files whose paths differ only in digits), `unix`, `tcp`,
    /// `udp`, `socket`, `undecoded_socket` (known by its link only: more
    /// than 256 new fds in one interval), `pipe`, `fifo`, `memfd`, `anon`, `other`.
    pub kind: String,
    /// For `path`: the path, ids replaced by `*` (digit and hex runs in
    /// the last component; directories that are ids as a whole); for
    /// `anon`: the anonymous inode's name (`eventfd`, `eventpoll`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Bytes>,
}

impl From<&m::FdClass> for Class {
    fn from(c: &m::FdClass) -> Class {
        let (kind, name) = match c {
            m::FdClass::Path(p) => ("path", Some(Bytes::from(p))),
            m::FdClass::Unix => ("unix", None),
            m::FdClass::Tcp => ("tcp", None),
            m::FdClass::Udp => ("udp", None),
            m::FdClass::Socket => ("socket", None),
            m::FdClass::Undecoded => ("undecoded_socket", None),
            m::FdClass::Pipe => ("pipe", None),
            m::FdClass::Fifo => ("fifo", None),
            m::FdClass::Memfd => ("memfd", None),
            m::FdClass::Anon(n) => ("anon", Some(Bytes::from(n))),
            m::FdClass::Other => ("other", None),
        };
        Class {
            kind: kind.into(),
            name,
        }
    }
}

/// A count of fds of one class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassCount {
    /// The class.
    pub class: Class,
    /// How many.
    pub count: u64,
    /// Per second (in a leak: how fast this class grew).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_sec: Option<f64>,
}

/// `started`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Started {
    /// `comm`.
    pub comm: Bytes,
    /// Every argument, or why not (read under the deadline).
    pub cmdline: OrError<Vec<Bytes>>,
    /// Start time, seconds since the epoch.
    pub start_time_unix: u64,
    /// State letter, and in words.
    pub state: String,
    /// The state in words.
    pub state_meaning: String,
    /// Threads.
    pub threads: u64,
    /// Resident memory, bytes.
    pub rss_bytes: u64,
    /// Open fds by class, or why they could not be listed.
    pub fds: OrError<Vec<ClassCount>>,
    /// The soft limit on open fds.
    pub fd_limit: Option<u64>,
    /// It appeared after the watch began (pattern watches).
    pub appeared: bool,
}

/// `fd_opened`, `fd_closed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FdChange {
    /// The fd number.
    pub fd: i32,
    /// Its class.
    pub class: Class,
    /// What it is, as the text (and `procscope fds`) says it.
    pub description: String,
    /// Decoded as `procscope fds --json` decodes an fd.
    pub decoded: Fd,
}

/// `state`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateChange {
    /// The state before (letter).
    pub from: String,
    /// The state now (letter).
    pub to: String,
    /// The state now in words.
    pub to_meaning: String,
}

/// A count that changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    /// Before.
    pub from: u64,
    /// Now.
    pub to: u64,
}

/// `renamed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Renamed {
    /// Before.
    pub from: Bytes,
    /// Now.
    pub to: Bytes,
}

/// `blocked`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Blocked {
    /// System call number (the process's ABI), when `syscall` was read.
    pub syscall_nr: Option<i64>,
    /// Its name.
    pub syscall: Option<String>,
    /// Where in the kernel it sleeps.
    pub wchan: Option<Bytes>,
}

/// `rates`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rates {
    /// The interval, milliseconds.
    pub interval_ms: u64,
    /// CPU use, percent of one CPU.
    pub cpu_percent: f64,
    /// Resident memory, bytes.
    pub rss_bytes: u64,
    /// Its change over the interval, bytes.
    pub rss_change_bytes: i64,
    /// Bytes/s through read-like calls (`rchar`: files, pipes, sockets).
    pub read_bytes_per_sec: Option<f64>,
    /// Bytes/s through write-like calls (`wchar`).
    pub write_bytes_per_sec: Option<f64>,
    /// Bytes/s fetched from storage (`read_bytes`).
    pub disk_read_bytes_per_sec: Option<f64>,
    /// Bytes/s sent to storage (`write_bytes`).
    pub disk_write_bytes_per_sec: Option<f64>,
    /// Voluntary context switches per second.
    pub voluntary_switches_per_sec: Option<f64>,
    /// Involuntary context switches per second.
    pub involuntary_switches_per_sec: Option<f64>,
    /// Minor page faults per second.
    pub minor_faults_per_sec: f64,
    /// Major page faults per second.
    pub major_faults_per_sec: f64,
}

/// `leak`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Leak {
    /// `fds`, `rss_bytes`, `threads` or `children`.
    pub metric: String,
    /// Growth per second (least-squares slope over the window).
    pub per_sec: f64,
    /// The value now.
    pub value: u64,
    /// The value at the window's start.
    pub from: u64,
    /// The window, milliseconds.
    pub window_ms: u64,
    /// For fds: the classes that grew, most first.
    pub growing: Vec<ClassCount>,
    /// The limit it runs into (the soft fd limit), when known.
    pub limit: Option<u64>,
    /// Seconds until the limit at this rate.
    pub limit_eta_secs: Option<f64>,
}

/// `leak_ended`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeakEnded {
    /// As in [`Leak::metric`].
    pub metric: String,
    /// The value now.
    pub value: u64,
}

/// `progress`, `stalled`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Progress {
    /// The fd.
    pub fd: i32,
    /// The file.
    pub path: Bytes,
    /// `read`, `write`, or `moving` (an fd open for both whose process
    /// both read and wrote meanwhile).
    pub direction: String,
    /// The position, bytes.
    pub pos: u64,
    /// The file's size, or why not known (a stat through the fd link
    /// that timed out on a hung filesystem).
    pub size: OrError<u64>,
    /// Bytes per second over the window (null: not moving).
    pub bytes_per_sec: Option<f64>,
    /// Percent of the size (reads).
    pub percent: Option<f64>,
    /// Seconds to the end of the file at this rate (reads).
    pub eta_secs: Option<f64>,
}

/// `fd_renamed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FdRenamed {
    /// The fd.
    pub fd: i32,
    /// Its link before.
    pub from: Bytes,
    /// Its link now.
    pub to: Bytes,
}

/// `positions_still`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PositionsStill {
    /// Regular files open for reading that were followed.
    pub files: u64,
}

/// `timed_out`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimedOut {
    /// What was being read: `cmdline`, `syscall`, `file sizes`.
    pub what: Vec<String>,
    /// Why.
    pub error: ErrorBody,
}

/// `unreadable`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unreadable {
    /// What (`fds`).
    pub what: String,
    /// Why.
    pub error: ErrorBody,
}

/// `exited`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exited {
    /// The raw wait status (a zombie's `stat` field 52); null when the
    /// process was reaped before it was seen as a zombie.
    pub wait_status: Option<i64>,
    /// The exit status, when it exited normally.
    pub exit_code: Option<i32>,
    /// The signal that killed it.
    pub signal: Option<i32>,
    /// The signal's name (`SIGKILL`).
    pub signal_name: Option<String>,
    /// It dumped core.
    pub core_dumped: bool,
}

/// `summary`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    /// How long it was watched, milliseconds.
    pub watched_ms: u64,
    /// Samples taken.
    pub samples: u64,
    /// CPU time used meanwhile, milliseconds.
    pub cpu_ms: u64,
    /// Resident memory at the first and last sample, bytes.
    pub rss_bytes: Change,
    /// The most resident memory seen.
    pub rss_max_bytes: u64,
    /// Open fds at the first and last sample.
    pub fds: Option<Change>,
    /// The most fds seen.
    pub fds_max: Option<u64>,
    /// fds opened and closed during the watch.
    pub fds_opened: u64,
    /// fds closed.
    pub fds_closed: u64,
    /// Threads at the first and last sample.
    pub threads: Change,
    /// Bytes through read-like and write-like calls, from and to storage.
    pub read_bytes: Option<u64>,
    /// `wchar` over the watch.
    pub write_bytes: Option<u64>,
    /// `read_bytes` over the watch.
    pub disk_read_bytes: Option<u64>,
    /// `write_bytes` over the watch.
    pub disk_write_bytes: Option<u64>,
    /// Voluntary context switches over the watch.
    pub voluntary_switches: Option<u64>,
    /// Involuntary context switches.
    pub involuntary_switches: Option<u64>,
    /// The leaks named, with their last rates.
    pub leaks: Vec<Leak>,
    /// Reads that timed out.
    pub timeouts: u64,
    /// How it ended, when it exited.
    pub exit: Option<Exited>,
}

/// `capped`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capped {
    /// Followed.
    pub watching: usize,
    /// Matching.
    pub matching: usize,
}

/// `list_failed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Failed {
    /// Why.
    pub error: ErrorBody,
}

/// `ended`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ended {
    /// `interrupted` (SIGINT, SIGTERM), `time_up` (`--for`), `exited`
    /// (every watched process exited).
    pub reason: String,
}

mod convert;

pub use convert::{event, line, notice};

#[cfg(test)]
mod tests {
    use super::*;

    /// Every line deserializes back into its type, unknown members
    /// refused (inside the tagged event too).
    #[test]
    fn lines_round_trip_and_refuse_unknown_members() {
        let l = line(
            1_700_000_000_123,
            1500,
            Some(42),
            Event::Threads(Change { from: 1, to: 3 }),
        );
        let s = serde_json::to_string(&l).unwrap();
        assert_eq!(
            s,
            r#"{"procscope":2,"kind":"watch","time":"2023-11-14T22:13:20.123Z","elapsed_ms":1500,"pid":42,"event":{"type":"threads","from":1,"to":3}}"#
        );
        assert_eq!(serde_json::from_str::<Line>(&s).unwrap(), l);
        let bad = s.replace(r#""to":3"#, r#""to":3,"x":1"#);
        assert!(serde_json::from_str::<Line>(&bad).is_err());
        let ended = line(
            0,
            0,
            None,
            Event::Ended(Ended {
                reason: "time_up".into(),
            }),
        );
        let s = serde_json::to_string(&ended).unwrap();
        assert!(!s.contains("pid"), "{s}");
        assert_eq!(serde_json::from_str::<Line>(&s).unwrap(), ended);
        let w = serde_json::to_string(&line(0, 0, None, Event::Waiting(Empty {}))).unwrap();
        assert!(w.ends_with(r#""event":{"type":"waiting"}}"#), "{w}");
        assert!(serde_json::from_str::<Line>(&w).is_ok());
    }
}

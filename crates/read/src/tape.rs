//! What only a live host can answer, recorded and replayed.
//!
//! A proc tree holds files. Some answers procscope gives come from the
//! live kernel instead: sock_diag (a unix socket's peer, a TCP connection's
//! other end), `pidfd_getfd` copies (pipe ends, a socket's own addresses),
//! `statx` through fd links (a deleted file's size), the target's memory
//! (a sleep's timespec, a futex word) and file handles (inotify paths).
//!
//! A [`Tape`] attached to a [`crate::ProcRoot`] sits under each of those
//! readers. Recording ([`Tape::recorder`], on the live root a snapshot is
//! taken from), each answer the live code got is kept, keyed by what was
//! asked; replaying ([`Tape::replay`], on a snapshot's tree), the same
//! question gets the same answer, and a question that was never asked is
//! answered [`not_in_snapshot`] — never a value from the host procscope
//! runs on.
//!
//! Answers about a set of fds (pipe ends, socket descriptions) are kept per
//! fd, so that a later question about any subset is answered from them.
//! The recorded form ([`Records`]) is serde: a snapshot stores it as JSON.

use crate::failure::{Failure, Outcome};
use crate::root::FdStat;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

/// The failure for a question a snapshot has no answer to.
/// (`Unsupported`, like any live-only question in a tree: `Absent` would
/// claim the thing does not exist.)
pub fn not_in_snapshot() -> Failure {
    Failure::Unsupported {
        what: "not in the snapshot".into(),
    }
}

/// A recorded outcome: the value, or why there was none.
pub type Answer<T> = Result<T, Failure>;

/// A unix socket as sock_diag described it
/// ([`procscope_parse::sockdiag::UnixDiag`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnixRecord {
    /// Its inode.
    pub inode: u32,
    /// `SOCK_*` type.
    pub kind: u8,
    /// State.
    pub state: u8,
    /// The peer's inode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<u32>,
    /// The bound name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Vec<u8>>,
}

impl From<&procscope_parse::sockdiag::UnixDiag> for UnixRecord {
    fn from(d: &procscope_parse::sockdiag::UnixDiag) -> Self {
        UnixRecord {
            inode: d.inode,
            kind: d.kind,
            state: d.state,
            peer: d.peer,
            name: d.name.clone(),
        }
    }
}

impl From<&UnixRecord> for procscope_parse::sockdiag::UnixDiag {
    fn from(d: &UnixRecord) -> Self {
        procscope_parse::sockdiag::UnixDiag {
            inode: d.inode,
            kind: d.kind,
            state: d.state,
            peer: d.peer,
            name: d.name.clone(),
        }
    }
}

/// One TCP other-end lookup ([`crate::sockdiag::SockDiag::tcp_peer`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcpPeerRecord {
    /// Local end asked about.
    pub local: std::net::SocketAddr,
    /// Remote end asked about.
    pub remote: std::net::SocketAddr,
    /// The other end's inode, when the kernel knew one.
    pub inode: Option<u32>,
    /// Its creator's cgroup ID.
    pub cgroup_id: Option<u64>,
}

/// One network namespace's sock_diag answers, by its `ns/net` link text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetnsRecord {
    /// Every unix socket of the namespace (one dump), or why none.
    pub unix: Option<Answer<Vec<UnixRecord>>>,
    /// TCP other-end lookups.
    #[serde(default)]
    pub tcp_peers: Vec<TcpPeerRecord>,
}

/// Per-fd answers about one process's fds ([`crate::ends::ends`],
/// [`crate::sockinfo::sockets`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerFd<T> {
    /// The fds asked about, each with the inode it was expected to be.
    pub asked: BTreeMap<i32, u64>,
    /// The answers, or why the process could not be asked at all.
    pub answer: Answer<BTreeMap<i32, T>>,
}

impl<T> Default for PerFd<T> {
    fn default() -> Self {
        PerFd {
            asked: BTreeMap::new(),
            answer: Ok(BTreeMap::new()),
        }
    }
}

/// What the kernel said about a pipe or unix socket fd's other end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EndRecord {
    /// A pipe end: whether the other side is open.
    Pipe(bool),
    /// A unix socket: its peer's PID.
    UnixPeer(i32),
}

/// One read of a process's memory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryRecord {
    /// Address.
    pub addr: u64,
    /// Bytes asked for.
    pub len: usize,
    /// The bytes read (possibly fewer), or why not.
    pub answer: Answer<Vec<u8>>,
}

/// One file handle turned into a path ([`crate::handle::path_of`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandleRecord {
    /// Mount point it was looked up under.
    pub mount_point: Vec<u8>,
    /// Handle type.
    pub handle_type: i32,
    /// Handle bytes.
    pub handle: Vec<u8>,
    /// The path, or why not.
    pub answer: Answer<Vec<u8>>,
}

/// Everything recorded (see the module docs). Keys are PIDs (or TIDs, for
/// a thread's directory) as the tree names them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Records {
    /// Memory reads, per PID or TID.
    #[serde(default)]
    pub memory: BTreeMap<i32, Vec<MemoryRecord>>,
    /// `statx` through `fd/N`, per PID then fd.
    #[serde(default)]
    pub fd_stat: BTreeMap<i32, BTreeMap<i32, Answer<FdStat>>>,
    /// `statx` through another link (`exe`, `cwd`, `map_files/…`).
    #[serde(default)]
    pub link_stat: BTreeMap<i32, BTreeMap<String, Answer<FdStat>>>,
    /// sock_diag, per network namespace.
    #[serde(default)]
    pub netns: BTreeMap<String, NetnsRecord>,
    /// Pipe and unix socket ends, per PID.
    #[serde(default)]
    pub ends: BTreeMap<i32, PerFd<EndRecord>>,
    /// Sockets' own descriptions, per PID.
    #[serde(default)]
    pub sockets: BTreeMap<i32, PerFd<crate::sockinfo::SockInfo>>,
    /// File handles turned into paths, per PID.
    #[serde(default)]
    pub handles: BTreeMap<i32, Vec<HandleRecord>>,
    /// The processes of a cgroup, by cgroup ID.
    #[serde(default)]
    pub cgroup_procs: BTreeMap<u64, Answer<Vec<i32>>>,
    /// The first bytes of each process's executable (its ELF header), read
    /// through `exe`, per PID.
    #[serde(default)]
    pub exe_header: BTreeMap<i32, Answer<Vec<u8>>>,
    /// `stat` of host files (an executable's path, to tell whether it was
    /// replaced on disk), by path.
    #[serde(default)]
    pub host_stat: BTreeMap<String, Answer<FdStat>>,
    /// Files that could not be copied into the tree, per PID (or TID) and
    /// name (`cmdline`, `task/12/stack` is kept under 12 as `stack`): a
    /// read of them answers this instead of "gone".
    #[serde(default)]
    pub files: BTreeMap<i32, BTreeMap<String, Failure>>,
    /// User-space stacks of a process's threads as the model answered them
    /// (walked and named from the live process's memory and its module
    /// files, neither of which a snapshot holds), per PID, in the model's
    /// own serde form: this crate does not know its shape.
    #[serde(default)]
    pub user_stacks: BTreeMap<i32, serde_json::Value>,
    /// What the snapshot's manifest says about the tree, set when it is
    /// opened ([`Records::with_manifest_facts`]); never stored on the tape
    /// (the manifest holds it, and an older reader refuses unknown members
    /// here).
    #[serde(skip)]
    pub facts: Facts,
}

/// What a snapshot's manifest says that a reader of its tree must answer
/// with (see docs/snapshot.md): not recorded on the tape, copied from the
/// manifest when the snapshot is opened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// Files cut at the size cap when the snapshot was taken, per PID (or
    /// TID) and name (keyed like [`Records::files`]): a read of one is
    /// answered as truncated, as a live read past its cap is.
    pub cut: BTreeMap<i32, BTreeSet<String>>,
    /// Files left out of every process by choice, by name, with the option
    /// that left them out (`environ` → `--no-env`): a read of one answers
    /// that instead of "gone".
    pub left_out: BTreeMap<String, String>,
    /// "Now" on the scheduler's clock when the snapshot was taken, ms: the
    /// `se.exec_start` of the taking procscope's running thread (idle times
    /// are measured against it, as live).
    pub sched_now_ms: Option<u64>,
    /// The clocks a sleep can be set against, when the snapshot was taken:
    /// a sleep until an absolute time is counted down from these, not
    /// from the clocks of the host reading the snapshot.
    pub clocks: Option<ClocksNow>,
}

/// Now on the clocks `clock_nanosleep` takes an absolute time on, ms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClocksNow {
    /// `CLOCK_REALTIME` (ms since the epoch).
    pub realtime_ms: i64,
    /// `CLOCK_MONOTONIC`.
    pub monotonic_ms: i64,
    /// `CLOCK_BOOTTIME`.
    pub boottime_ms: i64,
}

impl ClocksNow {
    /// The clocks now, on this host.
    pub fn now() -> ClocksNow {
        let ms = |id| {
            let t = rustix::time::clock_gettime(id);
            t.tv_sec
                .saturating_mul(1000)
                .saturating_add(t.tv_nsec / 1_000_000)
        };
        ClocksNow {
            realtime_ms: ms(rustix::time::ClockId::Realtime),
            monotonic_ms: ms(rustix::time::ClockId::Monotonic),
            boottime_ms: ms(rustix::time::ClockId::Boottime),
        }
    }

    /// The clock `clock_nanosleep` calls `id` (0 realtime, 1 monotonic,
    /// 7 boottime), ms.
    pub fn of(&self, id: u64) -> Option<i64> {
        match id {
            0 => Some(self.realtime_ms),
            1 => Some(self.monotonic_ms),
            7 => Some(self.boottime_ms),
            _ => None,
        }
    }
}

impl Records {
    /// These records with the manifest's facts (see [`Facts`]).
    pub fn with_manifest_facts(mut self, facts: Facts) -> Self {
        self.facts = facts;
        self
    }
}

/// Recording or replaying (see the module docs).
#[derive(Debug)]
pub enum Tape {
    /// On a live root: keep every answer.
    Record(Mutex<Records>),
    /// On a snapshot's tree: answer from these.
    Replay(Records),
}

impl Tape {
    /// A tape that records.
    pub fn recorder() -> Arc<Tape> {
        Arc::new(Tape::Record(Mutex::new(Records::default())))
    }

    /// A tape that answers from `r`.
    pub fn replay(r: Records) -> Arc<Tape> {
        Arc::new(Tape::Replay(r))
    }

    /// True when replaying.
    pub fn is_replay(&self) -> bool {
        matches!(self, Tape::Replay(_))
    }

    /// What was recorded so far (a copy).
    pub fn records(&self) -> Records {
        match self {
            Tape::Record(m) => m.lock().map(|r| r.clone()).unwrap_or_default(),
            Tape::Replay(r) => r.clone(),
        }
    }

    /// Runs `f` on the records while recording (no-op when replaying).
    pub(crate) fn write(&self, f: impl FnOnce(&mut Records)) {
        if let Tape::Record(m) = self {
            if let Ok(mut r) = m.lock() {
                f(&mut r);
            }
        }
    }

    /// Runs `f` on the records kept so far, while recording.
    pub(crate) fn read<R>(&self, f: impl FnOnce(&Records) -> R) -> Option<R> {
        match self {
            Tape::Record(m) => m.lock().ok().map(|r| f(&r)),
            Tape::Replay(_) => None,
        }
    }

    /// The replayed records, when replaying.
    pub(crate) fn replayed(&self) -> Option<&Records> {
        match self {
            Tape::Replay(r) => Some(r),
            Tape::Record(_) => None,
        }
    }

    /// Records that reading `name` of `pid` failed with `f`.
    pub fn file_failed(&self, pid: i32, name: &str, f: Failure) {
        self.write(|r| {
            r.files.entry(pid).or_default().insert(name.to_owned(), f);
        });
    }

    /// Keeps the user-space stacks answered for `pid` (see
    /// [`Records::user_stacks`]).
    pub fn keep_user_stacks(&self, pid: i32, v: serde_json::Value) {
        self.write(|r| {
            r.user_stacks.insert(pid, v);
        });
    }

    /// The replayed snapshot's facts from its manifest ([`Facts`]), when
    /// replaying.
    pub fn facts(&self) -> Option<&Facts> {
        self.replayed().map(|r| &r.facts)
    }

    /// The user-space stacks recorded for `pid`, when replaying.
    pub fn user_stacks(&self, pid: i32) -> Outcome<&serde_json::Value> {
        self.replayed()
            .and_then(|r| r.user_stacks.get(&pid))
            .ok_or_else(not_in_snapshot)
    }

    /// A recorded memory read.
    pub(crate) fn memory(&self, pid: i32, addr: u64, len: usize) -> Outcome<Vec<u8>> {
        let r = self.replayed().ok_or_else(not_in_snapshot)?;
        r.memory
            .get(&pid)
            .and_then(|v| v.iter().find(|m| m.addr == addr && m.len == len))
            .map(|m| m.answer.clone())
            .unwrap_or_else(|| Err(not_in_snapshot()))
    }

    /// Keeps a memory read.
    pub(crate) fn keep_memory(&self, pid: i32, addr: u64, answer: Answer<Vec<u8>>, len: usize) {
        self.write(|r| {
            let v = r.memory.entry(pid).or_default();
            if !v.iter().any(|m| m.addr == addr && m.len == len) {
                v.push(MemoryRecord { addr, len, answer });
            }
        });
    }
}

/// Answers a per-fd question from `rec`: the answers for the fds in `ask`
/// that were asked with the same inode when recording. An fd that was not
/// asked then is left out (as the live code leaves out an fd that was
/// closed meanwhile: "not known").
pub(crate) fn per_fd<T: Clone>(
    rec: Option<&PerFd<T>>,
    ask: impl IntoIterator<Item = (i32, u64)>,
) -> Outcome<HashMap<i32, T>> {
    let rec = rec.ok_or_else(not_in_snapshot)?;
    let answer = rec.answer.as_ref().map_err(Clone::clone)?;
    Ok(ask
        .into_iter()
        .filter(|(fd, ino)| rec.asked.get(fd) == Some(ino))
        .filter_map(|(fd, _)| answer.get(&fd).map(|v| (fd, v.clone())))
        .collect())
}

/// Merges a live per-fd answer into `rec`.
pub(crate) fn keep_per_fd<T: Clone>(
    rec: &mut PerFd<T>,
    asked: impl IntoIterator<Item = (i32, u64)>,
    answer: &Outcome<HashMap<i32, T>>,
) {
    match answer {
        Ok(m) => {
            rec.asked.extend(asked);
            if let Ok(have) = &mut rec.answer {
                have.extend(m.iter().map(|(k, v)| (*k, v.clone())));
            }
        }
        Err(f) => {
            // A process that could not be asked at all: keep why, unless an
            // earlier question got answers.
            if rec.asked.is_empty() {
                rec.answer = Err(f.clone());
                rec.asked.extend(asked);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_fd_answers_only_what_was_asked_with_the_same_inode() {
        let mut rec = PerFd::default();
        let live: Outcome<HashMap<i32, EndRecord>> =
            Ok([(3, EndRecord::Pipe(true))].into_iter().collect());
        keep_per_fd(&mut rec, [(3, 100), (4, 101)], &live);
        let got = per_fd(Some(&rec), [(3, 100), (4, 101), (5, 102)]).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got.get(&3), Some(&EndRecord::Pipe(true)));
        // Same fd, another inode: not the same question.
        assert!(per_fd(Some(&rec), [(3, 999)]).unwrap().is_empty());
        assert_eq!(
            per_fd::<EndRecord>(None, [(3, 100)]).unwrap_err(),
            not_in_snapshot()
        );
        let mut denied = PerFd::<EndRecord>::default();
        keep_per_fd(
            &mut denied,
            [(3, 1)],
            &Err(Failure::Denied {
                need: crate::Need::PtraceAttach,
            }),
        );
        assert!(matches!(
            per_fd(Some(&denied), [(3, 1)]),
            Err(Failure::Denied { .. })
        ));
    }

    #[test]
    fn memory_is_answered_by_address_and_length() {
        let rec = Tape::recorder();
        rec.keep_memory(7, 0x1000, Ok(vec![1, 2, 3, 4]), 4);
        let json = serde_json::to_string(&rec.records()).unwrap();
        let back: Records = serde_json::from_str(&json).unwrap();
        let t = Tape::replay(back);
        assert_eq!(t.memory(7, 0x1000, 4).unwrap(), vec![1, 2, 3, 4]);
        assert_eq!(t.memory(7, 0x1000, 8).unwrap_err(), not_in_snapshot());
        assert_eq!(t.memory(8, 0x1000, 4).unwrap_err(), not_in_snapshot());
    }
}

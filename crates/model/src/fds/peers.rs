//! The other holders of a process's pipes and sockets: who holds the
//! same pipe, FIFO or socket, and who holds the socket at the other end
//! of a connection, with each holder's access mode. The outward search
//! of [`PeerScope::Near`] is in `near.rs`.

use super::near::near_holders;
use super::{AccessMode, Detail, FdEntry};
use crate::bytes::Bytes;
use procscope_parse::fdinfo::FdInfo;
use procscope_parse::fdlink::{FdLink, classify};
use procscope_read::Session;
use serde::Serialize;
use std::collections::HashMap;

/// Another process's fd on the same pipe or socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Peer {
    /// Process ID.
    pub pid: i32,
    /// Its name.
    pub comm: Bytes,
    /// Its fd number.
    pub fd: i32,
    /// Its access mode, from its fdinfo.
    pub mode: Option<AccessMode>,
}

/// How far [`super::resolve_peers_with`] looks for the other holders of a
/// process's pipes and sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PeerScope {
    /// Not at all (`fds --peers none`).
    None,
    /// Outward from the process, until every other end the kernel says is
    /// held has been found: the process and its ancestors; the processes
    /// named by its unix sockets' `SO_PEERCRED`, and those of the cgroup a
    /// loopback TCP peer's socket was created in; its children, siblings,
    /// process group and session ([`crate::kin`]); the other processes,
    /// nearest PID first, only while an end is still missing. The cost follows the process, not the host,
    /// whenever its other ends are among its relatives.
    #[default]
    Near,
    /// Every process on the host: every holder of each pipe and socket
    /// (what `lsof +E` and `ss -p` do).
    All,
}

/// How far a search for the holders of a process's pipes and sockets
/// went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchScope {
    /// The process's relatives sufficed (see [`PeerScope::Near`]).
    Near,
    /// An end was held by none of them: the other processes were read,
    /// nearest PID first, until every end was found or none was left.
    Widened,
    /// Every process.
    All,
}

/// Where the holders of a process's pipes and sockets were looked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeerSearch {
    /// How far the search went.
    pub scope: SearchScope,
    /// How many processes' fds were read.
    pub processes: usize,
    /// A widened search: the first fd whose other end none of the related
    /// processes held.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub widened_for_fd: Option<i32>,
}

/// Every holder of every pipe and socket on the host, by inode: one scan
/// shared by the lookups of a command that follows several processes
/// (`why` along a pipeline), instead of one scan per process.
#[derive(Debug, Default)]
pub struct HolderIndex {
    by_inode: HashMap<u64, Vec<crate::fdscan::Holder>>,
    processes: usize,
}

impl HolderIndex {
    /// Scans every process's fd links once.
    pub fn scan(root: &procscope_read::ProcRoot, session: &Session) -> Self {
        let own = root.own_pid();
        let pids = root.pids().unwrap_or_default();
        let processes = pids.len();
        let mut m: HashMap<u64, Vec<crate::fdscan::Holder>> = HashMap::new();
        let all = crate::fdscan::scan_pids(root, session, pids, |l: &[u8]| {
            matches!(classify(l), FdLink::Pipe(_) | FdLink::Socket(_))
        });
        for h in all.into_iter().filter(|h| h.pid != own) {
            if let FdLink::Pipe(i) | FdLink::Socket(i) = classify(h.link.as_slice()) {
                m.entry(i).or_default().push(h);
            }
        }
        HolderIndex {
            by_inode: m,
            processes,
        }
    }

    fn holders(&self, inodes: &[u64]) -> Vec<crate::fdscan::Holder> {
        inodes
            .iter()
            .filter_map(|i| self.by_inode.get(i))
            .flatten()
            .cloned()
            .collect()
    }
}

/// How holders' fd links are matched with the pipes, FIFOs and sockets
/// looked for: `pipe:[N]` and `socket:[N]` by inode, a FIFO by its path
/// (then checked against its inode in the holder's fdinfo).
#[derive(Debug, Clone, Default)]
pub(super) struct Keys {
    pub(super) inodes: std::collections::HashSet<u64>,
    pub(super) fifos: HashMap<Vec<u8>, u64>,
}

impl Keys {
    pub(super) fn new(entries: &[FdEntry]) -> Self {
        let mut k = Keys::default();
        for e in entries {
            k.inodes.extend(link_inode(e));
            k.inodes.extend(peer_of(e));
            if let Detail::Fifo { path, inode, .. } = &e.detail {
                k.fifos.insert(path.0.clone(), *inode);
            }
        }
        k
    }

    /// The inode a holder's link stands for, if it is one looked for.
    pub(super) fn of(&self, link: &[u8]) -> Option<u64> {
        match classify(link) {
            FdLink::Pipe(i) | FdLink::Socket(i) => self.inodes.contains(&i).then_some(i),
            FdLink::Path { path, .. } if !self.fifos.is_empty() => self.fifos.get(path).copied(),
            _ => None,
        }
    }

    pub(super) fn filter(self) -> impl Fn(&[u8]) -> bool + Send + Sync + 'static {
        move |l: &[u8]| self.of(l).is_some()
    }
}

/// Process names, each read once.
pub(super) struct Names<'a> {
    root: &'a procscope_read::ProcRoot,
    pub(super) seen: HashMap<i32, Option<Bytes>>,
    buf: Vec<u8>,
}

impl<'a> Names<'a> {
    pub(super) fn new(root: &'a procscope_read::ProcRoot) -> Self {
        Names {
            root,
            seen: HashMap::new(),
            buf: Vec::new(),
        }
    }

    pub(super) fn comm(&mut self, pid: i32) -> Option<Bytes> {
        if let Some(c) = self.seen.get(&pid) {
            return c.clone();
        }
        let c = self
            .root
            .process(pid)
            .and_then(|d| d.read(c"comm", &mut self.buf, 4096))
            .ok()
            .map(|_| Bytes::from(procscope_parse::comm::parse(&self.buf)));
        self.seen.insert(pid, c.clone());
        c
    }
}

pub(super) fn link_inode(e: &FdEntry) -> Option<u64> {
    match &e.detail {
        Detail::Pipe { inode } | Detail::Fifo { inode, .. } | Detail::Socket { inode, .. } => {
            Some(*inode)
        }
        _ => None,
    }
}

pub(super) fn peer_of(e: &FdEntry) -> Option<u64> {
    match &e.detail {
        Detail::Socket {
            socket: Some(s), ..
        } => s.peer_inode(),
        _ => None,
    }
}

pub(super) fn resolve_holders(
    root: &procscope_read::ProcRoot,
    pid: i32,
    entries: &mut [FdEntry],
    session: &Session,
    scope: PeerScope,
    index: Option<&HolderIndex>,
    names: &mut Names<'_>,
) -> Option<PeerSearch> {
    let keys = Keys::new(entries);
    if keys.inodes.is_empty() {
        return None;
    }
    let mut modes = Modes::new(root);
    // The process's own fds: their modes are already known.
    for e in entries.iter() {
        if let Some(f) = e.flags {
            let ino = match &e.detail {
                Detail::Fifo { inode, .. } => Some(*inode),
                _ => None,
            };
            modes
                .seen
                .insert((pid, e.fd), (Some(AccessMode::of_flags(f)), ino));
        }
    }
    let (mut holders, search) = match (index, scope) {
        // The index knows pipes and sockets by inode, not FIFOs by path.
        (Some(ix), _) if keys.fifos.is_empty() => (
            ix.holders(&keys.inodes.iter().copied().collect::<Vec<_>>()),
            PeerSearch {
                scope: SearchScope::All,
                processes: ix.processes,
                widened_for_fd: None,
            },
        ),
        (_, PeerScope::None) => return None,
        (_, PeerScope::All) | (Some(_), _) => {
            let pids = root.pids().unwrap_or_default();
            let n = pids.len();
            (
                crate::fdscan::scan_pids(root, session, pids, keys.clone().filter()),
                PeerSearch {
                    scope: SearchScope::All,
                    processes: n,
                    widened_for_fd: None,
                },
            )
        }
        (None, PeerScope::Near) => near_holders(root, pid, entries, session, &keys, &mut modes),
    };
    // A FIFO's path in another process may name another file (another
    // mount namespace): keep it when fdinfo's inode agrees (5.14+).
    holders.retain(|h| match classify(h.link.as_slice()) {
        FdLink::Path { .. } => keys
            .of(h.link.as_slice())
            .is_some_and(|want| modes.ino(h).is_none_or(|i| i == want)),
        _ => true,
    });
    // procscope's own fds (inherited pipes) are not the answer.
    let own = root.own_pid();
    holders.retain(|h| h.pid != own);
    let mut peer = |h: &crate::fdscan::Holder, names: &mut Names<'_>| -> Option<Peer> {
        Some(Peer {
            pid: h.pid,
            comm: names.comm(h.pid).unwrap_or_default(),
            fd: h.fd,
            mode: modes.get(h),
        })
    };
    // Holders by what they hold, once (a busy process has thousands).
    let mut by_inode: HashMap<u64, Vec<&crate::fdscan::Holder>> = HashMap::new();
    for h in &holders {
        if let Some(i) = keys.of(h.link.as_slice()) {
            by_inode.entry(i).or_default().push(h);
        }
    }
    let held = |i: u64| by_inode.get(&i).map(Vec::as_slice).unwrap_or(&[]);
    for e in entries.iter_mut() {
        if let Some(inode) = link_inode(e) {
            for h in held(inode)
                .iter()
                .filter(|h| !(h.pid == pid && h.fd == e.fd))
            {
                if let Some(p) = peer(h, names) {
                    e.peers.push(p);
                }
            }
        }
        if let Some(other) = peer_of(e) {
            for h in held(other) {
                if let Some(p) = peer(h, names) {
                    e.other_end.push(p);
                }
            }
        }
    }
    Some(search)
}

/// A holder fd's access mode and inode, from its fdinfo.
type HolderInfo = (Option<AccessMode>, Option<u64>);

/// Access modes of holders' fds (from their fdinfo), each
/// read once.
pub(super) struct Modes<'a> {
    root: &'a procscope_read::ProcRoot,
    pub(super) seen: HashMap<(i32, i32), HolderInfo>,
    buf: Vec<u8>,
}

impl<'a> Modes<'a> {
    pub(super) fn new(root: &'a procscope_read::ProcRoot) -> Self {
        Modes {
            root,
            seen: HashMap::new(),
            buf: Vec::new(),
        }
    }

    pub(super) fn info(&mut self, h: &crate::fdscan::Holder) -> HolderInfo {
        if let Some(m) = self.seen.get(&(h.pid, h.fd)) {
            return *m;
        }
        let m = std::ffi::CString::new(format!("fdinfo/{}", h.fd))
            .ok()
            .and_then(|n| {
                let dir = self.root.process(h.pid).ok()?;
                dir.read(&n, &mut self.buf, 64 * 1024).ok()
            })
            .and_then(|_| FdInfo::parse(&self.buf).ok())
            .map_or((None, None), |i| {
                (Some(AccessMode::of_flags(i.flags)), i.ino)
            });
        self.seen.insert((h.pid, h.fd), m);
        m
    }

    /// The holder's access mode.
    pub(super) fn get(&mut self, h: &crate::fdscan::Holder) -> Option<AccessMode> {
        self.info(h).0
    }

    /// The inode in the holder's fdinfo (5.14+).
    pub(super) fn ino(&mut self, h: &crate::fdscan::Holder) -> Option<u64> {
        self.info(h).1
    }
}

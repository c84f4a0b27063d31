//! A process's open file descriptors, decoded from `fd/`, `fdinfo/`, its
//! own `mountinfo` and its network namespace's socket tables. Nothing is
//! opened or stat'ed through the fd links (reliability rule 5).

use crate::bytes::Bytes;
use procscope_parse::fdinfo::{Extra, FdInfo};
use procscope_parse::fdlink::{FdLink, classify};
use procscope_parse::net;
use procscope_read::{Failure, Outcome, ProcDir, Session};
use serde::Serialize;
use std::collections::HashMap;
use std::net::IpAddr;

mod files;
pub use files::{FileKind, LockTable, apply_stats, file_stats, stat_files};

/// What a socket is, from the tables of the process's network namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "family", rename_all = "snake_case")]
pub enum SocketDesc {
    /// TCP or UDP over IPv4 or IPv6.
    Inet {
        /// `tcp`, `tcp6`, `udp`, `udp6`.
        proto: &'static str,
        /// Local address.
        local: IpAddr,
        /// Local port.
        local_port: u16,
        /// Remote address.
        remote: IpAddr,
        /// Remote port.
        remote_port: u16,
        /// The state as `ss` names it: TCP's state; for UDP and raw
        /// sockets `UNCONN` (unconnected) or `ESTABLISHED` (connected).
        state: &'static str,
        /// The kernel's state number (`TCP_*` of include/net/tcp_states.h,
        /// which UDP and raw sockets use too: 7 unconnected, 1 connected).
        state_number: u8,
        /// Send queue, bytes.
        tx_queue: u64,
        /// Receive queue, bytes.
        rx_queue: u64,
        /// The socket at the other end, when it is on this host in the same
        /// network namespace (a loopback connection): its inode.
        peer_inode: Option<u64>,
        /// The cgroup (v2) ID of that socket's creator (sock_diag), where
        /// its holder is looked for first.
        #[serde(skip)]
        peer_cgroup: Option<u64>,
    },
    /// A unix-domain socket.
    Unix {
        /// Bound path (`@name` for abstract), if any.
        path: Option<Bytes>,
        /// `stream`, `dgram`, `seqpacket`.
        kind: &'static str,
        /// `listening`, `connected`, `unconnected`, …
        state: &'static str,
        /// The socket at the other end (from sock_diag), when connected.
        peer_inode: Option<u64>,
    },
    /// Another family (netlink, packet, raw IP, vsock…), as the socket
    /// describes itself.
    Other {
        /// `netlink`, `packet`, `raw`, `vsock`, …
        name: &'static str,
        /// Protocol number (the netlink family, the IP protocol of a raw
        /// socket, the ethertype of a packet socket).
        protocol: Option<u32>,
    },
}

impl SocketDesc {
    /// The inode of the socket at the other end, when known.
    pub fn peer_inode(&self) -> Option<u64> {
        match self {
            SocketDesc::Inet { peer_inode, .. } | SocketDesc::Unix { peer_inode, .. } => {
                *peer_inode
            }
            SocketDesc::Other { .. } => None,
        }
    }
}

/// The name of an `AF_*` family that is neither IP nor unix.
fn family_name(family: u16, sock_type: u32) -> &'static str {
    match (i32::from(family), sock_type) {
        (libc_af::NETLINK, _) => "netlink",
        (libc_af::PACKET, _) => "packet",
        (libc_af::INET | libc_af::INET6, 3) => "raw",
        (libc_af::INET | libc_af::INET6, _) => "inet",
        (libc_af::VSOCK, _) => "vsock",
        (libc_af::BLUETOOTH, _) => "bluetooth",
        (libc_af::ALG, _) => "alg",
        (libc_af::XDP, _) => "xdp",
        _ => "socket",
    }
}

/// `AF_*` numbers (include/linux/socket.h).
mod libc_af {
    pub const INET: i32 = 2;
    pub const INET6: i32 = 10;
    pub const NETLINK: i32 = 16;
    pub const PACKET: i32 = 17;
    pub const BLUETOOTH: i32 = 31;
    pub const ALG: i32 = 38;
    pub const VSOCK: i32 = 40;
    pub const XDP: i32 = 44;
}

/// A fanotify mark on a whole mount or filesystem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FanotifyMark {
    /// `mount` or `filesystem`.
    pub kind: &'static str,
    /// The mount's ID (mount marks).
    pub mnt_id: Option<u64>,
    /// The filesystem's device (`major`, `minor`; filesystem marks).
    pub device: Option<(u64, u64)>,
    /// `FAN_*` event mask.
    pub mask: u64,
    /// Events ignored.
    pub ignored_mask: u64,
    /// Where it is mounted, from the process's mountinfo (for a filesystem,
    /// one of its mounts).
    pub mount_point: Option<Bytes>,
    /// Filesystem type.
    pub fs_type: Option<Bytes>,
}

/// One inotify watch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InotifyWatch {
    /// Watch descriptor.
    pub wd: u64,
    /// Watched inode.
    pub inode: u64,
    /// Its device (`major:minor`).
    pub device: (u64, u64),
    /// `IN_*` mask.
    pub mask: u64,
    /// The watched path, resolved from the file handle (see
    /// [`resolve_peers`]), or why not.
    #[serde(serialize_with = "ser_opt_outcome")]
    pub path: Option<Outcome<Bytes>>,
    /// File handle type and bytes (hex), as fdinfo gives them.
    #[serde(skip)]
    pub handle: Option<(u64, Vec<u8>)>,
}

/// Splits a kernel `dev_t` (`(major << 20) | minor`, as fdinfo's `sdev`
/// prints it) into major and minor.
pub fn split_dev(dev: u64) -> (u64, u64) {
    (dev >> 20, dev & 0xf_ffff)
}

/// `ADDR:PORT`, IPv6 addresses bracketed (`[::1]:80`).
pub fn addr_port(a: &IpAddr, p: u16) -> String {
    match a {
        IpAddr::V6(v6) => format!("[{v6}]:{p}"),
        IpAddr::V4(v4) => format!("{v4}:{p}"),
    }
}

/// The decoded part of an fd.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Detail {
    /// A path: file, directory, device, FIFO.
    File {
        /// The path.
        path: Bytes,
        /// Deleted: no link to the inode is left (its space is freed when
        /// the last fd closes). Decided by the link count when it could be
        /// read (see [`resolve_peers`]), else by the link's ` (deleted)`.
        deleted: bool,
        /// The link said ` (deleted)`: this name was unlinked (other hard
        /// links may remain: see `nlink`).
        unlinked: bool,
        /// Hard links to the inode, when read.
        nlink: Option<u64>,
        /// Size in bytes of a regular file, when read.
        size: Option<u64>,
        /// What kind of file it is (regular, directory, device…), when its
        /// stat was read; a FIFO becomes [`Detail::Fifo`].
        kind: Option<FileKind>,
        /// Mount point of its mount (from mountinfo by mnt_id).
        mount_point: Option<Bytes>,
        /// Filesystem type of its mount.
        fs_type: Option<Bytes>,
    },
    /// A FIFO (named pipe), known by the stat of its fd.
    Fifo {
        /// The path.
        path: Bytes,
        /// Its inode.
        inode: u64,
        /// Mount point of its mount.
        mount_point: Option<Bytes>,
        /// Filesystem type of its mount.
        fs_type: Option<Bytes>,
    },
    /// A socket.
    Socket {
        /// Inode.
        inode: u64,
        /// What the tables say, when found there.
        socket: Option<SocketDesc>,
    },
    /// A pipe.
    Pipe {
        /// Inode (the same for both ends).
        inode: u64,
    },
    /// An eventfd.
    Eventfd {
        /// The counter.
        count: u64,
        /// `eventfd-id` (5.x+): the same id means the same eventfd.
        id: Option<u64>,
        /// `EFD_SEMAPHORE`.
        semaphore: Option<bool>,
    },
    /// An epoll set.
    Epoll {
        /// Watched fds: (fd, event mask, what the fd is now).
        watches: Vec<(i64, u64, Option<Bytes>)>,
    },
    /// An inotify instance.
    Inotify {
        /// Its watches.
        watches: Vec<InotifyWatch>,
    },
    /// A fanotify group: its inode marks (`wd` is 0), and its marks on
    /// whole mounts and filesystems.
    Fanotify {
        /// Its inode marks.
        watches: Vec<InotifyWatch>,
        /// Its mount and filesystem marks.
        marks: Vec<FanotifyMark>,
        /// `fanotify_init` flags (`FAN_CLASS_*`, `FAN_REPORT_*`, …).
        init_flags: Option<u64>,
        /// Open flags of the event fds it hands out.
        event_flags: Option<u64>,
    },
    /// A timerfd.
    Timerfd {
        /// Clock ID.
        clockid: i64,
        /// Unread expirations.
        ticks: u64,
        /// Time to next expiry, nanoseconds.
        next_ns: i128,
        /// Interval, nanoseconds.
        interval_ns: i128,
    },
    /// A signalfd.
    Signalfd {
        /// Signal mask.
        sigmask: u64,
    },
    /// A pidfd.
    Pidfd {
        /// The PID (-1: exited; 0: in a PID namespace not visible here).
        pid: i64,
        /// That process's name, when it is still there.
        comm: Option<Bytes>,
    },
    /// A memfd.
    Memfd {
        /// Its name.
        name: Bytes,
        /// Its size in bytes (from the stat of its fd), when read.
        size: Option<u64>,
    },
    /// Another anonymous inode (io_uring, bpf-map, perf_event, …).
    Anon {
        /// Its name.
        name: Bytes,
        /// What its fdinfo adds beyond the common lines (`map_type: 2`,
        /// `prog_tag: …`), in the kernel's order, at most [`ANON_FIELDS`].
        fields: Vec<(Bytes, Bytes)>,
    },
    /// Something else.
    Other,
}

impl Detail {
    /// A short type name for tables.
    pub fn type_name(&self) -> &'static str {
        match self {
            Detail::File { kind: Some(k), .. } => k.type_name(),
            Detail::File { .. } => "file",
            Detail::Socket {
                socket: Some(SocketDesc::Inet { proto, .. }),
                ..
            } => proto,
            Detail::Socket {
                socket: Some(SocketDesc::Unix { .. }),
                ..
            } => "unix",
            Detail::Socket {
                socket: Some(SocketDesc::Other { name, .. }),
                ..
            } => name,
            Detail::Socket { .. } => "socket",
            Detail::Pipe { .. } => "pipe",
            Detail::Fifo { .. } => "fifo",
            Detail::Eventfd { .. } => "eventfd",
            Detail::Epoll { .. } => "epoll",
            Detail::Inotify { .. } => "inotify",
            Detail::Fanotify { .. } => "fanotify",
            Detail::Timerfd { .. } => "timerfd",
            Detail::Signalfd { .. } => "signalfd",
            Detail::Pidfd { .. } => "pidfd",
            Detail::Memfd { .. } => "memfd",
            Detail::Anon { .. } => "anon",
            Detail::Other => "other",
        }
    }
}

/// One open fd.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FdEntry {
    /// The fd number.
    pub fd: i32,
    /// The link target.
    #[serde(serialize_with = "ser_outcome")]
    pub link: Outcome<Bytes>,
    /// Position.
    pub pos: Option<u64>,
    /// Open flags.
    pub flags: Option<u64>,
    /// Mount ID.
    pub mnt_id: Option<u64>,
    /// Locks held through or waited on this file (`lock:` lines).
    pub locks: Vec<Bytes>,
    /// Decoded.
    pub detail: Detail,
    /// Other holders of the same pipe or socket (see [`resolve_peers`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub peers: Vec<Peer>,
    /// Holders of the socket at the other end of a connected unix socket
    /// or a loopback TCP connection (see [`resolve_peers`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub other_end: Vec<Peer>,
    /// The file's device and inode (`major`, `minor`, `inode`), from
    /// mountinfo and fdinfo's `ino:` (5.14+): how /proc/locks names it.
    #[serde(skip)]
    pub file_id: Option<(u64, u64, u64)>,
    /// Every lock on this file in /proc/locks, holders and waiters, with
    /// their process names (see [`resolve_peers`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub file_locks: Vec<FileLock>,
}

/// A lock on a file, from /proc/locks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileLock {
    /// `FLOCK`, `POSIX`, `OFDLCK`, `LEASE`.
    pub kind: Bytes,
    /// `READ` or `WRITE`.
    pub access: Bytes,
    /// `ADVISORY` or `MANDATORY`.
    pub mode: Bytes,
    /// The process holding (or waiting for) it (-1 for OFD locks).
    pub pid: i64,
    /// Its name.
    pub comm: Option<Bytes>,
    /// First byte.
    pub start: u64,
    /// Last byte (`None`: to the end of the file).
    pub end: Option<u64>,
    /// True for a process blocked waiting for this lock.
    pub waiting: bool,
}

impl FileLock {
    /// An fdinfo `lock:` line (the format of /proc/locks), decoded; the
    /// holder's name is not known from it.
    pub fn from_fdinfo(line: &Bytes) -> Option<FileLock> {
        let l = procscope_parse::locks::parse_line(line.as_slice())?;
        Some(FileLock {
            kind: l.kind.into(),
            access: l.access.into(),
            mode: l.mode.into(),
            pid: l.pid,
            comm: None,
            start: l.start,
            end: l.end,
            waiting: l.waiter,
        })
    }
}

/// Another process's fd on the same pipe or socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Peer {
    /// Process ID.
    pub pid: i32,
    /// Its name.
    pub comm: Bytes,
    /// Its fd number.
    pub fd: i32,
    /// Its access mode (`r`, `w`, `rw`), from its fdinfo.
    pub mode: Option<&'static str>,
}

/// What the header of a process's fd listing says besides the fds: its
/// name, owner and how many fds it may open.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Header {
    /// The process name.
    pub comm: Bytes,
    /// Its effective UID, when `status` could be read.
    pub uid: Option<u32>,
    /// Its soft `RLIMIT_NOFILE` (`None`: unlimited or not read).
    pub nofile_soft: Option<u64>,
}

impl Header {
    /// Reads `status`, `comm` and `limits` of `dir`.
    pub fn read(dir: &ProcDir) -> Header {
        let mut buf = Vec::new();
        let uid = owner(dir, &mut buf);
        let comm = dir
            .read(c"comm", &mut buf, 4096)
            .map(|_| Bytes::from(procscope_parse::comm::parse(&buf)))
            .unwrap_or_default();
        let nofile_soft = dir.read(c"limits", &mut buf, 64 * 1024).ok().and_then(|_| {
            let l = procscope_parse::limits::Limits::parse(&buf).ok()?;
            match l.get(procscope_parse::limits::Resource::Nofile)?.soft {
                procscope_parse::limits::LimitValue::Value(v) => Some(v),
                procscope_parse::limits::LimitValue::Unlimited => None,
            }
        });
        Header {
            comm,
            uid,
            nofile_soft,
        }
    }
}

/// The effective UID of the process of `dir`, from its `status`.
pub fn owner(dir: &ProcDir, buf: &mut Vec<u8>) -> Option<u32> {
    dir.read(c"status", buf, 64 * 1024)
        .ok()
        .and_then(|_| procscope_parse::status::uid(buf))
        .map(|i| i.effective)
}

/// The name of process `pid` (a lock holder's), when it can be read.
pub fn comm_of(root: &procscope_read::ProcRoot, pid: i32) -> Option<Bytes> {
    let mut b = Vec::new();
    root.process(pid)
        .and_then(|d| d.read(c"comm", &mut b, 4096))
        .ok()
        .map(|_| Bytes::from(procscope_parse::comm::parse(&b)))
}

/// How far [`resolve_peers_with`] looks for the other holders of a
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

/// Fills in what needs the rest of the host, for the fds of process `pid`
/// (the holders looked for as far as [`PeerScope::Near`] says):
/// - [`FdEntry::peers`] (other fds, in any process, on the same pipe or
///   socket) and [`FdEntry::other_end`] (the holders of the socket at the
///   other end of a connected unix socket or loopback connection);
/// - [`FdEntry::file_locks`]: every lock on each file from /proc/locks, with
///   the names of holders and waiters;
/// - the command of a pidfd's process;
/// - the paths inotify watches, from their file handles (guarded: the
///   lookup may reach a hung filesystem).
pub fn resolve_peers(
    root: &procscope_read::ProcRoot,
    pid: i32,
    entries: &mut [FdEntry],
    session: &Session,
) -> Option<PeerSearch> {
    resolve_peers_with(root, pid, entries, session, PeerScope::Near, None)
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

/// [`resolve_peers`] looking as far as `scope` says, or taking the holders
/// from `index` when given (no search of its own). Returns where it looked
/// (`None`: the process has no pipe or socket, or `scope` is `None`).
pub fn resolve_peers_with(
    root: &procscope_read::ProcRoot,
    pid: i32,
    entries: &mut [FdEntry],
    session: &Session,
    scope: PeerScope,
    index: Option<&HolderIndex>,
) -> Option<PeerSearch> {
    let mut names = Names::new(root);
    stat_files(root, pid, entries, session);
    let search = resolve_holders(root, pid, entries, session, scope, index, &mut names);
    if let Some(t) = LockTable::read_for(root, entries) {
        t.attach(entries, &mut |p| names.comm(p));
    }
    for e in entries.iter_mut() {
        if let Detail::Pidfd { pid, comm } = &mut e.detail {
            if let Ok(p) = i32::try_from(*pid) {
                *comm = (p > 0).then(|| names.comm(p)).flatten();
            }
        }
    }
    resolve_inotify(root, pid, entries, session);
    search
}

/// How holders' fd links are matched with the pipes, FIFOs and sockets
/// looked for: `pipe:[N]` and `socket:[N]` by inode, a FIFO by its path
/// (then checked against its inode in the holder's fdinfo).
#[derive(Debug, Clone, Default)]
struct Keys {
    inodes: std::collections::HashSet<u64>,
    fifos: HashMap<Vec<u8>, u64>,
}

impl Keys {
    fn new(entries: &[FdEntry]) -> Self {
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
    fn of(&self, link: &[u8]) -> Option<u64> {
        match classify(link) {
            FdLink::Pipe(i) | FdLink::Socket(i) => self.inodes.contains(&i).then_some(i),
            FdLink::Path { path, .. } if !self.fifos.is_empty() => self.fifos.get(path).copied(),
            _ => None,
        }
    }

    fn filter(self) -> impl Fn(&[u8]) -> bool + Send + Sync + 'static {
        move |l: &[u8]| self.of(l).is_some()
    }
}

/// Process names, each read once.
struct Names<'a> {
    root: &'a procscope_read::ProcRoot,
    seen: HashMap<i32, Option<Bytes>>,
    buf: Vec<u8>,
}

impl<'a> Names<'a> {
    fn new(root: &'a procscope_read::ProcRoot) -> Self {
        Names {
            root,
            seen: HashMap::new(),
            buf: Vec::new(),
        }
    }

    fn comm(&mut self, pid: i32) -> Option<Bytes> {
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

fn link_inode(e: &FdEntry) -> Option<u64> {
    match &e.detail {
        Detail::Pipe { inode } | Detail::Fifo { inode, .. } | Detail::Socket { inode, .. } => {
            Some(*inode)
        }
        _ => None,
    }
}

fn peer_of(e: &FdEntry) -> Option<u64> {
    match &e.detail {
        Detail::Socket {
            socket: Some(s), ..
        } => s.peer_inode(),
        _ => None,
    }
}

fn resolve_holders(
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
            modes.seen.insert(
                (pid, e.fd),
                (Some(procscope_parse::decode::access_mode(f)), ino),
            );
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
type HolderInfo = (Option<&'static str>, Option<u64>);

/// Access modes of holders' fds (`r`, `w`, `rw`, from their fdinfo), each
/// read once.
struct Modes<'a> {
    root: &'a procscope_read::ProcRoot,
    seen: HashMap<(i32, i32), HolderInfo>,
    buf: Vec<u8>,
}

impl<'a> Modes<'a> {
    fn new(root: &'a procscope_read::ProcRoot) -> Self {
        Modes {
            root,
            seen: HashMap::new(),
            buf: Vec::new(),
        }
    }

    fn info(&mut self, h: &crate::fdscan::Holder) -> HolderInfo {
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
                (Some(procscope_parse::decode::access_mode(i.flags)), i.ino)
            });
        self.seen.insert((h.pid, h.fd), m);
        m
    }

    /// The holder's access mode.
    fn get(&mut self, h: &crate::fdscan::Holder) -> Option<&'static str> {
        self.info(h).0
    }

    /// The inode in the holder's fdinfo (5.14+).
    fn ino(&mut self, h: &crate::fdscan::Holder) -> Option<u64> {
        self.info(h).1
    }
}

/// The modes an fd at the other side of a pipe end opened with `mine` has.
fn other_side(mine: Option<&str>) -> Option<&'static [&'static str]> {
    match mine {
        Some("r") => Some(&["w", "rw"]),
        Some("w") => Some(&["r", "rw"]),
        _ => None,
    }
}

/// An fd whose other end was not found yet.
struct Missing {
    fd: i32,
    /// Its pipe, FIFO or socket inode.
    inode: u64,
    /// A pipe or FIFO end (else a connected socket).
    pipe: bool,
}

/// The fds of `pid` whose other end none of `holders` holds: pipe ends
/// without a holder of the other side (unless the kernel said none is
/// left), connected sockets without a holder of the peer socket.
fn unfound(
    pid: i32,
    entries: &[FdEntry],
    holders: &[crate::fdscan::Holder],
    keys: &Keys,
    modes: &mut Modes<'_>,
    ends: &procscope_read::ends::Ends,
) -> Vec<Missing> {
    let mut by_inode: HashMap<u64, Vec<&crate::fdscan::Holder>> = HashMap::new();
    for h in holders {
        if let Some(i) = keys.of(h.link.as_slice()) {
            by_inode.entry(i).or_default().push(h);
        }
    }
    let mut out = Vec::new();
    for e in entries {
        let held = |i: u64| by_inode.get(&i).map(Vec::as_slice).unwrap_or(&[]);
        match &e.detail {
            Detail::Pipe { inode } | Detail::Fifo { inode, .. } => {
                let Some(want) = other_side(e.flags.map(procscope_parse::decode::access_mode))
                else {
                    continue;
                };
                if ends.pipe_other_side_open.get(&e.fd) == Some(&false) {
                    continue;
                }
                let found = held(*inode)
                    .iter()
                    .filter(|h| !(h.pid == pid && h.fd == e.fd))
                    .any(|h| modes.get(h).is_some_and(|m| want.contains(&m)));
                if !found {
                    out.push(Missing {
                        fd: e.fd,
                        inode: *inode,
                        pipe: true,
                    });
                }
            }
            _ => {
                if let (Some(p), Some(i)) = (peer_of(e).filter(|p| *p != 0), link_inode(e)) {
                    if held(p).is_empty() {
                        out.push(Missing {
                            fd: e.fd,
                            inode: i,
                            pipe: false,
                        });
                    }
                }
            }
        }
    }
    out
}

/// [`PeerScope::Near`]: looks outward from `pid` and stops as soon as every
/// other end is found.
fn near_holders(
    root: &procscope_read::ProcRoot,
    pid: i32,
    entries: &[FdEntry],
    session: &Session,
    keys: &Keys,
    modes: &mut Modes<'_>,
) -> (Vec<crate::fdscan::Holder>, PeerSearch) {
    let own = root.own_pid();
    let mut searched = std::collections::HashSet::from([own]);
    let mut holders = Vec::new();
    let look = |pids: Vec<i32>,
                searched: &mut std::collections::HashSet<i32>,
                holders: &mut Vec<crate::fdscan::Holder>| {
        let new: Vec<i32> = pids.into_iter().filter(|p| searched.insert(*p)).collect();
        if new.is_empty() {
            return;
        }
        holders.extend(crate::fdscan::scan_pids(
            root,
            session,
            new,
            keys.clone().filter(),
        ));
    };
    let none = procscope_read::ends::Ends::default();
    // 1. The process itself (self-pipes, both ends of a socketpair: all of
    //    its fds, not only those asked about) and the processes it
    //    descends from (a shell's pipes, sshd's).
    look(vec![pid], &mut searched, &mut holders);
    look(
        crate::kin::ancestors(root, pid),
        &mut searched,
        &mut holders,
    );
    let mut missing = unfound(pid, entries, &holders, keys, modes, &none);
    // 2. What the kernel says: which pipes still have another side, which
    //    process created each unix socket's peer.
    let mut ends = none.clone();
    if !missing.is_empty() {
        let pipes: Vec<(i32, u64)> = missing
            .iter()
            .filter(|m| m.pipe)
            .map(|m| (m.fd, m.inode))
            .collect();
        let unix: Vec<(i32, u64)> = missing
            .iter()
            .filter(|m| !m.pipe)
            .filter(|m| {
                entries.iter().any(|e| {
                    e.fd == m.fd
                        && matches!(
                            e.detail,
                            Detail::Socket {
                                socket: Some(SocketDesc::Unix { .. }),
                                ..
                            }
                        )
                })
            })
            .map(|m| (m.fd, m.inode))
            .collect();
        if let Ok(dir) = root.process(pid) {
            // The helper has its own deadline; nothing here can block.
            let t = session
                .timeout()
                .unwrap_or(std::time::Duration::from_secs(1));
            ends = procscope_read::ends::ends(&dir, &pipes, &unix, t).unwrap_or_default();
        }
        let mut creds: Vec<i32> = ends.unix_peer_pid.values().copied().collect();
        creds.sort_unstable();
        creds.dedup();
        look(creds, &mut searched, &mut holders);
        missing = unfound(pid, entries, &holders, keys, modes, &ends);
    }
    // 2b. A TCP peer's socket records the cgroup its creator was in (a
    //     systemd service, a container): the processes of that cgroup,
    //     unless it is a catch-all (the root cgroup holds everything).
    let cgroups: Vec<u64> = missing
        .iter()
        .filter(|m| !m.pipe)
        .filter_map(|m| {
            entries
                .iter()
                .find(|e| e.fd == m.fd)
                .and_then(|e| match &e.detail {
                    Detail::Socket {
                        socket: Some(SocketDesc::Inet { peer_cgroup, .. }),
                        ..
                    } => *peer_cgroup,
                    _ => None,
                })
        })
        .collect();
    if !cgroups.is_empty() {
        if let Ok(me) = root.process(own) {
            for id in cgroups {
                let procs = procscope_read::handle::cgroup_procs(&me, id).unwrap_or_default();
                if procs.len() <= crate::kin::MAX_RELATED {
                    look(procs, &mut searched, &mut holders);
                }
            }
            missing = unfound(pid, entries, &holders, keys, modes, &ends);
        }
    }
    // 3. Its children and siblings (and their descendants), then its
    //    process group and session (an orphaned pipeline's members are
    //    PID 1's children, but still one job).
    let mut groups = false;
    if !missing.is_empty() {
        let r = crate::kin::related(root, session, pid, false);
        groups = r.groups;
        look(r.pids, &mut searched, &mut holders);
        missing = unfound(pid, entries, &holders, keys, modes, &ends);
    }
    if !missing.is_empty() && !groups {
        look(
            crate::kin::related(root, session, pid, true).pids,
            &mut searched,
            &mut holders,
        );
        missing = unfound(pid, entries, &holders, keys, modes, &ends);
    }
    // 4. An end the kernel says is held, by nobody related: the other
    //    processes, nearest PID first (processes forked together have
    //    near PIDs), a batch at a time, until every end is found.
    let widened_for_fd = missing.first().map(|m| m.fd);
    if !missing.is_empty() {
        let mut rest: Vec<i32> = root
            .pids()
            .unwrap_or_default()
            .into_iter()
            .filter(|p| !searched.contains(p))
            .collect();
        rest.sort_by_key(|p| (i64::from(*p) - i64::from(pid)).unsigned_abs());
        for batch in rest.chunks(WIDEN_BATCH) {
            look(batch.to_vec(), &mut searched, &mut holders);
            missing = unfound(pid, entries, &holders, keys, modes, &ends);
            if missing.is_empty() {
                break;
            }
        }
    }
    let processes = searched.iter().filter(|p| **p != own || own == pid).count();
    (
        holders,
        PeerSearch {
            scope: if widened_for_fd.is_some() {
                SearchScope::Widened
            } else {
                SearchScope::Near
            },
            processes,
            widened_for_fd,
        },
    )
}

/// Processes read per step when a near search widens to the host.
const WIDEN_BATCH: usize = 256;

/// Resolves inotify watch paths from their file handles, in one guarded
/// call for the whole process.
fn resolve_inotify(
    root: &procscope_read::ProcRoot,
    pid: i32,
    entries: &mut [FdEntry],
    session: &Session,
) {
    let wanted: Vec<(u64, u64, i32, Vec<u8>)> = entries
        .iter()
        .flat_map(|e| match &e.detail {
            Detail::Inotify { watches } | Detail::Fanotify { watches, .. } => watches
                .iter()
                .filter_map(|w| {
                    let (t, h) = w.handle.clone()?;
                    Some((w.device.0, w.device.1, i32::try_from(t).ok()?, h))
                })
                .collect(),
            _ => Vec::new(),
        })
        .collect();
    if wanted.is_empty() {
        return;
    }
    let Ok(dir) = root.process(pid) else { return };
    let r = session.once(Some(procscope_read::Target::pid(pid)), move || {
        let mut b = Vec::new();
        dir.read(c"mountinfo", &mut b, procscope_read::cap::MOUNTINFO)?;
        let mounts = procscope_parse::mountinfo::parse(&b)
            .map_err(|e| Failure::malformed("mountinfo", e))?;
        Ok(wanted
            .into_iter()
            .map(|(ma, mi, t, h)| {
                // A mount of that filesystem's root, else any of it.
                let dev = (
                    u32::try_from(ma).unwrap_or(0),
                    u32::try_from(mi).unwrap_or(0),
                );
                let m = mounts
                    .iter()
                    .filter(|m| m.dev == dev)
                    .min_by_key(|m| m.root != b"/");
                let path = match m {
                    // A handle lookup there asks the server or daemon, and
                    // a thread stuck on it could not be abandoned.
                    Some(m) if procscope_parse::mountinfo::may_hang(&m.fs_type) => {
                        Err(Failure::Unsupported {
                            what: format!(
                                "looking a handle up on {} (a filesystem that may hang)",
                                String::from_utf8_lossy(&m.fs_type)
                            ),
                        })
                    }
                    Some(m) => procscope_read::handle::path_of(&dir, &m.mount_point, t, &h),
                    None => Err(Failure::Absent {
                        what: format!("no mount of device {ma}:{mi} in its mount table"),
                    }),
                };
                ((ma, mi, h), path)
            })
            .collect::<Vec<_>>())
    });
    let found = match r {
        Ok(v) => v,
        Err(f) => {
            // Every watch gets the same reason (timed out, denied, …).
            for e in entries.iter_mut() {
                if let Detail::Inotify { watches } | Detail::Fanotify { watches, .. } =
                    &mut e.detail
                {
                    for w in watches.iter_mut().filter(|w| w.handle.is_some()) {
                        w.path = Some(Err(f.clone()));
                    }
                }
            }
            return;
        }
    };
    for e in entries.iter_mut() {
        if let Detail::Inotify { watches } | Detail::Fanotify { watches, .. } = &mut e.detail {
            for w in watches.iter_mut() {
                let Some((_, h)) = &w.handle else { continue };
                if let Some((_, p)) = found
                    .iter()
                    .find(|((ma, mi, fh), _)| (*ma, *mi) == w.device && fh == h)
                {
                    w.path = Some(p.clone().map(Bytes));
                }
            }
        }
    }
}

use crate::process::{ser_opt_outcome, ser_outcome};

/// Mount point, filesystem type and device of a mount, by mount ID.
type MountBrief = (Bytes, Bytes, (u32, u32));

/// An fd number, its link, and its fdinfo bytes, as read.
type RawFd = (i32, Outcome<Vec<u8>>, Option<Vec<u8>>);

/// Socket tables already read, by network namespace (`net:[INODE]`), so
/// that a host-wide listing reads each namespace's tables once.
pub type SocketCache = std::sync::Mutex<HashMap<Vec<u8>, std::sync::Arc<HashMap<u64, SocketDesc>>>>;

/// Reads every fd of a process (or only `only`).
pub fn read(dir: &ProcDir, only: &[i32]) -> Outcome<Vec<FdEntry>> {
    read_cached(dir, only, None)
}

/// Fills `cache` with the socket tables of `dir`'s network namespace
/// (before a host-wide listing: most processes share one namespace, and a
/// worker reading the tables while the others run ahead would make the
/// ordered output hold everything they produced meanwhile).
pub fn warm(dir: &ProcDir, cache: &SocketCache) {
    if let Ok(ns) = dir.readlink(c"ns/net") {
        let t = std::sync::Arc::new(socket_tables(dir, None));
        if let Ok(mut m) = cache.lock() {
            m.insert(ns, t);
        }
    }
}

/// Like [`read`], sharing socket tables between processes of the same
/// network namespace through `cache`.
pub fn read_cached(
    dir: &ProcDir,
    only: &[i32],
    cache: Option<&SocketCache>,
) -> Outcome<Vec<FdEntry>> {
    let mut fds = dir.fds()?;
    if !only.is_empty() {
        fds.retain(|f| only.contains(f));
    }
    let mut buf = Vec::with_capacity(4096);
    let mut raw: Vec<RawFd> = Vec::with_capacity(fds.len());
    let mut denied = None;
    for fd in fds {
        let name = std::ffi::CString::new(format!("fd/{fd}")).map_err(|_| Failure::Gone)?;
        let link = dir.readlink(&name);
        if matches!(link, Err(Failure::Gone)) {
            continue; // closed since the listing
        }
        if let Err(e @ Failure::Denied { .. }) = &link {
            // Some LSMs let the fd directory be listed but refuse every
            // link: that is one answer for the process, not one per fd.
            denied.get_or_insert_with(|| e.clone());
        }
        let iname = std::ffi::CString::new(format!("fdinfo/{fd}")).map_err(|_| Failure::Gone)?;
        let info = dir
            .read(&iname, &mut buf, procscope_read::cap::RECORD)
            .ok()
            .map(|_| buf.clone());
        raw.push((fd, link, info));
    }
    if let Some(e) = denied {
        if raw.iter().all(|(_, l, _)| l.is_err()) {
            return Err(e);
        }
    }
    // Tables are read only when something needs them, once.
    let needs_sockets = raw.iter().any(|(_, l, _)| {
        l.as_ref()
            .is_ok_and(|l| matches!(classify(l), FdLink::Socket(_)))
    });
    let needs_mounts = raw.iter().any(|(_, l, _)| {
        l.as_ref().is_ok_and(|l| {
            matches!(classify(l), FdLink::Path { .. }) || l.as_slice() == b"anon_inode:[fanotify]"
        })
    });
    let sockets: std::sync::Arc<HashMap<u64, SocketDesc>> = match (needs_sockets, cache) {
        (false, _) => std::sync::Arc::new(HashMap::new()),
        (true, None) => {
            // One process: ask sock_diag about its unix sockets only.
            let mine: Vec<u64> = raw
                .iter()
                .filter_map(|(_, l, _)| match l.as_ref().map(|l| classify(l)) {
                    Ok(FdLink::Socket(i)) => Some(i),
                    _ => None,
                })
                .collect();
            std::sync::Arc::new(own_sockets(dir, &raw, &mine))
        }
        (true, Some(c)) => match dir.readlink(c"ns/net") {
            Ok(ns) => {
                let hit = c.lock().ok().and_then(|m| m.get(&ns).cloned());
                match hit {
                    Some(t) => t,
                    None => {
                        let t = std::sync::Arc::new(socket_tables(dir, None));
                        if let Ok(mut m) = c.lock() {
                            m.insert(ns, std::sync::Arc::clone(&t));
                        }
                        t
                    }
                }
            }
            Err(_) => std::sync::Arc::new(socket_tables(dir, None)),
        },
    };
    let mounts: HashMap<u64, MountBrief> = if needs_mounts {
        dir.read(c"mountinfo", &mut buf, procscope_read::cap::MOUNTINFO)
            .ok()
            .and_then(|_| procscope_parse::mountinfo::parse(&buf).ok())
            .map(|ms| {
                ms.into_iter()
                    .map(|m| (m.mount_id, (Bytes(m.mount_point), Bytes(m.fs_type), m.dev)))
                    .collect()
            })
            .unwrap_or_default()
    } else {
        HashMap::new()
    };
    let mut links: HashMap<i32, Bytes> = raw
        .iter()
        .filter_map(|(fd, l, _)| l.as_ref().ok().map(|l| (*fd, Bytes(l.clone()))))
        .collect();
    if !only.is_empty() {
        // Some fds only (an epoll set a call waits on): what the sets watch
        // is named by reading those links too.
        for (_, l, info) in &raw {
            if !l
                .as_ref()
                .is_ok_and(|l| l.as_slice() == b"anon_inode:[eventpoll]")
            {
                continue;
            }
            let parsed = info.as_deref().and_then(|b| FdInfo::parse(b).ok());
            if let Some(FdInfo {
                extra: Extra::Epoll(w),
                ..
            }) = parsed
            {
                for t in w.iter().filter_map(|w| i32::try_from(w.tfd).ok()) {
                    if links.contains_key(&t) {
                        continue;
                    }
                    let name =
                        std::ffi::CString::new(format!("fd/{t}")).map_err(|_| Failure::Gone)?;
                    if let Ok(l) = dir.readlink(&name) {
                        links.insert(t, Bytes(l));
                    }
                }
            }
        }
    }
    let mut out = Vec::with_capacity(raw.len());
    for (fd, link, info) in raw {
        let parsed = info.as_deref().and_then(|b| FdInfo::parse(b).ok());
        let detail = match &link {
            Ok(l) => {
                let mut d = describe(l, parsed.as_ref(), &sockets, &mounts, &links);
                if let (Detail::Anon { fields, .. }, Some(raw)) = (&mut d, info.as_deref()) {
                    *fields = anon_fields(raw);
                }
                d
            }
            Err(_) => Detail::Other,
        };
        let file_id = match (&detail, parsed.as_ref()) {
            (Detail::File { .. }, Some(p)) => p
                .mnt_id
                .and_then(|m| mounts.get(&m))
                .zip(p.ino)
                .map(|((_, _, (ma, mi)), ino)| (u64::from(*ma), u64::from(*mi), ino)),
            _ => None,
        };
        out.push(FdEntry {
            fd,
            link: link.map(Bytes),
            pos: parsed.as_ref().map(|p| p.pos),
            flags: parsed.as_ref().map(|p| p.flags),
            mnt_id: parsed.as_ref().and_then(|p| p.mnt_id),
            locks: parsed
                .as_ref()
                .map(|p| p.locks.iter().map(|l| Bytes::from(*l)).collect())
                .unwrap_or_default(),
            detail,
            peers: Vec::new(),
            other_end: Vec::new(),
            file_id,
            file_locks: Vec::new(),
        });
    }
    Ok(out)
}

/// The sockets of `dir`'s network namespace. Unix sockets come from
/// sock_diag (name, type, state and the peer's inode), asked about `only`
/// those inodes one by one, or in one dump for every socket (`None`); the
/// text table `net/unix` when sock_diag is not available. TCP/UDP come from
/// the `net/tcp*`/`net/udp*` tables — with `only`, just the tables still
/// needed for inodes not found yet (a process with unix sockets and one TCP
/// socket does not pay for the UDP tables). Loopback connections get the
/// inode of their other end from the same tables.
fn socket_tables(dir: &ProcDir, only: Option<&[u64]>) -> HashMap<u64, SocketDesc> {
    let mut m = HashMap::new();
    let mut buf = Vec::new();
    let diag = procscope_read::sockdiag::SockDiag::for_process(dir).and_then(|mut d| d.unix(only));
    match diag {
        Ok(found) => {
            for (i, d) in found {
                m.insert(i, unix_desc(&d));
            }
        }
        Err(_) => unix_from_text(dir, &mut buf, &mut m),
    }
    let all_found =
        |m: &HashMap<u64, SocketDesc>| only.is_some_and(|v| v.iter().all(|i| m.contains_key(i)));
    for (file, proto) in [
        (c"net/tcp", "tcp"),
        (c"net/tcp6", "tcp6"),
        (c"net/udp", "udp"),
        (c"net/udp6", "udp6"),
        (c"net/raw", "raw"),
        (c"net/raw6", "raw6"),
    ] {
        if all_found(&m) {
            break;
        }
        if dir.read(file, &mut buf, procscope_read::cap::NET).is_err() {
            continue;
        }
        for s in net::inet_table(&buf) {
            m.insert(
                s.inode,
                SocketDesc::Inet {
                    proto,
                    local: s.local.0,
                    local_port: s.local.1,
                    remote: s.remote.0,
                    remote_port: s.remote.1,
                    state: net::inet_state_name(proto.starts_with("tcp"), s.state),
                    state_number: s.state,
                    tx_queue: s.tx_queue,
                    rx_queue: s.rx_queue,
                    peer_inode: None,
                    peer_cgroup: None,
                },
            );
        }
    }
    link_inet_peers(&mut m);
    m
}

fn unix_kind(t: u8) -> &'static str {
    match t {
        1 => "stream",
        2 => "dgram",
        5 => "seqpacket",
        _ => "unix",
    }
}

/// A unix socket as sock_diag describes it. Its states are the TCP ones
/// (`TCP_LISTEN` 10, `TCP_ESTABLISHED` 1, `TCP_SYN_SENT` 2, `TCP_CLOSE` 7).
fn unix_desc(d: &procscope_parse::sockdiag::UnixDiag) -> SocketDesc {
    let state = match d.state {
        10 => "listening",
        1 => "connected",
        2 => "connecting",
        7 => "unconnected",
        _ => "unknown",
    };
    // An abstract name starts with NUL; shown with `@` like ss and /proc/net/unix.
    let path = d
        .name
        .as_ref()
        .filter(|n| !n.is_empty())
        .map(|n| match n.split_first() {
            Some((0, rest)) => {
                let mut v = b"@".to_vec();
                v.extend_from_slice(rest);
                Bytes(v)
            }
            // A path name may carry its terminating NUL (the bind() length
            // included it); a path cannot contain NUL, so cut at the first.
            _ => Bytes(n.split(|&c| c == 0).next().unwrap_or_default().to_vec()),
        });
    SocketDesc::Unix {
        path,
        kind: unix_kind(d.kind),
        state,
        peer_inode: d.peer.filter(|p| *p != 0).map(u64::from),
    }
}

/// `net/unix` as text (no peers): when sock_diag is not available (a
/// fixture tree, a kernel without CONFIG_UNIX_DIAG).
fn unix_from_text(dir: &ProcDir, buf: &mut Vec<u8>, m: &mut HashMap<u64, SocketDesc>) {
    if dir
        .read(c"net/unix", buf, procscope_read::cap::NET)
        .is_err()
    {
        return;
    }
    for s in net::unix_table(buf) {
        let state = if s.listening {
            "listening"
        } else {
            match s.state {
                1 => "unconnected",
                2 => "connecting",
                3 => "connected",
                4 => "disconnecting",
                _ => "unknown",
            }
        };
        m.insert(
            s.inode,
            SocketDesc::Unix {
                path: s.path.map(Bytes::from),
                kind: unix_kind(u8::try_from(s.sock_type).unwrap_or(0)),
                state,
                peer_inode: None,
            },
        );
    }
}

/// The sockets of one process, asked of the sockets themselves
/// ([`procscope_read::sockinfo`]): unix ones through sock_diag, the others
/// duplicated with pidfd_getfd — no table of the host is read, unless a
/// connection is to this host (its other end is then looked up in the
/// tables) or the process cannot be asked (then the tables answer).
fn own_sockets(dir: &ProcDir, raw: &[RawFd], mine: &[u64]) -> HashMap<u64, SocketDesc> {
    let mut diag = procscope_read::sockdiag::SockDiag::for_process(dir).ok();
    let mut m: HashMap<u64, SocketDesc> = diag
        .as_mut()
        .and_then(|d| d.unix(Some(mine)).ok())
        .map(|found| found.into_iter().map(|(i, d)| (i, unix_desc(&d))).collect())
        .unwrap_or_default();
    let rest: Vec<(i32, u64)> = raw
        .iter()
        .filter_map(|(fd, l, _)| match l.as_ref().map(|l| classify(l)) {
            Ok(FdLink::Socket(i)) if !m.contains_key(&i) => Some((*fd, i)),
            _ => None,
        })
        .collect();
    if rest.is_empty() {
        return m;
    }
    // The helper has its own deadline; nothing here can block.
    let asked = procscope_read::sockinfo::sockets(
        dir,
        &rest,
        procscope_read::guard::Limits::default()
            .timeout
            .unwrap_or(std::time::Duration::from_secs(1)),
    );
    let Ok(infos) = asked else {
        return socket_tables(dir, Some(mine));
    };
    let mut local_peer = false;
    let mut tcp_ends: Vec<(u64, std::net::SocketAddr, std::net::SocketAddr)> = Vec::new();
    for (fd, inode) in &rest {
        let Some(i) = infos.get(fd) else { continue };
        let desc = match (i32::from(i.family), i.sock_type, i.local) {
            (libc_af::INET | libc_af::INET6, 1..=3, Some(local)) => {
                let tcp = i.sock_type == 1;
                let v6 = i32::from(i.family) == libc_af::INET6;
                // A raw socket's "port" is its IP protocol (inet_num).
                let proto = match (i.sock_type, v6) {
                    (1, false) => "tcp",
                    (1, true) => "tcp6",
                    (2, false) => "udp",
                    (2, true) => "udp6",
                    (_, false) => "raw",
                    (_, true) => "raw6",
                };
                let (remote, remote_port) = i.peer.map_or_else(
                    || {
                        let any: IpAddr = if v6 {
                            std::net::Ipv6Addr::UNSPECIFIED.into()
                        } else {
                            std::net::Ipv4Addr::UNSPECIFIED.into()
                        };
                        (any, 0)
                    },
                    |p| (p.ip(), p.port()),
                );
                if let Some(p) = i.peer.filter(|p| {
                    let ip = canonical(p.ip());
                    ip.is_loopback() || ip == canonical(local.ip())
                }) {
                    if tcp {
                        tcp_ends.push((*inode, local, p));
                    } else {
                        local_peer = true;
                    }
                }
                // TCP_INFO's state; a datagram or raw socket is
                // connected (TCP_ESTABLISHED) when it has a peer.
                let state_number = match (tcp, i.tcp_state, i.peer) {
                    (true, Some(s), _) => s,
                    (false, _, Some(_)) => 1,
                    _ => 7,
                };
                SocketDesc::Inet {
                    proto,
                    local: local.ip(),
                    local_port: local.port(),
                    remote,
                    remote_port,
                    state: net::inet_state_name(tcp, state_number),
                    state_number,
                    tx_queue: i.tx_queue.unwrap_or(0),
                    rx_queue: i.rx_queue.unwrap_or(0),
                    peer_inode: None,
                    peer_cgroup: None,
                }
            }
            _ => SocketDesc::Other {
                name: family_name(i.family, i.sock_type),
                protocol: i.protocol,
            },
        };
        m.insert(*inode, desc);
    }
    // TCP connections to this host: the other end by exact sock_diag
    // lookup of the reversed ends (one query each, no table).
    for (inode, local, remote) in tcp_ends {
        let found = diag.as_mut().and_then(|d| d.tcp_peer(remote, local));
        match (found, m.get_mut(&inode)) {
            (
                Some(p),
                Some(SocketDesc::Inet {
                    peer_inode,
                    peer_cgroup,
                    ..
                }),
            ) => {
                *peer_inode = Some(u64::from(p.inode));
                *peer_cgroup = p.cgroup_id;
            }
            (None, _) => local_peer = true,
            _ => {}
        }
    }
    if local_peer {
        // UDP to this host, or a lookup that failed: the tables answer.
        let tables = socket_tables(dir, Some(mine));
        for (i, d) in m.iter_mut() {
            if let (SocketDesc::Inet { peer_inode, .. }, Some(t)) = (d, tables.get(i)) {
                *peer_inode = t.peer_inode();
            }
        }
    }
    m
}

/// An IPv4-mapped IPv6 address as IPv4 (a v4 client's connection to a
/// dual-stack listener is in `tcp`, the accepted end in `tcp6`).
fn canonical(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// Pairs the two ends of connections that are both in these tables.
fn link_inet_peers(m: &mut HashMap<u64, SocketDesc>) {
    // Ends pair within one protocol: tcp with tcp6, udp with udp6.
    type End = (&'static str, IpAddr, u16, IpAddr, u16);
    let mut by_ends: HashMap<End, u64> = HashMap::new();
    for (i, d) in m.iter() {
        if let SocketDesc::Inet {
            proto,
            local,
            local_port,
            remote,
            remote_port,
            ..
        } = d
        {
            if *remote_port != 0 {
                let kind = proto.trim_end_matches('6');
                by_ends.insert(
                    (
                        kind,
                        canonical(*local),
                        *local_port,
                        canonical(*remote),
                        *remote_port,
                    ),
                    *i,
                );
            }
        }
    }
    for d in m.values_mut() {
        if let SocketDesc::Inet {
            proto,
            local,
            local_port,
            remote,
            remote_port,
            peer_inode,
            ..
        } = d
        {
            if *remote_port != 0 {
                let kind = proto.trim_end_matches('6');
                *peer_inode = by_ends
                    .get(&(
                        kind,
                        canonical(*remote),
                        *remote_port,
                        canonical(*local),
                        *local_port,
                    ))
                    .copied();
            }
        }
    }
}

fn describe(
    link: &[u8],
    info: Option<&FdInfo<'_>>,
    sockets: &HashMap<u64, SocketDesc>,
    mounts: &HashMap<u64, MountBrief>,
    links: &HashMap<i32, Bytes>,
) -> Detail {
    let extra = info.map(|i| &i.extra);
    match classify(link) {
        FdLink::Socket(inode) => Detail::Socket {
            inode,
            socket: sockets.get(&inode).cloned(),
        },
        FdLink::Pipe(inode) => Detail::Pipe { inode },
        FdLink::Memfd(name) => Detail::Memfd {
            name: Bytes::from(name),
            size: None,
        },
        FdLink::Path {
            path,
            deleted_suffix,
        } => {
            let m = info.and_then(|i| i.mnt_id).and_then(|id| mounts.get(&id));
            Detail::File {
                path: Bytes::from(path),
                deleted: deleted_suffix,
                unlinked: deleted_suffix,
                nlink: None,
                size: None,
                kind: None,
                mount_point: m.map(|m| m.0.clone()),
                fs_type: m.map(|m| m.1.clone()),
            }
        }
        FdLink::Anon(name) => match extra {
            Some(Extra::Eventfd {
                count,
                id,
                semaphore,
            }) => Detail::Eventfd {
                count: *count,
                id: *id,
                semaphore: *semaphore,
            },
            Some(Extra::Epoll(w)) => Detail::Epoll {
                watches: w
                    .iter()
                    .map(|w| {
                        (
                            w.tfd,
                            w.events,
                            i32::try_from(w.tfd)
                                .ok()
                                .and_then(|t| links.get(&t))
                                .cloned(),
                        )
                    })
                    .collect(),
            },
            Some(Extra::Inotify(w)) => Detail::Inotify {
                watches: watches(w),
            },
            Some(Extra::Fanotify(f)) => Detail::Fanotify {
                watches: watches(&f.inodes),
                marks: fanotify_marks(f, mounts),
                init_flags: f.flags,
                event_flags: f.event_flags,
            },
            Some(Extra::Timerfd {
                clockid,
                ticks,
                it_value,
                it_interval,
                ..
            }) => Detail::Timerfd {
                clockid: *clockid,
                ticks: *ticks,
                next_ns: i128::from(it_value.0) * 1_000_000_000 + i128::from(it_value.1),
                interval_ns: i128::from(it_interval.0) * 1_000_000_000 + i128::from(it_interval.1),
            },
            Some(Extra::Signalfd { sigmask }) => Detail::Signalfd { sigmask: *sigmask },
            Some(Extra::Pidfd { pid, .. }) => Detail::Pidfd {
                pid: *pid,
                comm: None,
            },
            _ if name == b"eventpoll" => Detail::Epoll {
                watches: Vec::new(),
            },
            _ if name == b"inotify" => Detail::Inotify {
                watches: Vec::new(),
            },
            _ => Detail::Anon {
                name: Bytes::from(name),
                fields: Vec::new(),
            },
        },
        FdLink::Other(_) => Detail::Other,
    }
}

/// inotify watches or fanotify inode marks as parsed from fdinfo.
fn watches(w: &[procscope_parse::fdinfo::InotifyWatch<'_>]) -> Vec<InotifyWatch> {
    w.iter()
        .map(|w| InotifyWatch {
            wd: w.wd.unwrap_or(0),
            inode: w.ino,
            device: split_dev(w.sdev),
            mask: w.mask,
            path: None,
            handle: w
                .fhandle_type
                .zip(w.f_handle.and_then(procscope_read::handle::parse_hex)),
        })
        .collect()
}

/// A fanotify group's mount and filesystem marks, placed with the
/// process's mount table.
fn fanotify_marks(
    f: &procscope_parse::fdinfo::Fanotify<'_>,
    mounts: &HashMap<u64, MountBrief>,
) -> Vec<FanotifyMark> {
    let mount = f.mounts.iter().map(|m| {
        let at = m.mnt_id.and_then(|id| mounts.get(&id));
        FanotifyMark {
            kind: "mount",
            mnt_id: m.mnt_id,
            device: at.map(|a| (u64::from(a.2.0), u64::from(a.2.1))),
            mask: m.mask,
            ignored_mask: m.ignored_mask,
            mount_point: at.map(|a| a.0.clone()),
            fs_type: at.map(|a| a.1.clone()),
        }
    });
    let fs = f.filesystems.iter().map(|m| {
        let dev = m.sdev.map(split_dev);
        // One of its mounts: the shortest mount point (its most general).
        let at = dev.and_then(|(ma, mi)| {
            mounts
                .iter()
                .filter(|(_, b)| (u64::from(b.2.0), u64::from(b.2.1)) == (ma, mi))
                .min_by_key(|(id, b)| (b.0.0.len(), **id))
                .map(|(id, b)| (*id, b))
        });
        FanotifyMark {
            kind: "filesystem",
            mnt_id: at.map(|a| a.0),
            device: dev,
            mask: m.mask,
            ignored_mask: m.ignored_mask,
            mount_point: at.map(|a| a.1.0.clone()),
            fs_type: at.map(|a| a.1.1.clone()),
        }
    });
    mount.chain(fs).collect()
}

/// At most this many fdinfo lines are kept for an anonymous inode (an
/// io_uring prints one per queued request).
pub const ANON_FIELDS: usize = 32;

/// The lines an anonymous inode's fdinfo adds to the common ones, split at
/// the first `:` (`map_type:\t2` → (`map_type`, `2`)).
fn anon_fields(raw: &[u8]) -> Vec<(Bytes, Bytes)> {
    raw.split(|&c| c == b'\n')
        .filter_map(|l| procscope_parse::num::split_once(l, b':'))
        .map(|(k, v)| (procscope_parse::num::trim(k), procscope_parse::num::trim(v)))
        .filter(|(k, _)| !matches!(*k, b"pos" | b"flags" | b"mnt_id" | b"ino" | b"lock" | b""))
        .take(ANON_FIELDS)
        .map(|(k, v)| (Bytes::from(k), Bytes::from(v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use procscope_parse::sockdiag::UnixDiag;

    fn diag(name: Option<&[u8]>, state: u8, peer: Option<u32>) -> UnixDiag {
        UnixDiag {
            inode: 1,
            kind: 1,
            state,
            peer,
            name: name.map(<[u8]>::to_vec),
        }
    }

    #[test]
    fn unix_names_and_states_from_sock_diag() {
        let path = |d: &SocketDesc| match d {
            SocketDesc::Unix { path, .. } => path.clone(),
            SocketDesc::Inet { .. } | SocketDesc::Other { .. } => None,
        };
        // A path bound with its NUL; an abstract name with NULs inside.
        assert_eq!(
            path(&unix_desc(&diag(Some(b"/run/a b\0"), 10, None))),
            Some(Bytes(b"/run/a b".to_vec()))
        );
        assert_eq!(
            path(&unix_desc(&diag(Some(b"\0x\0y"), 1, None))),
            Some(Bytes(b"@x\0y".to_vec()))
        );
        assert_eq!(path(&unix_desc(&diag(None, 1, None))), None);
        let d = unix_desc(&diag(None, 1, Some(77)));
        assert!(matches!(
            d,
            SocketDesc::Unix {
                state: "connected",
                kind: "stream",
                peer_inode: Some(77),
                ..
            }
        ));
        assert!(matches!(
            unix_desc(&diag(None, 10, Some(0))),
            SocketDesc::Unix {
                state: "listening",
                peer_inode: None,
                ..
            }
        ));
    }

    #[test]
    fn anonymous_inode_fields() {
        let f = anon_fields(b"pos:\t0\nflags:\t02000002\nmnt_id:\t17\nino:\t1038\nmap_type:\t2\nkey_size:\t4\nmemlock:\t4096\n");
        assert_eq!(
            f,
            vec![
                (Bytes(b"map_type".to_vec()), Bytes(b"2".to_vec())),
                (Bytes(b"key_size".to_vec()), Bytes(b"4".to_vec())),
                (Bytes(b"memlock".to_vec()), Bytes(b"4096".to_vec())),
            ]
        );
        let many: Vec<u8> = (0..100)
            .flat_map(|i| format!("k{i}: v\n").into_bytes())
            .collect();
        assert_eq!(anon_fields(&many).len(), ANON_FIELDS);
    }

    #[test]
    fn loopback_ends_are_paired_across_tcp_and_tcp6() {
        let v4: IpAddr = "127.0.0.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        let sock = |proto, l: IpAddr, lp, r: IpAddr, rp| SocketDesc::Inet {
            proto,
            local: l,
            local_port: lp,
            remote: r,
            remote_port: rp,
            state: "ESTABLISHED",
            state_number: 1,
            tx_queue: 0,
            rx_queue: 0,
            peer_inode: None,
            peer_cgroup: None,
        };
        let mut m = HashMap::new();
        m.insert(1, sock("tcp", v4, 5000, v4, 80));
        m.insert(2, sock("tcp6", mapped, 80, mapped, 5000));
        m.insert(3, sock("udp", v4, 5000, v4, 80)); // UDP never pairs with TCP
        link_inet_peers(&mut m);
        assert_eq!(m[&1].peer_inode(), Some(2));
        assert_eq!(m[&2].peer_inode(), Some(1));
        assert_eq!(m[&3].peer_inode(), None);
    }
}

//! A process's open file descriptors, decoded from `fd/`, `fdinfo/`, its
//! own `mountinfo` and its network namespace's socket tables. Nothing is
//! opened or stat'ed through the fd links (reliability rule 5).
//!
//! Split by fd class as util-linux's lsfd is: `file.rs` (paths, memfds,
//! their stats and locks), `pipe.rs`, `socket.rs`, `socket_kind.rs` and
//! `sockinfo.rs`,
//! `event.rs` (eventfd, epoll, timerfd, signalfd, pidfd, other anonymous
//! inodes), `notify.rs` (inotify, fanotify), `peers.rs` and `near.rs` (the
//! other holders of pipes and sockets), `header.rs` (the listing's header).
//! This file holds what they share:
//! [`FdEntry`], [`Detail`] and the entry points [`read`] and
//! [`resolve_peers`].

use crate::bytes::Bytes;
use crate::process::ser_outcome;
use procscope_parse::fdinfo::{Extra, FdInfo};
use procscope_parse::fdlink::{FdLink, classify};
use procscope_read::{Failure, Outcome, ProcDir, Session};
use serde::Serialize;
use std::collections::HashMap;

mod event;
mod file;
mod header;
mod live;
mod near;
mod notify;
mod peers;
mod pipe;
mod socket;
mod socket_kind;
mod sockinfo;

pub use event::ANON_FIELDS;
pub use file::{FileKind, FileLock, LockTable, apply_stats, file_stats, stat_files};
pub use header::{Header, comm_of, owner};
pub use live::ask_everything;
pub use notify::{FanotifyMark, InotifyWatch, MarkKind};
pub use peers::{HolderIndex, Peer, PeerScope, PeerSearch, SearchScope};
pub use pipe::AccessMode;
pub use socket::{SocketDesc, addr_port};
pub use socket_kind::{InetProto, InetState, SocketFamily, UnixKind, UnixState};

use notify::resolve_inotify;
use peers::{Names, resolve_holders};
use sockinfo::{own_sockets, socket_tables};

/// Splits a kernel `dev_t` (`(major << 20) | minor`, as fdinfo's `sdev`
/// prints it) into major and minor.
pub fn split_dev(dev: u64) -> (u64, u64) {
    (dev >> 20, dev & 0xf_ffff)
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
            } => proto.name(),
            Detail::Socket {
                socket: Some(SocketDesc::Unix { .. }),
                ..
            } => "unix",
            Detail::Socket {
                socket: Some(SocketDesc::Other { name, .. }),
                ..
            } => name.name(),
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

impl FdEntry {
    /// A socket known by its link only (`Detail::Other` with a
    /// `socket:[N]` link): its family was never looked up (`watch` decodes
    /// at most 256 new fds an interval).
    pub fn undecoded_socket(&self) -> bool {
        matches!(self.detail, Detail::Other)
            && self.link.as_ref().is_ok_and(|l| {
                matches!(
                    procscope_parse::fdlink::classify(l.as_slice()),
                    procscope_parse::fdlink::FdLink::Socket(_)
                )
            })
    }
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
                    *fields = event::anon_fields(raw);
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

/// What an fd is, from its link and parsed fdinfo, with what the process's
/// socket and mount tables say: one arm per fd class, each class's details
/// decoded in its own module.
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
        FdLink::Anon(name) => event::describe_anon(name, extra, mounts, links),
        FdLink::Other(_) => Detail::Other,
    }
}

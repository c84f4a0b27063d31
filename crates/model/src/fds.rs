//! A process's open file descriptors, decoded from `fd/`, `fdinfo/`, its
//! own `mountinfo` and its network namespace's socket tables. Nothing is
//! opened or stat'ed through the fd links (reliability rule 5).

use crate::bytes::Bytes;
use procscope_parse::fdinfo::{Extra, FdInfo};
use procscope_parse::fdlink::{FdLink, classify};
use procscope_parse::net;
use procscope_read::{Failure, Outcome, ProcDir};
use serde::Serialize;
use std::collections::HashMap;
use std::net::IpAddr;

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
        /// TCP state name (UDP: `CLOSE` unconnected, `ESTABLISHED` connected).
        state: &'static str,
        /// Send queue, bytes.
        tx_queue: u64,
        /// Receive queue, bytes.
        rx_queue: u64,
    },
    /// A unix-domain socket.
    Unix {
        /// Bound path (`@name` for abstract), if any.
        path: Option<Bytes>,
        /// `stream`, `dgram`, `seqpacket`.
        kind: &'static str,
        /// `listening`, `connected`, `unconnected`, …
        state: &'static str,
    },
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
        /// The link said ` (deleted)`.
        deleted: bool,
        /// Mount point of its mount (from mountinfo by mnt_id).
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
        /// Watches: (wd, inode, device, mask).
        watches: Vec<(u64, u64, u64, u64)>,
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
        /// The PID (-1: exited).
        pid: i64,
    },
    /// A memfd.
    Memfd {
        /// Its name.
        name: Bytes,
    },
    /// Another anonymous inode (io_uring, bpf-map, perf_event, …).
    Anon {
        /// Its name.
        name: Bytes,
    },
    /// Something else.
    Other,
}

impl Detail {
    /// A short type name for tables.
    pub fn type_name(&self) -> &'static str {
        match self {
            Detail::File { .. } => "file",
            Detail::Socket {
                socket: Some(SocketDesc::Inet { proto, .. }),
                ..
            } => proto,
            Detail::Socket {
                socket: Some(SocketDesc::Unix { .. }),
                ..
            } => "unix",
            Detail::Socket { .. } => "socket",
            Detail::Pipe { .. } => "pipe",
            Detail::Eventfd { .. } => "eventfd",
            Detail::Epoll { .. } => "epoll",
            Detail::Inotify { .. } => "inotify",
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

/// Fills [`FdEntry::peers`] for pipes and sockets: every other fd, in any
/// process, on the same inode (a host-wide `readlink` scan, done only when
/// there is a pipe or socket to resolve).
pub fn resolve_peers(
    root: &procscope_read::ProcRoot,
    pid: i32,
    entries: &mut [FdEntry],
    opts: procscope_read::guard::Options,
) {
    let inodes: Vec<u64> = entries
        .iter()
        .filter_map(|e| match e.detail {
            Detail::Pipe { inode } | Detail::Socket { inode, .. } => Some(inode),
            _ => None,
        })
        .collect();
    if inodes.is_empty() {
        return;
    }
    let holders = crate::fdscan::scan(root, opts, crate::fdscan::inode_filter(inodes));
    let mut buf = Vec::new();
    let mut comms: HashMap<i32, Bytes> = HashMap::new();
    for e in entries.iter_mut() {
        let inode = match e.detail {
            Detail::Pipe { inode } | Detail::Socket { inode, .. } => inode,
            _ => continue,
        };
        for h in holders.iter().filter(|h| !(h.pid == pid && h.fd == e.fd)) {
            let same = match classify(h.link.as_slice()) {
                FdLink::Pipe(i) | FdLink::Socket(i) => i == inode,
                _ => false,
            };
            if !same {
                continue;
            }
            let Ok(dir) = root.process(h.pid) else {
                continue;
            };
            let comm = comms
                .entry(h.pid)
                .or_insert_with(|| {
                    dir.read(c"comm", &mut buf, 4096)
                        .map(|_| Bytes::from(procscope_parse::comm::parse(&buf)))
                        .unwrap_or_default()
                })
                .clone();
            let mode = std::ffi::CString::new(format!("fdinfo/{}", h.fd))
                .ok()
                .and_then(|n| dir.read(&n, &mut buf, 64 * 1024).ok())
                .and_then(|_| FdInfo::parse(&buf).ok())
                .map(|i| procscope_parse::decode::access_mode(i.flags));
            e.peers.push(Peer {
                pid: h.pid,
                comm,
                fd: h.fd,
                mode,
            });
        }
    }
}

use crate::process::ser_outcome;

/// An fd number, its link, and its fdinfo bytes, as read.
type RawFd = (i32, Outcome<Vec<u8>>, Option<Vec<u8>>);

/// Socket tables already read, by network namespace (`net:[INODE]`), so
/// that a host-wide listing reads each namespace's tables once.
pub type SocketCache = std::sync::Mutex<HashMap<Vec<u8>, std::sync::Arc<HashMap<u64, SocketDesc>>>>;

/// Reads every fd of a process (or only `only`).
pub fn read(dir: &ProcDir, only: &[i32]) -> Outcome<Vec<FdEntry>> {
    read_cached(dir, only, None)
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
            .read(&iname, &mut buf, 1 << 20)
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
        l.as_ref()
            .is_ok_and(|l| matches!(classify(l), FdLink::Path { .. }))
    });
    let sockets: std::sync::Arc<HashMap<u64, SocketDesc>> = match (needs_sockets, cache) {
        (false, _) => std::sync::Arc::new(HashMap::new()),
        (true, None) => std::sync::Arc::new(socket_tables(dir)),
        (true, Some(c)) => match dir.readlink(c"ns/net") {
            Ok(ns) => {
                let hit = c.lock().ok().and_then(|m| m.get(&ns).cloned());
                match hit {
                    Some(t) => t,
                    None => {
                        let t = std::sync::Arc::new(socket_tables(dir));
                        if let Ok(mut m) = c.lock() {
                            m.insert(ns, std::sync::Arc::clone(&t));
                        }
                        t
                    }
                }
            }
            Err(_) => std::sync::Arc::new(socket_tables(dir)),
        },
    };
    let mounts: HashMap<u64, (Bytes, Bytes)> = if needs_mounts {
        dir.read(c"mountinfo", &mut buf, 16 << 20)
            .ok()
            .and_then(|_| procscope_parse::mountinfo::parse(&buf).ok())
            .map(|ms| {
                ms.into_iter()
                    .map(|m| (m.mount_id, (Bytes(m.mount_point), Bytes(m.fs_type))))
                    .collect()
            })
            .unwrap_or_default()
    } else {
        HashMap::new()
    };
    let links: HashMap<i32, Bytes> = raw
        .iter()
        .filter_map(|(fd, l, _)| l.as_ref().ok().map(|l| (*fd, Bytes(l.clone()))))
        .collect();
    let mut out = Vec::with_capacity(raw.len());
    for (fd, link, info) in raw {
        let parsed = info.as_deref().and_then(|b| FdInfo::parse(b).ok());
        let detail = match &link {
            Ok(l) => describe(l, parsed.as_ref(), &sockets, &mounts, &links),
            Err(_) => Detail::Other,
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
        });
    }
    Ok(out)
}

fn socket_tables(dir: &ProcDir) -> HashMap<u64, SocketDesc> {
    let mut m = HashMap::new();
    let mut buf = Vec::new();
    for (file, proto) in [
        (c"net/tcp", "tcp"),
        (c"net/tcp6", "tcp6"),
        (c"net/udp", "udp"),
        (c"net/udp6", "udp6"),
    ] {
        if dir.read(file, &mut buf, 256 << 20).is_err() {
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
                    state: net::tcp_state_name(s.state),
                    tx_queue: s.tx_queue,
                    rx_queue: s.rx_queue,
                },
            );
        }
    }
    if dir.read(c"net/unix", &mut buf, 256 << 20).is_ok() {
        for s in net::unix_table(&buf) {
            let kind = match s.sock_type {
                1 => "stream",
                2 => "dgram",
                5 => "seqpacket",
                _ => "unix",
            };
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
                    kind,
                    state,
                },
            );
        }
    }
    m
}

fn describe(
    link: &[u8],
    info: Option<&FdInfo<'_>>,
    sockets: &HashMap<u64, SocketDesc>,
    mounts: &HashMap<u64, (Bytes, Bytes)>,
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
        },
        FdLink::Path {
            path,
            deleted_suffix,
        } => {
            let m = info.and_then(|i| i.mnt_id).and_then(|id| mounts.get(&id));
            Detail::File {
                path: Bytes::from(path),
                deleted: deleted_suffix,
                mount_point: m.map(|m| m.0.clone()),
                fs_type: m.map(|m| m.1.clone()),
            }
        }
        FdLink::Anon(name) => match extra {
            Some(Extra::Eventfd {
                count, semaphore, ..
            }) => Detail::Eventfd {
                count: *count,
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
                watches: w
                    .iter()
                    .map(|w| (w.wd.unwrap_or(0), w.ino, w.sdev, w.mask))
                    .collect(),
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
            Some(Extra::Pidfd { pid, .. }) => Detail::Pidfd { pid: *pid },
            _ if name == b"eventpoll" => Detail::Epoll {
                watches: Vec::new(),
            },
            _ if name == b"inotify" => Detail::Inotify {
                watches: Vec::new(),
            },
            _ => Detail::Anon {
                name: Bytes::from(name),
            },
        },
        FdLink::Other(_) => Detail::Other,
    }
}

//! From the model's fd entries to the wire's, with the names of their
//! numbers decoded by `procscope_parse::decode` (what the text shows).

use super::*;
use crate::wire::common::{bit_names, name, opt_bytes, or_error};
use procscope_parse::decode;

/// `v` within i64 (the kernel's timespecs fit: seconds are 64-bit and
/// nanoseconds of them would need 292 years).
fn saturate(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

fn file_kind(k: m::FileKind) -> String {
    match k {
        m::FileKind::Regular => "regular",
        m::FileKind::Directory => "directory",
        m::FileKind::CharDevice => "char_device",
        m::FileKind::BlockDevice => "block_device",
        m::FileKind::Symlink => "symlink",
        m::FileKind::Socket => "socket",
    }
    .into()
}

fn inode_watches(v: &[m::InotifyWatch], table: &[(u64, &str)]) -> Vec<InodeWatch> {
    v.iter()
        .map(|w| InodeWatch {
            wd: w.wd,
            inode: w.inode,
            device: w.device,
            mask: w.mask,
            mask_names: bit_names(w.mask, table),
            path: w
                .path
                .as_ref()
                .map(|p| or_error(p, crate::wire::common::bytes)),
        })
        .collect()
}

impl From<&m::SocketDesc> for Socket {
    fn from(s: &m::SocketDesc) -> Socket {
        match s {
            m::SocketDesc::Inet {
                proto,
                local,
                local_port,
                remote,
                remote_port,
                state,
                state_number,
                tx_queue,
                rx_queue,
                peer_inode,
                ..
            } => Socket::Inet {
                proto: name(proto),
                local: *local,
                local_port: *local_port,
                remote: *remote,
                remote_port: *remote_port,
                state: name(state),
                state_number: *state_number,
                tx_queue: *tx_queue,
                rx_queue: *rx_queue,
                peer_inode: *peer_inode,
            },
            m::SocketDesc::Unix {
                path,
                kind,
                state,
                peer_inode,
            } => Socket::Unix {
                path: opt_bytes(path.as_ref()),
                kind: name(kind),
                state: name(state),
                peer_inode: *peer_inode,
            },
            m::SocketDesc::Other { name, protocol } => Socket::Other {
                name: self::name(name),
                protocol: *protocol,
            },
        }
    }
}

impl From<&m::Detail> for Detail {
    fn from(d: &m::Detail) -> Detail {
        match d {
            m::Detail::File {
                path,
                deleted,
                unlinked,
                nlink,
                size,
                kind,
                mount_point,
                fs_type,
            } => Detail::File {
                path: Bytes::from(path),
                deleted: *deleted,
                unlinked: *unlinked,
                nlink: *nlink,
                size: *size,
                kind: kind.map(file_kind),
                mount_point: opt_bytes(mount_point.as_ref()),
                fs_type: opt_bytes(fs_type.as_ref()),
            },
            m::Detail::Fifo {
                path,
                inode,
                mount_point,
                fs_type,
            } => Detail::Fifo {
                path: Bytes::from(path),
                inode: *inode,
                mount_point: opt_bytes(mount_point.as_ref()),
                fs_type: opt_bytes(fs_type.as_ref()),
            },
            m::Detail::Socket { inode, socket } => Detail::Socket {
                inode: *inode,
                socket: socket.as_ref().map(Socket::from),
            },
            m::Detail::Pipe { inode } => Detail::Pipe { inode: *inode },
            m::Detail::Eventfd {
                count,
                id,
                semaphore,
            } => Detail::Eventfd {
                count: *count,
                id: *id,
                semaphore: *semaphore,
            },
            m::Detail::Epoll { watches } => Detail::Epoll {
                watches: watches
                    .iter()
                    .map(|(fd, ev, what)| {
                        (
                            *fd,
                            *ev,
                            opt_bytes(what.as_ref()),
                            bit_names(*ev, decode::EPOLL_EVENTS),
                        )
                    })
                    .collect(),
            },
            m::Detail::Inotify { watches } => Detail::Inotify {
                watches: inode_watches(watches, decode::INOTIFY_MASK),
            },
            m::Detail::Fanotify {
                watches,
                marks,
                init_flags,
                event_flags,
            } => Detail::Fanotify {
                watches: inode_watches(watches, decode::FANOTIFY_MASK),
                marks: marks
                    .iter()
                    .map(|k| FanotifyMark {
                        kind: name(&k.kind),
                        mnt_id: k.mnt_id,
                        device: k.device,
                        mask: k.mask,
                        mask_names: bit_names(k.mask, decode::FANOTIFY_MASK),
                        ignored_mask: k.ignored_mask,
                        ignored_mask_names: bit_names(k.ignored_mask, decode::FANOTIFY_MASK),
                        mount_point: opt_bytes(k.mount_point.as_ref()),
                        fs_type: opt_bytes(k.fs_type.as_ref()),
                    })
                    .collect(),
                init_flags: *init_flags,
                init_flag_names: init_flags.map(decode::fanotify_init_names),
                event_flags: *event_flags,
                event_flag_names: event_flags.map(decode::open_flags),
            },
            m::Detail::Timerfd {
                clockid,
                ticks,
                next_ns,
                interval_ns,
            } => Detail::Timerfd {
                clockid: *clockid,
                clock: decode::clock_name(*clockid),
                ticks: *ticks,
                next_ns: saturate(*next_ns),
                interval_ns: saturate(*interval_ns),
            },
            m::Detail::Signalfd { sigmask } => Detail::Signalfd {
                sigmask: *sigmask,
                signals: decode::signals(*sigmask),
            },
            m::Detail::Pidfd { pid, comm } => Detail::Pidfd {
                pid: *pid,
                comm: opt_bytes(comm.as_ref()),
            },
            m::Detail::Memfd { name, size } => Detail::Memfd {
                name: Bytes::from(name),
                size: *size,
            },
            m::Detail::Anon { name, fields } => Detail::Anon {
                name: Bytes::from(name),
                fields: fields
                    .iter()
                    .map(|(k, v)| (Bytes::from(k), Bytes::from(v)))
                    .collect(),
            },
            m::Detail::Other => Detail::Other,
        }
    }
}

fn peers(v: &[m::Peer]) -> Vec<Peer> {
    v.iter()
        .map(|p| Peer {
            pid: p.pid,
            comm: Bytes::from(&p.comm),
            fd: p.fd,
            mode: p.mode.as_ref().map(name),
        })
        .collect()
}

impl From<&m::FdEntry> for Fd {
    fn from(e: &m::FdEntry) -> Fd {
        Fd {
            fd: e.fd,
            link: or_error(&e.link, crate::wire::common::bytes),
            pos: e.pos,
            flags: e.flags,
            flag_names: e.flags.map(decode::open_flags),
            mnt_id: e.mnt_id,
            locks: e.locks.iter().map(Bytes::from).collect(),
            detail: Detail::from(&e.detail),
            peers: peers(&e.peers),
            other_end: peers(&e.other_end),
            file_locks: e
                .file_locks
                .iter()
                .map(|l| FileLock {
                    kind: Bytes::from(&l.kind),
                    access: Bytes::from(&l.access),
                    mode: Bytes::from(&l.mode),
                    pid: l.pid,
                    comm: opt_bytes(l.comm.as_ref()),
                    start: l.start,
                    end: l.end,
                    waiting: l.waiting,
                })
                .collect(),
        }
    }
}

//! One fd in words: [`describe`] for the DESCRIPTION column of `fds`,
//! [`brief`] for a decoded system call (`stack`, `why`, `hung`), and
//! [`search_line`] for how far the other ends were looked for.

use crate::escape::escape;
use procscope_model::bytes::Bytes;
use procscope_model::fds::{
    AccessMode, Detail, FdEntry, FileLock, InetState, MarkKind, SocketDesc,
};
use procscope_model::fds::{Peer, PeerSearch, SearchScope, addr_port};
use procscope_parse::decode;

mod names;
pub use names::{access_mode, inet_state, mark_kind, unix_kind, unix_state};

fn secs(ns: i128) -> String {
    crate::units::duration_ns(u128::try_from(ns).unwrap_or(0))
}

fn addr(a: std::net::IpAddr, p: u16) -> String {
    procscope_model::fds::addr_port(&a, p)
}

/// Inotify watches or fanotify inode marks: mask by name and the path.
fn inode_watches(watches: &[procscope_model::fds::InotifyWatch], fanotify: bool) -> Vec<String> {
    watches
        .iter()
        .map(|w| {
            let (mask, what) = if fanotify {
                (
                    decode::bits(w.mask, decode::FANOTIFY_MASK),
                    "inode".to_string(),
                )
            } else {
                (
                    decode::bits(w.mask, decode::INOTIFY_MASK),
                    format!("wd {}", w.wd),
                )
            };
            let (ma, mi) = w.device;
            match &w.path {
                Some(Ok(p)) => format!("{what}: {mask} on {}", escape(p.as_slice())),
                Some(Err(f)) => format!(
                    "{what}: {mask} on inode {} (dev {ma}:{mi}; path: {f})",
                    w.inode
                ),
                None => format!("{what}: {mask} on inode {} (dev {ma}:{mi})", w.inode),
            }
        })
        .collect()
}

/// The human description of an fd; `searched`: its other ends were looked
/// for (an empty list then means nobody holds them).
pub fn describe(e: &FdEntry, searched: bool) -> String {
    let mut s = match &e.detail {
        Detail::File {
            path,
            deleted,
            unlinked,
            nlink,
            size,
            mount_point,
            fs_type,
            ..
        } => {
            let mut s = escape(path.as_slice()).into_owned();
            if *deleted {
                s.push_str(" (deleted)");
            } else if *unlinked {
                let n = nlink.map_or_else(String::new, |n| format!(": {n} other link(s) remain"));
                s.push_str(&format!(" (this name was unlinked{n})"));
            }
            let size = size.map(bytes);
            match (size, mount_point, fs_type) {
                (Some(z), Some(m), Some(t)) => s.push_str(&format!(
                    "  [{z}, on {} {}]",
                    escape(m.as_slice()),
                    escape(t.as_slice())
                )),
                (None, Some(m), Some(t)) => s.push_str(&format!(
                    "  [on {} {}]",
                    escape(m.as_slice()),
                    escape(t.as_slice())
                )),
                (Some(z), _, _) => s.push_str(&format!("  [{z}]")),
                _ => {}
            }
            s
        }
        Detail::Socket {
            inode,
            socket: None,
        } => format!("socket:[{inode}] (not in this namespace's tcp/udp/unix tables)"),
        Detail::Socket {
            inode,
            socket: Some(SocketDesc::Other { name, protocol }),
        } => match protocol {
            Some(p) => format!("{} socket:[{inode}] protocol {p}", name.name()),
            None => format!("{} socket:[{inode}]", name.name()),
        },
        Detail::Socket {
            socket:
                Some(SocketDesc::Inet {
                    local,
                    local_port,
                    remote,
                    remote_port,
                    state,
                    tx_queue,
                    rx_queue,
                    ..
                }),
            ..
        } => {
            let raw = matches!(e.detail.type_name(), "raw" | "raw6");
            let listening = *state == InetState::Listen;
            let state = inet_state(*state);
            let mut s = if raw {
                // A raw socket's "port" is the IP protocol it carries.
                let peer = if remote.is_unspecified() {
                    String::new()
                } else {
                    format!(" -> {remote}")
                };
                format!("{local} protocol {local_port}{peer} {state}")
            } else if listening || (remote.is_unspecified() && *remote_port == 0) {
                format!("{} {state}", addr(*local, *local_port))
            } else {
                format!(
                    "{} -> {} {state}",
                    addr(*local, *local_port),
                    addr(*remote, *remote_port)
                )
            };
            if *tx_queue > 0 || *rx_queue > 0 {
                s.push_str(&format!(
                    " (queued: {tx_queue} to send, {rx_queue} to read)"
                ));
            }
            s
        }
        Detail::Socket {
            socket:
                Some(SocketDesc::Unix {
                    path,
                    kind,
                    state,
                    peer_inode,
                }),
            inode,
        } => {
            let (kind, state) = (unix_kind(*kind), unix_state(*state));
            let mut s = match path {
                Some(p) => format!("{kind} {state} {}", escape(p.as_slice())),
                None => format!("{kind} {state} (unnamed) socket:[{inode}]"),
            };
            if let (Some(p), true) = (peer_inode, e.other_end.is_empty()) {
                s.push_str(&format!(" -> socket:[{p}]"));
            }
            s
        }
        Detail::Pipe { inode } => format!("pipe:[{inode}]"),
        Detail::Fifo { path, .. } => escape(path.as_slice()).into_owned(),
        Detail::Eventfd {
            count,
            id,
            semaphore,
        } => {
            let id = id.map_or_else(String::new, |i| format!(", id {i}"));
            let sem = if *semaphore == Some(true) {
                " (semaphore)"
            } else {
                ""
            };
            format!("count {count}{sem}{id}")
        }
        Detail::Epoll { watches } => {
            let w: Vec<String> = watches
                .iter()
                .map(|(fd, ev, what)| {
                    let what = what.as_ref().map_or_else(
                        || "closed".to_string(),
                        |b| escape(b.as_slice()).into_owned(),
                    );
                    format!(
                        "fd {fd} {} -> {what}",
                        decode::bits(*ev, decode::EPOLL_EVENTS)
                    )
                })
                .collect();
            if w.is_empty() {
                "empty set".into()
            } else {
                format!("watches {}", w.join(", "))
            }
        }
        Detail::Inotify { watches } => {
            let w = inode_watches(watches, false);
            if w.is_empty() {
                "no watches".into()
            } else {
                w.join(", ")
            }
        }
        Detail::Fanotify {
            watches,
            marks,
            init_flags,
            ..
        } => {
            let mut w: Vec<String> = init_flags.map(decode::fanotify_init).into_iter().collect();
            for m in marks {
                let mask = decode::bits(m.mask, decode::FANOTIFY_MASK);
                let ignored = if m.ignored_mask == 0 {
                    String::new()
                } else {
                    format!(
                        " (ignoring {})",
                        decode::bits(m.ignored_mask, decode::FANOTIFY_MASK)
                    )
                };
                let at = match (&m.mount_point, &m.fs_type) {
                    (Some(p), Some(t)) => {
                        format!("{} ({})", escape(p.as_slice()), escape(t.as_slice()))
                    }
                    _ => match (m.mnt_id, m.device) {
                        (_, Some((ma, mi))) if m.kind == MarkKind::Filesystem => {
                            format!("dev {ma}:{mi}")
                        }
                        (Some(id), _) => format!("mount ID {id}"),
                        _ => "?".into(),
                    },
                };
                w.push(format!("{} {at}: {mask}{ignored}", mark_kind(m.kind)));
            }
            w.extend(inode_watches(watches, true));
            if marks.is_empty() && watches.is_empty() {
                w.push("no marks".into());
            }
            w.join(", ")
        }
        Detail::Timerfd {
            clockid,
            ticks,
            next_ns,
            interval_ns,
        } => {
            let next = if *next_ns == 0 {
                "disarmed".to_string()
            } else {
                format!("next in {}", secs(*next_ns))
            };
            let every = if *interval_ns == 0 {
                "one-shot".to_string()
            } else {
                format!("every {}", secs(*interval_ns))
            };
            format!(
                "{}, {next}, {every}, {ticks} unread expirations",
                decode::clock_name(*clockid)
            )
        }
        Detail::Signalfd { sigmask } => decode::signals(*sigmask).join(", "),
        Detail::Pidfd { pid, comm } => match (*pid, comm) {
            (p, _) if p < 0 => "process exited".into(),
            (0, _) => "a process in another PID namespace".into(),
            (p, Some(c)) => format!("PID {p} ({})", escape(c.as_slice())),
            (p, None) => format!("PID {p} (exited since)"),
        },
        Detail::Memfd { name, size } => match size {
            Some(z) => format!("memfd:{}  [{}]", escape(name.as_slice()), bytes(*z)),
            None => format!("memfd:{}", escape(name.as_slice())),
        },
        Detail::Anon { name, fields } => {
            let mut s = format!("anon_inode:{}", escape(name.as_slice()));
            for (k, v) in fields.iter().take(6) {
                s.push_str(&format!(
                    " {}={}",
                    escape(k.as_slice()),
                    escape(v.as_slice())
                ));
            }
            if fields.len() > 6 {
                s.push_str(&format!(" (+{} more in --json)", fields.len() - 6));
            }
            s
        }
        Detail::Other => e.link.as_ref().map_or_else(
            |f| format!("? ({f})"),
            |l| escape(l.as_slice()).into_owned(),
        ),
    };
    if let Detail::Pipe { .. } | Detail::Fifo { .. } = e.detail {
        let end = match e.flags.map(AccessMode::of_flags) {
            Some(AccessMode::Read) => " read end",
            Some(AccessMode::Write) => " write end",
            Some(AccessMode::ReadWrite) => {
                " opened for reading and writing (its own reader and writer)"
            }
            _ => "",
        };
        s.push_str(end);
    }
    let both_ends = e.flags.map(AccessMode::of_flags) == Some(AccessMode::ReadWrite);
    if matches!(e.detail, Detail::Pipe { .. } | Detail::Fifo { .. })
        && both_ends
        && !e.peers.is_empty()
    {
        s.push_str(&format!("; also held by {}", holders(&e.peers)));
    } else if matches!(e.detail, Detail::Pipe { .. } | Detail::Fifo { .. })
        && !both_ends
        && (searched || !e.peers.is_empty())
    {
        // Who is at the other end of a pipe: writers for a read end,
        // readers for a write end.
        let (writers, readers): (Vec<_>, Vec<_>) = e
            .peers
            .iter()
            .cloned()
            .partition(|p| matches!(p.mode, Some(AccessMode::Write | AccessMode::ReadWrite)));
        let mine_is_read = e.flags.map(AccessMode::of_flags) == Some(AccessMode::Read);
        let (other, same, other_verb, same_verb) = if mine_is_read {
            (writers, readers, "written by", "also read by")
        } else {
            (readers, writers, "read by", "also written by")
        };
        if other.is_empty() {
            s.push_str(if mine_is_read {
                "; no writer left"
            } else {
                "; no reader left"
            });
        } else {
            s.push_str(&format!("; {other_verb} {}", holders(&other)));
        }
        if !same.is_empty() {
            s.push_str(&format!("; {same_verb} {}", holders(&same)));
        }
    } else if !e.peers.is_empty() {
        s.push_str(&format!("; also held by {}", holders(&e.peers)));
    }
    if !e.other_end.is_empty() {
        s.push_str(&format!("; other end: {}", holders(&e.other_end)));
    }
    // Locks as /proc/locks has them (with holders' names and waiters);
    // else the fd's own `lock:` lines, decoded the same way.
    let own: Vec<FileLock>;
    let locks = if e.file_locks.is_empty() {
        own = e.locks.iter().filter_map(FileLock::from_fdinfo).collect();
        for l in e
            .locks
            .iter()
            .filter(|l| FileLock::from_fdinfo(l).is_none())
        {
            s.push_str(&format!("  lock: {}", escape(l.as_slice())));
        }
        &own
    } else {
        &e.file_locks
    };
    if !locks.is_empty() {
        let (held, waiting): (Vec<_>, Vec<_>) = locks.iter().partition(|l| !l.waiting);
        let text = |l: &FileLock| {
            let who = match &l.comm {
                Some(c) => format!("{} ({})", l.pid, escape(c.as_slice())),
                None => l.pid.to_string(),
            };
            let range = match (l.start, l.end) {
                (0, None) => String::new(),
                (a, None) => format!(" {a}-EOF"),
                (a, Some(b)) => format!(" {a}-{b}"),
            };
            format!(
                "{} {}{range} by {who}",
                escape(l.kind.as_slice()),
                escape(l.access.as_slice())
            )
        };
        if !held.is_empty() {
            let h: Vec<String> = held.iter().map(|l| text(l)).collect();
            s.push_str(&format!("  locked: {}", h.join(", ")));
        }
        if !waiting.is_empty() {
            let w: Vec<String> = waiting.iter().map(|l| text(l)).collect();
            s.push_str(&format!("; waiting: {}", w.join(", ")));
        }
    }
    s
}

/// A size: bytes below 1 KiB, else in units.
fn bytes(z: u64) -> String {
    if z < 1024 {
        format!("{z} B")
    } else {
        crate::units::size(z)
    }
}

fn holders(v: &[procscope_model::fds::Peer]) -> String {
    v.iter()
        .map(|p| {
            format!(
                "{} ({}) fd {}{}",
                p.pid,
                escape(p.comm.as_slice()),
                p.fd,
                p.mode
                    .map(|m| format!(" {}", access_mode(m)))
                    .unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A one-line description of an fd for a decoded system call: what it is,
/// and who is at the other end or holds its locks, when resolved
/// (`pipe:[123] read end [written by 812 (tar)]`).
pub fn brief(e: &FdEntry) -> String {
    let lossy = |b: &Bytes| String::from_utf8_lossy(b.as_slice()).into_owned();
    let names = |v: &[Peer]| {
        let mut seen: Vec<String> = Vec::new();
        for p in v {
            let n = format!("{} ({})", p.pid, lossy(&p.comm));
            if !seen.contains(&n) {
                seen.push(n);
            }
        }
        seen.join(", ")
    };
    let mode = e.flags.map(AccessMode::of_flags);
    let mut s = match &e.detail {
        Detail::File {
            path,
            mount_point,
            fs_type,
            ..
        } => match (mount_point, fs_type) {
            (Some(m), Some(t)) if m.as_slice() != b"/" => {
                format!("{} on {} {}", lossy(path), lossy(m), lossy(t))
            }
            _ => lossy(path),
        },
        Detail::Pipe { inode } => {
            let end = match mode {
                Some(AccessMode::Read) => " read end",
                Some(AccessMode::Write) => " write end",
                _ => "",
            };
            format!("pipe:[{inode}]{end}")
        }
        Detail::Fifo { path, .. } => {
            let end = match mode {
                Some(AccessMode::Read) => " read end",
                Some(AccessMode::Write) => " write end",
                _ => "",
            };
            format!("FIFO {}{end}", lossy(path))
        }
        Detail::Socket {
            socket: Some(SocketDesc::Unix {
                path, kind, state, ..
            }),
            inode,
        } => {
            let (kind, state) = (unix_kind(*kind), unix_state(*state));
            match path {
                Some(p) => format!("unix {kind} {state} {}", lossy(p)),
                None => format!("unix {kind} {state} socket:[{inode}]"),
            }
        }
        Detail::Socket {
            socket:
                Some(SocketDesc::Inet {
                    proto,
                    local,
                    local_port,
                    remote,
                    remote_port,
                    state,
                    ..
                }),
            ..
        } => {
            let (proto, state) = (proto.name(), inet_state(*state));
            if *remote_port == 0 {
                format!("{proto} {} {state}", addr_port(local, *local_port))
            } else {
                format!(
                    "{proto} {} -> {} {state}",
                    addr_port(local, *local_port),
                    addr_port(remote, *remote_port)
                )
            }
        }
        Detail::Socket { inode, .. } => format!("socket:[{inode}]"),
        // An epoll set by what it watches (the fds epoll_wait waits on).
        Detail::Epoll { watches } if watches.is_empty() => "epoll, empty".into(),
        Detail::Epoll { watches } => {
            let mut w: Vec<String> = watches
                .iter()
                .take(8)
                .map(|(fd, _, what)| match what {
                    Some(l) => format!("fd {fd} {}", lossy(l)),
                    None => format!("fd {fd} (closed)"),
                })
                .collect();
            if watches.len() > 8 {
                w.push(format!("{} more", watches.len() - 8));
            }
            format!("epoll watching {}", w.join(", "))
        }
        other => other.type_name().to_string(),
    };
    let mut extra: Vec<String> = Vec::new();
    if let Detail::Pipe { .. } | Detail::Fifo { .. } = e.detail {
        let want: &[AccessMode] = if mode == Some(AccessMode::Read) {
            &[AccessMode::Write, AccessMode::ReadWrite]
        } else {
            &[AccessMode::Read, AccessMode::ReadWrite]
        };
        let verb = if mode == Some(AccessMode::Read) {
            "written by"
        } else {
            "read by"
        };
        let other: Vec<Peer> = e
            .peers
            .iter()
            .filter(|p| p.mode.is_some_and(|m| want.contains(&m)))
            .cloned()
            .collect();
        if !other.is_empty() {
            extra.push(format!("{verb} {}", names(&other)));
        }
    }
    if !e.other_end.is_empty() {
        extra.push(format!("peer {}", names(&e.other_end)));
    }
    let holders: Vec<String> = e
        .file_locks
        .iter()
        .filter(|l| !l.waiting)
        .map(|l| match &l.comm {
            Some(c) => format!("{} ({})", l.pid, lossy(c)),
            None => l.pid.to_string(),
        })
        .collect();
    if !holders.is_empty() {
        extra.push(format!("locked by {}", holders.join(", ")));
    }
    if !extra.is_empty() {
        s.push_str(&format!(" [{}]", extra.join("; ")));
    }
    s
}

/// How far the holders of the other ends were looked for (the last line
/// of `fds PID`).
pub fn search_line(s: &PeerSearch) -> String {
    match (s.scope, s.widened_for_fd) {
        (SearchScope::Near, _) => format!(
            "other ends looked for among {} related processes; --peers all lists every holder on the host",
            s.processes
        ),
        (SearchScope::Widened, Some(fd)) => format!(
            "other ends looked for among {} processes: fd {fd}'s other end is held by no related process; --peers all lists every holder",
            s.processes
        ),
        _ => format!("other ends looked for in all {} processes", s.processes),
    }
}

//! The scan behind `who-has`: fds matched by inode, identity or path,
//! confirmed by identity; the other uses of a path; deleted files with
//! their sizes; each holding process named once.

use super::{PathMatch, Query};
use crate::bytes::Bytes;
use crate::fdscan::{self, Holder, UseKind};
use procscope_parse::fdlink::{FdLink, classify};
use procscope_read::{Failure, FdStat, ProcRoot, Session, guard};
use std::collections::HashMap;

/// How a process uses what was asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Use {
    /// An open fd.
    Fd(i32),
    /// Its working directory, root, executable or a mapped file.
    Other(UseKind),
}

/// One use of what was asked about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Process ID.
    pub pid: i32,
    /// Its name.
    pub comm: Bytes,
    /// Its effective UID, when read.
    pub uid: Option<u32>,
    /// That user's name, when it has one.
    pub user: Option<Bytes>,
    /// How it uses it.
    pub what: Use,
    /// The fd's access mode, from its fdinfo.
    pub mode: Option<crate::fds::AccessMode>,
    /// The link: the path, `pipe:[N]`, `socket:[N]`.
    pub link: Bytes,
    /// A deleted file's size (`--deleted`), when read.
    pub size: Option<u64>,
}

/// What `who-has` found.
#[derive(Debug, Clone, Default)]
pub struct Found {
    /// Every use, by PID, the other uses of a process before its fds.
    pub rows: Vec<Row>,
    /// Processes whose fds could not be read (procscope itself left out).
    pub unreadable: Vec<(i32, Failure)>,
    /// Links with the path that are a different file (another mount
    /// namespace's, or one replaced since): left out.
    pub not_same: usize,
}

/// For each item, whether it is the file asked about: its identity read
/// through the process's magic link (`fd/N`, `cwd`, `root`, `exe`,
/// `map_files/A-B`) from the kernel's cache, under the deadline. An item
/// whose identity cannot be read is kept (it matched by name).
fn confirm(
    root: &ProcRoot,
    session: &Session,
    m: &PathMatch,
    items: Vec<(i32, String)>,
) -> Vec<bool> {
    let own_ns = root
        .process(root.own_pid())
        .and_then(|d| d.readlink(c"ns/mnt"))
        .ok();
    let r2 = root.clone();
    let m2 = m.clone();
    session
        .run(
            items,
            move |(pid, name): (i32, String), ctx: &guard::Ctx<(), bool>| {
                let Ok(dir) = r2.process(pid) else {
                    return true;
                };
                let same_ns = own_ns.is_some() && dir.readlink(c"ns/mnt").ok() == own_ns;
                match ctx.guarded(|| dir.link_stat(&name)) {
                    Ok(st) => m2.is(&st, same_ns),
                    Err(_) => true,
                }
            },
        )
        .into_iter()
        .map(|f| f.rest.unwrap_or(true))
        .collect()
}

/// The identities of links (`fd/N`, `exe`, `map_files/A-B`), from the
/// kernel's cached inode, under the deadline (`None`: not read).
fn link_stats(
    root: &ProcRoot,
    session: &Session,
    items: Vec<(i32, String)>,
) -> Vec<Option<FdStat>> {
    let r2 = root.clone();
    session
        .run(
            items,
            move |(pid, name): (i32, String), ctx: &guard::Ctx<(), Option<FdStat>>| {
                ctx.guarded(|| Ok(r2.process(pid).and_then(|d| d.link_stat(&name)).ok()))
                    .ok()
                    .flatten()
            },
        )
        .into_iter()
        .map(|f| f.rest.ok().flatten())
        .collect()
}

/// The `map_files/` name or link name of a use.
fn use_link(u: &fdscan::Use) -> String {
    match u.range {
        Some((a, b)) => format!("map_files/{a:x}-{b:x}"),
        None => u.what.name().to_string(),
    }
}

/// A deleted file's link that is a real file (not a memfd, SysV shared
/// memory or /dev/zero mapping, which print ` (deleted)` too).
fn deleted_link(l: &[u8], mapping: bool) -> bool {
    l.starts_with(b"/")
        && l.ends_with(b" (deleted)")
        && !l.starts_with(b"/memfd:")
        && !(mapping && (l.starts_with(b"/SYSV") || l.starts_with(b"/dev/zero")))
}

/// The fds that are what was asked about, and the processes that could
/// not be looked into.
fn holders(root: &ProcRoot, session: &Session, q: &Query) -> (Vec<Holder>, Vec<(i32, Failure)>) {
    match q {
        Query::Inodes(i) if i.is_empty() => (Vec::new(), Vec::new()),
        Query::Inodes(i) => fdscan::scan_reporting(root, session, fdscan::inode_filter(i.clone())),
        // A file whose identity is known: every fd that is that inode,
        // whatever name it has there (hard links, bind mounts, another
        // namespace's mount of the same filesystem), as fuser finds them;
        // plus unix sockets bound at the path.
        Query::Path(
            m @ PathMatch {
                under: false,
                target: Some(t),
                ..
            },
        ) if !t.dir => {
            let sockets = unix_sockets_at(root, m);
            let (mut h, mut u) = fdscan::scan_identity(root, session, t.dev, t.ino, |_| false);
            // A snapshot answers the identities recorded when it was taken:
            // an fd taken without one (it opened meanwhile, its stat timed
            // out) is matched by its link text, as in a tree.
            if root.is_snapshot() {
                let m2 = m.clone();
                let (th, tu) = fdscan::scan_reporting(root, session, move |l: &[u8]| m2.matches(l));
                let unknown: Vec<Holder> = th
                    .into_iter()
                    .filter(|x| !h.iter().any(|y| (y.pid, y.fd) == (x.pid, x.fd)))
                    .filter(|x| root.process(x.pid).and_then(|d| d.fd_stat(x.fd)).is_err())
                    .collect();
                h.extend(unknown);
                u.extend(tu);
                u.sort_by_key(|(p, _)| *p);
                u.dedup_by_key(|(p, _)| *p);
            }
            if !sockets.is_empty() {
                let (sh, su) = fdscan::scan_reporting(
                    root,
                    session,
                    move |l: &[u8]| matches!(classify(l), FdLink::Socket(i) if sockets.contains(&i)),
                );
                h.extend(sh);
                u.extend(su);
                u.sort_by_key(|(p, _)| *p);
                u.dedup_by_key(|(p, _)| *p);
            }
            (h, u)
        }
        Query::Path(m) => {
            let m = m.clone();
            // A unix socket bound at the path (or under it): its fds show
            // as socket:[INODE], not as the path.
            let sockets = unix_sockets_at(root, &m);
            fdscan::scan_reporting(root, session, move |l: &[u8]| {
                if let FdLink::Socket(i) = classify(l) {
                    return sockets.contains(&i);
                }
                m.matches(l)
            })
        }
        Query::Deleted => fdscan::scan_reporting(root, session, |l: &[u8]| deleted_link(l, false)),
    }
}

/// Inodes of the unix sockets bound at `path` (or under it), from
/// sock_diag of procscope's network namespace (path sockets are reached
/// through the filesystem, not the namespace, but are listed by the
/// namespace that created them: the common case is the same one).
fn unix_sockets_at(root: &ProcRoot, m: &PathMatch) -> Vec<u64> {
    let Ok(me) = root.process(root.own_pid()) else {
        return Vec::new();
    };
    let Ok(all) =
        procscope_read::sockdiag::SockDiag::for_process(&me).and_then(|mut d| d.unix(None))
    else {
        return Vec::new();
    };
    all.into_iter()
        .filter(|(_, d)| {
            let Some(n) = &d.name else { return false };
            let n = n.split(|&c| c == 0).next().unwrap_or_default();
            !n.is_empty() && m.matches(n)
        })
        .map(|(i, _)| i)
        .collect()
}

/// Who has what `q` asks about: every fd (and for a path or deleted
/// files, every other use), confirmed by identity where text matched,
/// procscope itself left out, each process named once.
pub fn find(root: &ProcRoot, q: &Query, session: &Session) -> Found {
    let (holders, unreadable) = holders(root, session, q);
    let own = root.own_pid();
    let unreadable: Vec<(i32, Failure)> =
        unreadable.into_iter().filter(|(p, _)| *p != own).collect();
    let deleted = matches!(q, Query::Deleted);
    // Deleted means no link left (a name that was unlinked while another
    // hard link remains frees nothing): link count and size through the fd
    // link, from the kernel's cached inode, under the deadline.
    let holders: Vec<(Holder, Option<u64>)> = if deleted {
        let items = holders
            .iter()
            .map(|h| (h.pid, format!("fd/{}", h.fd)))
            .collect();
        let stats = link_stats(root, session, items);
        holders
            .into_iter()
            .zip(stats)
            .filter(|(_, st)| st.is_none_or(|st| st.nlink == 0))
            .map(|(h, st)| (h, st.map(|s| s.size)))
            .collect()
    } else {
        holders.into_iter().map(|h| (h, None)).collect()
    };
    // Text matches confirmed by identity (another mount namespace's file
    // at the same path, a file replaced since, a file *named* "x (deleted)").
    let mut not_same = 0usize;
    let holders = match q {
        Query::Path(m)
            if (m.target.is_some() && (m.under || m.target.is_some_and(|t| t.dir)))
                || m.missing =>
        {
            // Only links to paths: a unix socket bound at the path shows
            // as socket:[INODE] and was matched by its inode already.
            let (paths, sockets): (Vec<_>, Vec<_>) = holders
                .into_iter()
                .partition(|(h, _)| h.link.0.starts_with(b"/"));
            let items = paths
                .iter()
                .map(|(h, _)| (h.pid, format!("fd/{}", h.fd)))
                .collect();
            let ok = confirm(root, session, m, items);
            not_same += ok.iter().filter(|k| !**k).count();
            let paths = paths
                .into_iter()
                .zip(ok)
                .filter_map(|(h, k)| k.then_some(h));
            sockets.into_iter().chain(paths).collect()
        }
        _ => holders,
    };
    // A path is also used as a working directory, root, executable or
    // mapped file (what keeps a mount busy as often as an open fd).
    let uses: Vec<fdscan::Use> = match q {
        Query::Path(m) => {
            let m = m.clone();
            fdscan::scan_uses(root, session, move |l: &[u8]| m.matches(l))
        }
        // A deleted executable or mapped file holds its space as an open
        // fd does (a deleted library after an upgrade, a mapped data file).
        Query::Deleted => fdscan::scan_uses(root, session, |l: &[u8]| deleted_link(l, true))
            .into_iter()
            .filter(|u| matches!(u.what, UseKind::Exe | UseKind::Mem))
            .collect(),
        Query::Inodes(_) => Vec::new(),
    };
    let uses: Vec<fdscan::Use> = match q {
        Query::Path(m) if m.target.is_some() || m.missing => {
            let items = uses.iter().map(|u| (u.pid, use_link(u))).collect();
            let ok = confirm(root, session, m, items);
            not_same += ok.iter().filter(|k| !**k).count();
            uses.into_iter()
                .zip(ok)
                .filter_map(|(u, k)| k.then_some(u))
                .collect()
        }
        _ => uses,
    };
    // Deleted means no link left here too; sizes through exe or map_files/
    // (CAP_SYS_ADMIN), from the cached inode, under the deadline.
    let uses: Vec<(fdscan::Use, Option<u64>)> = if deleted {
        let items = uses.iter().map(|u| (u.pid, use_link(u))).collect();
        let stats = link_stats(root, session, items);
        uses.into_iter()
            .zip(stats)
            .filter(|(_, st)| st.is_none_or(|st| st.nlink == 0))
            .map(|(u, st)| (u, st.filter(|s| s.regular).map(|s| s.size)))
            .collect()
    } else {
        uses.into_iter().map(|u| (u, None)).collect()
    };
    // procscope itself (its own output file, its libraries) is not an answer.
    let holders: Vec<(Holder, Option<u64>)> =
        holders.into_iter().filter(|(h, _)| h.pid != own).collect();
    let uses: Vec<(fdscan::Use, Option<u64>)> =
        uses.into_iter().filter(|(u, _)| u.pid != own).collect();
    let mut rows = rows(
        root,
        session,
        holders
            .into_iter()
            .map(|(h, size)| (h.pid, Use::Fd(h.fd), h.link, size))
            .chain(
                uses.into_iter()
                    .map(|(u, size)| (u.pid, Use::Other(u.what), u.link, size)),
            ),
    );
    rows.sort_by_key(|r| match r.what {
        Use::Fd(fd) => (r.pid, true, Some(fd)),
        Use::Other(_) => (r.pid, false, None),
    });
    Found {
        rows,
        unreadable,
        not_same,
    }
}

/// The rows, each holding process read once: its name, effective UID and
/// user name, and each fd's access mode.
fn rows(
    root: &ProcRoot,
    session: &Session,
    uses: impl Iterator<Item = (i32, Use, Bytes, Option<u64>)>,
) -> Vec<Row> {
    let uses: Vec<(i32, Use, Bytes, Option<u64>)> = uses.collect();
    let mut buf = Vec::new();
    let mut procs: HashMap<i32, (procscope_read::ProcDir, Bytes, Option<u32>)> = HashMap::new();
    for (pid, ..) in &uses {
        if procs.contains_key(pid) {
            continue;
        }
        let Ok(dir) = root.process(*pid) else {
            continue;
        };
        let comm = dir
            .read(c"comm", &mut buf, 4096)
            .map(|_| Bytes::from(procscope_parse::comm::parse(&buf)))
            .unwrap_or_default();
        let uid = dir
            .read(c"status", &mut buf, 64 * 1024)
            .ok()
            .and_then(|_| procscope_parse::status::uid(&buf))
            .map(|i| i.effective);
        procs.insert(*pid, (dir, comm, uid));
    }
    let users = crate::users::resolve(root, procs.values().filter_map(|p| p.2), session);
    uses.into_iter()
        .filter_map(|(pid, what, link, size)| {
            let (dir, comm, uid) = procs.get(&pid)?;
            let mode = match what {
                Use::Fd(fd) => std::ffi::CString::new(format!("fdinfo/{fd}"))
                    .ok()
                    .and_then(|n| dir.read(&n, &mut buf, 64 * 1024).ok())
                    .and_then(|_| procscope_parse::fdinfo::FdInfo::parse(&buf).ok())
                    .map(|i| crate::fds::AccessMode::of_flags(i.flags)),
                Use::Other(_) => None,
            };
            Some(Row {
                pid,
                comm: comm.clone(),
                uid: *uid,
                user: uid.and_then(|u| users.get(&u).cloned()),
                what,
                mode,
                link,
                size,
            })
        })
        .collect()
}

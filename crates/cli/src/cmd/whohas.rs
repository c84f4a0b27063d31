//! `procscope who-has WHAT`: which processes hold a file, a port, a pipe.

use crate::cli::{Global, WhoHasArgs};
use crate::output::{self, Exit, UsageError};
use procscope_model::bytes::Bytes;
use procscope_model::fdscan::{self, Holder};
use procscope_parse::fdlink::{FdLink, classify};
use procscope_parse::{decode, net};
use procscope_read::{ProcRoot, Session, guard};
use procscope_render::escape::escape;
use procscope_render::table::{Align, Cell, Table};
use std::collections::HashMap;
use std::io::Write;

/// Extra help for `procscope who-has --help`.
pub const AFTER_HELP: &str = "\
Examples:
  procscope who-has /var/log/syslog    who has this file open (like fuser / lsof FILE)
  procscope who-has --mount /mnt/data  anything under this path (a mount point: who keeps it busy)
  procscope who-has :8080              who has a socket on port 8080 (tcp or udp); tcp:8080, udp:53, 127.0.0.1:8080
  procscope who-has 'pipe:[123456]'    both ends of a pipe
  procscope who-has --deleted          open or mapped but deleted files, with sizes (the disk is full but du disagrees)

For a path, the FD column also shows processes whose working directory
(cwd), root, executable (exe) or a mapped file (mem) it is or, with --mount,
is under it — what keeps a mount busy as often as an open file (fuser's c,
r, e, m). Only fd, cwd, root and exe links, fdinfo, maps (under the
deadline) and the socket tables are read (no stat through a hung mount,
except the size of deleted files, which is read under the deadline).
Ports are looked up in procscope's own network namespace.
Exit status: 0 when someone has it, 1 when nobody does.";

/// One use of what was asked about.
struct Row {
    pid: i32,
    comm: Bytes,
    user: Option<String>,
    /// The fd, or None for a cwd/root/exe/mapping.
    fd: Option<i32>,
    /// `fd`, `cwd`, `root`, `exe`, `mem`.
    what: &'static str,
    mode: Option<&'static str>,
    link: Bytes,
    size: Option<u64>,
}

enum What {
    Inodes(Vec<u64>),
    Path(PathMatch),
    Deleted,
}

fn parse_what(a: &WhoHasArgs, root: &ProcRoot, opts: &Session) -> anyhow::Result<What> {
    if a.deleted {
        return Ok(What::Deleted);
    }
    let Some(w) = &a.what else {
        return Err(UsageError(
            "who-has needs WHAT (a path, :PORT, pipe:[INODE], socket:[INODE]) or --deleted".into(),
        )
        .into());
    };
    match classify(w.as_bytes()) {
        FdLink::Pipe(i) | FdLink::Socket(i) => return Ok(What::Inodes(vec![i])),
        _ => {}
    }
    if let Some((proto, port)) = port_spec(w)? {
        return Ok(What::Inodes(port_inodes(root, proto, port)));
    }
    let p = std::path::Path::new(w);
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()?.join(p)
    };
    let abs = abs.as_os_str().as_encoded_bytes().to_vec();
    // A path through a process's root (/proc/PID/root/…) is a file of
    // that process's mount namespace: its links read as the rest of the
    // path there. The magic link cannot be resolved with readlink; the
    // kernel follows it when the file is stat'ed (after checking, in that
    // namespace's mount table, that nothing on the way may hang).
    if let Some((pid, rest)) = through_proc_root(&abs) {
        let inner = procscope_read::realpath::lexical(rest);
        let stat = match root.process(pid) {
            Ok(d) if !procscope_read::realpath::may_hang_in(&d, &inner) => {
                let p2 = lexical_keep_root(&abs);
                Some(opts.once(None, move || procscope_read::path_stat(&p2)))
            }
            _ => None,
        };
        let (target, missing) = match stat {
            Some(Ok(st)) => (Some(st), false),
            Some(Err(procscope_read::Failure::Gone)) => (None, true),
            _ => (None, false),
        };
        return Ok(What::Path(PathMatch {
            paths: vec![inner],
            under: a.mount,
            target,
            missing,
        }));
    }
    // Resolved the way the kernel does: symlinks followed first, `..`
    // applied to what they lead to (`/x/l2/../passwd` with l2 → /etc/ssl
    // is /etc/passwd) — with readlink only, never through a FUSE, network
    // or automount filesystem. Lexical clean-up only where that stops.
    let resolved = root
        .process(root.own_pid())
        .and_then(|me| procscope_read::realpath::resolve(&me, &abs))
        .ok()
        .flatten();
    let path = resolved.unwrap_or_else(|| procscope_read::realpath::lexical(&abs));
    // The file's identity, when it can be had without risk: links are
    // matched by (device, inode), not by text (a process in another mount
    // namespace can hold a different file at the same path).
    let stat = if procscope_read::realpath::may_hang_here(&path) {
        None
    } else {
        let p2 = path.clone();
        Some(
            opts.once(None, move || procscope_read::path_stat(&p2))
                .map_err(|f| f.clone()),
        )
    };
    let (target, missing) = match stat {
        Some(Ok(st)) => (Some(st), false),
        Some(Err(procscope_read::Failure::Gone)) => (None, true),
        _ => (None, false),
    };
    Ok(What::Path(PathMatch {
        paths: vec![path],
        under: a.mount,
        target,
        missing,
    }))
}

/// `/proc/PID/root/REST` → (PID, `/REST`).
fn through_proc_root(p: &[u8]) -> Option<(i32, &[u8])> {
    let rest = p.strip_prefix(b"/proc/")?;
    let slash = rest.iter().position(|&c| c == b'/')?;
    let (pid, rest) = rest.split_at(slash);
    let pid: i32 = std::str::from_utf8(pid).ok()?.parse().ok()?;
    let rest = rest.strip_prefix(b"/root")?;
    (rest.is_empty() || rest.starts_with(b"/"))
        .then_some((pid, if rest.is_empty() { b"/" } else { rest }))
}

/// `/proc/PID/root` + the rest with `.`/`..` applied within the rest (so
/// `..` cannot climb out of the process's root).
fn lexical_keep_root(p: &[u8]) -> Vec<u8> {
    match through_proc_root(p) {
        Some((pid, rest)) => {
            let mut v = format!("/proc/{pid}/root").into_bytes();
            let inner = procscope_read::realpath::lexical(rest);
            if inner != b"/" {
                v.extend_from_slice(&inner);
            }
            v
        }
        None => p.to_vec(),
    }
}

/// Which links a path (and, with `--mount`, anything under it) matches.
#[derive(Debug, Clone)]
struct PathMatch {
    /// The path as the kernel resolves it (absolute, symlinks followed).
    paths: Vec<Vec<u8>>,
    under: bool,
    /// The file's identity, when it could be had: text matches are then
    /// confirmed by (device, inode).
    target: Option<procscope_read::FdStat>,
    /// No file is at the path: only a deleted file that had this name
    /// can match (the kernel prints its link as `PATH (deleted)`).
    missing: bool,
}

impl PathMatch {
    /// Whether the link text can be the file (confirmed by identity later).
    fn matches(&self, l: &[u8]) -> bool {
        if self.missing {
            return self.paths.iter().any(|path| {
                l.strip_suffix(b" (deleted)")
                    .is_some_and(|p| p == path.as_slice() || (self.under && under(p, path)))
            });
        }
        // The link as it is (a file may be *named* "x (deleted)"), or with
        // the kernel's suffix for an unlinked file taken off.
        let bare = l.strip_suffix(b" (deleted)");
        self.paths.iter().any(|path| {
            [Some(l), bare]
                .into_iter()
                .flatten()
                .any(|l| l == path.as_slice() || (self.under && under(l, path)))
        })
    }

    /// Whether a file with identity `st` (in a process whose mount
    /// namespace is ours when `same_ns`) is the file asked about: the same
    /// (device, inode); with --mount, on the same filesystem, or under the
    /// path in our own mount namespace (submounts).
    fn is(&self, st: &procscope_read::FdStat, same_ns: bool) -> bool {
        if self.missing {
            return st.nlink == 0;
        }
        match &self.target {
            Some(t) if self.under => same_ns || st.dev == t.dev,
            Some(t) => st.dev == t.dev && st.ino == t.ino,
            None => true,
        }
    }
}

/// `l` is `path` or below it.
fn under(l: &[u8], path: &[u8]) -> bool {
    path == b"/" || l == path || (l.starts_with(path) && l.get(path.len()) == Some(&b'/'))
}

type ProtoAddr = (Option<&'static str>, Option<std::net::IpAddr>);

/// The inodes of sockets bound to `port`, in every network namespace a
/// process is in (containers have their own tables): procscope's own
/// namespace, then one process per other namespace (socket inodes are
/// unique across namespaces, so the lists merge).
fn port_inodes(root: &ProcRoot, proto: ProtoAddr, port: u16) -> Vec<u64> {
    let mut buf = Vec::new();
    let mut inodes = Vec::new();
    let mut scan = |read: &mut dyn FnMut(&std::ffi::CStr, &mut Vec<u8>) -> bool| {
        for (file, name) in [
            (c"net/tcp", "tcp"),
            (c"net/tcp6", "tcp"),
            (c"net/udp", "udp"),
            (c"net/udp6", "udp"),
        ] {
            if proto.0.is_some_and(|p| p != name) || !read(file, &mut buf) {
                continue;
            }
            for s in net::inet_table(&buf) {
                if s.local.1 == port && proto.1.is_none_or(|ip| ip == s.local.0) {
                    inodes.push(s.inode);
                }
            }
        }
    };
    scan(&mut |f, b| root.read(f, b, procscope_read::cap::NET).is_ok());
    let mut seen = std::collections::HashSet::new();
    if let Ok(me) = root.process(root.own_pid()) {
        if let Ok(ns) = me.readlink(c"ns/net") {
            seen.insert(ns);
        }
    }
    for pid in root.pids().unwrap_or_default() {
        let Ok(dir) = root.process(pid) else { continue };
        let Ok(ns) = dir.readlink(c"ns/net") else {
            continue;
        };
        if seen.insert(ns) {
            scan(&mut |f, b| dir.read(f, b, procscope_read::cap::NET).is_ok());
        }
    }
    inodes.sort_unstable();
    inodes.dedup();
    inodes
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

/// `:PORT`, `tcp:PORT`, `udp:PORT`, `ADDR:PORT`, `[V6]:PORT`. `None`:
/// not a port (a path); an error when it is one, but a wrong one.
fn port_spec(w: &str) -> Result<Option<(ProtoAddr, u16)>, UsageError> {
    let Some((head, port)) = w.rsplit_once(':') else {
        return Ok(None);
    };
    let head = head.trim_start_matches('[').trim_end_matches(']');
    let proto = match head {
        "" => (None, None),
        "tcp" => (Some("tcp"), None),
        "udp" => (Some("udp"), None),
        ip => match ip.parse() {
            Ok(ip) => (None, Some(ip)),
            Err(_) => return Ok(None),
        },
    };
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(Some((proto, p))),
        _ => Err(UsageError(format!(
            "`{}`: a port is a number from 1 to 65535 (:PORT, tcp:PORT, udp:PORT, ADDR:PORT)",
            escape(w.as_bytes())
        ))),
    }
}

/// For each item, whether it is the file asked about: its identity read
/// through the process's magic link (`fd/N`, `cwd`, `root`, `exe`,
/// `map_files/A-B`) from the kernel's cache, under the deadline. An item
/// whose identity cannot be read is kept (it matched by name).
fn confirm(root: &ProcRoot, opts: &Session, m: &PathMatch, items: Vec<(i32, String)>) -> Vec<bool> {
    let own_ns = root
        .process(root.own_pid())
        .and_then(|d| d.readlink(c"ns/mnt"))
        .ok();
    let r2 = root.clone();
    let m2 = m.clone();
    opts.run(
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

/// The `map_files/` name or link name of a use.
fn use_link(u: &fdscan::Use) -> String {
    match u.range {
        Some((a, b)) => format!("map_files/{a:x}-{b:x}"),
        None => u.what.to_string(),
    }
}

/// Runs `procscope who-has`.
pub fn run(g: &Global, a: &WhoHasArgs) -> anyhow::Result<Exit> {
    let root = crate::cmd::ps::open_root(g)?;
    let opts = &g.session;
    let what = parse_what(a, &root, opts)?;
    let (holders, unreadable): (Vec<Holder>, Vec<(i32, procscope_read::Failure)>) = match &what {
        What::Inodes(i) if i.is_empty() => (Vec::new(), Vec::new()),
        What::Inodes(i) => fdscan::scan_reporting(&root, opts, fdscan::inode_filter(i.clone())),
        // A file whose identity is known: every fd that is that inode,
        // whatever name it has there (hard links, bind mounts, another
        // namespace's mount of the same filesystem), as fuser finds them;
        // plus unix sockets bound at the path.
        What::Path(
            m @ PathMatch {
                under: false,
                target: Some(t),
                ..
            },
        ) if !t.dir => {
            let sockets = unix_sockets_at(&root, m);
            let (mut h, mut u) = fdscan::scan_identity(&root, opts, t.dev, t.ino, |_| false);
            if !sockets.is_empty() {
                let (sh, su) = fdscan::scan_reporting(
                    &root,
                    opts,
                    move |l: &[u8]| matches!(classify(l), FdLink::Socket(i) if sockets.contains(&i)),
                );
                h.extend(sh);
                u.extend(su);
                u.sort_by_key(|(p, _)| *p);
                u.dedup_by_key(|(p, _)| *p);
            }
            (h, u)
        }
        What::Path(m) => {
            let m = m.clone();
            // A unix socket bound at the path (or under it): its fds show
            // as socket:[INODE], not as the path.
            let sockets = unix_sockets_at(&root, &m);
            fdscan::scan_reporting(&root, opts, move |l: &[u8]| {
                if let FdLink::Socket(i) = classify(l) {
                    return sockets.contains(&i);
                }
                m.matches(l)
            })
        }
        What::Deleted => fdscan::scan_reporting(&root, opts, |l: &[u8]| {
            l.starts_with(b"/") && l.ends_with(b" (deleted)") && !l.starts_with(b"/memfd:")
        }),
    };
    let own_pid = root.own_pid();
    let unreadable: Vec<(i32, procscope_read::Failure)> = unreadable
        .into_iter()
        .filter(|(p, _)| *p != own_pid)
        .collect();
    // Deleted means no link left (a name that was unlinked while another
    // hard link remains frees nothing): link count and size through the fd
    // link, from the kernel's cached inode, under the deadline.
    let (holders, sizes): (Vec<Holder>, Vec<Option<u64>>) =
        if matches!(what, What::Deleted) {
            let items: Vec<(i32, i32)> = holders.iter().map(|h| (h.pid, h.fd)).collect();
            let r2 = root.clone();
            let stats: Vec<Option<procscope_read::FdStat>> = opts.run(
            items,
            move |(pid, fd): (i32, i32), ctx: &guard::Ctx<(), Option<procscope_read::FdStat>>| {
                ctx.guarded(|| Ok(r2.process(pid).and_then(|d| d.fd_stat(fd)).ok()))
                    .ok()
                    .flatten()
            },
        )
        .into_iter()
        .map(|f| f.rest.ok().flatten())
        .collect();
            holders
                .into_iter()
                .zip(stats)
                .filter(|(_, st)| st.is_none_or(|st| st.nlink == 0))
                .map(|(h, st)| (h, st.map(|s| s.size)))
                .unzip()
        } else {
            let n = holders.len();
            (holders, vec![None; n])
        };
    // Text matches confirmed by identity (another mount namespace's file
    // at the same path, a file replaced since, a file *named* "x (deleted)").
    let mut not_same = 0usize;
    let holders: Vec<Holder> = match &what {
        What::Path(m)
            if (m.target.is_some() && (m.under || m.target.is_some_and(|t| t.dir)))
                || m.missing =>
        {
            // Only links to paths: a unix socket bound at the path shows
            // as socket:[INODE] and was matched by its inode already.
            let (paths, sockets): (Vec<Holder>, Vec<Holder>) = holders
                .into_iter()
                .partition(|h| h.link.0.starts_with(b"/"));
            let items = paths
                .iter()
                .map(|h| (h.pid, format!("fd/{}", h.fd)))
                .collect();
            let ok = confirm(&root, opts, m, items);
            let holders: Vec<Holder> = sockets.into_iter().chain(paths).collect();
            let ok: Vec<bool> = std::iter::repeat_n(true, holders.len() - ok.len())
                .chain(ok)
                .collect();
            not_same += ok.iter().filter(|k| !**k).count();
            holders
                .into_iter()
                .zip(ok)
                .filter_map(|(h, k)| k.then_some(h))
                .collect()
        }
        _ => holders,
    };
    // A path is also used as a working directory, root, executable or
    // mapped file (what keeps a mount busy as often as an open fd).
    let uses: Vec<fdscan::Use> = match &what {
        What::Path(m) => {
            let m = m.clone();
            fdscan::scan_uses(&root, opts, move |l: &[u8]| m.matches(l))
        }
        // A deleted executable or mapped file holds its space as an open
        // fd does (a deleted library after an upgrade, a mapped data file).
        What::Deleted => fdscan::scan_uses(&root, opts, |l: &[u8]| {
            l.starts_with(b"/")
                && l.ends_with(b" (deleted)")
                && !l.starts_with(b"/memfd:")
                && !l.starts_with(b"/SYSV")
                && !l.starts_with(b"/dev/zero")
        })
        .into_iter()
        .filter(|u| matches!(u.what, "exe" | "mem"))
        .collect(),
        What::Inodes(_) => Vec::new(),
    };
    let uses: Vec<fdscan::Use> = match &what {
        What::Path(m) if m.target.is_some() || m.missing => {
            let items = uses.iter().map(|u| (u.pid, use_link(u))).collect();
            let ok = confirm(&root, opts, m, items);
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
    let (uses, use_sizes): (Vec<fdscan::Use>, Vec<Option<u64>>) = if matches!(what, What::Deleted) {
        let items: Vec<(i32, String)> = uses.iter().map(|u| (u.pid, use_link(u))).collect();
        let r2 = root.clone();
        let stats: Vec<Option<procscope_read::FdStat>> = opts
            .run(
                items,
                move |(pid, name): (i32, String),
                      ctx: &guard::Ctx<(), Option<procscope_read::FdStat>>| {
                    ctx.guarded(|| Ok(r2.process(pid).and_then(|d| d.link_stat(&name)).ok()))
                        .ok()
                        .flatten()
                },
            )
            .into_iter()
            .map(|f| f.rest.ok().flatten())
            .collect();
        uses.into_iter()
            .zip(stats)
            .filter(|(_, st)| st.is_none_or(|st| st.nlink == 0))
            .map(|(u, st)| (u, st.filter(|s| s.regular).map(|s| s.size)))
            .unzip()
    } else {
        let n = uses.len();
        (uses, vec![None; n])
    };
    // procscope itself (its own output file, its libraries) is not an answer.
    let own = root.own_pid();
    let holders_own: Vec<bool> = holders.iter().map(|h| h.pid == own).collect();
    let (uses, use_sizes): (Vec<fdscan::Use>, Vec<Option<u64>>) = uses
        .into_iter()
        .zip(use_sizes)
        .filter(|(u, _)| u.pid != own)
        .unzip();
    let mut out = output::stdout(g.color);
    let mut buf = Vec::new();
    // Each holding process once: its directory, name and effective UID.
    let mut procs: HashMap<i32, (procscope_read::ProcDir, Bytes, Option<u32>)> = HashMap::new();
    for pid in holders
        .iter()
        .map(|h| h.pid)
        .chain(uses.iter().map(|u| u.pid))
    {
        if procs.contains_key(&pid) {
            continue;
        }
        let Ok(dir) = root.process(pid) else {
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
        procs.insert(pid, (dir, comm, uid));
    }
    let users = procscope_model::users::resolve(procs.values().filter_map(|p| p.2), opts);
    let mut rows: Vec<Row> = Vec::new();
    let mut row = |pid: i32, fd: Option<i32>, what: &'static str, link: &Bytes, size| {
        let Some((dir, comm, uid)) = procs.get(&pid) else {
            return;
        };
        let mode = fd.and_then(|fd| {
            std::ffi::CString::new(format!("fdinfo/{fd}"))
                .ok()
                .and_then(|n| dir.read(&n, &mut buf, 64 * 1024).ok())
                .and_then(|_| procscope_parse::fdinfo::FdInfo::parse(&buf).ok())
                .map(|i| decode::access_mode(i.flags))
        });
        let user = uid.map(|u| {
            users
                .get(&u)
                .map_or_else(|| u.to_string(), |n| escape(n.as_slice()).into_owned())
        });
        rows.push(Row {
            pid,
            comm: comm.clone(),
            user,
            fd,
            what,
            mode,
            link: link.clone(),
            size,
        });
    };
    for (k, h) in holders.iter().enumerate() {
        if holders_own.get(k) != Some(&true) {
            row(
                h.pid,
                Some(h.fd),
                "fd",
                &h.link,
                sizes.get(k).copied().flatten(),
            );
        }
    }
    for (u, size) in uses.iter().zip(use_sizes) {
        row(u.pid, None, u.what, &u.link, size);
    }
    rows.sort_by_key(|r| (r.pid, r.fd.is_some(), r.fd));
    if g.json {
        let v: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| serde_json::json!({"pid": r.pid, "comm": r.comm, "user": r.user, "use": r.what, "fd": r.fd, "mode": r.mode, "link": r.link, "size": r.size}))
            .collect();
        let skipped: Vec<serde_json::Value> = unreadable
            .iter()
            .map(|(pid, f)| serde_json::json!({"pid": pid, "error": f}))
            .collect();
        procscope_render::json::write_document(
            &mut out,
            "who-has",
            &serde_json::json!({ "holders": v, "unreadable": skipped }),
        )?;
    } else if !rows.is_empty() {
        let deleted = matches!(what, What::Deleted);
        let mut headers = vec![
            ("PID".to_string(), Align::Right),
            ("COMMAND".into(), Align::Left),
            ("USER".into(), Align::Left),
            ("FD".into(), Align::Right),
            ("MODE".into(), Align::Left),
        ];
        if deleted {
            headers.push(("SIZE".into(), Align::Right));
        }
        headers.push(("WHAT".into(), Align::Left));
        let mut t = Table::new(headers);
        for r in &rows {
            let mut cells = vec![
                Cell::plain(r.pid.to_string()),
                Cell::plain(escape(r.comm.as_slice()).into_owned()),
                Cell::plain(r.user.clone().unwrap_or_else(|| "?".into())),
                Cell::plain(r.fd.map_or_else(|| r.what.to_string(), |f| f.to_string())),
                Cell::plain(r.mode.unwrap_or(if r.fd.is_some() { "?" } else { "-" })),
            ];
            if deleted {
                cells.push(Cell::plain(
                    r.size
                        .map_or_else(|| "?".into(), procscope_render::units::size),
                ));
            }
            cells.push(Cell::plain(escape(r.link.as_slice()).into_owned()));
            t.push(cells);
        }
        t.write(&mut out, output::term_width(), true)?;
    }
    out.flush()?;
    if !unreadable.is_empty() && !g.json {
        let mut why: Vec<String> = unreadable.iter().map(|(_, f)| f.to_string()).collect();
        why.sort();
        why.dedup();
        let n = unreadable.len();
        output::warn(&format!(
            "the fds of {n} {} could not be read, so {} not included: {}",
            if n == 1 { "process" } else { "processes" },
            if n == 1 { "it is" } else { "they are" },
            why.join("; ")
        ));
    }
    if not_same > 0 && !g.json {
        output::warn(&format!(
            "{not_same} {} with this path left out: a different file (another mount namespace's, or one replaced since)",
            if not_same == 1 { "link" } else { "links" }
        ));
    }
    if let What::Path(m) = &what {
        if m.missing && rows.is_empty() {
            let p = m.paths.first().map(Vec::as_slice).unwrap_or_default();
            return Err(UsageError(format!(
                "no such file or directory: {} (and no process holds a deleted file of that name)",
                escape(p)
            ))
            .into());
        }
    }
    if rows.is_empty() && !g.json {
        output::warn(&match &what {
            What::Path(m) if m.under || m.target.is_none_or(|t| t.dir) => "nobody holds anything there open or uses it (matched by path under it, confirmed by identity)".to_string(),
            What::Path(_) => "nobody holds it open or uses it (fds matched by device and inode, under any name)".to_string(),
            What::Inodes(_) => "nobody holds it".to_string(),
            What::Deleted => "no process holds a deleted file".to_string(),
        });
    }
    Ok(if rows.is_empty() {
        Exit::NoMatch
    } else {
        Exit::Success
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_matches_itself_and_with_mount_what_is_under_it() {
        let m = PathMatch {
            paths: vec![b"/run".to_vec()],
            under: false,
            target: None,
            missing: false,
        };
        assert!(m.matches(b"/run"));
        assert!(m.matches(b"/run (deleted)"));
        assert!(!m.matches(b"/run/x"));
        let m = PathMatch { under: true, ..m };
        assert!(m.matches(b"/run/x"));
        assert!(!m.matches(b"/running"));
        let all = PathMatch {
            paths: vec![b"/".to_vec()],
            under: true,
            target: None,
            missing: false,
        };
        assert!(all.matches(b"/anything"));
        // Nothing at the path: only a deleted file of that name.
        let gone = PathMatch {
            paths: vec![b"/tmp/x".to_vec()],
            under: false,
            target: None,
            missing: true,
        };
        assert!(gone.matches(b"/tmp/x (deleted)"));
        assert!(!gone.matches(b"/tmp/x"));
    }

    #[test]
    fn ports_are_checked() {
        assert!(port_spec(":99999").is_err());
        assert!(port_spec("tcp:abc").is_err());
        assert!(port_spec(":0").is_err());
        assert!(matches!(
            port_spec("udp:53"),
            Ok(Some(((Some("udp"), None), 53)))
        ));
        assert!(matches!(port_spec("/tmp/a:b"), Ok(None)));
        assert!(matches!(
            port_spec("[::1]:8080"),
            Ok(Some(((None, Some(_)), 8080)))
        ));
    }
}

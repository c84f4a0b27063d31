//! `who-has`: which processes hold a file, a port, a pipe or a socket —
//! by an open fd, or (for a path) as their working directory, root,
//! executable or a mapped file.
//!
//! [`Asked::parse`] reads what is asked; [`Asked::resolve`] turns it into
//! what to match ([`Query`]: socket and pipe inodes, a path with its
//! identity, or deleted files); [`find`] scans the host and returns typed
//! rows. Nothing is opened or stat'ed through a link that may hang: only
//! fd, cwd, root and exe links, fdinfo, maps (under the deadline) and the
//! socket tables are read, and identities come from the kernel's cache
//! under the deadline.

use procscope_parse::fdlink::{FdLink, classify};
use procscope_read::{Failure, FdStat, HostFiles, ProcRoot, Session};
use std::net::IpAddr;

mod collect;
pub use collect::{Found, Row, Use, find};

/// A transport protocol of a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// TCP (`tcp`, `tcp6`).
    Tcp,
    /// UDP (`udp`, `udp6`).
    Udp,
}

/// What was asked about, as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asked {
    /// `pipe:[INODE]` or `socket:[INODE]`.
    Inode(u64),
    /// `:PORT`, `tcp:PORT`, `udp:PORT`, `ADDR:PORT`, `[V6]:PORT`.
    Port {
        /// Only this protocol.
        proto: Option<Proto>,
        /// Only bound to this address.
        addr: Option<IpAddr>,
        /// The port.
        port: u16,
    },
    /// A path (relative to the current directory when not absolute).
    Path {
        /// As typed.
        path: Vec<u8>,
        /// `--mount`: anything under it too.
        under: bool,
    },
    /// `--deleted`: every open or mapped file that has no link left.
    Deleted,
}

/// Why what was asked cannot be looked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AskError {
    /// Neither WHAT nor `--deleted`.
    NothingAsked,
    /// It looks like a port, but the port is not 1..=65535 (the argument).
    BadPort(Vec<u8>),
}

impl Asked {
    /// What `what` (or `--deleted`, with `--mount` for paths) asks.
    pub fn parse(what: Option<&str>, deleted: bool, mount: bool) -> Result<Asked, AskError> {
        if deleted {
            return Ok(Asked::Deleted);
        }
        let w = what.ok_or(AskError::NothingAsked)?;
        if let FdLink::Pipe(i) | FdLink::Socket(i) = classify(w.as_bytes()) {
            return Ok(Asked::Inode(i));
        }
        if let Some(p) = port_spec(w)? {
            return Ok(p);
        }
        Ok(Asked::Path {
            path: w.as_bytes().to_vec(),
            under: mount,
        })
    }

    /// What to match on this host: a port's socket inodes (from the
    /// tables of every network namespace), a path resolved as the kernel
    /// would and its identity (when it can be had without risk).
    pub fn resolve(&self, root: &ProcRoot, session: &Session) -> Query {
        match self {
            Asked::Inode(i) => Query::Inodes(vec![*i]),
            Asked::Port { proto, addr, port } => {
                Query::Inodes(port_inodes(root, *proto, *addr, *port))
            }
            Asked::Path { path, under } => Query::Path(path_match(root, path, *under, session)),
            Asked::Deleted => Query::Deleted,
        }
    }
}

/// What to match.
#[derive(Debug, Clone)]
pub enum Query {
    /// fds that are these pipes or sockets.
    Inodes(Vec<u64>),
    /// A path (and with `--mount` what is under it).
    Path(PathMatch),
    /// Deleted files.
    Deleted,
}

/// How the answer was matched: what "nobody" means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matched {
    /// By path under it (`--mount` or a directory), confirmed by identity.
    PathUnder,
    /// fds by device and inode, under any name.
    Identity,
    /// Pipes and sockets by inode.
    Inodes,
    /// Deleted files.
    Deleted,
}

impl Query {
    /// How it is matched.
    pub fn matched(&self) -> Matched {
        match self {
            Query::Path(m) if m.under || m.target.is_none_or(|t| t.dir) => Matched::PathUnder,
            Query::Path(_) => Matched::Identity,
            Query::Inodes(_) => Matched::Inodes,
            Query::Deleted => Matched::Deleted,
        }
    }
}

/// `:PORT`, `tcp:PORT`, `udp:PORT`, `ADDR:PORT`, `[V6]:PORT`. `None`:
/// not a port (a path); an error when it is one, but a wrong one.
fn port_spec(w: &str) -> Result<Option<Asked>, AskError> {
    let Some((head, port)) = w.rsplit_once(':') else {
        return Ok(None);
    };
    let head = head.trim_start_matches('[').trim_end_matches(']');
    let (proto, addr) = match head {
        "" => (None, None),
        "tcp" => (Some(Proto::Tcp), None),
        "udp" => (Some(Proto::Udp), None),
        ip => match ip.parse() {
            Ok(ip) => (None, Some(ip)),
            Err(_) => return Ok(None),
        },
    };
    match port.parse::<u16>() {
        Ok(port) if port > 0 => Ok(Some(Asked::Port { proto, addr, port })),
        _ => Err(AskError::BadPort(w.as_bytes().to_vec())),
    }
}

/// The inodes of sockets bound to `port`, in every network namespace a
/// process is in (containers have their own tables): procscope's own
/// namespace, then one process per other namespace (socket inodes are
/// unique across namespaces, so the lists merge).
fn port_inodes(root: &ProcRoot, proto: Option<Proto>, addr: Option<IpAddr>, port: u16) -> Vec<u64> {
    let mut buf = Vec::new();
    let mut inodes = Vec::new();
    // Whether any table was read (`/proc/net/*` is procscope's own
    // namespace's; a snapshot's tree has none at its top).
    let mut scan = |read: &mut dyn FnMut(&std::ffi::CStr, &mut Vec<u8>) -> bool| {
        let mut any = false;
        for (file, p) in [
            (c"net/tcp", Proto::Tcp),
            (c"net/tcp6", Proto::Tcp),
            (c"net/udp", Proto::Udp),
            (c"net/udp6", Proto::Udp),
        ] {
            if proto.is_some_and(|want| want != p) || !read(file, &mut buf) {
                continue;
            }
            any = true;
            for s in procscope_parse::net::inet_table(&buf) {
                if s.local.1 == port && addr.is_none_or(|ip| ip == s.local.0) {
                    inodes.push(s.inode);
                }
            }
        }
        any
    };
    let own_tables = scan(&mut |f, b| root.read(f, b, procscope_read::cap::NET).is_ok());
    let mut seen = std::collections::HashSet::new();
    // Our own namespace was looked at only when its tables were there to
    // read: otherwise (a snapshot) it is read through a process like the
    // others.
    if let (true, Ok(me)) = (own_tables, root.process(root.own_pid())) {
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

/// The identity of the host file at `path` (stat'ed under the deadline,
/// on the host `host` belongs to), or `None` when it is not to be looked
/// up: (identity, nothing is there). A tree without host files gives
/// neither: only the text of links is matched then.
///
/// A tree's `.host/` can say that nothing is at the path, but never gives
/// an identity: the fds of a tree cannot be stat'ed (their links name no
/// live file), so an identity would match none of them; its links are
/// matched by text.
fn identity(host: &HostFiles, path: Option<Vec<u8>>, session: &Session) -> (Option<FdStat>, bool) {
    let Some(p) = path else {
        return (None, false);
    };
    let live = host.is_live();
    let host = host.clone();
    match session.once(None, move || host.stat(&p)) {
        Ok(st) if live => (Some(st), false),
        Ok(_) => (None, false),
        Err(Failure::Absent { .. }) => (None, true),
        Err(_) => (None, false),
    }
}

/// In a snapshot, the identity recorded (`statx` through the fd link when
/// it was taken) for the first fd, in PID and fd order, whose link is
/// `path`. `None` when no such fd had one recorded: then links are
/// matched by text.
fn recorded_identity(root: &ProcRoot, path: &[u8]) -> Option<FdStat> {
    for pid in root.pids().unwrap_or_default() {
        let Ok(dir) = root.process(pid) else { continue };
        let mut fds = Vec::new();
        let _ = dir.fd_links(|fd, l| {
            if l == path {
                fds.push(fd);
            }
        });
        fds.sort_unstable();
        if let Some(st) = fds.into_iter().find_map(|fd| dir.fd_stat(fd).ok()) {
            return Some(st);
        }
    }
    None
}

/// The path asked about, resolved, with its identity.
fn path_match(root: &ProcRoot, typed: &[u8], under: bool, session: &Session) -> PathMatch {
    let abs = if typed.starts_with(b"/") {
        typed.to_vec()
    } else {
        // Relative to where procscope runs; without a current directory
        // (deleted), as typed.
        let mut cwd = std::env::current_dir()
            .map(|d| d.into_os_string().into_encoded_bytes())
            .unwrap_or_default();
        if !cwd.ends_with(b"/") {
            cwd.push(b'/');
        }
        cwd.extend_from_slice(typed);
        cwd
    };
    let host = root.host();
    // A path through a process's root (/proc/PID/root/…) is a file of
    // that process's mount namespace: its links read as the rest of the
    // path there. The magic link cannot be resolved with readlink; the
    // kernel follows it when the file is stat'ed (after checking, in that
    // namespace's mount table, that nothing on the way may hang).
    if let Some((pid, rest)) = through_proc_root(&abs) {
        let inner = procscope_read::realpath::lexical(rest);
        let safe = root
            .process(pid)
            .is_ok_and(|d| !procscope_read::realpath::may_hang_in(&d, &inner));
        let (target, missing) = identity(&host, safe.then(|| lexical_keep_root(&abs)), session);
        return PathMatch {
            paths: vec![inner],
            under,
            target,
            missing,
        };
    }
    // Resolved the way the kernel does: symlinks followed first, `..`
    // applied to what they lead to (`/x/l2/../passwd` with l2 → /etc/ssl
    // is /etc/passwd) — with readlink only, never through a FUSE, network
    // or automount filesystem. Lexical clean-up only where that stops.
    //
    // The mount table is read once, by the resolution: every prefix of a
    // path it returns was checked against it on the way, so that path
    // cannot reach a filesystem that may hang and is stat'ed at once. A
    // path it gave up on (a step into such a filesystem, a loop) is not
    // stat'ed. Only when our own mount table cannot be read through this
    // root is the host's asked, as before.
    //
    // A tree (fixture, copy) resolves inside its own host files (`.host/`)
    // and never looks at the live host's links or files.
    let (path, safe) = if host.is_live() {
        let me = root.process(root.own_pid());
        match me.and_then(|me| procscope_read::realpath::resolve(&me, &abs)) {
            Ok(Some(p)) => (p, true),
            Ok(None) => (procscope_read::realpath::lexical(&abs), false),
            Err(_) => {
                let p = procscope_read::realpath::lexical(&abs);
                let safe = !host.may_hang(&p);
                (p, safe)
            }
        }
    } else {
        match procscope_read::realpath::resolve_in_tree(&host, &abs) {
            Some(p) => (p, true),
            None => (procscope_read::realpath::lexical(&abs), false),
        }
    };
    // The file's identity, when it can be had without risk: links are
    // matched by (device, inode), not by text (a process in another mount
    // namespace can hold a different file at the same path).
    //
    // A snapshot may come from another host: the path is never looked up
    // (not on this host, not in its `.host/`, which holds a few files), so
    // nothing says it is missing; its identity is the one recorded for an
    // fd whose link is that path, when one was.
    let (target, missing) = if root.is_snapshot() {
        (recorded_identity(root, &path), false)
    } else {
        identity(&host, safe.then(|| path.clone()), session)
    };
    PathMatch {
        paths: vec![path],
        under,
        target,
        missing,
    }
}

/// Which links a path (and, with `--mount`, anything under it) matches.
#[derive(Debug, Clone)]
pub struct PathMatch {
    /// The path as the kernel resolves it (absolute, symlinks followed).
    pub paths: Vec<Vec<u8>>,
    /// Anything under it too.
    pub under: bool,
    /// The file's identity, when it could be had: text matches are then
    /// confirmed by (device, inode).
    pub target: Option<FdStat>,
    /// No file is at the path: only a deleted file that had this name
    /// can match (the kernel prints its link as `PATH (deleted)`).
    pub missing: bool,
}

impl PathMatch {
    /// Whether the link text can be the file (confirmed by identity later).
    pub fn matches(&self, l: &[u8]) -> bool {
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
    pub fn is(&self, st: &FdStat, same_ns: bool) -> bool {
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
    fn what_is_asked() {
        let p = |w: &str| Asked::parse(Some(w), false, false);
        assert_eq!(p(":99999"), Err(AskError::BadPort(b":99999".to_vec())));
        assert_eq!(p("tcp:abc"), Err(AskError::BadPort(b"tcp:abc".to_vec())));
        assert_eq!(p(":0"), Err(AskError::BadPort(b":0".to_vec())));
        assert_eq!(
            p("udp:53"),
            Ok(Asked::Port {
                proto: Some(Proto::Udp),
                addr: None,
                port: 53
            })
        );
        assert_eq!(
            p("[::1]:8080"),
            Ok(Asked::Port {
                proto: None,
                addr: Some("::1".parse().unwrap()),
                port: 8080
            })
        );
        assert_eq!(
            p("/tmp/a:b"),
            Ok(Asked::Path {
                path: b"/tmp/a:b".to_vec(),
                under: false
            })
        );
        assert_eq!(p("pipe:[123]"), Ok(Asked::Inode(123)));
        assert_eq!(p("socket:[9]"), Ok(Asked::Inode(9)));
        assert_eq!(
            Asked::parse(None, false, false),
            Err(AskError::NothingAsked)
        );
        assert_eq!(Asked::parse(None, true, false), Ok(Asked::Deleted));
        assert_eq!(
            Asked::parse(Some("/mnt"), false, true),
            Ok(Asked::Path {
                path: b"/mnt".to_vec(),
                under: true
            })
        );
    }

    #[test]
    fn paths_through_a_process_root() {
        assert_eq!(
            through_proc_root(b"/proc/42/root/etc/x"),
            Some((42, &b"/etc/x"[..]))
        );
        assert_eq!(through_proc_root(b"/proc/42/root"), Some((42, &b"/"[..])));
        assert_eq!(through_proc_root(b"/proc/42/rootfs"), None);
        assert_eq!(
            lexical_keep_root(b"/proc/42/root/../../etc"),
            b"/proc/42/root/etc".to_vec()
        );
    }
}

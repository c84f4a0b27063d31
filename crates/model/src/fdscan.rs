//! Every fd of every process, by `readlink` only (what `fuser` and `ss -p`
//! need): who holds a pipe's other end, a socket, a path, a port.

use crate::bytes::Bytes;
use procscope_parse::fdlink::{FdLink, classify};
use procscope_read::guard::{Ctx, Session, Target};
use procscope_read::{Failure, ProcRoot};
use serde::Serialize;

/// One fd of one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// Process ID.
    pub pid: i32,
    /// The fd number.
    pub fd: i32,
    /// The link target.
    pub link: Bytes,
}

/// Reads every fd link of every process (processes that refuse or vanish
/// are skipped: the scan is best effort by nature). `keep` decides which
/// links are kept, so that memory follows the answer, not the host.
pub fn scan(
    root: &ProcRoot,
    session: &Session,
    keep: impl Fn(&[u8]) -> bool + Send + Sync + 'static,
) -> Vec<Holder> {
    scan_reporting(root, session, keep).0
}

/// [`scan`], also saying which processes could not be looked into and
/// why (denied, mostly: another user's processes without privilege).
pub fn scan_reporting(
    root: &ProcRoot,
    session: &Session,
    keep: impl Fn(&[u8]) -> bool + Send + Sync + 'static,
) -> (Vec<Holder>, Vec<(i32, Failure)>) {
    let Ok(pids) = root.pids() else {
        return (Vec::new(), Vec::new());
    };
    scan_pids_reporting(root, session, pids, keep)
}

/// [`scan`] over the processes `pids` only.
pub fn scan_pids(
    root: &ProcRoot,
    session: &Session,
    pids: Vec<i32>,
    keep: impl Fn(&[u8]) -> bool + Send + Sync + 'static,
) -> Vec<Holder> {
    scan_pids_reporting(root, session, pids, keep).0
}

fn scan_pids_reporting(
    root: &ProcRoot,
    session: &Session,
    pids: Vec<i32>,
    keep: impl Fn(&[u8]) -> bool + Send + Sync + 'static,
) -> (Vec<Holder>, Vec<(i32, Failure)>) {
    let root = root.clone();
    let mut out = Vec::new();
    let mut unreadable = Vec::new();
    let order = pids.clone();
    session.run_ordered(
        pids,
        move |pid: i32, _ctx: &Ctx<(), Result<Vec<Holder>, Failure>>| {
            let dir = match root.process(pid) {
                Ok(d) => d,
                Err(Failure::Gone) => return Ok(Vec::new()),
                Err(f) => return Err(f),
            };
            let mut v = Vec::new();
            let r = dir.fd_links(|fd, link| {
                if keep(link) {
                    v.push(Holder {
                        pid,
                        fd,
                        link: Bytes(link.to_vec()),
                    });
                }
            });
            match r {
                Ok(()) | Err(Failure::Gone) => {}
                // Kernel threads have no fds: their refusal hides nothing.
                Err(_) if is_kernel_thread(&dir) => {}
                Err(f) => return Err(f),
            }
            v.sort_by_key(|h| h.fd);
            Ok(v)
        },
        |i, f| match f.rest {
            Ok(Ok(v)) => out.extend(v),
            Ok(Err(e)) | Err(e) => {
                unreadable.push((order.get(i).copied().unwrap_or_default(), e));
            }
        },
    );
    (out, unreadable)
}

/// Every fd of every process that is the file with this identity
/// (`dev`, `ino`), whatever its path says: another hard link's name, a
/// bind mount, the same filesystem mounted elsewhere in another mount
/// namespace. Each path link is `statx`ed through the magic link from
/// the kernel's cache (`AT_STATX_DONT_SYNC`), one guarded call per
/// process; links on filesystems whose lookups may hang are not asked
/// (`skip(link)`). Costs a statx per file fd on the host.
pub fn scan_identity(
    root: &ProcRoot,
    session: &Session,
    dev: (u32, u32),
    ino: u64,
    skip: impl Fn(&[u8]) -> bool + Send + Sync + 'static,
) -> (Vec<Holder>, Vec<(i32, Failure)>) {
    let Ok(pids) = root.pids() else {
        return (Vec::new(), Vec::new());
    };
    let root = root.clone();
    let order = pids.clone();
    let mut out = Vec::new();
    let mut unreadable = Vec::new();
    session.run_ordered(
        pids,
        move |pid: i32, ctx: &Ctx<(), Result<Vec<Holder>, Failure>>| {
            let dir = match root.process(pid) {
                Ok(d) => d,
                Err(Failure::Gone) => return Ok(Vec::new()),
                Err(f) => return Err(f),
            };
            let mut paths = Vec::new();
            match dir.fd_links(|fd, link| {
                if link.starts_with(b"/") && !skip(link) {
                    paths.push((fd, link.to_vec()));
                }
            }) {
                Ok(()) | Err(Failure::Gone) => {}
                Err(_) if is_kernel_thread(&dir) => {}
                Err(f) => return Err(f),
            }
            ctx.target(Target::pid(pid));
            let found = ctx.guarded(|| {
                Ok(paths
                    .into_iter()
                    .filter(|(fd, _)| {
                        dir.fd_stat(*fd)
                            .is_ok_and(|st| st.dev == dev && st.ino == ino)
                    })
                    .map(|(fd, link)| Holder {
                        pid,
                        fd,
                        link: Bytes(link),
                    })
                    .collect::<Vec<_>>())
            })?;
            Ok(found)
        },
        |i, f| match f.rest {
            Ok(Ok(v)) => out.extend(v),
            Ok(Err(e)) | Err(e) => {
                unreadable.push((order.get(i).copied().unwrap_or_default(), e));
            }
        },
    );
    (out, unreadable)
}

/// Whether `dir` is a kernel thread (`PF_KTHREAD` in `stat`, which anyone
/// may read).
fn is_kernel_thread(dir: &procscope_read::ProcDir) -> bool {
    let mut b = Vec::new();
    dir.read(c"stat", &mut b, procscope_read::cap::RECORD)
        .is_ok()
        && procscope_parse::stat::Stat::parse(&b).is_ok_and(|s| s.is_kernel_thread())
}

/// Keeps links to pipes and sockets with these inodes.
pub fn inode_filter(inodes: Vec<u64>) -> impl Fn(&[u8]) -> bool + Send + Sync + 'static {
    move |l: &[u8]| match classify(l) {
        FdLink::Pipe(i) | FdLink::Socket(i) => inodes.contains(&i),
        _ => false,
    }
}

/// A use of a path by a process other than an fd: its working directory,
/// root, executable or a mapped file (what fuser reports as `c`, `r`, `e`,
/// `m`, and lsof as `cwd`, `rtd`, `txt`, `mem`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Use {
    /// Process ID.
    pub pid: i32,
    /// How the process uses the path.
    pub what: UseKind,
    /// The path (a mapping's ` (deleted)` kept).
    pub link: Bytes,
    /// For a mapping: its first address range (`map_files/` names it).
    pub range: Option<(u64, u64)>,
}

/// How a process uses a path other than through an fd.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UseKind {
    /// Its working directory (`cwd`).
    Cwd,
    /// Its root directory (`root`).
    Root,
    /// Its executable (`exe`).
    Exe,
    /// A mapped file (`maps`).
    Mem,
}

impl UseKind {
    /// The name of the magic link (`cwd`, `root`, `exe`) or `mem`.
    pub fn name(self) -> &'static str {
        match self {
            UseKind::Cwd => "cwd",
            UseKind::Root => "root",
            UseKind::Exe => "exe",
            UseKind::Mem => "mem",
        }
    }
}

/// Every process's working directory, root and executable (readlink: the
/// kernel prints the dentry, no filesystem is asked) and its mapped files
/// (`maps`, which takes the process's memory-map lock: read under the
/// deadline, after what was read without risk is checkpointed). `keep`
/// decides which paths are kept.
pub fn scan_uses(
    root: &ProcRoot,
    session: &Session,
    keep: impl Fn(&[u8]) -> bool + Send + Sync + 'static,
) -> Vec<Use> {
    let Ok(pids) = root.pids() else {
        return Vec::new();
    };
    let root = root.clone();
    let mut out = Vec::new();
    session.run_ordered(
        pids,
        move |pid: i32, ctx: &Ctx<Vec<Use>, Vec<Use>>| {
            let Ok(dir) = root.process(pid) else {
                return Vec::new();
            };
            let mut v = Vec::new();
            let mut exe = None;
            for (name, what) in [
                (c"cwd", UseKind::Cwd),
                (c"root", UseKind::Root),
                (c"exe", UseKind::Exe),
            ] {
                if let Ok(l) = dir.readlink(name) {
                    if what == UseKind::Exe {
                        exe = Some(l.clone());
                    }
                    if keep(&l) {
                        v.push(Use {
                            pid,
                            what,
                            link: Bytes(l),
                            range: None,
                        });
                    }
                }
            }
            ctx.checkpoint(v);
            ctx.target(Target::pid(pid));
            let mut buf = Vec::new();
            let mut mem = Vec::new();
            if ctx
                .guarded(|| {
                    dir.read(c"maps", &mut buf, procscope_read::cap::MAPS)
                        .map(|_| ())
                })
                .is_ok()
            {
                let mut seen = std::collections::HashSet::new();
                for m in procscope_parse::maps::mappings(&buf) {
                    let Some(p) = m.path.filter(|p| p.starts_with(b"/")) else {
                        continue;
                    };
                    // The executable is mapped too: it is reported once.
                    if exe.as_deref() != Some(p) && keep(p) && seen.insert(p) {
                        mem.push(Use {
                            pid,
                            what: UseKind::Mem,
                            link: Bytes(p.to_vec()),
                            range: Some((m.start, m.end)),
                        });
                    }
                }
            }
            mem
        },
        |_, f| {
            out.extend(f.partial.into_iter().flatten());
            if let Ok(v) = f.rest {
                out.extend(v);
            }
        },
    );
    out
}

//! Every fd of every process, by `readlink` only (what `fuser` and `ss -p`
//! need): who holds a pipe's other end, a socket, a path, a port.

use crate::bytes::Bytes;
use procscope_parse::fdlink::{FdLink, classify};
use procscope_read::ProcRoot;
use procscope_read::guard::{self, Ctx};

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
    opts: guard::Options,
    keep: impl Fn(&[u8]) -> bool + Send + Sync + 'static,
) -> Vec<Holder> {
    let Ok(pids) = root.pids() else {
        return Vec::new();
    };
    scan_pids(root, opts, pids, keep)
}

/// [`scan`] over the processes `pids` only.
pub fn scan_pids(
    root: &ProcRoot,
    opts: guard::Options,
    pids: Vec<i32>,
    keep: impl Fn(&[u8]) -> bool + Send + Sync + 'static,
) -> Vec<Holder> {
    let root = root.clone();
    let mut out = Vec::new();
    guard::run_ordered(
        pids,
        opts,
        move |pid: i32, _ctx: &Ctx<(), Vec<Holder>>| {
            let Ok(dir) = root.process(pid) else {
                return Vec::new();
            };
            let mut v = Vec::new();
            let _ = dir.fd_links(|fd, link| {
                if keep(link) {
                    v.push(Holder {
                        pid,
                        fd,
                        link: Bytes(link.to_vec()),
                    });
                }
            });
            v.sort_by_key(|h| h.fd);
            v
        },
        |_, f| {
            if let Ok(v) = f.rest {
                out.extend(v);
            }
        },
    );
    out
}

/// Keeps links to pipes and sockets with these inodes.
pub fn inode_filter(inodes: Vec<u64>) -> impl Fn(&[u8]) -> bool + Send + Sync + 'static {
    move |l: &[u8]| match classify(l) {
        FdLink::Pipe(i) | FdLink::Socket(i) => inodes.contains(&i),
        _ => false,
    }
}

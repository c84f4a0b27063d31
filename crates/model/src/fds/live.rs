//! Asking the live kernel, once, every question about a process's fds
//! that only it can answer and that `fds`, `why` or `who-has` may ask —
//! for a snapshot, whose recording tape keeps the answers
//! (`procscope_read::tape`). Without a tape this only costs time.

use super::{Detail, FdEntry, SocketDesc};
use procscope_read::{ProcRoot, Session};

/// Asks about every fd of `pid` (`entries`, as [`super::read`] gave them,
/// which already asked each socket about itself): a stat of each file, the
/// other ends of every pipe, FIFO and unix socket (one helper for all),
/// the processes of each TCP peer's cgroup, and inotify watch paths. The
/// peer search the commands do asks a subset of these: recorded answers
/// about all of them answer any subset.
pub fn ask_everything(root: &ProcRoot, pid: i32, entries: &mut [FdEntry], session: &Session) {
    super::stat_files(root, pid, entries, session);
    let mut pipes = Vec::new();
    let mut unix = Vec::new();
    let mut cgroups = Vec::new();
    for e in entries.iter() {
        match &e.detail {
            Detail::Pipe { inode } | Detail::Fifo { inode, .. } => pipes.push((e.fd, *inode)),
            Detail::Socket {
                inode,
                socket: Some(SocketDesc::Unix { .. }),
            } => unix.push((e.fd, *inode)),
            Detail::Socket {
                socket:
                    Some(SocketDesc::Inet {
                        peer_cgroup: Some(id),
                        ..
                    }),
                ..
            } => cgroups.push(*id),
            _ => {}
        }
    }
    if let Ok(dir) = root.process(pid) {
        if !pipes.is_empty() || !unix.is_empty() {
            let t = session
                .timeout()
                .unwrap_or(std::time::Duration::from_secs(1));
            let _ = procscope_read::ends::ends(&dir, &pipes, &unix, t);
        }
    }
    if !cgroups.is_empty() {
        if let Ok(me) = root.process(root.own_pid()) {
            for id in cgroups {
                let _ = procscope_read::handle::cgroup_procs(&me, id);
            }
        }
    }
    super::resolve_inotify(root, pid, entries, session);
}

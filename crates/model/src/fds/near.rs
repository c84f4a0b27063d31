//! [`super::PeerScope::Near`]: the holders of a process's pipes and
//! sockets looked for outward from it — itself and its ancestors, what the
//! kernel says about each end, its relatives — and on the rest of the host
//! only while an end the kernel says is held was not found.

use super::AccessMode;
use super::peers::{Keys, Modes, link_inode, peer_of};
use super::{Detail, FdEntry, PeerSearch, SearchScope, SocketDesc};
use procscope_read::Session;
use std::collections::HashMap;

/// An fd whose other end was not found yet.
struct Missing {
    fd: i32,
    /// Its pipe, FIFO or socket inode.
    inode: u64,
    /// A pipe or FIFO end (else a connected socket).
    pipe: bool,
}

/// The fds of `pid` whose other end none of `holders` holds: pipe ends
/// without a holder of the other side (unless the kernel said none is
/// left), connected sockets without a holder of the peer socket.
fn unfound(
    pid: i32,
    entries: &[FdEntry],
    holders: &[crate::fdscan::Holder],
    keys: &Keys,
    modes: &mut Modes<'_>,
    ends: &procscope_read::ends::Ends,
) -> Vec<Missing> {
    let mut by_inode: HashMap<u64, Vec<&crate::fdscan::Holder>> = HashMap::new();
    for h in holders {
        if let Some(i) = keys.of(h.link.as_slice()) {
            by_inode.entry(i).or_default().push(h);
        }
    }
    let mut out = Vec::new();
    for e in entries {
        let held = |i: u64| by_inode.get(&i).map(Vec::as_slice).unwrap_or(&[]);
        match &e.detail {
            Detail::Pipe { inode } | Detail::Fifo { inode, .. } => {
                let Some(want) = e
                    .flags
                    .map(AccessMode::of_flags)
                    .and_then(AccessMode::other_side)
                else {
                    continue;
                };
                if ends.pipe_other_side_open.get(&e.fd) == Some(&false) {
                    continue;
                }
                let found = held(*inode)
                    .iter()
                    .filter(|h| !(h.pid == pid && h.fd == e.fd))
                    .any(|h| modes.get(h).is_some_and(|m| want.contains(&m)));
                if !found {
                    out.push(Missing {
                        fd: e.fd,
                        inode: *inode,
                        pipe: true,
                    });
                }
            }
            _ => {
                if let (Some(p), Some(i)) = (peer_of(e).filter(|p| *p != 0), link_inode(e)) {
                    if held(p).is_empty() {
                        out.push(Missing {
                            fd: e.fd,
                            inode: i,
                            pipe: false,
                        });
                    }
                }
            }
        }
    }
    out
}

/// [`PeerScope::Near`]: looks outward from `pid` and stops as soon as every
/// other end is found.
pub(super) fn near_holders(
    root: &procscope_read::ProcRoot,
    pid: i32,
    entries: &[FdEntry],
    session: &Session,
    keys: &Keys,
    modes: &mut Modes<'_>,
) -> (Vec<crate::fdscan::Holder>, PeerSearch) {
    let own = root.own_pid();
    let mut searched = std::collections::HashSet::from([own]);
    let mut holders = Vec::new();
    let look = |pids: Vec<i32>,
                searched: &mut std::collections::HashSet<i32>,
                holders: &mut Vec<crate::fdscan::Holder>| {
        let new: Vec<i32> = pids.into_iter().filter(|p| searched.insert(*p)).collect();
        if new.is_empty() {
            return;
        }
        holders.extend(crate::fdscan::scan_pids(
            root,
            session,
            new,
            keys.clone().filter(),
        ));
    };
    let none = procscope_read::ends::Ends::default();
    // 1. The process itself (self-pipes, both ends of a socketpair: all of
    //    its fds, not only those asked about) and the processes it
    //    descends from (a shell's pipes, sshd's).
    look(vec![pid], &mut searched, &mut holders);
    look(
        crate::kin::ancestors(root, pid),
        &mut searched,
        &mut holders,
    );
    let mut missing = unfound(pid, entries, &holders, keys, modes, &none);
    // 2. What the kernel says: which pipes still have another side, which
    //    process created each unix socket's peer.
    let mut ends = none.clone();
    if !missing.is_empty() {
        let pipes: Vec<(i32, u64)> = missing
            .iter()
            .filter(|m| m.pipe)
            .map(|m| (m.fd, m.inode))
            .collect();
        let unix: Vec<(i32, u64)> = missing
            .iter()
            .filter(|m| !m.pipe)
            .filter(|m| {
                entries.iter().any(|e| {
                    e.fd == m.fd
                        && matches!(
                            e.detail,
                            Detail::Socket {
                                socket: Some(SocketDesc::Unix { .. }),
                                ..
                            }
                        )
                })
            })
            .map(|m| (m.fd, m.inode))
            .collect();
        if let Ok(dir) = root.process(pid) {
            // The helper has its own deadline; nothing here can block.
            let t = session
                .timeout()
                .unwrap_or(std::time::Duration::from_secs(1));
            ends = procscope_read::ends::ends(&dir, &pipes, &unix, t).unwrap_or_default();
        }
        let mut creds: Vec<i32> = ends.unix_peer_pid.values().copied().collect();
        creds.sort_unstable();
        creds.dedup();
        look(creds, &mut searched, &mut holders);
        missing = unfound(pid, entries, &holders, keys, modes, &ends);
    }
    // 2b. A TCP peer's socket records the cgroup its creator was in (a
    //     systemd service, a container): the processes of that cgroup,
    //     unless it is a catch-all (the root cgroup holds everything).
    let cgroups: Vec<u64> = missing
        .iter()
        .filter(|m| !m.pipe)
        .filter_map(|m| {
            entries
                .iter()
                .find(|e| e.fd == m.fd)
                .and_then(|e| match &e.detail {
                    Detail::Socket {
                        socket: Some(SocketDesc::Inet { peer_cgroup, .. }),
                        ..
                    } => *peer_cgroup,
                    _ => None,
                })
        })
        .collect();
    if !cgroups.is_empty() {
        if let Ok(me) = root.process(own) {
            for id in cgroups {
                let procs = procscope_read::handle::cgroup_procs(&me, id).unwrap_or_default();
                if procs.len() <= crate::kin::MAX_RELATED {
                    look(procs, &mut searched, &mut holders);
                }
            }
            missing = unfound(pid, entries, &holders, keys, modes, &ends);
        }
    }
    // 3. Its children and siblings (and their descendants), then its
    //    process group and session (an orphaned pipeline's members are
    //    PID 1's children, but still one job).
    let mut groups = false;
    if !missing.is_empty() {
        let r = crate::kin::related(root, session, pid, false);
        groups = r.groups;
        look(r.pids, &mut searched, &mut holders);
        missing = unfound(pid, entries, &holders, keys, modes, &ends);
    }
    if !missing.is_empty() && !groups {
        look(
            crate::kin::related(root, session, pid, true).pids,
            &mut searched,
            &mut holders,
        );
        missing = unfound(pid, entries, &holders, keys, modes, &ends);
    }
    // 4. An end the kernel says is held, by nobody related: the other
    //    processes, nearest PID first (processes forked together have
    //    near PIDs), a batch at a time, until every end is found.
    let widened_for_fd = missing.first().map(|m| m.fd);
    if !missing.is_empty() {
        let mut rest: Vec<i32> = root
            .pids()
            .unwrap_or_default()
            .into_iter()
            .filter(|p| !searched.contains(p))
            .collect();
        rest.sort_by_key(|p| (i64::from(*p) - i64::from(pid)).unsigned_abs());
        for batch in rest.chunks(WIDEN_BATCH) {
            look(batch.to_vec(), &mut searched, &mut holders);
            missing = unfound(pid, entries, &holders, keys, modes, &ends);
            if missing.is_empty() {
                break;
            }
        }
    }
    let processes = searched.iter().filter(|p| **p != own || own == pid).count();
    (
        holders,
        PeerSearch {
            scope: if widened_for_fd.is_some() {
                SearchScope::Widened
            } else {
                SearchScope::Near
            },
            processes,
            widened_for_fd,
        },
    )
}

/// Processes read per step when a near search widens to the host.
const WIDEN_BATCH: usize = 256;

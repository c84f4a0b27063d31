//! `why` through a process's memory-map lock: the thread that holds it
//! while it faults in a page of a file whose filesystem does not answer,
//! and the threads queued behind it.
//!
//! Nothing here may take the stuck lock: `maps`, `cmdline` and `mem` of
//! that process block. What is read instead: the holder's system call (a
//! `pread64` on `/proc/N/mem` names the process whose memory it is, and
//! its offset is the faulting address), and that process's open files on
//! mounts that can hang (fd links, `fdinfo` and `mountinfo` do not take
//! the lock).

use super::{Call, Shared, ThreadRef, Wait, Who, daemons_for};
use crate::bytes::Bytes;
use crate::fds::Detail;
use crate::threads::ThreadInfo;
use procscope_read::{ProcRoot, Session};
use serde::Serialize;

/// A file the lock holder most likely faults on: an open file of the
/// process whose memory it is, on a mount that can hang.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FaultFile {
    /// The fd (in the process whose memory it is).
    pub fd: i32,
    /// Its path.
    pub path: Bytes,
    /// Its mount point.
    pub mount_point: Option<Bytes>,
    /// Its filesystem type.
    pub fs_type: Option<Bytes>,
}

/// The PID in a `/proc/N/mem` path.
fn mem_owner(path: &[u8]) -> Option<i32> {
    let rest = path.strip_prefix(b"/proc/")?;
    let n = rest.strip_suffix(b"/mem")?;
    std::str::from_utf8(n).ok()?.parse().ok()
}

/// What a thread holding a memory lock (its kernel frames say so) faults
/// on: whose memory, at which address, and the files that can hang.
pub(super) fn holder(
    root: &ProcRoot,
    pid: i32,
    call: Option<&Call>,
    session: &Session,
    shared: &mut Shared,
) -> Wait {
    // pread64(fd → /proc/N/mem, buf, len, offset): the offset is the
    // address in N's memory.
    let from_call = call.and_then(|c| {
        let fd = i32::try_from(c.args[0]).ok()?;
        let e = c.fds.iter().find(|e| e.fd == fd)?;
        let Detail::File { path, .. } = &e.detail else {
            return None;
        };
        let owner = mem_owner(path.as_slice())?;
        let addr = matches!(c.name, "pread64" | "preadv" | "preadv2").then_some(c.args[3]);
        Some((owner, addr))
    });
    let (owner, addr) = from_call.unwrap_or((pid, None));
    let mut files: Vec<FaultFile> = Vec::new();
    if let Ok(dir) = root.process(owner) {
        let fds = dir.fds().unwrap_or_default();
        if let Ok(entries) = crate::fds::read(&dir, &fds) {
            for e in entries {
                if let Detail::File {
                    path,
                    mount_point,
                    fs_type,
                    ..
                } = &e.detail
                {
                    let hangs = fs_type
                        .as_ref()
                        .is_some_and(|t| procscope_parse::mountinfo::may_hang(t.as_slice()));
                    if hangs {
                        files.push(FaultFile {
                            fd: e.fd,
                            path: path.clone(),
                            mount_point: mount_point.clone(),
                            fs_type: fs_type.clone(),
                        });
                    }
                }
            }
        }
    }
    let fuse = files.iter().find(|f| {
        f.fs_type
            .as_ref()
            .is_some_and(|t| t.as_slice().starts_with(b"fuse"))
    });
    let daemons: Vec<Who> = match fuse {
        Some(f) => daemons_for(root, session, shared, f.mount_point.as_ref()),
        None => Vec::new(),
    };
    Wait::MemoryLockHolder {
        owner,
        addr,
        files,
        daemons,
    }
}

/// Threads waiting for `pid`'s memory lock, named with the threads of
/// `pid` that hold it.
pub(super) fn waiters(groups: &mut [super::Group], pid: i32, threads: &[ThreadInfo]) {
    let holders: Vec<ThreadRef> = groups
        .iter()
        .filter(|g| matches!(g.wait, Wait::MemoryLockHolder { owner, .. } if owner == pid))
        .flat_map(|g| g.tids.iter().copied())
        .map(|tid| ThreadRef {
            tid,
            name: threads
                .iter()
                .find(|t| t.tid == tid)
                .map(|t| t.comm.clone())
                .unwrap_or_default(),
        })
        .collect();
    if holders.is_empty() {
        return;
    }
    for g in groups.iter_mut() {
        if matches!(
            g.wait,
            Wait::Kernel {
                cause: crate::hung::Cause::MemoryLockWaiter
            }
        ) {
            g.wait = Wait::MemoryLockWaiter {
                holders: holders.clone(),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_process_whose_memory_is_read() {
        assert_eq!(mem_owner(b"/proc/812/mem"), Some(812));
        assert_eq!(mem_owner(b"/proc/812/cmdline"), None);
        assert_eq!(mem_owner(b"/proc/self/mem"), None);
        assert_eq!(mem_owner(b"/tmp/proc/1/mem"), None);
    }
}

//! Turning a file handle (as inotify and fanotify fdinfo print them) back
//! into a path: `open_by_handle_at(2)` with `O_PATH`, then the path of the
//! new fd. Needs CAP_DAC_READ_SEARCH.
//!
//! Both steps can reach the filesystem (a FUSE or NFS server is asked to
//! look the handle up): call this from a deadline-guarded thread.

use crate::{Failure, Outcome, ProcDir};
use rustix::fd::{AsRawFd, FromRawFd, OwnedFd};
use rustix::fs::OFlags;

/// Parses the hex text of `f_handle:` into bytes.
pub fn parse_hex(h: &[u8]) -> Option<Vec<u8>> {
    if h.len() % 2 != 0 {
        return None;
    }
    h.chunks(2)
        .map(|p| {
            let s = std::str::from_utf8(p).ok()?;
            u8::from_str_radix(s, 16).ok()
        })
        .collect()
}

/// The mount at `mount_point` as the process `dir` sees it (`dir/root` +
/// mount point), opened as a directory (not O_PATH: open_by_handle_at()
/// refuses O_PATH mount fds with EBADF).
fn mount_dir(dir: &ProcDir, mount_point: &[u8]) -> Outcome<OwnedFd> {
    if !dir.is_live() {
        return Err(Failure::Unsupported {
            what: "a live /proc (this proc root is a fixture or a copy)".into(),
        });
    }
    let mut rel = b"root".to_vec();
    let mp = mount_point.strip_prefix(b"/").unwrap_or(mount_point);
    if !mp.is_empty() {
        rel.push(b'/');
        rel.extend_from_slice(mp);
    }
    let rel = std::ffi::CString::new(rel).map_err(|e| Failure::malformed("mount point", e))?;
    dir.open_with(&rel, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC)
}

/// `open_by_handle_at(2)` of `handle` under `mount`.
fn open_handle(
    mount: &OwnedFd,
    handle_type: i32,
    handle: &[u8],
    flags: libc::c_int,
) -> Outcome<OwnedFd> {
    // struct file_handle { unsigned int handle_bytes; int handle_type; unsigned char f_handle[]; }
    let len = u32::try_from(handle.len()).map_err(|e| Failure::malformed("f_handle", e))?;
    let mut fh = Vec::with_capacity(8 + handle.len());
    fh.extend_from_slice(&len.to_ne_bytes());
    fh.extend_from_slice(&handle_type.to_ne_bytes());
    fh.extend_from_slice(handle);
    // SAFETY: `fh` is a complete `struct file_handle` that outlives the
    // call; the kernel only reads it. The returned fd is owned by us.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_by_handle_at,
            mount.as_raw_fd(),
            fh.as_ptr(),
            flags | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        let e = rustix::io::Errno::from_raw_os_error(
            std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
        );
        return Err(match e {
            rustix::io::Errno::PERM | rustix::io::Errno::ACCESS => Failure::Denied {
                need: crate::Need::Privilege,
            },
            rustix::io::Errno::STALE | rustix::io::Errno::NOENT => Failure::Absent {
                what: "the file the handle names no longer exists".into(),
            },
            rustix::io::Errno::OPNOTSUPP | rustix::io::Errno::NOSYS => Failure::Unsupported {
                what: "file handles on this filesystem".into(),
            },
            e => Failure::from_errno(e, b"open_by_handle_at"),
        });
    }
    let raw = i32::try_from(fd).map_err(|e| Failure::malformed("fd", e))?;
    // SAFETY: the syscall returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// The path of the file a handle names, looked up through the mount at
/// `mount_point` as the process `dir` sees it (`dir/root` + mount point).
pub fn path_of(
    dir: &ProcDir,
    mount_point: &[u8],
    handle_type: i32,
    handle: &[u8],
) -> Outcome<Vec<u8>> {
    let same = |h: &crate::tape::HandleRecord| {
        h.mount_point == mount_point && h.handle_type == handle_type && h.handle == handle
    };
    if let Some(rec) = dir.tape().and_then(|t| t.replayed()) {
        return rec
            .handles
            .get(&dir.pid())
            .and_then(|v| v.iter().find(|h| same(h)))
            .map(|h| h.answer.clone())
            .unwrap_or_else(|| Err(crate::tape::not_in_snapshot()));
    }
    let r = path_of_live(dir, mount_point, handle_type, handle);
    if let Some(t) = dir.tape() {
        t.write(|rec| {
            let v = rec.handles.entry(dir.pid()).or_default();
            if !v.iter().any(same) {
                v.push(crate::tape::HandleRecord {
                    mount_point: mount_point.to_vec(),
                    handle_type,
                    handle: handle.to_vec(),
                    answer: r.clone(),
                });
            }
        });
    }
    r
}

fn path_of_live(
    dir: &ProcDir,
    mount_point: &[u8],
    handle_type: i32,
    handle: &[u8],
) -> Outcome<Vec<u8>> {
    let mount = mount_dir(dir, mount_point)?;
    let fd = open_handle(&mount, handle_type, handle, libc::O_PATH)?;
    let link = format!("/proc/self/fd/{}", fd.as_raw_fd());
    rustix::fs::readlinkat(rustix::fs::CWD, link.as_str(), Vec::new())
        .map(|p| p.into_bytes())
        .map_err(|e| Failure::from_errno(e, b"fd link"))
}

/// `FILEID_KERNFS`: a kernfs (cgroup2) handle is the node's 64-bit ID
/// (include/linux/exportfs.h).
const FILEID_KERNFS: i32 = 0xfe;

/// The processes in the cgroup (v2) with this ID — what sock_diag reports
/// as a TCP or UDP socket's `INET_DIAG_CGROUP_ID`: its directory opened by
/// handle on the cgroup2 mount `me` (procscope's own process) sees, then
/// its `cgroup.procs` (PIDs in procscope's namespace). Needs
/// CAP_DAC_READ_SEARCH. cgroupfs lives in memory: nothing here can hang.
pub fn cgroup_procs(me: &ProcDir, id: u64) -> Outcome<Vec<i32>> {
    if let Some(rec) = me.tape().and_then(|t| t.replayed()) {
        return rec
            .cgroup_procs
            .get(&id)
            .cloned()
            .unwrap_or_else(|| Err(crate::tape::not_in_snapshot()));
    }
    let r = cgroup_procs_live(me, id);
    if let Some(t) = me.tape() {
        t.write(|rec| {
            rec.cgroup_procs.insert(id, r.clone());
        });
    }
    r
}

fn cgroup_procs_live(me: &ProcDir, id: u64) -> Outcome<Vec<i32>> {
    let mut b = Vec::new();
    me.read(c"mountinfo", &mut b, crate::cap::MOUNTINFO)?;
    let mounts =
        procscope_parse::mountinfo::parse(&b).map_err(|e| Failure::malformed("mountinfo", e))?;
    let m = mounts
        .iter()
        .find(|m| m.fs_type == b"cgroup2" && m.root == b"/")
        .ok_or_else(|| Failure::Unsupported {
            what: "a cgroup2 mount".into(),
        })?;
    let mount = mount_dir(me, &m.mount_point)?;
    let dir = open_handle(
        &mount,
        FILEID_KERNFS,
        &id.to_ne_bytes(),
        libc::O_RDONLY | libc::O_DIRECTORY,
    )?;
    let procs = rustix::fs::openat(
        &dir,
        "cgroup.procs",
        OFlags::RDONLY | OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| Failure::from_errno(e, b"cgroup.procs"))?;
    // Capped like every read: a PID per line, at most `pid_max` (2²²) of
    // them. A cut list loses its last, possibly partial, line.
    let mut text = Vec::new();
    let r = crate::root::read_fd(&procs, b"cgroup.procs", &mut text, crate::cap::CGROUP_PROCS)?;
    if r.truncated {
        let keep = text.iter().rposition(|&c| c == b'\n').unwrap_or(0);
        text.truncate(keep);
    }
    Ok(procscope_parse::num::words(&text)
        .filter_map(procscope_parse::num::dec_i64)
        .filter_map(|p| i32::try_from(p).ok())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_in_its_own_cgroup() {
        // The cgroup2 directory's inode is its ID (kernfs node ID).
        use std::os::unix::fs::MetadataExt;
        let cg = std::fs::read_to_string("/proc/self/cgroup").unwrap();
        let path = cg
            .lines()
            .find_map(|l| l.strip_prefix("0::"))
            .unwrap()
            .to_string();
        let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let mp = mi
            .lines()
            .find(|l| l.contains(" - cgroup2 "))
            .and_then(|l| l.split(' ').nth(4))
            .unwrap()
            .to_string();
        let id = std::fs::metadata(format!("{mp}{path}")).unwrap().ino();
        let root = crate::ProcRoot::open("/proc").unwrap();
        let me = root.process(root.own_pid()).unwrap();
        let procs = cgroup_procs(&me, id).unwrap();
        assert!(procs.contains(&root.own_pid()), "{procs:?}");
        assert!(cgroup_procs(&me, u64::MAX).is_err());
    }

    #[test]
    fn hex() {
        assert_eq!(parse_hex(b"93c09800"), Some(vec![0x93, 0xc0, 0x98, 0x00]));
        assert_eq!(parse_hex(b"9"), None);
        assert_eq!(parse_hex(b"zz"), None);
        assert_eq!(parse_hex(b""), Some(vec![]));
    }
}

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

/// The path of the file a handle names, looked up through the mount at
/// `mount_point` as the process `dir` sees it (`dir/root` + mount point).
pub fn path_of(
    dir: &ProcDir,
    mount_point: &[u8],
    handle_type: i32,
    handle: &[u8],
) -> Outcome<Vec<u8>> {
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
    // Not O_PATH: open_by_handle_at() refuses O_PATH mount fds (EBADF).
    let mount = dir.open_with(&rel, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC)?;
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
            libc::O_PATH | libc::O_CLOEXEC,
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
            rustix::io::Errno::STALE => Failure::Absent {
                what: "the watched file no longer exists".into(),
            },
            rustix::io::Errno::OPNOTSUPP | rustix::io::Errno::NOSYS => Failure::Unsupported {
                what: "file handles on this filesystem".into(),
            },
            e => Failure::from_errno(e, b"open_by_handle_at"),
        });
    }
    let raw = i32::try_from(fd).map_err(|e| Failure::malformed("fd", e))?;
    // SAFETY: the syscall returned a new fd that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let link = format!("/proc/self/fd/{}", fd.as_raw_fd());
    rustix::fs::readlinkat(rustix::fs::CWD, link.as_str(), Vec::new())
        .map(|p| p.into_bytes())
        .map_err(|e| Failure::from_errno(e, b"fd link"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex() {
        assert_eq!(parse_hex(b"93c09800"), Some(vec![0x93, 0xc0, 0x98, 0x00]));
        assert_eq!(parse_hex(b"9"), None);
        assert_eq!(parse_hex(b"zz"), None);
        assert_eq!(parse_hex(b""), Some(vec![]));
    }
}

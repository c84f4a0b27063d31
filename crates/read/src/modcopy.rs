//! Sealed copies of the files a process maps, made in a forked helper.
//!
//! The files a process maps are the target's: a library on a FUSE mount
//! whose daemon stopped answering blocks whoever opens or stats it, and a
//! FIFO swapped in at its path blocks an opener that does not ask for
//! `O_NONBLOCK`. None of that may happen in procscope's own process. So a
//! helper child (`in_child_shared` in [`crate::helper`], system calls only)
//! opens each file (`O_RDONLY|O_NONBLOCK|O_CLOEXEC|O_NOCTTY`), checks that
//! it is a regular file and the one the process maps (its inode, as in
//! `maps`: overlay and btrfs report another device in `maps` than `fstat`
//! does, so the inode alone decides), copies it into a memfd sealed
//! against shrinking, growing and writing, and passes that memfd back
//! (`SCM_RIGHTS`). When the path inside the process's root is another
//! file, not a regular file, or was deleted, the mapping's `map_files`
//! link is used instead. A helper that has not answered for a file within a
//! quarter of the deadline is SIGKILLed and that file says it timed out; a
//! fresh helper takes the files after it while the deadline allows.
//!
//! procscope then reads only its own sealed copy, which nobody can
//! truncate under a mapping of it (no SIGBUS) or make block.

use crate::Outcome;
use crate::helper::Board;
use rustix::fd::AsRawFd;
use std::ffi::CString;
use std::time::{Duration, Instant};

/// The largest file copied (a bigger one is refused).
pub const MAX_COPY: u64 = 512 << 20;

/// One file to copy.
#[derive(Debug, Clone)]
pub struct Want {
    /// The path inside the process's root (`/proc/PID/root/…`), when the
    /// mapping names one that was not deleted.
    pub root_path: Option<std::path::PathBuf>,
    /// The mapping's `map_files` link (`/proc/PID/map_files/START-END`).
    pub by_map: std::path::PathBuf,
    /// The inode `maps` shows (0: any file at the path will do — a debug
    /// file named by a `.gnu_debuglink`, checked by its CRC instead).
    pub inode: u64,
}

/// Why a file was not copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotCopied {
    /// Neither path opened (errno of the last try).
    Open(i32),
    /// Not a regular file (a FIFO, a device, a directory).
    NotRegular,
    /// Larger than [`MAX_COPY`].
    TooLarge,
    /// The copy or its seals failed (errno).
    Copy(i32),
    /// The helper did not answer for it in time.
    TimedOut,
}

impl std::fmt::Display for NotCopied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotCopied::Open(e) => write!(
                f,
                "could not be opened ({})",
                std::io::Error::from_raw_os_error(*e)
            ),
            NotCopied::NotRegular => f.write_str("not a regular file"),
            NotCopied::TooLarge => write!(f, "larger than {} MiB", MAX_COPY >> 20),
            NotCopied::Copy(e) => write!(
                f,
                "could not be copied ({})",
                std::io::Error::from_raw_os_error(*e)
            ),
            NotCopied::TimedOut => f.write_str("timed out opening it"),
        }
    }
}

const OK: i32 = 0;
const E_OPEN: i32 = 1;
const E_NOTREG: i32 = 2;
const E_BIG: i32 = 3;
const E_COPY: i32 = 4;

/// One record: index, code, errno.
const RECORD: usize = 12;

/// Copies each of `wants` in one helper, within `timeout`: a sealed memfd
/// per file, or why not, in order. Fails only when no helper could be
/// started.
pub fn sealed_copies(
    wants: &[Want],
    timeout: Duration,
) -> Outcome<Vec<Result<std::fs::File, NotCopied>>> {
    let c = |p: &std::path::Path| CString::new(p.as_os_str().as_encoded_bytes()).ok();
    // Formatted before the fork: the helper may not allocate.
    let paths: Vec<(Option<CString>, Option<CString>, u64)> = wants
        .iter()
        .map(|w| (w.root_path.as_deref().and_then(c), c(&w.by_map), w.inode))
        .collect();
    let deadline = Instant::now() + timeout;
    // A file that does not come back within this is given up on (its
    // helper killed) and the next helper takes the files after it: one
    // hung file must not cost every other module its names.
    let stall = (timeout / 4).max(Duration::from_millis(100));
    let mut out: Vec<Result<std::fs::File, NotCopied>> = Vec::with_capacity(wants.len());
    while out.len() < paths.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let batch = paths.get(out.len()..).unwrap_or_default();
        let cap = RECORD.saturating_mul(batch.len());
        let got = crate::helper::in_child_shared(left, Some(stall), &[], cap, |b| {
            for (i, (root, by_map, inode)) in batch.iter().enumerate() {
                copy_one(i, root.as_deref(), by_map.as_deref(), *inode, b);
            }
        });
        let shared = match got {
            Ok(s) => s,
            Err(f) if out.is_empty() => return Err(f),
            Err(_) => break,
        };
        let before = out.len();
        let mut fds = shared.fds.into_iter();
        let mut r = crate::helper::Reader::new(&shared.bytes);
        while let (Some(_), Some(code), Some(e)) = (r.take::<4>(), r.take::<4>(), r.take::<4>()) {
            let e = i32::from_le_bytes(e);
            out.push(match i32::from_le_bytes(code) {
                OK => match fds.next() {
                    Some(fd) => Ok(std::fs::File::from(fd)),
                    None => Err(NotCopied::Copy(0)),
                },
                E_OPEN => Err(NotCopied::Open(e)),
                E_NOTREG => Err(NotCopied::NotRegular),
                E_BIG => Err(NotCopied::TooLarge),
                _ => Err(NotCopied::Copy(e)),
            });
        }
        match shared.cut {
            // The file after the last answered one did not come back.
            Some(_) if out.len() < paths.len() => out.push(Err(NotCopied::TimedOut)),
            Some(_) => {}
            None if out.len() == before => break,
            None => {}
        }
    }
    while out.len() < wants.len() {
        out.push(Err(NotCopied::TimedOut));
    }
    Ok(out)
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Opens `path` without blocking on a FIFO or becoming a terminal's
/// controller; checks it is a regular file, of inode `inode` when given.
/// Its fd and size, or why not. System calls only.
fn open_regular(path: &std::ffi::CStr, inode: Option<u64>) -> Result<(i32, u64), (i32, i32)> {
    // SAFETY: `path` is NUL-terminated.
    let fd = unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_RDONLY | libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY,
        )
    };
    if fd < 0 {
        return Err((E_OPEN, errno()));
    }
    // SAFETY: stat is plain data, filled by fstat.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat writes into `st`.
    let ok = unsafe { libc::fstat(fd, &mut st) } == 0;
    let regular = ok && st.st_mode & libc::S_IFMT == libc::S_IFREG;
    if !regular || inode.is_some_and(|i| i != st.st_ino) {
        // SAFETY: our own fd.
        unsafe { libc::close(fd) };
        return Err((E_NOTREG, 0));
    }
    Ok((fd, u64::try_from(st.st_size).unwrap_or(u64::MAX)))
}

/// Copies one file into a sealed memfd and passes it to the parent;
/// commits its record. System calls only.
fn copy_one(
    i: usize,
    root: Option<&std::ffi::CStr>,
    by_map: Option<&std::ffi::CStr>,
    inode: u64,
    b: &mut Board<'_>,
) {
    let put = |b: &mut Board<'_>, code: i32, e: i32| {
        b.cur
            .put(&u32::try_from(i).unwrap_or(u32::MAX).to_le_bytes());
        b.cur.put(&code.to_le_bytes());
        b.cur.put(&e.to_le_bytes());
        b.commit();
    };
    // The path in the process's root, when it is still the mapped file;
    // else the mapping's own link.
    // When both fail, the root path's failure is the one that says what
    // is wrong with the file the process names.
    let opened = match root.map(|p| open_regular(p, (inode != 0).then_some(inode))) {
        Some(Ok(x)) => Ok(x),
        first => {
            let first = first.and_then(|r| r.err());
            match (by_map.map(|p| open_regular(p, None)), first) {
                (Some(Ok(x)), _) => Ok(x),
                (_, Some(e)) => Err(e),
                (Some(Err(e)), None) => Err(e),
                (None, None) => Err((E_OPEN, libc::ENOENT)),
            }
        }
    };
    let (src, size) = match opened {
        Ok(x) => x,
        Err((code, e)) => return put(b, code, e),
    };
    let close = |fd: i32| {
        // SAFETY: an fd this helper opened.
        unsafe { libc::close(fd) };
    };
    if size > MAX_COPY {
        close(src);
        return put(b, E_BIG, 0);
    }
    let flags = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    // SAFETY: a NUL-terminated name.
    let dst = unsafe { libc::memfd_create(c"procscope-module".as_ptr(), flags) };
    if dst < 0 {
        let e = errno();
        close(src);
        return put(b, E_COPY, e);
    }
    let copied = copy(src, dst);
    close(src);
    let seals = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE | libc::F_SEAL_SEAL;
    // SAFETY: fcntl on our own memfd.
    let sealed = copied.and_then(|()| {
        if unsafe { libc::fcntl(dst, libc::F_ADD_SEALS, seals) } == 0 {
            Ok(())
        } else {
            Err(errno())
        }
    });
    match sealed {
        Ok(()) if b.pass_fd(dst) => put(b, OK, 0),
        Ok(()) => put(b, E_COPY, errno()),
        Err(e) => put(b, E_COPY, e),
    }
    close(dst);
}

/// Copies `src` to `dst` up to [`MAX_COPY`] bytes: `sendfile`, else plain
/// reads and writes. System calls only.
fn copy(src: i32, dst: i32) -> Result<(), i32> {
    let mut total: u64 = 0;
    let mut plain = false;
    let mut buf = [0u8; 16 * 1024];
    while total < MAX_COPY {
        let chunk = usize::try_from((MAX_COPY - total).min(1 << 20)).unwrap_or(1 << 20);
        let n = if plain {
            // SAFETY: read into `buf`, of `buf.len()` bytes.
            let n = unsafe { libc::read(src, buf.as_mut_ptr().cast(), buf.len().min(chunk)) };
            if n > 0 {
                let mut off = 0usize;
                let len = usize::try_from(n).unwrap_or(0);
                while off < len {
                    let part = buf.get(off..len).unwrap_or_default();
                    // SAFETY: writes from `buf`, in bounds.
                    let w = unsafe { libc::write(dst, part.as_ptr().cast(), part.len()) };
                    if w <= 0 {
                        return Err(errno());
                    }
                    off = off.saturating_add(usize::try_from(w).unwrap_or(0));
                }
            }
            n
        } else {
            // SAFETY: sendfile between two fds of this helper.
            unsafe { libc::sendfile(dst, src, std::ptr::null_mut(), chunk) }
        };
        match n {
            0 => return Ok(()),
            n if n > 0 => total = total.saturating_add(u64::try_from(n).unwrap_or(0)),
            _ => {
                let e = errno();
                match e {
                    libc::EINTR | libc::EAGAIN => {}
                    libc::EINVAL | libc::ENOSYS if !plain && total == 0 => plain = true,
                    _ => return Err(e),
                }
            }
        }
    }
    Ok(())
}

/// An fd's `/proc/self/fd/N` path, to hand a copy to code that takes paths.
pub fn fd_path(f: &impl AsRawFd) -> std::path::PathBuf {
    std::path::PathBuf::from(format!("/proc/self/fd/{}", f.as_raw_fd()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn want(p: &std::path::Path) -> Want {
        Want {
            root_path: Some(p.to_path_buf()),
            by_map: p.with_extension("nothing-here"),
            inode: std::fs::metadata(p).unwrap().ino(),
        }
    }

    /// The copy has the file's bytes, and truncating the file after the
    /// copy (as a target can do to a library it maps) changes nothing in
    /// it: it cannot shrink, so a mapping of it never faults with SIGBUS.
    #[test]
    fn a_sealed_copy_cannot_shrink() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("lib.so");
        std::fs::write(&p, vec![7u8; 10_000]).unwrap();
        let got = sealed_copies(&[want(&p)], Duration::from_secs(5)).unwrap();
        let c = got.into_iter().next().unwrap().unwrap();
        std::fs::write(&p, b"").unwrap();
        assert_eq!(c.metadata().unwrap().len(), 10_000);
        assert!(c.set_len(0).is_err(), "a sealed copy was truncated");
        assert_eq!(std::fs::read(fd_path(&c)).unwrap(), vec![7u8; 10_000]);
    }

    #[test]
    fn a_fifo_is_refused_without_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &p,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let t = Instant::now();
        let got = sealed_copies(&[want(&p)], Duration::from_secs(5)).unwrap();
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].as_ref().err(), Some(&NotCopied::NotRegular));
    }

    /// Another file at the path (a different inode) is not taken for the
    /// mapped one: the `map_files` link is tried (here it is missing) and
    /// the path's own failure is reported.
    #[test]
    fn another_file_at_the_path_is_not_copied() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("lib.so");
        std::fs::write(&p, b"abc").unwrap();
        let mut w = want(&p);
        w.inode = w.inode.wrapping_add(1);
        let got = sealed_copies(&[w], Duration::from_secs(5)).unwrap();
        assert_eq!(got[0].as_ref().err(), Some(&NotCopied::NotRegular));
    }
}

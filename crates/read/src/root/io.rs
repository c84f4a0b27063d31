//! Reading files and listing directories relative to an open directory,
//! the way every reader of the tree does.

use crate::failure::{Failure, Outcome};
use rustix::fd::OwnedFd;
use rustix::fs::OFlags;
use std::ffi::CStr;

use super::{FileRead, is_single_record_file, open_in};

/// Reads `name` relative to `dir` into `buf`, at most `cap` bytes.
///
/// In a tree that is not procfs (a fixture, a copied /proc, a snapshot:
/// hostile input), only regular files are read: the file is opened
/// non-blocking and without following a final symlink, and anything else
/// — a FIFO, whose read would wait forever for a writer, a device, a
/// socket, a directory — is refused as malformed before any read.
pub(super) fn read_at(
    dir: rustix::fd::BorrowedFd<'_>,
    name: &CStr,
    buf: &mut Vec<u8>,
    cap: usize,
    live: bool,
) -> Outcome<FileRead> {
    buf.clear();
    let mut flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY;
    if !live {
        flags |= OFlags::NONBLOCK | OFlags::NOFOLLOW;
    }
    let fd =
        open_in(dir, name, flags, live).map_err(|e| Failure::from_errno(e, name.to_bytes()))?;
    if !live {
        regular_only(&fd, name.to_bytes(), "in this proc root")?;
    }
    read_fd(&fd, name.to_bytes(), buf, cap)
}

/// Refuses anything but a regular file behind `fd` (opened `O_NONBLOCK`,
/// so that the open itself could not wait for a FIFO's writer): a FIFO's
/// read would wait forever, a device or socket could act on a read.
pub(crate) fn regular_only(fd: &OwnedFd, name: &[u8], where_: &str) -> Outcome<()> {
    let st = rustix::fs::fstat(fd).map_err(|e| Failure::from_errno(e, name))?;
    if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::RegularFile {
        return Err(Failure::malformed(
            &String::from_utf8_lossy(name),
            format!("not a regular file {where_} (a FIFO, device or socket is never read)"),
        ));
    }
    Ok(())
}

/// Reads the open file `fd` (named `name`, for errors and to know whether
/// a short read is its end) into `buf`, at most `cap` bytes.
pub(crate) fn read_fd(
    fd: &OwnedFd,
    name: &[u8],
    buf: &mut Vec<u8>,
    cap: usize,
) -> Outcome<FileRead> {
    read_with(name, buf, cap, |buf, _at| {
        rustix::io::read(fd, rustix::buffer::spare_capacity(buf))
    })
}

/// The read loop of [`read_fd`] and [`crate::Kept::reread`]: `read` appends
/// to `buf` (reading at file offset `at`, for `pread`) and says how much,
/// and this reads until EOF or until one byte past `cap` shows the file is
/// longer. A short read ends early only for single-record files.
pub(crate) fn read_with(
    name: &[u8],
    buf: &mut Vec<u8>,
    cap: usize,
    mut read: impl FnMut(&mut Vec<u8>, u64) -> rustix::io::Result<usize>,
) -> Outcome<FileRead> {
    buf.clear();
    let short_is_end = is_single_record_file(name);
    let limit = cap.saturating_add(1);
    loop {
        if buf.len() >= limit {
            buf.truncate(cap);
            return Ok(FileRead {
                len: cap,
                truncated: true,
            });
        }
        if buf.capacity() == buf.len() {
            let grow = buf.len().max(4096).min(limit - buf.len());
            buf.reserve_exact(grow);
        }
        let room = buf.capacity() - buf.len();
        let at = u64::try_from(buf.len()).unwrap_or(u64::MAX);
        match read(buf, at) {
            // A single-record file returned everything it had: the end,
            // which saves the extra read() per file in listings (see
            // is_single_record_file for why others must read on).
            Ok(n) if short_is_end && n > 0 && n < room && buf.len() <= cap => {
                return Ok(FileRead {
                    len: buf.len(),
                    truncated: false,
                });
            }
            Ok(0) => {
                let truncated = buf.len() > cap;
                buf.truncate(cap);
                return Ok(FileRead {
                    len: buf.len(),
                    truncated,
                });
            }
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(Failure::from_errno(e, name)),
        }
    }
}

/// Lists the numeric entries of `dir/sub` (PIDs, TIDs), sorted.
pub(super) fn list_numeric(
    dir: rustix::fd::BorrowedFd<'_>,
    sub: &[u8],
    live: bool,
) -> Outcome<Vec<i32>> {
    list_numeric_with(dir, sub, false, live)
}

/// Lists the numeric entries of `dir/sub`, sorted; `zero` keeps `0` (fd
/// numbers start at 0, PIDs at 1).
pub(super) fn list_numeric_with(
    dir: rustix::fd::BorrowedFd<'_>,
    sub: &[u8],
    zero: bool,
    live: bool,
) -> Outcome<Vec<i32>> {
    let mut path = sub.to_vec();
    path.push(0);
    let c = CStr::from_bytes_until_nul(&path).map_err(|_| Failure::Gone)?;
    let fd = open_in(
        dir,
        c,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        live,
    )
    .map_err(|e| Failure::from_errno(e, sub))?;
    let d = rustix::fs::Dir::new(fd).map_err(|e| Failure::from_errno(e, sub))?;
    let mut out = Vec::new();
    for entry in d {
        // ENOENT mid-listing: the directory (process) went away.
        let entry = entry.map_err(|e| Failure::from_errno(e, sub))?;
        let name = entry.file_name().to_bytes();
        if zero && name == b"0" {
            out.push(0);
        } else if let Some(n) = procscope_pid(name) {
            out.push(n);
        }
    }
    out.sort_unstable();
    Ok(out)
}

pub(super) fn procscope_pid(name: &[u8]) -> Option<i32> {
    if name.is_empty() || name.len() > 10 || !name.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: i64 = 0;
    for &c in name {
        v = v * 10 + i64::from(c - b'0');
    }
    i32::try_from(v).ok().filter(|&p| p > 0)
}

/// Formats a PID as a NUL-terminated decimal in a stack buffer.
pub(super) fn itoa_buf(n: i32) -> [u8; 12] {
    let mut out = [0u8; 12];
    let mut digits = [0u8; 11];
    let mut v = n.unsigned_abs();
    let mut i = 0usize;
    loop {
        if let Some(d) = digits.get_mut(i) {
            *d = b'0' + (v % 10) as u8;
        }
        i += 1;
        v /= 10;
        if v == 0 || i >= digits.len() {
            break;
        }
    }
    let mut o = 0usize;
    if n < 0 {
        if let Some(s) = out.get_mut(0) {
            *s = b'-';
        }
        o = 1;
    }
    for k in (0..i).rev() {
        if let (Some(dst), Some(src)) = (out.get_mut(o), digits.get(k)) {
            *dst = *src;
        }
        o += 1;
    }
    out
}

pub(super) fn as_cstr(b: &mut [u8; 12]) -> &CStr {
    CStr::from_bytes_until_nul(b).unwrap_or(c"")
}

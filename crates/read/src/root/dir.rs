//! [`ProcDir`]: one process's or thread's directory, and what is read
//! through it.

use crate::failure::{Failure, Outcome};
use crate::tape::Tape;
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::OFlags;
use std::ffi::CStr;
use std::sync::Arc;

use super::io::{itoa_buf, list_numeric, list_numeric_with, procscope_pid, read_at};
use super::{FdStat, FileRead, dir_flags, open_in};

/// One process's (or thread's) directory, opened once. Cheap to clone; the
/// handle can be moved to a worker thread.
#[derive(Debug, Clone)]
pub struct ProcDir {
    pub(super) fd: Arc<OwnedFd>,
    pub(super) pid: i32,
    pub(super) live: bool,
    pub(super) tape: Option<Arc<Tape>>,
}

/// `statx` of `name` relative to `dir`, following links, from what the
/// kernel already knows (`AT_STATX_DONT_SYNC`: FUSE and NFS answer from
/// their caches). Call it from a deadline-guarded thread.
pub(crate) fn stat_at(dir: rustix::fd::BorrowedFd<'_>, name: &[u8]) -> Outcome<FdStat> {
    statx_with(dir, name, rustix::fs::AtFlags::empty())
}

/// [`stat_at`] with more `AT_*` flags (`AT_EMPTY_PATH` to stat `dir`
/// itself: an `O_PATH` handle).
pub(crate) fn statx_with(
    dir: rustix::fd::BorrowedFd<'_>,
    name: &[u8],
    flags: rustix::fs::AtFlags,
) -> Outcome<FdStat> {
    let st = rustix::fs::statx(
        dir,
        name,
        rustix::fs::AtFlags::STATX_DONT_SYNC | flags,
        rustix::fs::StatxFlags::NLINK
            | rustix::fs::StatxFlags::SIZE
            | rustix::fs::StatxFlags::TYPE
            | rustix::fs::StatxFlags::INO,
    )
    .map_err(|e| Failure::from_errno(e, name))?;
    let kind = u32::from(st.stx_mode) & 0o170_000;
    Ok(FdStat {
        nlink: u64::from(st.stx_nlink),
        size: st.stx_size,
        regular: kind == 0o100_000,
        fifo: kind == 0o010_000,
        ino: st.stx_ino,
        dev: (st.stx_dev_major, st.stx_dev_minor),
        dir: kind == 0o040_000,
        file_type: kind,
    })
}

/// Refusal for live-kernel calls on a fixture tree.
fn not_live() -> Failure {
    Failure::Unsupported {
        what: "a live /proc (this proc root is a fixture or a copy)".into(),
    }
}

impl ProcDir {
    /// True when this directory is in a procfs mount: its PID names a real
    /// process that syscalls may be asked about.
    pub fn is_live(&self) -> bool {
        self.live
    }

    /// The PID (or TID) this directory was opened for.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The tape under this directory's live-only readers, if any.
    pub fn tape(&self) -> Option<&Arc<Tape>> {
        self.tape.as_ref()
    }

    /// The recorded tape when replaying a snapshot.
    pub(crate) fn replay(&self) -> Option<&Arc<Tape>> {
        self.tape.as_ref().filter(|t| t.is_replay())
    }

    /// The recording tape on a live root.
    pub(crate) fn recorder(&self) -> Option<&Arc<Tape>> {
        self.tape.as_ref().filter(|t| !t.is_replay())
    }

    /// In a snapshot, a file that is missing because it could not be read
    /// when the snapshot was taken answers why (timed out, denied), not
    /// "gone".
    fn missing<T>(&self, name: &[u8], r: Outcome<T>) -> Outcome<T> {
        match (&r, self.replay().and_then(|t| t.replayed())) {
            (Err(Failure::Gone), Some(rec)) => {
                let name = String::from_utf8_lossy(name);
                if let Some(f) = rec.files.get(&self.pid).and_then(|m| m.get(name.as_ref())) {
                    return Err(f.clone());
                }
                // Left out of every process by an option of the snapshot
                // (`--no-env`): the process had it, the file does not.
                match rec.facts.left_out.get(name.as_ref()) {
                    Some(option) => Err(Failure::Absent {
                        what: format!("not in the snapshot (taken with {option})"),
                    }),
                    None => r,
                }
            }
            _ => r,
        }
    }

    /// Reads the whole file `name` into `buf` (cleared first), at most `cap`
    /// bytes. Memory-lock files are not special here: call this from a
    /// [`crate::guard`] worker for those.
    pub fn read(&self, name: &CStr, buf: &mut Vec<u8>, cap: usize) -> Outcome<FileRead> {
        // The executable's first bytes (its ELF header: the system call
        // ABI) are read through the `exe` magic link, which a tree keeps
        // as a link's text only: a snapshot recorded what was read.
        let exe = name.to_bytes() == b"exe";
        if let (true, Some(rec)) = (exe, self.replay().and_then(|t| t.replayed())) {
            buf.clear();
            let got = rec
                .exe_header
                .get(&self.pid)
                .cloned()
                .unwrap_or_else(|| Err(crate::tape::not_in_snapshot()))?;
            let len = got.len().min(cap);
            buf.extend_from_slice(got.get(..len).unwrap_or_default());
            return Ok(FileRead {
                len,
                truncated: got.len() > cap,
            });
        }
        let mut r = read_at(self.fd.as_fd(), name, buf, cap, self.live);
        // A file the snapshot cut at its size cap holds only its first
        // bytes: answered as truncated, as a live read past the cap is.
        if let (Ok(got), Some(rec)) = (r.as_mut(), self.replay().and_then(|t| t.replayed())) {
            let name = String::from_utf8_lossy(name.to_bytes());
            if rec
                .facts
                .cut
                .get(&self.pid)
                .is_some_and(|names| names.contains(name.as_ref()))
            {
                got.truncated = true;
            }
        }
        if let (true, Some(t)) = (exe, self.recorder()) {
            let kept = r
                .as_ref()
                .map(|f| buf.get(..f.len).unwrap_or_default().to_vec())
                .map_err(Clone::clone);
            t.write(|rec| {
                rec.exe_header.insert(self.pid, kept);
            });
        }
        self.missing(name.to_bytes(), r)
    }

    /// Opens the procfs record file `name` (e.g. `stat`) to be read again
    /// with [`crate::Kept::reread`]: live procfs only (a crafted tree's files
    /// are never kept open).
    pub fn keep(&self, name: &'static CStr) -> Outcome<crate::Kept> {
        if !self.live {
            return Err(not_live());
        }
        let fd = open_in(
            self.fd.as_fd(),
            name,
            OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY,
            true,
        )
        .map_err(|e| Failure::from_errno(e, name.to_bytes()))?;
        Ok(crate::Kept::new(fd, name.to_bytes()))
    }

    /// Opens `name` (e.g. `ns/net`) read-only, for calls that take an fd.
    pub fn open(&self, name: &CStr) -> Outcome<OwnedFd> {
        self.open_with(name, OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY)
    }

    /// Opens `name` with `flags` (e.g. `O_PATH` through `root/…`). Opening a
    /// path inside the process's root walks its filesystems: a hung mount
    /// on the way blocks, so callers guard it.
    ///
    /// In a tree that is not procfs, only directories are opened here (a
    /// FIFO or device in a crafted tree could block or act on open).
    pub fn open_with(&self, name: &CStr, flags: OFlags) -> Outcome<OwnedFd> {
        if !self.live && !flags.contains(OFlags::DIRECTORY) {
            return Err(not_live());
        }
        open_in(self.fd.as_fd(), name, flags, self.live)
            .map_err(|e| Failure::from_errno(e, name.to_bytes()))
    }

    /// Link count and size of the file open as fd `fd`, through its magic
    /// link, from what the kernel already knows (`AT_STATX_DONT_SYNC`: FUSE
    /// and NFS answer from their caches instead of asking the server).
    /// Other network filesystems may still ask theirs: call this from a
    /// deadline-guarded thread.
    pub fn fd_stat(&self, fd: i32) -> Outcome<FdStat> {
        self.link_stat(&format!("fd/{fd}"))
    }

    /// [`ProcDir::fd_stat`] through another magic link of the process:
    /// `exe`, `cwd`, or `map_files/START-END` (a mapped file; needs
    /// CAP_SYS_ADMIN). Call it from a deadline-guarded thread.
    pub fn link_stat(&self, name: &str) -> Outcome<FdStat> {
        if let Some(t) = self.replay().and_then(|t| t.replayed()) {
            let fd = name.strip_prefix("fd/").and_then(|n| n.parse::<i32>().ok());
            let got = match fd {
                Some(fd) => t.fd_stat.get(&self.pid).and_then(|m| m.get(&fd)),
                None => t.link_stat.get(&self.pid).and_then(|m| m.get(name)),
            };
            return got
                .cloned()
                .unwrap_or_else(|| Err(crate::tape::not_in_snapshot()));
        }
        if !self.live {
            return Err(not_live());
        }
        let r = stat_at(self.fd.as_fd(), name.as_bytes());
        if let Some(t) = self.recorder() {
            let (pid, fd) = (
                self.pid,
                name.strip_prefix("fd/").and_then(|n| n.parse::<i32>().ok()),
            );
            t.write(|rec| match fd {
                Some(fd) => {
                    rec.fd_stat.entry(pid).or_default().insert(fd, r.clone());
                }
                None => {
                    rec.link_stat
                        .entry(pid)
                        .or_default()
                        .insert(name.to_owned(), r.clone());
                }
            });
        }
        r
    }

    /// Reads `buf.len()` bytes of the process's memory at `addr`, through
    /// its `mem` file (ptrace attach rights). It takes the target's
    /// memory-map lock: call it from a deadline-guarded thread.
    ///
    /// Not `process_vm_readv(2)`: that takes the lock with an
    /// uninterruptible `mmap_read_lock()` (mm/process_vm_access.c), so a
    /// read queued behind a stuck holder could never be abandoned — the
    /// thread would stay in D and procscope could not even exit. `mem` reads
    /// go through `access_remote_vm()`, which waits with
    /// `mmap_read_lock_killable()`: an abandoned reader dies with the
    /// process.
    pub fn read_memory(&self, addr: u64, buf: &mut [u8]) -> Outcome<usize> {
        if let Some(t) = self.replay() {
            let got = t.memory(self.pid, addr, buf.len())?;
            let n = got.len().min(buf.len());
            if let (Some(dst), Some(src)) = (buf.get_mut(..n), got.get(..n)) {
                dst.copy_from_slice(src);
            }
            return Ok(n);
        }
        if !self.live {
            return Err(not_live());
        }
        let r = self.read_memory_live(addr, buf);
        if let Some(t) = self.recorder() {
            let kept = r
                .as_ref()
                .map(|&n| buf.get(..n).unwrap_or_default().to_vec())
                .map_err(Clone::clone);
            t.keep_memory(self.pid, addr, kept, buf.len());
        }
        r
    }

    fn read_memory_live(&self, addr: u64, buf: &mut [u8]) -> Outcome<usize> {
        let mem = self.open_with(c"mem", OFlags::RDONLY | OFlags::CLOEXEC)?;
        match rustix::io::pread(&mem, buf, addr) {
            Ok(n) => Ok(n),
            Err(rustix::io::Errno::PERM | rustix::io::Errno::ACCESS) => Err(Failure::Denied {
                need: crate::Need::PtraceAttach,
            }),
            Err(e) => Err(Failure::from_errno(e, b"mem")),
        }
    }

    /// Calls `f(fd, link)` for every open fd of the process: the `fd`
    /// directory is opened once and each link read relative to it into one
    /// reused buffer (a host-wide scan does this for every fd on the host,
    /// so it avoids a path walk and an allocation per fd). Links that
    /// vanish meanwhile are skipped.
    pub fn fd_links(&self, mut f: impl FnMut(i32, &[u8])) -> Outcome<()> {
        let dir = open_in(
            self.fd.as_fd(),
            c"fd",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            self.live,
        )
        .map_err(|e| Failure::from_errno(e, b"fd"));
        let dir = self.missing(b"fd", dir)?;
        let entries =
            rustix::fs::Dir::read_from(&dir).map_err(|e| Failure::from_errno(e, b"fd"))?;
        // Paths are at most PATH_MAX (4096) bytes; " (deleted)" may follow.
        let mut buf = vec![0u8; 8192];
        for entry in entries {
            let Ok(entry) = entry else { break };
            let name = entry.file_name();
            let Some(n) =
                procscope_pid(name.to_bytes()).or_else(|| (name.to_bytes() == b"0").then_some(0))
            else {
                continue;
            };
            if let Ok(len) = rustix::fs::readlinkat_raw(&dir, name, buf.as_mut_slice()) {
                if let Some(link) = buf.get(..len) {
                    f(n, link);
                }
            }
        }
        Ok(())
    }

    /// Reads the target of a symbolic link (`exe`, `cwd`, `fd/3`) without
    /// following it: a magic link is never opened or stat'ed through.
    pub fn readlink(&self, name: &CStr) -> Outcome<Vec<u8>> {
        let r = self.readlink_here(name);
        self.missing(name.to_bytes(), r)
    }

    fn readlink_here(&self, name: &CStr) -> Outcome<Vec<u8>> {
        let err = |e| Failure::from_errno(e, name.to_bytes());
        let bytes = name.to_bytes();
        // In a tree, a link under a directory (`ns/net`, `fd/3`) is read
        // through that directory opened without following symlinks: a
        // symlinked `ns` must not lead to the live host's.
        if let (false, Some(slash)) = (self.live, bytes.iter().rposition(|&c| c == b'/')) {
            let mut parent = bytes.get(..slash).unwrap_or_default().to_vec();
            parent.push(0);
            let mut last = bytes.get(slash + 1..).unwrap_or_default().to_vec();
            last.push(0);
            let (Ok(parent), Ok(last)) = (
                CStr::from_bytes_until_nul(&parent),
                CStr::from_bytes_until_nul(&last),
            ) else {
                return Err(Failure::Gone);
            };
            let dir = open_in(self.fd.as_fd(), parent, dir_flags(), false).map_err(err)?;
            return rustix::fs::readlinkat(&dir, last, Vec::new())
                .map(|c| c.into_bytes())
                .map_err(err);
        }
        rustix::fs::readlinkat(self.fd.as_fd(), name, Vec::new())
            .map(|c| c.into_bytes())
            .map_err(err)
    }

    /// The thread IDs under `task/`, ascending.
    pub fn tids(&self) -> Outcome<Vec<i32>> {
        let r = list_numeric(self.fd.as_fd(), b"task", self.live);
        self.missing(b"task", r)
    }

    /// The open file descriptor numbers under `fd/`, ascending.
    pub fn fds(&self) -> Outcome<Vec<i32>> {
        let r = list_numeric_with(self.fd.as_fd(), b"fd", true, self.live);
        self.missing(b"fd", r)
    }

    /// How many fds are open. On a live procfs since Linux 6.2, the size
    /// `stat` gives `fd/` is the count (fs/proc/fd.c, `proc_fd_getattr`:
    /// one bitmap weight, no directory walk); 0 there means an older kernel
    /// (or no fds), and then the directory is listed.
    pub fn fd_count(&self) -> Outcome<usize> {
        if self.live {
            let st = rustix::fs::statat(
                self.fd.as_fd(),
                c"fd",
                rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
            )
            .map_err(|e| Failure::from_errno(e, b"fd"))?;
            if let Ok(n) = usize::try_from(st.st_size) {
                if n > 0 {
                    return Ok(n);
                }
            }
        }
        self.fds().map(|v| v.len())
    }

    /// Opens `task/TID` as a directory of its own.
    pub fn task(&self, tid: i32) -> Outcome<ProcDir> {
        let mut name = b"task/".to_vec();
        name.extend_from_slice(itoa_buf(tid).split(|&c| c == 0).next().unwrap_or_default());
        name.push(0);
        let c = CStr::from_bytes_until_nul(&name).map_err(|_| Failure::Gone)?;
        match open_in(self.fd.as_fd(), c, dir_flags(), self.live) {
            Ok(fd) => Ok(ProcDir {
                fd: Arc::new(fd),
                pid: tid,
                live: self.live,
                tape: self.tape.clone(),
            }),
            Err(e) => Err(Failure::from_errno(e, b"task")),
        }
    }

    /// Owner (effective UID of the process at the time `/proc/PID` was
    /// created; root for non-dumpable processes) of the directory.
    pub fn owner_uid(&self) -> Outcome<u32> {
        match rustix::fs::fstat(self.fd.as_fd()) {
            Ok(st) => Ok(st.st_uid),
            Err(e) => Err(Failure::from_errno(e, b"")),
        }
    }
}

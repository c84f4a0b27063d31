//! The proc tree and per-process directory handles.

use crate::failure::{Failure, Outcome};
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{Mode, OFlags};
use std::ffi::CStr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod dir;
mod io;
#[cfg(test)]
mod tests;

pub use dir::ProcDir;
pub(crate) use dir::{stat_at, statx_with};
use io::{as_cstr, itoa_buf, list_numeric, read_at};
pub(crate) use io::{read_fd, read_with, regular_only};

/// The proc tree: `/proc`, or any directory laid out like it (fixtures,
/// captured snapshots). Cheap to clone.
#[derive(Debug, Clone)]
pub struct ProcRoot {
    fd: Arc<OwnedFd>,
    path: PathBuf,
    live: bool,
    /// Live-only answers recorded or replayed ([`crate::tape`]).
    tape: Option<Arc<Tape>>,
    /// procscope's own PID in this tree, when it is not the caller's (a
    /// snapshot: the PID of the procscope that took it).
    own: Option<i32>,
}

use crate::tape::Tape;

/// How a whole-file read ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileRead {
    /// Bytes now in the buffer.
    pub len: usize,
    /// True if the file was longer than the cap and the rest was not read.
    pub truncated: bool,
}

/// What `statx` says about an open file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FdStat {
    /// Hard links to the inode (0: deleted, the space is freed on close).
    pub nlink: u64,
    /// Size in bytes.
    pub size: u64,
    /// A regular file.
    pub regular: bool,
    /// A FIFO (named pipe).
    pub fifo: bool,
    /// Inode number.
    pub ino: u64,
    /// The device the inode lives on (`major`, `minor`): with `ino`, the
    /// file's identity.
    pub dev: (u32, u32),
    /// A directory.
    pub dir: bool,
    /// The file type bits of its mode (`S_IFMT`: `0o100000` regular,
    /// `0o040000` directory, `0o020000` character device, …).
    pub file_type: u32,
}

/// Files whose read takes the target's memory-map lock (`mmap_read_lock` in
/// fs/proc/base.c `get_mm_cmdline()`, `environ_read()`, fs/proc/task_mmu.c):
/// they can block for as long as a stuck thread of the target holds it.
pub fn is_memory_lock_file(name: &[u8]) -> bool {
    let base = name.rsplit(|&c| c == b'/').next().unwrap_or(name);
    matches!(
        base,
        b"cmdline"
            | b"environ"
            | b"maps"
            | b"smaps"
            | b"smaps_rollup"
            | b"numa_maps"
            | b"mem"
            | b"pagemap"
            | b"auxv"
    )
}

/// Files the kernel produces in one piece per read: `single_open()` seq
/// files (one record, whose buffer grows until it fits: `stat`, `status`,
/// `stack`, `fdinfo/N`, …) and the `cmdline`/`environ` readers, which loop
/// until the request is met. For these a short read is the end of the file.
///
/// Multi-record seq files (`maps`, `smaps`, `mountinfo`, `net/tcp`,
/// `locks`, …) are NOT like that: `seq_read_iter()` returns at most one
/// seq buffer (a page) per call and stops early when the next record does
/// not fit, so a short read says nothing about the end. Those are read
/// until `read()` returns 0.
pub fn is_single_record_file(name: &[u8]) -> bool {
    let base = name.rsplit(|&c| c == b'/').next().unwrap_or(name);
    let in_fdinfo = name
        .rsplit(|&c| c == b'/')
        .nth(1)
        .is_some_and(|d| d == b"fdinfo");
    in_fdinfo
        || matches!(
            base,
            b"stat"
                | b"status"
                | b"statm"
                | b"cmdline"
                | b"environ"
                | b"comm"
                | b"wchan"
                | b"syscall"
                | b"stack"
                | b"io"
                | b"limits"
                | b"cgroup"
                | b"oom_score"
                | b"oom_score_adj"
                | b"uptime"
                | b"cap_last_cap"
        )
}

/// Opens `name` under `dir`. In a tree that is not procfs (a fixture, a
/// copied /proc, a snapshot) the path is someone's files: no component
/// may be a symlink and the walk may not leave `dir` (`openat2` with
/// `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`), so `7/task -> /proc/1/task`
/// or a link to a dead FUSE mount is refused instead of followed — only
/// the last component was `O_NOFOLLOW` before. On a kernel without
/// `openat2` (before 5.6) the plain `openat` is the fallback.
pub(super) fn open_in(
    dir: rustix::fd::BorrowedFd<'_>,
    name: &CStr,
    flags: OFlags,
    live: bool,
) -> rustix::io::Result<OwnedFd> {
    if live {
        return rustix::fs::openat(dir, name, flags, Mode::empty());
    }
    match rustix::fs::openat2(
        dir,
        name,
        flags,
        Mode::empty(),
        rustix::fs::ResolveFlags::BENEATH
            | rustix::fs::ResolveFlags::NO_SYMLINKS
            | rustix::fs::ResolveFlags::NO_MAGICLINKS,
    ) {
        Err(rustix::io::Errno::NOSYS) => {
            rustix::fs::openat(dir, name, flags | OFlags::NOFOLLOW, Mode::empty())
        }
        // A symlink on the way: not in this tree.
        Err(rustix::io::Errno::LOOP) | Err(rustix::io::Errno::XDEV) => {
            Err(rustix::io::Errno::NOENT)
        }
        r => r,
    }
}

pub(super) fn dir_flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW
}

impl ProcRoot {
    /// Opens a proc tree.
    pub fn open(path: impl AsRef<Path>) -> std::io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        let fd = rustix::fs::open(
            &path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        // procfs itself (PROC_SUPER_MAGIC), not a fixture tree or a copy:
        // only then may PIDs be handed to syscalls (pidfd_getfd,
        // the mem file, sock_diag) — in a fixture they name unrelated
        // host processes.
        // `f_type` is i64 on x86_64 but narrower on some ABIs: cast.
        #[allow(clippy::unnecessary_cast)]
        let live = rustix::fs::fstatfs(&fd).is_ok_and(|st| st.f_type as i64 == 0x9fa0);
        Ok(ProcRoot {
            fd: Arc::new(fd),
            path,
            live,
            tape: None,
            own: None,
        })
    }

    /// This root with a tape under its live-only readers: recording (on a
    /// live root) or replaying (on a snapshot's tree). See [`crate::tape`].
    pub fn with_tape(mut self, tape: Arc<Tape>) -> Self {
        self.tape = Some(tape);
        self
    }

    /// This root with `pid` as procscope's own process (a snapshot names
    /// the procscope that took it; it is left out of listings like the
    /// running one is).
    pub fn with_own_pid(mut self, pid: i32) -> Self {
        self.own = Some(pid);
        self
    }

    /// The tape under this root's live-only readers, if any.
    pub fn tape(&self) -> Option<&Arc<Tape>> {
        self.tape.as_ref()
    }

    /// True when this root is a snapshot's tree (its tape replays).
    pub fn is_snapshot(&self) -> bool {
        self.tape.as_ref().is_some_and(|t| t.is_replay())
    }

    /// True when this root is a procfs mount (not a fixture or a copy).
    pub fn is_live(&self) -> bool {
        self.live
    }

    /// About how many processes the root holds, without listing it: procfs
    /// reports its root's link count as the number of processes plus a
    /// constant (`proc_root_getattr()` in fs/proc/root.c). For other
    /// directories (fixtures) it is the number of subdirectories plus two.
    pub fn process_count_hint(&self) -> usize {
        rustix::fs::fstat(self.fd.as_fd())
            .ok()
            .and_then(|st| usize::try_from(st.st_nlink).ok())
            .unwrap_or(1024)
    }

    /// The path this root was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The PIDs of all thread-group leaders, ascending. (`readdir(/proc)`
    /// lists leaders only; threads live under `task/`.)
    pub fn pids(&self) -> Outcome<Vec<i32>> {
        list_numeric(self.fd.as_fd(), b".", self.live)
    }

    /// Opens `/proc/PID` once; read everything of that process through it.
    pub fn process(&self, pid: i32) -> Outcome<ProcDir> {
        let mut name = itoa_buf(pid);
        let c = as_cstr(&mut name);
        match open_in(self.fd.as_fd(), c, dir_flags(), self.live) {
            Ok(fd) => Ok(ProcDir {
                fd: Arc::new(fd),
                pid,
                live: self.live,
                tape: self.tape.clone(),
            }),
            Err(e) => Err(Failure::from_errno(e, b"")),
        }
    }

    /// The calling process's own directory (`/proc/self`), resolved through
    /// this root.
    pub fn own_pid(&self) -> i32 {
        if let Some(p) = self.own {
            return p;
        }
        rustix::process::getpid().as_raw_nonzero().get()
    }

    /// What the proc mount hides from this caller, if anything: the
    /// `hidepid=` and `subset=` options of the procfs mounted at this root.
    /// `None` when nothing is hidden, or the root is not a proc mount (a
    /// fixture tree hides nothing: it holds what was put in it).
    ///
    /// The mount table is procscope's own, read through this root
    /// (`self/mountinfo`; `self` is there under `hidepid=` and
    /// `subset=pid` too), and the mount is found by its ID (`statx`
    /// `STATX_MNT_ID`, Linux 5.8), or else by the root's path.
    pub fn hiding(&self) -> Option<String> {
        if !self.live {
            return None;
        }
        let mut info = Vec::new();
        self.read(c"self/mountinfo", &mut info, crate::cap::MOUNTINFO)
            .ok()?;
        let mounts = procscope_parse::mountinfo::parse(&info).ok()?;
        let id = rustix::fs::statx(
            self.fd.as_fd(),
            c"",
            rustix::fs::AtFlags::EMPTY_PATH,
            rustix::fs::StatxFlags::MNT_ID,
        )
        .ok()
        .filter(|st| st.stx_mask & rustix::fs::StatxFlags::MNT_ID.bits() != 0)
        .map(|st| st.stx_mnt_id);
        let m = match id {
            Some(id) => mounts
                .iter()
                .find(|m| m.fs_type == b"proc" && m.mount_id == id)?,
            None => {
                let canon = std::fs::canonicalize(&self.path).ok()?;
                mounts.iter().rev().find(|m| {
                    m.fs_type == b"proc" && m.mount_point == canon.as_os_str().as_encoded_bytes()
                })?
            }
        };
        let mut parts = Vec::new();
        if let Some(h) = m.super_option(b"hidepid") {
            if !matches!(h, b"0" | b"off") {
                parts.push(format!("hidepid={}", String::from_utf8_lossy(h)));
            }
        }
        if let Some(s) = m.super_option(b"subset") {
            parts.push(format!("subset={}", String::from_utf8_lossy(s)));
        }
        (!parts.is_empty()).then(|| parts.join(","))
    }

    /// The host's files outside `/proc` as this root sees them: the real
    /// ones for a live procfs, the tree's `.host/` for a fixture or a copy
    /// (see [`crate::host`]).
    pub fn host(&self) -> crate::HostFiles {
        crate::HostFiles::new(self.fd.clone(), self.live, self.tape.clone())
    }

    /// Reads a file relative to the root (`stat`, `uptime`, `net/unix` …).
    pub fn read(&self, name: &CStr, buf: &mut Vec<u8>, cap: usize) -> Outcome<FileRead> {
        read_at(self.fd.as_fd(), name, buf, cap, self.live)
    }
}

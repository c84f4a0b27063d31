//! The proc tree and per-process directory handles.

use crate::failure::{Failure, Outcome};
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{Mode, OFlags};
use std::ffi::CStr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
fn open_in(
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

fn dir_flags() -> OFlags {
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

/// One process's (or thread's) directory, opened once. Cheap to clone; the
/// handle can be moved to a worker thread.
#[derive(Debug, Clone)]
pub struct ProcDir {
    fd: Arc<OwnedFd>,
    pid: i32,
    live: bool,
    tape: Option<Arc<Tape>>,
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

/// Reads `name` relative to `dir` into `buf`, at most `cap` bytes.
///
/// In a tree that is not procfs (a fixture, a copied /proc, a snapshot:
/// hostile input), only regular files are read: the file is opened
/// non-blocking and without following a final symlink, and anything else
/// — a FIFO, whose read would wait forever for a writer, a device, a
/// socket, a directory — is refused as malformed before any read.
fn read_at(
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
fn list_numeric(dir: rustix::fd::BorrowedFd<'_>, sub: &[u8], live: bool) -> Outcome<Vec<i32>> {
    list_numeric_with(dir, sub, false, live)
}

/// Lists the numeric entries of `dir/sub`, sorted; `zero` keeps `0` (fd
/// numbers start at 0, PIDs at 1).
fn list_numeric_with(
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

fn procscope_pid(name: &[u8]) -> Option<i32> {
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
fn itoa_buf(n: i32) -> [u8; 12] {
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

fn as_cstr(b: &mut [u8; 12]) -> &CStr {
    CStr::from_bytes_until_nul(b).unwrap_or(c"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn pid_names() {
        assert_eq!(procscope_pid(b"123"), Some(123));
        assert_eq!(procscope_pid(b"self"), None);
        assert_eq!(procscope_pid(b"0"), None);
        assert_eq!(procscope_pid(b"99999999999"), None);
        assert_eq!(&itoa_buf(4194304)[..8], b"4194304\0");
        assert_eq!(&itoa_buf(-1)[..3], b"-1\0");
    }

    #[test]
    fn fixture_tree() {
        let t = tempfile::tempdir().unwrap();
        fs::create_dir_all(t.path().join("42/task/42")).unwrap();
        fs::create_dir_all(t.path().join("42/task/43")).unwrap();
        fs::create_dir_all(t.path().join("7")).unwrap();
        fs::create_dir_all(t.path().join("sys")).unwrap();
        fs::write(t.path().join("42/stat"), b"42 (x) S 1").unwrap();
        fs::write(t.path().join("42/cmdline"), vec![b'a'; 10_000]).unwrap();
        let root = ProcRoot::open(t.path()).unwrap();
        assert_eq!(root.pids().unwrap(), vec![7, 42]);
        // A fixture is not live: its PIDs are never handed to syscalls.
        assert!(!root.is_live());
        assert!(ProcRoot::open("/proc").unwrap().is_live());
        // A tree is no mount: it hides nothing, whatever the host's /proc.
        fs::create_dir_all(t.path().join("self")).unwrap();
        fs::write(
            t.path().join("self/mountinfo"),
            format!(
                "1 0 0:1 / {} rw - proc proc rw,hidepid=invisible\n",
                t.path().display()
            ),
        )
        .unwrap();
        assert_eq!(root.hiding(), None);
        let d = root.process(42).unwrap();
        assert!(!d.is_live());
        assert!(matches!(
            d.read_memory(0x1000, &mut [0u8; 8]),
            Err(Failure::Unsupported { .. })
        ));
        assert!(matches!(d.fd_stat(0), Err(Failure::Unsupported { .. })));
        let p = root.process(42).unwrap();
        let mut buf = Vec::new();
        let r = p.read(c"stat", &mut buf, 1024).unwrap();
        assert_eq!((r.len, r.truncated), (10, false));
        assert_eq!(buf, b"42 (x) S 1");
        let r = p.read(c"cmdline", &mut buf, 5000).unwrap();
        assert_eq!((r.len, r.truncated), (5000, true));
        let r = p.read(c"cmdline", &mut buf, 10_000).unwrap();
        assert_eq!((r.len, r.truncated), (10_000, false));
        assert_eq!(p.read(c"environ", &mut buf, 10), Err(Failure::Gone));
        assert_eq!(p.tids().unwrap(), vec![42, 43]);
        assert_eq!(root.process(9).err(), Some(Failure::Gone));
        assert_eq!(root.process(7).unwrap().tids().err(), Some(Failure::Gone));
    }

    #[test]
    fn live_self() {
        let root = ProcRoot::open("/proc").unwrap();
        let me = root.process(root.own_pid()).unwrap();
        let mut buf = Vec::new();
        me.read(c"stat", &mut buf, 4096).unwrap();
        assert!(buf.starts_with(format!("{} (", root.own_pid()).as_bytes()));
        assert!(!me.readlink(c"exe").unwrap().is_empty());
        assert!(me.tids().unwrap().contains(&root.own_pid()));
        assert!(is_memory_lock_file(b"task/3/environ"));
        assert!(!is_memory_lock_file(b"stat"));
    }

    /// Multi-record seq files return at most a page per read() and stop
    /// early before a record that does not fit: reading must go on to EOF.
    /// (This was a real bug: `maps`, `smaps` and `net/*` were cut after
    /// their first ~4 KB.)
    #[test]
    fn multi_record_files_are_read_to_the_end() {
        let root = ProcRoot::open("/proc").unwrap();
        let me = root.process(root.own_pid()).unwrap();
        // Make sure smaps is well over a page.
        let keep: Vec<Vec<u8>> = (0..64).map(|i| vec![i as u8; 1 << 16]).collect();
        let mut buf = Vec::new();
        me.read(c"smaps", &mut buf, 64 << 20).unwrap();
        let direct = fs::read(format!("/proc/{}/smaps", root.own_pid())).unwrap();
        assert!(
            direct.len() > 16 * 1024,
            "smaps is only {} bytes",
            direct.len()
        );
        // Both reads list about the same mappings (threads of the test
        // runner may map or unmap between the two reads).
        let count = |b: &[u8]| {
            b.split(|&c| c == b'\n')
                .filter(|l| l.starts_with(b"Size:"))
                .count()
        };
        assert!(buf.len() > 16 * 1024, "read only {} bytes", buf.len());
        assert!(
            count(&buf) + 4 >= count(&direct),
            "{} vs {}",
            count(&buf),
            count(&direct)
        );
        assert!(buf.ends_with(b"\n"));
        drop(keep);
        assert!(is_single_record_file(b"task/3/fdinfo/7"));
        assert!(is_single_record_file(b"stat"));
        assert!(!is_single_record_file(b"maps"));
        assert!(!is_single_record_file(b"net/tcp"));
        assert!(!is_single_record_file(b"mountinfo"));
    }

    #[test]
    fn memory_is_read_through_the_mem_file() {
        let value: [u8; 8] = *b"procscop";
        let addr = std::ptr::addr_of!(value) as u64;
        let root = ProcRoot::open("/proc").unwrap();
        let me = root.process(root.own_pid()).unwrap();
        let mut got = [0u8; 8];
        assert_eq!(me.read_memory(addr, &mut got).unwrap(), 8);
        assert_eq!(&got, b"procscop");
        // An unmapped address is an error, not a panic or a short read.
        assert!(me.read_memory(8, &mut got).is_err());
    }

    /// In a tree, no symlink on the way is followed: not to the live
    /// /proc, not anywhere.
    #[test]
    fn a_tree_never_follows_a_symlinked_directory() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("7");
        std::fs::create_dir(&d).unwrap();
        std::fs::write(
            d.join("stat"),
            "7 (x) S 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0\n",
        )
        .unwrap();
        std::os::unix::fs::symlink("/proc/1/task", d.join("task")).unwrap();
        std::os::unix::fs::symlink("/proc/self/fd", d.join("fd")).unwrap();
        std::os::unix::fs::symlink("/proc/1", d.join("net")).unwrap();
        std::os::unix::fs::symlink("/proc/1", t.path().join("8")).unwrap();
        let root = ProcRoot::open(t.path()).unwrap();
        let p = root.process(7).unwrap();
        assert!(p.tids().is_err(), "{:?}", p.tids());
        assert!(p.task(1).is_err());
        assert!(p.fds().is_err());
        assert!(p.fd_links(|_, _| {}).is_err());
        let mut b = Vec::new();
        assert!(p.read(c"net/tcp", &mut b, 1 << 20).is_err());
        assert!(p.read(c"stat", &mut b, 1 << 20).is_ok());
        assert!(root.process(8).is_err(), "a symlinked PID directory");
        std::os::unix::fs::symlink("/proc/self/ns", d.join("ns")).unwrap();
        assert!(
            p.readlink(c"ns/net").is_err(),
            "{:?}",
            p.readlink(c"ns/net")
        );
        std::fs::create_dir(d.join("attr")).unwrap();
        std::os::unix::fs::symlink("target", d.join("attr/x")).unwrap();
        assert_eq!(p.readlink(c"attr/x"), Ok(b"target".to_vec()));
    }
}

//! Work that must never happen in procscope's own process: a forked helper
//! that can be abandoned.
//!
//! `pidfd_getfd(2)` copies one of the target's fds into the caller. The
//! target chooses what that fd is: between procscope listing fd 5 as a pipe
//! and copying it, the target can `dup2` a file on a FUSE filesystem it
//! serves over fd 5. Closing that copy sends FUSE `FLUSH`, which waits
//! *uninterruptibly* for an answer (`request_wait_answer()` for a forced
//! request, fs/fuse/dev.c): the thread, and with it the whole process, can no
//! longer be killed — not even by SIGKILL — and never exits. A worker thread
//! cannot be abandoned out of that, because process exit waits for it.
//!
//! So such copies are only ever made in a child process forked for the job:
//! the child answers through a pipe, and its exit (where the copies are
//! closed) is its own business. The parent waits for the answer under a
//! deadline, SIGKILLs a child that did not answer in time, and reaps it
//! without waiting; a child stuck in its exit is left alone and reaped later.
//! Stray children are capped ([`MAX_STRAYS`]): past the cap, helper work is
//! refused ([`Failure::Skipped`]) instead of forking more.
//!
//! The child of a fork of a multi-threaded process may only make system
//! calls: it must not allocate, take locks or panic. The work closures
//! passed here borrow their inputs (allocated before the fork) and write a
//! fixed-layout answer into a buffer that was also allocated before the
//! fork. If one misbehaved anyway, the deadline still bounds the wait.

use crate::{Failure, Outcome};
use rustix::fd::{AsRawFd, OwnedFd};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// At most this many helper children may be left unreaped (stuck in their
/// exit on a filesystem that does not answer) before helper work is
/// refused.
pub const MAX_STRAYS: usize = 8;

/// Children that did not exit when their answer was in: reaped later,
/// without waiting. Process-wide by nature (`waitpid` is per process).
static STRAYS: Mutex<Vec<rustix::process::Pid>> = Mutex::new(Vec::new());

/// Helpers of earlier runs still stuck on this host, counted once per run.
static HOST_STRAYS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();

/// The processes on this host named like a helper ([`HELPER_NAME`]) that
/// are not running: helpers of earlier procscope runs stuck closing a copy
/// (a running one is another run's live helper). Reads only `stat`, which
/// never waits on its process.
///
/// This is about the machine procscope itself runs on, not about the proc
/// root a command reads: helpers are forked by this process, here, and only
/// for a live root (`pidfd_getfd` is refused for a fixture before any
/// helper is asked for), and their strays are reparented to this host's
/// init. So the host's own `/proc` is read, whatever `--proc-root` says —
/// a procfs of another PID namespace, or a hidepid mount, could not show
/// them.
fn stuck_helpers_on_host() -> usize {
    let Ok(root) = crate::ProcRoot::open("/proc") else {
        return 0;
    };
    let mut b = Vec::new();
    root.pids()
        .unwrap_or_default()
        .into_iter()
        .filter(|&pid| {
            root.process(pid)
                .and_then(|d| d.read(c"stat", &mut b, crate::cap::RECORD))
                .is_ok()
                && procscope_parse::stat::Stat::parse(&b).is_ok_and(|s| {
                    s.comm == HELPER_NAME.to_bytes()
                        && s.state != procscope_parse::stat::TaskState::Running
                })
        })
        .count()
}

/// The name helper children give themselves (`comm`, 15 bytes at most).
const HELPER_NAME: &std::ffi::CStr = c"procscope-help";

/// How many helper children are left unreaped right now (stuck in exit).
pub fn strays() -> usize {
    let mut s = STRAYS.lock().unwrap_or_else(|e| e.into_inner());
    reap(&mut s);
    s.len()
}

/// Reaps every stray that has exited since.
fn reap(strays: &mut Vec<rustix::process::Pid>) {
    strays.retain(|&pid| {
        matches!(
            rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::NOHANG),
            Ok(None)
        )
    });
}

/// Writes all of `b` to `fd` with raw `write(2)` calls (async-signal-safe).
fn write_all_raw(fd: i32, mut b: &[u8]) {
    while !b.is_empty() {
        // SAFETY: `b` is valid for reads of `b.len()` bytes.
        let n = unsafe { libc::write(fd, b.as_ptr().cast(), b.len()) };
        match usize::try_from(n) {
            Ok(0) => return,
            Ok(n) => b = b.get(n..).unwrap_or_default(),
            Err(_) if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => {
            }
            Err(_) => return,
        }
    }
}

/// Closes every fd of the (child) process except `keep`, so that a child
/// stuck in its exit holds none of procscope's files (a stdout pipe kept
/// open by a stray child would make `procscope … | cat` wait for it).
fn close_all_but(keep: &mut [i32]) {
    keep.sort_unstable();
    let mut from: u32 = 0;
    for &k in keep.iter() {
        let Ok(k) = u32::try_from(k) else { continue };
        if k > from {
            // SAFETY: close_range only closes fds; the range is valid.
            unsafe { libc::syscall(libc::SYS_close_range, from, k - 1, 0u32) };
        }
        from = k.saturating_add(1);
    }
    // SAFETY: as above.
    unsafe { libc::syscall(libc::SYS_close_range, from, u32::MAX, 0u32) };
}

/// Runs `work` in a forked child process that may use `pidfd` (a pidfd of
/// the target, opened by the caller). `work` writes its answer into the
/// buffer it is given (`cap` bytes) and returns the answer's length; the
/// parent gets those bytes back, or [`Failure::TimedOut`] after `timeout`.
///
/// `work` runs in the child of a fork: it may only make system calls — no
/// allocation, no locks, no panics, no destructors that do any of these.
pub(crate) fn in_child<F>(
    timeout: Duration,
    pidfd: &OwnedFd,
    cap: usize,
    work: F,
) -> Outcome<Vec<u8>>
where
    F: FnOnce(&mut [u8]) -> usize,
{
    in_child_keeping(timeout, &[pidfd.as_raw_fd()], cap, work)
}

/// [`in_child`] with any fds the work needs kept open in the child (every
/// other fd is closed there).
pub(crate) fn in_child_keeping<F>(
    timeout: Duration,
    keep: &[i32],
    cap: usize,
    work: F,
) -> Outcome<Vec<u8>>
where
    F: FnOnce(&mut [u8]) -> usize,
{
    room_for_a_child()?;
    // Everything the child touches is allocated before the fork.
    let mut buf = vec![0u8; cap.saturating_add(8)];
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| Failure::from_errno(e, b"pipe"))?;
    let wfd = w.as_raw_fd();
    let (mut kept, nkept) = kept_fds(keep, wfd);
    // SAFETY: the child only runs `work` (system calls on borrowed,
    // pre-allocated memory), raw writes and `_exit`.
    let child = unsafe { fork()? };
    if child == 0 {
        // Named so that a helper left stuck in its exit says what it is in
        // ps: "procscope-help".
        // SAFETY: PR_SET_NAME reads a NUL-terminated string.
        unsafe { libc::prctl(libc::PR_SET_NAME, HELPER_NAME.as_ptr(), 0, 0, 0) };
        close_all_but(kept.get_mut(..=nkept).unwrap_or_default());
        let (head, body) = buf.split_at_mut(8);
        let n = work(body).min(body.len());
        head.copy_from_slice(&(n as u64).to_le_bytes());
        write_all_raw(wfd, buf.get(..8 + n).unwrap_or_default());
        // SAFETY: ends the child without running anything of the parent's
        // (no atexit handlers, no stdio flush). Closing the copies it made
        // may block here, in the child only.
        unsafe { libc::_exit(0) }
    }
    drop(w);
    let pid = rustix::process::Pid::from_raw(child).ok_or(Failure::Gone)?;
    let got = collect(&r, &mut buf, Instant::now() + timeout, timeout);
    if got.is_err() {
        // The child cannot have been reaped yet, so its PID is still ours.
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
    }
    reap_or_keep(pid);
    got
}

/// The fds a child keeps: `keep` (at most 7) and then `own` (its end of
/// the answer channel), in a fixed array (the child may not allocate),
/// with how many of `keep` were taken.
fn kept_fds(keep: &[i32], own: i32) -> ([i32; 8], usize) {
    let mut kept = [-1i32; 8];
    for (k, fd) in kept.iter_mut().zip(keep) {
        *k = *fd;
    }
    let n = keep.len().min(kept.len() - 1);
    if let Some(slot) = kept.get_mut(n) {
        *slot = own;
    }
    (kept, n)
}

/// `fork()`, its failure as a [`Failure`]: the child's PID, or 0 in the
/// child.
///
/// # Safety
/// In a multi-threaded process the child may only make async-signal-safe
/// calls (system calls on memory allocated before the fork) and `_exit`.
unsafe fn fork() -> Outcome<libc::pid_t> {
    // SAFETY: the caller keeps the child to async-signal-safe work.
    let child = unsafe { libc::fork() };
    if child < 0 {
        return Err(Failure::from_errno(
            rustix::io::Errno::from_raw_os_error(
                std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
            ),
            b"fork",
        ));
    }
    Ok(child)
}

/// Refuses helper work when too many helpers are stuck in their exit.
fn room_for_a_child() -> Outcome<()> {
    {
        let mut s = STRAYS.lock().unwrap_or_else(|e| e.into_inner());
        reap(&mut s);
        if s.len() >= MAX_STRAYS {
            return Err(Failure::Skipped { stuck: s.len() });
        }
    }
    // Strays outlive the procscope that made them (they are reparented
    // to init): the cap holds across runs too, counted once per run.
    let host = *HOST_STRAYS.get_or_init(stuck_helpers_on_host);
    if host >= MAX_STRAYS {
        return Err(Failure::Skipped { stuck: host });
    }
    Ok(())
}

/// Reaps a helper that has exited or is about to (it answered, or was
/// SIGKILLed); one still exiting after a short grace is kept as a stray.
fn reap_or_keep(pid: rustix::process::Pid) {
    // Give it a moment to finish exiting (closing its copies is quick
    // unless a filesystem does not answer), so that a one-shot command
    // leaves no zombie behind; never wait longer.
    if let Ok(pfd) = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()) {
        let mut p = [rustix::event::PollFd::new(
            &pfd,
            rustix::event::PollFlags::IN,
        )];
        let grace = rustix::time::Timespec {
            tv_sec: 0,
            tv_nsec: 20_000_000,
        };
        let _ = rustix::event::poll(&mut p, Some(&grace));
    }
    match rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::NOHANG) {
        Ok(Some(_)) => {}
        _ => {
            // Still closing what it copied (or dying): reaped later.
            let mut s = STRAYS.lock().unwrap_or_else(|e| e.into_inner());
            s.push(pid);
        }
    }
}

/// What a helper that answers in shared memory ([`in_child_shared`])
/// left behind.
pub(crate) struct Shared {
    /// The records it committed, in order.
    pub bytes: Vec<u8>,
    /// The fds it passed ([`Board::pass_fd`]), in the order it passed them.
    pub fds: Vec<OwnedFd>,
    /// Why it did not finish: `None` when its work returned (it may have
    /// returned early, having committed what it could).
    pub cut: Option<Failure>,
}

/// A helper child's side of [`in_child_shared`]: a writer into memory the
/// parent shares, whose records count only once committed, and a socket
/// to pass fds on. Never blocks: whatever the child committed is there for
/// the parent the moment the child is gone, however it went.
pub(crate) struct Board<'a> {
    /// The records, written in place.
    pub cur: Cursor<'a>,
    committed: &'a std::sync::atomic::AtomicU64,
    sock: i32,
}

impl Board<'_> {
    /// Publishes everything written so far.
    pub fn commit(&mut self) {
        self.committed
            .store(self.cur.len as u64, std::sync::atomic::Ordering::Release);
    }

    /// Sends `fd` to the parent (`SCM_RIGHTS`): system calls only. False
    /// when it could not be sent (then the record must say so).
    pub fn pass_fd(&self, fd: i32) -> bool {
        let mut byte = [0u8; 1];
        let mut iov = libc::iovec {
            iov_base: byte.as_mut_ptr().cast(),
            iov_len: 1,
        };
        // Room for one fd's control message, aligned for cmsghdr.
        let mut control = [0u64; 4];
        // SAFETY: msghdr is plain data; the pointers set below outlive the
        // sendmsg call.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        // SAFETY: CMSG_SPACE only computes a size.
        msg.msg_controllen = unsafe { libc::CMSG_SPACE(4) } as usize;
        // SAFETY: `control` is large enough for one cmsghdr and an int
        // (CMSG_SPACE(4) = 24 bytes on 64-bit, `control` is 32).
        unsafe {
            let c = libc::CMSG_FIRSTHDR(&msg);
            if c.is_null() {
                return false;
            }
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(4) as usize;
            std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<i32>(), fd);
            libc::sendmsg(self.sock, &msg, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL) == 1
        }
    }
}

/// Anonymous memory shared with a child across `fork`.
struct SharedMap {
    ptr: *mut u8,
    len: usize,
}

impl SharedMap {
    fn new(len: usize) -> Outcome<Self> {
        // SAFETY: a fresh anonymous mapping; nothing else refers to it.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(Failure::from_errno(
                rustix::io::Errno::from_raw_os_error(
                    std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
                ),
                b"mmap",
            ));
        }
        Ok(SharedMap {
            ptr: ptr.cast(),
            len,
        })
    }
}

impl Drop for SharedMap {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly what `new` mapped; no reference into it
        // outlives `self` (the child that wrote into it is gone).
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

/// Receives every fd waiting on `sock` (one per datagram) into `fds`.
fn receive_fds(sock: &OwnedFd, fds: &mut Vec<OwnedFd>) {
    loop {
        let mut byte = [0u8; 1];
        let mut iov = libc::iovec {
            iov_base: byte.as_mut_ptr().cast(),
            iov_len: 1,
        };
        let mut control = [0u64; 4];
        // SAFETY: msghdr is plain data; its pointers outlive recvmsg.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control);
        // SAFETY: recvmsg writes into the buffers `msg` points at.
        let n = unsafe {
            libc::recvmsg(
                sock.as_raw_fd(),
                &mut msg,
                libc::MSG_DONTWAIT | libc::MSG_CMSG_CLOEXEC,
            )
        };
        if n <= 0 {
            return;
        }
        // SAFETY: walks the control messages recvmsg filled in.
        let mut c = unsafe { libc::CMSG_FIRSTHDR(&msg) };
        while !c.is_null() {
            // SAFETY: `c` points into `control`, as CMSG_* return it.
            unsafe {
                if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                    let fd = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<i32>());
                    if fd >= 0 {
                        fds.push(<OwnedFd as rustix::fd::FromRawFd>::from_raw_fd(fd));
                    }
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
        }
    }
}

/// Runs `work` in a forked child, like [`in_child_keeping`], but the child
/// answers in memory shared with the parent rather than through a pipe:
/// each record it commits ([`Board::commit`]) is the parent's at once, and
/// writing it can never block. So the child may end at any moment — return
/// from `work` early, or be SIGKILLed at the deadline — and what it
/// committed so far still counts. It can also pass fds back
/// ([`Board::pass_fd`]); they arrive in the order sent.
///
/// `cap` bytes of records at most. Fails only when no child could be
/// started; a child that was killed at `timeout`, or because it committed
/// nothing for `stall` (when given), leaves its records and says so in
/// [`Shared::cut`].
pub(crate) fn in_child_shared<F>(
    timeout: Duration,
    stall: Option<Duration>,
    keep: &[i32],
    cap: usize,
    work: F,
) -> Outcome<Shared>
where
    F: FnOnce(&mut Board<'_>),
{
    room_for_a_child()?;
    let deadline = Instant::now() + timeout;
    // The committed length (8 bytes, page-aligned), then the records.
    let map = SharedMap::new(cap.saturating_add(8).max(8))?;
    let (mine, theirs) = rustix::net::socketpair(
        rustix::net::AddressFamily::UNIX,
        rustix::net::SocketType::DGRAM,
        rustix::net::SocketFlags::CLOEXEC,
        None,
    )
    .map_err(|e| Failure::from_errno(e, b"socketpair"))?;
    let sock = theirs.as_raw_fd();
    let (mut kept, nkept) = kept_fds(keep, sock);
    // SAFETY: the child only runs `work` (system calls on borrowed,
    // pre-allocated memory) and `_exit`.
    let child = unsafe { fork()? };
    if child == 0 {
        // SAFETY: as in in_child_keeping.
        unsafe { libc::prctl(libc::PR_SET_NAME, HELPER_NAME.as_ptr(), 0, 0, 0) };
        close_all_but(kept.get_mut(..=nkept).unwrap_or_default());
        // SAFETY: the mapping is `map.len` bytes, page-aligned (so the
        // first 8 are an aligned u64), and this process is its only user
        // until it exits (the parent reads it only once it is gone).
        let (committed, body) = unsafe {
            (
                &*map.ptr.cast::<std::sync::atomic::AtomicU64>(),
                std::slice::from_raw_parts_mut(map.ptr.add(8), map.len.saturating_sub(8)),
            )
        };
        let mut board = Board {
            cur: Cursor::new(body),
            committed,
            sock,
        };
        work(&mut board);
        // SAFETY: ends the child without running anything of the parent's.
        unsafe { libc::_exit(0) }
    }
    drop(theirs);
    let pid = rustix::process::Pid::from_raw(child).ok_or(Failure::Gone)?;
    let pidfd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())
        .map_err(|e| Failure::from_errno(e, b"pidfd_open"));
    let mut fds = Vec::new();
    let mut cut = None;
    // SAFETY: as in the child: an aligned u64 at the mapping's start, only
    // ever accessed atomically.
    let committed = unsafe { &*map.ptr.cast::<std::sync::atomic::AtomicU64>() };
    let mut progress = (0u64, Instant::now());
    // Waits for the child's exit, taking fds as they come (its socket
    // buffer is finite).
    loop {
        receive_fds(&mine, &mut fds);
        let now = committed.load(std::sync::atomic::Ordering::Relaxed);
        if now != progress.0 {
            progress = (now, Instant::now());
        }
        let mut left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            cut = Some(Failure::TimedOut { after: timeout });
            break;
        }
        if let Some(stall) = stall {
            let stalled = progress.1 + stall;
            let until = stalled.saturating_duration_since(Instant::now());
            if until.is_zero() {
                cut = Some(Failure::TimedOut { after: stall });
                break;
            }
            // Wake up to look at the progress again by then.
            left = left.min(until);
        }
        let Ok(pfd) = pidfd.as_ref() else {
            cut = Some(Failure::Gone);
            break;
        };
        let ts = rustix::time::Timespec::try_from(left).unwrap_or(rustix::time::Timespec {
            tv_sec: 1,
            tv_nsec: 0,
        });
        let mut p = [
            rustix::event::PollFd::new(pfd, rustix::event::PollFlags::IN),
            rustix::event::PollFd::new(&mine, rustix::event::PollFlags::IN),
        ];
        match rustix::event::poll(&mut p, Some(&ts)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => {
                cut = Some(Failure::from_errno(e, b"poll"));
                break;
            }
        }
        if p.first().is_some_and(|p| !p.revents().is_empty()) {
            break;
        }
    }
    if cut.is_some() {
        // Not reaped yet, so the PID is still this child's.
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
    }
    reap_or_keep(pid);
    receive_fds(&mine, &mut fds);
    // The child is gone or SIGKILLed, and a record is never written
    // again once committed.
    let committed = committed.load(std::sync::atomic::Ordering::Acquire);
    let n = usize::try_from(committed)
        .unwrap_or(0)
        .min(map.len.saturating_sub(8));
    // SAFETY: the first `n` bytes after the length were committed.
    let bytes = unsafe { std::slice::from_raw_parts(map.ptr.add(8), n) }.to_vec();
    Ok(Shared { bytes, fds, cut })
}

/// Reads the child's length-prefixed answer from `r` until `deadline`.
fn collect(
    r: &OwnedFd,
    buf: &mut Vec<u8>,
    deadline: Instant,
    timeout: Duration,
) -> Outcome<Vec<u8>> {
    let mut have = 0usize;
    loop {
        let want = match buf.get(..8).filter(|_| have >= 8) {
            Some(h) => {
                let mut len = [0u8; 8];
                len.copy_from_slice(h);
                usize::try_from(u64::from_le_bytes(len))
                    .unwrap_or(usize::MAX)
                    .saturating_add(8)
            }
            None => 8,
        };
        if have >= want {
            buf.truncate(want);
            buf.drain(..8);
            return Ok(std::mem::take(buf));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Failure::TimedOut { after: timeout });
        }
        let ts = rustix::time::Timespec::try_from(left).unwrap_or(rustix::time::Timespec {
            tv_sec: 1,
            tv_nsec: 0,
        });
        let mut p = [rustix::event::PollFd::new(r, rustix::event::PollFlags::IN)];
        match rustix::event::poll(&mut p, Some(&ts)) {
            Ok(0) | Err(rustix::io::Errno::INTR) => continue,
            Ok(_) => {}
            Err(e) => return Err(Failure::from_errno(e, b"poll")),
        }
        let Some(dst) = buf.get_mut(have..want) else {
            return Err(Failure::malformed(
                "helper answer",
                "longer than its buffer",
            ));
        };
        match rustix::io::read(r, dst) {
            Ok(0) => {
                return Err(Failure::malformed(
                    "helper answer",
                    "the helper exited without answering",
                ));
            }
            Ok(n) => have += n,
            Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => {}
            Err(e) => return Err(Failure::from_errno(e, b"helper pipe")),
        }
    }
}

/// A fixed-layout little-endian writer over a borrowed buffer, for answers
/// built in a helper child (no allocation). Writes past the end are
/// dropped and counted in `overflow`.
pub(crate) struct Cursor<'a> {
    buf: &'a mut [u8],
    /// Bytes written so far.
    pub len: usize,
}

impl<'a> Cursor<'a> {
    /// A writer at the start of `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Cursor { buf, len: 0 }
    }

    /// Appends `b` whole, or nothing when it does not fit.
    pub fn put(&mut self, b: &[u8]) -> bool {
        let end = self.len.saturating_add(b.len());
        match self.buf.get_mut(self.len..end) {
            Some(dst) => {
                dst.copy_from_slice(b);
                self.len = end;
                true
            }
            None => false,
        }
    }
}

impl Cursor<'_> {
    /// Bytes left after what was written.
    pub fn room(&self) -> usize {
        self.buf.len().saturating_sub(self.len)
    }

    /// The next `n` bytes, to be filled in place (then advance `len`).
    pub fn tail(&mut self, n: usize) -> Option<&mut [u8]> {
        let end = self.len.checked_add(n)?;
        self.buf.get_mut(self.len..end)
    }

    /// Overwrites bytes already written at `at`, when they are in range.
    pub fn patch(&mut self, at: usize, b: &[u8]) {
        let end = at.saturating_add(b.len());
        if end <= self.len {
            if let Some(dst) = self.buf.get_mut(at..end) {
                dst.copy_from_slice(b);
            }
        }
    }
}

/// Reads back what a [`Cursor`] wrote.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    /// The next `N` bytes.
    pub fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (h, t) = self.buf.split_first_chunk::<N>()?;
        self.buf = t;
        Some(*h)
    }

    /// What is left to read.
    pub fn rest(&self) -> &'a [u8] {
        self.buf
    }

    /// Whether everything has been read.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> OwnedFd {
        let pid = rustix::process::getpid();
        rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).unwrap()
    }

    #[test]
    fn the_answer_comes_back() {
        let input = [1u8, 2, 3];
        let got = in_child(Duration::from_secs(5), &me(), 16, |out| {
            let mut c = Cursor::new(out);
            c.put(&input);
            c.put(&[9]);
            c.len
        })
        .unwrap();
        assert_eq!(got, vec![1, 2, 3, 9]);
    }

    #[test]
    fn a_child_that_never_answers_is_killed_at_the_deadline() {
        let t = Instant::now();
        let got = in_child(Duration::from_millis(200), &me(), 16, |_| {
            // SAFETY: pause(2) is a plain system call.
            unsafe { libc::pause() };
            0
        });
        assert!(matches!(got, Err(Failure::TimedOut { .. })), "{got:?}");
        assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
        // SIGKILL ends a child in pause(); it is reaped at once or by the
        // next call.
        let deadline = Instant::now() + Duration::from_secs(5);
        while strays() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(strays(), 0);
    }

    #[test]
    fn a_cursor_never_writes_past_its_buffer() {
        let mut b = [0u8; 4];
        let mut c = Cursor::new(&mut b);
        assert!(c.put(&[1, 2, 3]));
        assert!(!c.put(&[4, 5]));
        assert_eq!(c.len, 3);
        let mut r = Reader::new(&b[..3]);
        assert_eq!(r.take::<2>(), Some([1, 2]));
        assert_eq!(r.take::<2>(), None);
        assert_eq!(r.take::<1>(), Some([3]));
        assert!(r.is_empty());
    }
}

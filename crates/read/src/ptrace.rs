//! Registers and stack bytes of threads that are running, taken without
//! ever stopping the process for long: each thread is stopped alone with
//! `PTRACE_SEIZE` + `PTRACE_INTERRUPT`, for the time it takes to copy its
//! registers and the top of its stack, and let go at once.
//!
//! A thread blocked in a system call needs none of this: `task/TID/syscall`
//! gives its stack pointer and program counter, and its stack does not
//! change while it waits. Only threads on a CPU are interrupted.
//!
//! All ptrace work happens in a forked helper ([`crate::helper`]) under a
//! hard deadline: a thread that does not stop within [`STOP_WAIT`] (no CPU
//! for it now, or an uninterruptible wait) is skipped but stays seized
//! with the interrupt pending; it stops whenever it next runs, and the
//! helper lets it go as soon as it sees that stop (it sleeps on SIGCHLD
//! between threads rather than spinning on the CPU the target needs), so
//! no thread stays stopped for more than moments and at most about one at
//! a time. If the helper does not answer in time it is SIGKILLed; the
//! kernel detaches every thread it had seized as it exits (and withdraws
//! interrupts that had not taken effect). Never `PTRACE_ATTACH`: it sends
//! `SIGSTOP`, which stays pending when the tracer dies (eu-stack and gdb,
//! killed while waiting on a D thread, leave their target stopped for
//! good). `PTRACE_INTERRUPT` sends no signal, and a stop it caused ends
//! with the detach.

use crate::helper::{Cursor, Reader};
use crate::{Failure, Outcome, ProcDir};
use rustix::fd::AsRawFd;
use std::time::Duration;

/// How long one thread may take to stop before it is skipped.
pub const STOP_WAIT: Duration = Duration::from_millis(5);

/// How long the helper waits, after the last thread, for threads that had
/// not stopped in time to stop (and be let go) before it answers.
pub const FINAL_WAIT: Duration = Duration::from_millis(50);

/// Bytes of stack copied per thread while it is stopped.
pub const STACK_BYTES: usize = 64 * 1024;

/// At most this many threads are interrupted per call.
pub const MAX_THREADS: usize = 64;

/// A thread's state as it was while it was stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// Instruction pointer.
    pub ip: u64,
    /// Stack pointer.
    pub sp: u64,
    /// Frame pointer (`rbp`).
    pub bp: u64,
    /// The stack from `sp` up (at most [`STACK_BYTES`]).
    pub stack: Vec<u8>,
    /// How long the thread was stopped, in microseconds.
    pub stopped_us: u64,
}

/// Why a thread could not be sampled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// `PTRACE_SEIZE` failed with this errno (EPERM: ptrace scope, an LSM,
    /// or already traced).
    Seize(i32),
    /// It did not stop within [`STOP_WAIT`] (an uninterruptible wait, or
    /// no CPU for it). It was detached as soon as it stopped later.
    NoStop,
    /// Registers could not be read.
    Regs(i32),
    /// It exited.
    Gone,
    /// It was no longer running when it was about to be interrupted (it
    /// had gone to sleep): left alone, not interrupted.
    Asleep,
}

const OK: i32 = 0;
const E_SEIZE: i32 = 1;
const E_NOSTOP: i32 = 2;
const E_REGS: i32 = 3;
const E_GONE: i32 = 4;
const E_ASLEEP: i32 = 5;

/// `TID/stat`, NUL-terminated, relative to the process's `task` directory:
/// formatted before the fork (the helper may not allocate).
type StatPath = [u8; 32];

fn stat_path(tid: i32) -> StatPath {
    let mut p = [0u8; 32];
    let s = format!("{tid}/stat");
    for (d, b) in p.iter_mut().zip(s.as_bytes().iter().take(31)) {
        *d = *b;
    }
    p
}

/// Stops each of `tids` (threads of the process `dir` reads) alone, copies
/// its registers and the top of its stack, and lets it go. Answers one
/// entry per TID, in order; the whole call fails (`TimedOut`) only when
/// the helper did not answer by `timeout`, and then every thread it had
/// seized is detached by its death.
pub fn sample(
    dir: &ProcDir,
    tids: &[i32],
    timeout: Duration,
) -> Outcome<Vec<(i32, Result<Sample, Refused>)>> {
    if !dir.is_live() {
        return Err(Failure::Unsupported {
            what: "not a live process".into(),
        });
    }
    let tids: Vec<(i32, StatPath)> = tids
        .iter()
        .take(MAX_THREADS)
        .map(|&t| (t, stat_path(t)))
        .collect();
    let mem = dir.open_with(
        c"mem",
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
    )?;
    let task = dir.open_with(
        c"task",
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
    )?;
    let (memfd, taskfd) = (mem.as_raw_fd(), task.as_raw_fd());
    let per = 4 + 4 + 8 * 5 + STACK_BYTES;
    let cap = per.saturating_mul(tids.len());
    let answer = crate::helper::in_child_keeping(timeout, &[memfd, taskfd], cap, |out| {
        let mut c = Cursor::new(out);
        let mut pending = Pending::new();
        block_sigchld();
        for (tid, path) in &tids {
            one(*tid, path, memfd, taskfd, &mut c, &mut pending);
            // A thread that stopped late while the next one was handled is
            // let go now, not when the helper exits.
            pending.release_stopped();
        }
        // Writing the answer (up to 64 KiB a thread) takes milliseconds,
        // during which a thread stopping late would stay stopped: wait a
        // little for the pending ones to stop and let each go. The helper
        // exits right after answering, which detaches whatever is still
        // seized (a thread that never stopped, in an uninterruptible wait,
        // has its interrupt withdrawn by the kernel as it is unlinked).
        let until = now_ns().saturating_add(FINAL_WAIT.as_nanos() as u64);
        loop {
            pending.release_stopped();
            let now = now_ns();
            if pending.n == 0 || now > until {
                break;
            }
            wait_sigchld(until.saturating_sub(now).min(1_000_000));
        }
        c.len
    })?;
    let mut r = Reader::new(&answer);
    let mut v = Vec::with_capacity(tids.len());
    while !r.is_empty() {
        let (Some(tid), Some(code), Some(errno)) = (r.take::<4>(), r.take::<4>(), r.take::<4>())
        else {
            break;
        };
        let (tid, code, errno) = (
            i32::from_le_bytes(tid),
            i32::from_le_bytes(code),
            i32::from_le_bytes(errno),
        );
        let res = match code {
            OK => {
                let mut w = [0u64; 5];
                for x in &mut w {
                    *x = r.take::<8>().map(u64::from_le_bytes).unwrap_or(0);
                }
                let [ip, sp, bp, us, n] = w;
                let n = usize::try_from(n).unwrap_or(0).min(r.rest().len());
                let stack = r.rest().get(..n).unwrap_or_default().to_vec();
                r = Reader::new(r.rest().get(n..).unwrap_or_default());
                Ok(Sample {
                    ip,
                    sp,
                    bp,
                    stack,
                    stopped_us: us,
                })
            }
            E_SEIZE => Err(Refused::Seize(errno)),
            E_NOSTOP => Err(Refused::NoStop),
            E_REGS => Err(Refused::Regs(errno)),
            E_ASLEEP => Err(Refused::Asleep),
            _ => Err(Refused::Gone),
        };
        v.push((tid, res));
    }
    Ok(v)
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into `ts`.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    u64::try_from(ts.tv_sec)
        .unwrap_or(0)
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::try_from(ts.tv_nsec).unwrap_or(0))
}

/// Blocks SIGCHLD in the helper, so that the ptrace-stops of its tracees
/// queue one it can sleep on ([`wait_sigchld`]) instead of busy-polling
/// `waitpid` on the CPU the target's threads need. (A blocked signal is
/// never discarded as ignored, whatever its disposition.)
fn block_sigchld() {
    // SAFETY: sigset_t is plain data, filled by sigemptyset/sigaddset.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: the helper is single-threaded; these only touch `set` and
    // its own signal mask.
    unsafe {
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGCHLD);
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// Sleeps until a SIGCHLD (a tracee stopped or exited) or `ns`
/// nanoseconds, whichever comes first.
fn wait_sigchld(ns: u64) {
    // SAFETY: as in block_sigchld.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe {
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGCHLD);
    }
    let ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: libc::c_long::try_from(ns.min(999_999_999)).unwrap_or(1_000_000),
    };
    // SAFETY: sigtimedwait reads `set` and `ts`; no siginfo is asked for.
    unsafe { libc::sigtimedwait(&set, std::ptr::null_mut(), &ts) };
}

/// Lets a thread in a ptrace-stop go. A signal-delivery stop (the thread
/// got a signal meanwhile) has its signal passed on; an interrupt or group
/// stop not.
fn release(tid: i32, status: i32) {
    let event = (status >> 16) & 0xff;
    let resend = if event == 0 {
        libc::WSTOPSIG(status)
    } else {
        0
    };
    let detach = libc::PTRACE_DETACH as libc::c_uint;
    // SAFETY: ptrace on a TID; no memory is passed.
    unsafe { libc::ptrace(detach, tid, 0usize, resend as usize) };
}

/// Threads interrupted that had not stopped within [`STOP_WAIT`]: each
/// stops whenever it next gets a CPU, and must then be let go at once —
/// not when the helper is done with every other thread. Fixed-size: the
/// helper may not allocate.
struct Pending {
    tids: [i32; MAX_THREADS],
    n: usize,
}

impl Pending {
    fn new() -> Self {
        Pending {
            tids: [0; MAX_THREADS],
            n: 0,
        }
    }

    fn push(&mut self, tid: i32) {
        if let Some(slot) = self.tids.get_mut(self.n) {
            *slot = tid;
            self.n = self.n.saturating_add(1);
        }
    }

    /// Detaches every pending thread that is in a ptrace-stop now, and
    /// forgets those that exited.
    fn release_stopped(&mut self) {
        let mut i = 0;
        while i < self.n {
            let Some(&tid) = self.tids.get(i) else { break };
            let mut status = 0i32;
            // SAFETY: waitpid writes the status into `status`.
            let r = unsafe { libc::waitpid(tid, &mut status, libc::__WALL | libc::WNOHANG) };
            let done = if r == tid {
                if libc::WIFSTOPPED(status) {
                    release(tid, status);
                }
                true
            } else {
                r < 0
            };
            if done {
                self.n = self.n.saturating_sub(1);
                let last = self.tids.get(self.n).copied().unwrap_or(0);
                if let Some(slot) = self.tids.get_mut(i) {
                    *slot = last;
                }
            } else {
                i = i.saturating_add(1);
            }
        }
    }
}

/// Whether the thread whose `TID/stat` is `path` (under `taskfd`) is
/// running (`R`) now: `None` when it is gone. System calls only.
fn is_running(taskfd: i32, path: &StatPath) -> Option<bool> {
    // SAFETY: `path` is NUL-terminated (at most 31 bytes are written).
    let fd = unsafe {
        libc::openat(
            taskfd,
            path.as_ptr().cast(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return None;
    }
    let mut b = [0u8; 1024];
    // SAFETY: read into `b`, of `b.len()` bytes; `fd` is ours to close.
    let n = unsafe {
        let n = libc::read(fd, b.as_mut_ptr().cast(), b.len());
        libc::close(fd);
        n
    };
    let b = b.get(..usize::try_from(n).ok()?)?;
    // The state follows the last ')' (comm may contain any byte).
    let close = b.iter().rposition(|&c| c == b')')?;
    Some(b.get(close.checked_add(2)?) == Some(&b'R'))
}

/// Samples one thread, in the helper child: system calls only.
///
/// The thread's state is read again right before it is interrupted, and a
/// thread that went to sleep meanwhile is left alone: an interrupt landing
/// on a thread in an interruptible wait makes calls that are not restarted
/// (`epoll_wait`, `nanosleep` with a handler, `select`…) return `EINTR` to
/// the program. That narrows, but cannot close, the window: a thread may
/// still enter such a call in the microseconds between that read and the
/// interrupt.
fn one(
    tid: i32,
    path: &StatPath,
    memfd: i32,
    taskfd: i32,
    c: &mut Cursor<'_>,
    pending: &mut Pending,
) {
    let head = |c: &mut Cursor<'_>, code: i32, e: i32| {
        c.put(&tid.to_le_bytes());
        c.put(&code.to_le_bytes());
        c.put(&e.to_le_bytes());
    };
    match is_running(taskfd, path) {
        None => return head(c, E_GONE, 0),
        Some(false) => return head(c, E_ASLEEP, 0),
        Some(true) => {}
    }
    let (seize, interrupt) = (
        libc::PTRACE_SEIZE as libc::c_uint,
        libc::PTRACE_INTERRUPT as libc::c_uint,
    );
    // SAFETY: ptrace on a TID; no memory is passed.
    if unsafe { libc::ptrace(seize, tid, 0usize, 0usize) } != 0 {
        let e = errno();
        head(c, if e == libc::ESRCH { E_GONE } else { E_SEIZE }, e);
        return;
    }
    let start = now_ns();
    // SAFETY: as above.
    unsafe { libc::ptrace(interrupt, tid, 0usize, 0usize) };
    let deadline = start.saturating_add(STOP_WAIT.as_nanos() as u64);
    let mut status = 0i32;
    let stopped = loop {
        // SAFETY: waitpid writes the status into `status`.
        let r = unsafe { libc::waitpid(tid, &mut status, libc::__WALL | libc::WNOHANG) };
        if r == tid {
            break Some(libc::WIFSTOPPED(status));
        }
        if r < 0 {
            break Some(false);
        }
        // Earlier threads that stop now are let go while this one is
        // waited for.
        pending.release_stopped();
        let now = now_ns();
        if now > deadline {
            break None;
        }
        // Woken by the stop's SIGCHLD; the slice bounds a missed one.
        wait_sigchld(deadline.saturating_sub(now).min(1_000_000));
    };
    match stopped {
        Some(true) => {}
        Some(false) => return head(c, E_GONE, 0),
        None => {
            // Still seized, with the interrupt pending: it stops when it
            // next gets a CPU, and is let go as soon as it does.
            pending.push(tid);
            return head(c, E_NOSTOP, 0);
        }
    }
    // SAFETY: user_regs_struct is plain data; PTRACE_GETREGS fills it.
    let mut regs: libc::user_regs_struct = unsafe { std::mem::zeroed() };
    let getregs = libc::PTRACE_GETREGS as libc::c_uint;
    // SAFETY: `regs` is a valid user_regs_struct.
    let ok = unsafe { libc::ptrace(getregs, tid, 0usize, &mut regs as *mut _) } == 0;
    if !ok {
        let e = errno();
        release(tid, status);
        head(c, E_REGS, e);
        return;
    }
    head(c, OK, 0);
    let (ip, sp, bp) = (regs.rip, regs.rsp, regs.rbp);
    // The stack goes straight into the answer, after a placeholder for the
    // timing and length written once it is known.
    let fixed = c.len;
    for w in [ip, sp, bp, 0, 0] {
        c.put(&w.to_le_bytes());
    }
    let room = c.room().min(STACK_BYTES);
    let n = match c.tail(room) {
        Some(dst) => {
            // SAFETY: pread into a buffer of `dst.len()` bytes.
            let n = unsafe {
                libc::pread(memfd, dst.as_mut_ptr().cast(), dst.len(), sp as libc::off_t)
            };
            usize::try_from(n).unwrap_or(0)
        }
        None => 0,
    };
    release(tid, status);
    let us = now_ns().saturating_sub(start) / 1000;
    c.patch(fixed + 24, &us.to_le_bytes());
    c.patch(fixed + 32, &(n as u64).to_le_bytes());
    c.len = c.len.saturating_add(n);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_running_thread_of_this_process_is_sampled_and_let_go() {
        // A busy thread of a child process (ptrace cannot seize a thread of
        // its own tracer's thread group).
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg("while :; do :; done")
            .spawn()
            .unwrap();
        let pid = i32::try_from(child.id()).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let root = crate::ProcRoot::open("/proc").unwrap();
        let dir = root.process(pid).unwrap();
        let got = sample(&dir, &[pid], Duration::from_secs(5)).unwrap();
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(got.len(), 1);
        let (tid, s) = &got[0];
        assert_eq!(*tid, pid);
        let s = s.as_ref().unwrap();
        assert!(s.sp != 0 && s.ip != 0, "{s:?}");
        assert!(!s.stack.is_empty());
    }
}

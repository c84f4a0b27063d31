//! Registers and stack bytes of threads that are running, taken without
//! ever stopping the process for long: each thread is stopped alone with
//! `PTRACE_SEIZE` + `PTRACE_INTERRUPT`, for the time it takes to copy its
//! registers and the top of its stack, and let go at once.
//!
//! A thread blocked in a system call needs none of this: `task/TID/syscall`
//! gives its stack pointer and program counter, and its stack does not
//! change while it waits. Only threads on a CPU are interrupted.
//!
//! All ptrace work happens in a forked helper ([`crate::helper`]), one
//! thread at a time: at no moment are two threads of the target seized and
//! interrupted. The helper seizes a thread, interrupts it, waits for its
//! stop (at most [`STOP_WAIT`], asleep on SIGCHLD rather than spinning on
//! the CPU the thread needs to stop), copies its registers and stack,
//! detaches it, and only then moves on. Its answer goes into memory shared
//! with procscope, record by record (`in_child_shared` in [`crate::helper`]):
//! writing it never blocks, so nothing the helper does while a thread is
//! stopped can wait on procscope.
//!
//! A thread that has not stopped within [`STOP_WAIT`] (no CPU for it now, or
//! an uninterruptible wait) cannot be detached — `PTRACE_DETACH` needs a
//! stopped tracee — and must not stay seized with its interrupt pending
//! while the helper handles the next thread: it would stop whenever it next
//! runs and stay stopped until the helper noticed (the old design, which
//! did exactly that, left threads stopped for 30–80 ms, up to 16 at once on
//! a loaded box). So the helper exits right there: the kernel unlinks every
//! tracee of an exiting tracer (`exit_ptrace` → `__ptrace_unlink`), which
//! withdraws a pending interrupt (`task_clear_jobctl_pending(child,
//! JOBCTL_TRAP_MASK)`) and wakes a tracee that did stop meanwhile. procscope
//! then starts a fresh helper for the threads not yet sampled, while its
//! deadline allows; threads whose turn never came say so
//! ([`Refused::NotReached`]). If a helper does not finish in time it is
//! SIGKILLed, with the same effect; what it had committed still counts.
//!
//! The helper asks the scheduler to run it ahead of ordinary work when
//! allowed (`setpriority` on itself, never on the target; refused without
//! `CAP_SYS_NICE`): a thread stays stopped from its stop until the helper
//! gets a CPU to see it and let it go, and on a loaded machine that wait is
//! most of the time a thread is stopped.
//!
//! Never `PTRACE_ATTACH`: it sends `SIGSTOP`, which stays pending when the
//! tracer dies (eu-stack and gdb, killed while waiting on a D thread, leave
//! their target stopped for good). `PTRACE_INTERRUPT` sends no signal, and
//! a stop it caused ends with the detach. `PTRACE_O_EXITKILL` is not set:
//! the helper's death must let the target go, never kill it.

use crate::helper::{Board, Reader};
use crate::{Failure, Outcome, ProcDir};
use rustix::fd::AsRawFd;
use std::time::{Duration, Instant};

/// How long one thread may take to stop before the helper gives up on it
/// (and exits, which withdraws the interrupt).
pub const STOP_WAIT: Duration = Duration::from_millis(5);

/// Bytes of stack copied per thread while it is stopped.
pub const STACK_BYTES: usize = 64 * 1024;

/// At most this many threads are interrupted per call.
pub const MAX_THREADS: usize = 64;

/// The nice value the helper asks for when it may not run real-time (it
/// keeps its own when refused).
const HELPER_NICE: i32 = -10;

/// Puts the helper ahead of ordinary work, so that it gets a CPU the
/// moment the thread it interrupted stops: first-in-first-out real-time at
/// the lowest priority (it preempts every ordinary task, whatever group or
/// autogroup the scheduler shares CPU time by — a nice value only counts
/// inside its own group), else nice [`HELPER_NICE`]. Both need
/// `CAP_SYS_NICE`; without it the helper runs as it is. Never applied to
/// the target. The helper mostly sleeps (on SIGCHLD), and it is bounded by
/// its deadline (SIGKILL) and by the kernel's real-time throttling.
fn raise_priority() {
    let p = libc::sched_param { sched_priority: 1 };
    // SAFETY: changes this (single-threaded) helper's own policy only.
    let rt = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &p) } == 0;
    if !rt {
        // SAFETY: as above, its own nice value.
        unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, HELPER_NICE) };
    }
}

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
    /// How long the thread was stopped, in microseconds (from the
    /// interrupt to the detach: it includes the wait for the stop).
    pub stopped_us: u64,
}

/// Why a thread could not be sampled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// `PTRACE_SEIZE` failed with this errno (EPERM: ptrace scope, an LSM,
    /// or already traced).
    Seize(i32),
    /// It did not stop within [`STOP_WAIT`] (an uninterruptible wait, or
    /// no CPU for it). The helper exited at once, which withdrew the
    /// interrupt.
    NoStop,
    /// Registers could not be read.
    Regs(i32),
    /// It exited.
    Gone,
    /// It was no longer running when it was about to be interrupted (it
    /// had gone to sleep): left alone, not interrupted.
    Asleep,
    /// Its turn never came: the deadline passed first (threads before it
    /// did not stop in time, or the helper got no CPU).
    NotReached,
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
/// its registers and the top of its stack (read through `mem_dir`'s `mem`:
/// `dir` itself, or a live thread's directory when the leader exited),
/// and lets it go. Answers one
/// entry per TID, in order. Helpers are started one after another until
/// every thread was handled or `timeout` passed (threads left then are
/// [`Refused::NotReached`]); the whole call fails only when no helper
/// could be started, or the first one answered nothing in time.
pub fn sample(
    dir: &ProcDir,
    mem_dir: &ProcDir,
    tids: &[i32],
    timeout: Duration,
) -> Outcome<Vec<(i32, Result<Sample, Refused>)>> {
    if !dir.is_live() {
        return Err(Failure::Unsupported {
            what: "not a live process".into(),
        });
    }
    let deadline = Instant::now() + timeout;
    let tids: Vec<(i32, StatPath)> = tids
        .iter()
        .take(MAX_THREADS)
        .map(|&t| (t, stat_path(t)))
        .collect();
    let mem = mem_dir.open_with(
        c"mem",
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
    )?;
    let task = dir.open_with(
        c"task",
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
    )?;
    let (memfd, taskfd) = (mem.as_raw_fd(), task.as_raw_fd());
    let per = 4 + 4 + 4 + 8 * 5 + STACK_BYTES;
    let mut v: Vec<(i32, Result<Sample, Refused>)> = Vec::with_capacity(tids.len());
    let mut rest: &[(i32, StatPath)] = &tids;
    while !rest.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let cap = per.saturating_mul(rest.len());
        let todo = rest;
        let got = crate::helper::in_child_shared(left, None, &[memfd, taskfd], cap, |b| {
            raise_priority();
            block_sigchld();
            for (tid, path) in todo {
                if !one(*tid, path, memfd, taskfd, b) {
                    // A thread is still seized with its interrupt
                    // pending: exit now (the caller starts another
                    // helper for the rest).
                    return;
                }
            }
        });
        let shared = match got {
            Ok(s) => s,
            Err(f) if v.is_empty() => return Err(f),
            Err(_) => break,
        };
        let before = v.len();
        parse(&shared.bytes, &mut v);
        let done = v.len().saturating_sub(before);
        if done == 0 && v.is_empty() {
            if let Some(f) = shared.cut {
                return Err(f);
            }
        }
        rest = rest.get(done..).unwrap_or_default();
        if done == 0 || shared.cut.is_some() {
            break;
        }
    }
    for (tid, _) in rest {
        v.push((*tid, Err(Refused::NotReached)));
    }
    Ok(v)
}

/// Appends the records in `b` to `v`.
fn parse(b: &[u8], v: &mut Vec<(i32, Result<Sample, Refused>)>) {
    let mut r = Reader::new(b);
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

/// Samples one thread, in the helper child: system calls only. Commits
/// one record for it. False when the thread did not stop in time: it is
/// still seized with its interrupt pending, and the helper must exit now.
///
/// The thread's state is read again right before it is interrupted, and a
/// thread that went to sleep meanwhile is left alone: an interrupt landing
/// on a thread in an interruptible wait makes calls that are not restarted
/// (`epoll_wait`, `nanosleep` with a handler, `select`…) return `EINTR` to
/// the program. That narrows, but cannot close, the window: a thread may
/// still enter such a call in the microseconds between that read and the
/// interrupt.
fn one(tid: i32, path: &StatPath, memfd: i32, taskfd: i32, b: &mut Board<'_>) -> bool {
    let head = |b: &mut Board<'_>, code: i32, e: i32| {
        b.cur.put(&tid.to_le_bytes());
        b.cur.put(&code.to_le_bytes());
        b.cur.put(&e.to_le_bytes());
        b.commit();
    };
    match is_running(taskfd, path) {
        None => {
            head(b, E_GONE, 0);
            return true;
        }
        Some(false) => {
            head(b, E_ASLEEP, 0);
            return true;
        }
        Some(true) => {}
    }
    let (seize, interrupt) = (
        libc::PTRACE_SEIZE as libc::c_uint,
        libc::PTRACE_INTERRUPT as libc::c_uint,
    );
    // SAFETY: ptrace on a TID; no memory is passed.
    if unsafe { libc::ptrace(seize, tid, 0usize, 0usize) } != 0 {
        let e = errno();
        head(b, if e == libc::ESRCH { E_GONE } else { E_SEIZE }, e);
        return true;
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
        let now = now_ns();
        if now > deadline {
            break None;
        }
        // Woken by the stop's SIGCHLD; the slice bounds a missed one.
        wait_sigchld(deadline.saturating_sub(now).min(1_000_000));
    };
    match stopped {
        Some(true) => {}
        Some(false) => {
            head(b, E_GONE, 0);
            return true;
        }
        None => {
            // Seized, interrupt pending, and not detachable until it
            // stops: the record is in shared memory already (no write
            // that could block), and the helper's exit unlinks it.
            head(b, E_NOSTOP, 0);
            return false;
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
        head(b, E_REGS, e);
        return true;
    }
    let (ip, sp, bp) = (regs.rip, regs.rsp, regs.rbp);
    // The record is built in place: the stack goes straight into shared
    // memory, after a placeholder for the timing and length written once
    // they are known; it is committed whole after the detach.
    b.cur.put(&tid.to_le_bytes());
    b.cur.put(&OK.to_le_bytes());
    b.cur.put(&0i32.to_le_bytes());
    let fixed = b.cur.len;
    for w in [ip, sp, bp, 0, 0] {
        b.cur.put(&w.to_le_bytes());
    }
    let room = b.cur.room().min(STACK_BYTES);
    let n = match b.cur.tail(room) {
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
    b.cur.patch(fixed + 24, &us.to_le_bytes());
    b.cur.patch(fixed + 32, &(n as u64).to_le_bytes());
    b.cur.len = b.cur.len.saturating_add(n);
    b.commit();
    true
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
        // On a loaded machine the thread may get no CPU within STOP_WAIT
        // of an interrupt (it is then let go unsampled): ask again.
        let mut got = Vec::new();
        for _ in 0..50 {
            got = sample(&dir, &dir, &[pid], Duration::from_secs(5)).unwrap();
            assert_eq!(got.len(), 1);
            match &got[0].1 {
                Err(Refused::NoStop) => continue,
                _ => break,
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        let (tid, s) = &got[0];
        assert_eq!(*tid, pid);
        let s = s.as_ref().unwrap();
        assert!(s.sp != 0 && s.ip != 0, "{s:?}");
        assert!(!s.stack.is_empty());
    }
}

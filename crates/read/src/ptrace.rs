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
//! hard deadline: if a thread does not stop in time (it is in an
//! uninterruptible wait), the helper is SIGKILLed, and the kernel detaches
//! every thread it had seized as it exits. Never `PTRACE_ATTACH`: it sends
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
    /// It did not stop within [`STOP_WAIT`] (an uninterruptible wait).
    NoStop,
    /// Registers could not be read.
    Regs(i32),
    /// It exited.
    Gone,
}

const OK: i32 = 0;
const E_SEIZE: i32 = 1;
const E_NOSTOP: i32 = 2;
const E_REGS: i32 = 3;
const E_GONE: i32 = 4;

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
    let tids: Vec<i32> = tids.iter().copied().take(MAX_THREADS).collect();
    let mem = dir.open_with(
        c"mem",
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
    )?;
    let memfd = mem.as_raw_fd();
    let per = 4 + 4 + 8 * 5 + STACK_BYTES;
    let cap = per.saturating_mul(tids.len());
    let answer = crate::helper::in_child_keeping(timeout, &[memfd], cap, |out| {
        let mut c = Cursor::new(out);
        for &tid in &tids {
            one(tid, memfd, &mut c);
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

/// Samples one thread, in the helper child: system calls only.
fn one(tid: i32, memfd: i32, c: &mut Cursor<'_>) {
    let head = |c: &mut Cursor<'_>, code: i32, e: i32| {
        c.put(&tid.to_le_bytes());
        c.put(&code.to_le_bytes());
        c.put(&e.to_le_bytes());
    };
    let (seize, interrupt, detach) = (
        libc::PTRACE_SEIZE as libc::c_uint,
        libc::PTRACE_INTERRUPT as libc::c_uint,
        libc::PTRACE_DETACH as libc::c_uint,
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
            break libc::WIFSTOPPED(status);
        }
        if r < 0 || now_ns() > deadline {
            break false;
        }
        let pause = libc::timespec {
            tv_sec: 0,
            tv_nsec: 20_000,
        };
        // SAFETY: nanosleep reads `pause`.
        unsafe { libc::nanosleep(&pause, std::ptr::null_mut()) };
    };
    if !stopped {
        // Still seized, with the interrupt pending: it is let go when this
        // helper exits (a seized thread that never stopped cannot be
        // detached now). Nothing else is pending on it.
        head(c, E_NOSTOP, 0);
        return;
    }
    // A signal-delivery stop (the thread got a signal meanwhile) must have
    // its signal passed on at the detach; an interrupt or group stop not.
    let event = (status >> 16) & 0xff;
    let resend = if event == 0 {
        libc::WSTOPSIG(status)
    } else {
        0
    };
    // SAFETY: user_regs_struct is plain data; PTRACE_GETREGS fills it.
    let mut regs: libc::user_regs_struct = unsafe { std::mem::zeroed() };
    let getregs = libc::PTRACE_GETREGS as libc::c_uint;
    // SAFETY: `regs` is a valid user_regs_struct.
    let ok = unsafe { libc::ptrace(getregs, tid, 0usize, &mut regs as *mut _) } == 0;
    if !ok {
        let e = errno();
        // SAFETY: as above.
        unsafe { libc::ptrace(detach, tid, 0usize, resend as usize) };
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
    // SAFETY: as above.
    unsafe { libc::ptrace(detach, tid, 0usize, resend as usize) };
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

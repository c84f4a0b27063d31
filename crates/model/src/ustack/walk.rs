//! Walking one thread's stack from its registers, and why a thread could
//! not be sampled.

use super::{End, How, MAX_FRAMES, Regs, Start, Walked};
use crate::ustack::modules::Code;
use framehop::x86_64::{CacheX86_64, UnwindRegsX86_64};
use framehop::{FrameAddress, Unwinder};
use procscope_parse::syscall::SyscallState;
use procscope_read::memory::Memory;
use procscope_read::ptrace::Refused;
use procscope_read::{Failure, Outcome, ProcDir, ProcRoot};

/// A thread's `syscall` now.
fn syscall_now(dir: &ProcDir, tid: i32) -> Outcome<SyscallState> {
    dir.task(tid).and_then(|t| {
        let mut b = Vec::new();
        t.read(c"syscall", &mut b, 4096)?;
        SyscallState::parse(&b).map_err(|e| Failure::malformed("syscall", e))
    })
}

/// Where to walk a thread from that was running a moment ago but went to
/// sleep before it could be interrupted: its `syscall` now.
pub(super) fn blocked_now(dir: &ProcDir, tid: i32) -> Outcome<Start> {
    match syscall_now(dir, tid)? {
        SyscallState::InSyscall { sp, pc, .. } => {
            Ok((Regs { ip: pc, sp, bp: 0 }, How::Syscall, None))
        }
        SyscallState::Blocked { sp, pc } => Ok((Regs { ip: pc, sp, bp: 0 }, How::Fault, None)),
        SyscallState::Running => Err(Failure::Absent {
            what: "it kept going to sleep and waking while it was to be interrupted".into(),
        }),
    }
}

/// The thread that traces `tid` (`TracerPid` of its `status`), with its
/// command name when it can be read: `None` when it is not traced.
fn tracer(root: &ProcRoot, dir: &ProcDir, tid: i32) -> Option<(i32, Option<String>)> {
    let mut b = Vec::new();
    dir.task(tid).ok()?.read(c"status", &mut b, 64 << 10).ok()?;
    let pid = tracer_pid(&b)?;
    if pid == 0 {
        return None;
    }
    let mut c = Vec::new();
    let comm = root
        .process(pid)
        .and_then(|d| d.read(c"comm", &mut c, 4096))
        .ok()
        .map(|_| String::from_utf8_lossy(c.trim_ascii_end()).into_owned());
    Some((pid, comm))
}

/// Whether `pid` is a child of this process (a procscope helper, which
/// may be tracing while it samples).
fn ours(root: &ProcRoot, pid: i32) -> bool {
    let mut b = Vec::new();
    root.process(pid)
        .and_then(|d| d.read(c"stat", &mut b, 4096))
        .is_ok()
        && procscope_parse::stat::Stat::parse(&b)
            .is_ok_and(|s| u32::try_from(s.ppid).is_ok_and(|pp| pp == std::process::id()))
}

/// "already traced by PID N (name)" for each thread of `p` that another
/// process traces (not a helper of this procscope). One read of the
/// process's `status` when nothing traces it (`TracerPid` 0: the usual
/// case); each thread's own `status` when something does (a tracer may
/// hold some threads only).
pub(super) fn tracers(
    root: &ProcRoot,
    dir: &ProcDir,
    p: &crate::threads::ProcessThreads,
) -> std::collections::HashMap<i32, String> {
    let mut out = std::collections::HashMap::new();
    let mut b = Vec::new();
    let leader = dir
        .read(c"status", &mut b, 64 << 10)
        .ok()
        .and_then(|_| tracer_pid(&b));
    if leader.unwrap_or(0) == 0 {
        return out;
    }
    for t in &p.threads {
        if let Some((pid, comm)) = tracer(root, dir, t.tid) {
            if ours(root, pid) {
                continue;
            }
            out.insert(
                t.tid,
                match comm {
                    Some(c) => format!("already traced by PID {pid} ({c})"),
                    None => format!("already traced by PID {pid}"),
                },
            );
        }
    }
    out
}

/// `TracerPid:` of a `status` file.
fn tracer_pid(b: &[u8]) -> Option<i32> {
    b.split(|c| *c == b'\n')
        .find_map(|l| l.strip_prefix(b"TracerPid:"))
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| v.trim().parse().ok())
}

/// Why the helper could not sample thread `tid`, as a failure. A refused
/// seize of a thread that another tracer (strace, gdb) holds says so: only
/// one tracer is allowed, whatever the rights.
pub(super) fn refused(r: Refused, root: &ProcRoot, dir: &ProcDir, tid: i32) -> Failure {
    match r {
        Refused::Seize(e) if e == libc_eperm() => match tracer(root, dir, tid) {
            Some((pid, comm)) => Failure::Absent {
                what: match comm {
                    Some(c) => format!("on a CPU, and already traced by PID {pid} ({c})"),
                    None => format!("on a CPU, and already traced by PID {pid}"),
                },
            },
            None => Failure::Denied {
                need: procscope_read::Need::PtraceAttach,
            },
        },
        Refused::Seize(e) => Failure::Absent {
            what: format!("it could not be interrupted (ptrace: errno {e}; already traced?)"),
        },
        Refused::NoStop => Failure::Absent {
            what: format!(
                "on a CPU and did not stop within {} ms of an interrupt",
                procscope_read::ptrace::STOP_WAIT.as_millis()
            ),
        },
        Refused::Regs(e) => Failure::Absent {
            what: format!("its registers could not be read (errno {e})"),
        },
        Refused::Gone => Failure::Gone,
        Refused::NotReached => Failure::Absent {
            what: "on a CPU, and not reached before the deadline (threads before it did not \
                   stop in time)"
                .into(),
        },
        Refused::Asleep => Failure::Absent {
            what: "it went to sleep just before it was to be interrupted".into(),
        },
    }
}

fn libc_eperm() -> i32 {
    rustix::io::Errno::PERM.raw_os_error()
}

/// Walks one thread's stack; for a thread that was not stopped, reads its
/// `syscall` again afterwards and walks once more if it moved.
pub(super) fn walk_thread(
    dir: &ProcDir,
    tid: i32,
    regs: Regs,
    how: How,
    copy: Option<(u64, Vec<u8>)>,
    code: &Code,
    mem: &Memory,
) -> Outcome<Walked> {
    let mut regs = regs;
    for _ in 0..2 {
        let (frames, end) = walk(code, regs, how, copy.as_ref(), mem);
        if matches!(how, How::Interrupted { .. }) {
            return Ok((frames, how, end));
        }
        let now = syscall_now(dir, tid)?;
        match now {
            SyscallState::InSyscall { sp, pc, .. } | SyscallState::Blocked { sp, pc }
                if sp == regs.sp && pc == regs.ip =>
            {
                return Ok((frames, how, end));
            }
            SyscallState::InSyscall { sp, pc, .. } | SyscallState::Blocked { sp, pc } => {
                regs = Regs { ip: pc, sp, bp: 0 };
            }
            SyscallState::Running => {
                return Ok((frames, how, End::Moved));
            }
        }
    }
    Ok((Vec::new(), how, End::Moved))
}

/// x86-64 `__restore_rt`, where a signal handler returns to:
/// `mov $15, %rax; syscall` (rt_sigreturn).
const RESTORE_RT: [u8; 9] = [0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05];

/// When the frame at `at` is a signal handler's return into
/// `__restore_rt`, the registers the kernel saved when the signal came,
/// read from the `ucontext` at `sp` (the handler's `ret` popped the
/// return address: the stack pointer is at `uc`). framehop does not follow
/// glibc's CFI expressions for this frame, and the walk ended there.
fn sigreturn(
    at: FrameAddress,
    sp: u64,
    read: &mut dyn FnMut(u64) -> Result<u64, ()>,
) -> Option<Regs> {
    let FrameAddress::ReturnAddress(ra) = at else {
        return None;
    };
    let a = ra.get();
    let w0 = read(a).ok()?.to_le_bytes();
    let w1 = read(a.checked_add(8)?).ok()?.to_le_bytes();
    if w0.get(..8)? != RESTORE_RT.get(..8)? || w1.first()? != RESTORE_RT.get(8)? {
        return None;
    }
    // struct ucontext: uc_flags, uc_link, uc_stack (24 bytes), then
    // mcontext's gregs: r8…r15, rdi, rsi, rbp (10), rbx, rdx, rax, rcx,
    // rsp (15), rip (16).
    let greg = |i: u64| sp.checked_add(40)?.checked_add(i.checked_mul(8)?);
    let bp = read(greg(10)?).ok()?;
    let rsp = read(greg(15)?).ok()?;
    let ip = read(greg(16)?).ok()?;
    (ip != 0 && rsp != 0).then_some(Regs { ip, sp: rsp, bp })
}

/// Walks from `regs`: stack words from `copy` (the bytes taken while the
/// thread was stopped, from its stack pointer up) when they cover the
/// address, else from the process's memory.
fn walk(
    code: &Code,
    regs: Regs,
    how: How,
    copy: Option<&(u64, Vec<u8>)>,
    mem: &Memory,
) -> (Vec<FrameAddress>, End) {
    let mut pager = mem.pager();
    let mut read = |addr: u64| -> Result<u64, ()> {
        if let Some((base, bytes)) = copy {
            if let Some(w) = addr
                .checked_sub(*base)
                .and_then(|o| usize::try_from(o).ok())
                .and_then(|o| bytes.get(o..o.checked_add(8)?))
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
            {
                return Ok(u64::from_le_bytes(w));
            }
        }
        pager.word(addr).ok_or(())
    };
    let mut cache = CacheX86_64::<_>::new();
    // framehop's own iterator, stepped here so that the registers are at
    // hand: a signal frame is walked through with the registers the
    // kernel saved (see `sigreturn`).
    let mut uregs = UnwindRegsX86_64::new(regs.ip, regs.sp, regs.bp);
    let mut state: Option<FrameAddress> = None;
    let mut next = |uregs: &mut UnwindRegsX86_64,
                    state: &mut Option<FrameAddress>,
                    read: &mut dyn FnMut(u64) -> Result<u64, ()>|
     -> Result<Option<FrameAddress>, framehop::Error> {
        let Some(at) = *state else {
            let first = FrameAddress::InstructionPointer(regs.ip);
            *state = Some(first);
            return Ok(Some(first));
        };
        if let Some(r) = sigreturn(at, uregs.sp(), read) {
            *uregs = UnwindRegsX86_64::new(r.ip, r.sp, r.bp);
            let f = FrameAddress::InstructionPointer(r.ip);
            *state = Some(f);
            return Ok(Some(f));
        }
        match code
            .unwinder
            .unwind_frame(at, uregs, &mut cache, &mut &mut *read)?
        {
            Some(ra) => {
                let f = FrameAddress::from_return_address(ra)
                    .ok_or(framehop::Error::ReturnAddressIsNull)?;
                *state = Some(f);
                Ok(Some(f))
            }
            None => Ok(None),
        }
    };
    // Only a thread read while it was stopped has its frame pointer.
    let have_bp = matches!(how, How::Interrupted { .. });
    let mut frames: Vec<FrameAddress> = Vec::new();
    let end = loop {
        if frames.len() >= MAX_FRAMES {
            break End::Limit;
        }
        match next(&mut uregs, &mut state, &mut read) {
            Ok(Some(f)) => {
                let a = f.address_for_lookup();
                if !frames.is_empty() && code.module_of(a).is_none() {
                    break End::NotCode { addr: f.address() };
                }
                frames.push(f);
            }
            // Without unwind information framehop falls back on the frame
            // pointer, and takes a 0 one for the outermost frame: that is
            // not the root, it is code it cannot walk through.
            Ok(None) => match frames.last().map(|f| f.address_for_lookup()) {
                Some(a) if !code.has_unwind_info(a) => {
                    break End::NoUnwindInfo {
                        addr: frames.last().map_or(a, |f| f.address()),
                    };
                }
                _ => break End::Root,
            },
            Err(framehop::Error::CouldNotReadStack(addr)) if addr < 0x10000 && regs.bp == 0 => {
                break if have_bp {
                    End::NoFramePointer
                } else {
                    End::NeedsFramePointer
                };
            }
            Err(framehop::Error::CouldNotReadStack(addr)) => break End::Unreadable { addr },
            Err(_) => break End::NoProgress,
        }
    };
    (frames, end)
}

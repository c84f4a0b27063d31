//! User-space stacks, taken without stopping what need not be stopped.
//!
//! A thread blocked in the kernel (in a system call, or a page fault) is
//! never stopped: `task/TID/syscall` gives its stack pointer and program
//! counter, its stack is read from `/proc/PID/mem` under the deadline, and
//! `syscall` is read again afterwards: a thread that moved meanwhile is
//! walked again, once. Only threads on a CPU are stopped, one at a time,
//! for the few microseconds it takes to copy their registers and the top
//! of their stack ([`procscope_read::ptrace`], in a killable helper).
//!
//! Frames are walked with framehop (`.eh_frame`, `.debug_frame`, frame
//! pointers as a fallback) and named with blazesym. From a system call the
//! frame pointer register is not known: the walk goes as far as the unwind
//! rules need only the stack pointer (glibc's system call wrappers and most
//! `-O2` code) and says where it stopped and why.

mod modules;
mod symbols;

pub use modules::{Cache as ModuleCache, Code, Mapping, parse_maps};

use crate::bytes::Bytes;
use crate::threads::ProcessThreads;
use framehop::x86_64::{CacheX86_64, UnwindRegsX86_64};
use framehop::{FrameAddress, Unwinder};
use procscope_parse::stat::TaskState;
use procscope_parse::syscall::{Abi, SyscallState};
use procscope_read::guard::{Ctx, Session, Target};
use procscope_read::memory::Memory;
use procscope_read::{Failure, Outcome, ProcDir, ProcRoot};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// At most this many frames are walked per thread.
pub const MAX_FRAMES: usize = 128;

/// One user-space frame.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, serde::Serialize)]
pub struct UserFrame {
    /// The address (the program counter for the innermost frame, return
    /// addresses after it; inlined frames repeat their caller's address).
    pub addr: u64,
    /// The file it is in, as the process maps it.
    pub module: Option<Bytes>,
    /// The function (demangled), when known.
    pub function: Option<String>,
    /// Offset of `addr` into the function (not for inlined frames).
    pub offset: Option<u64>,
    /// Source file, from debug information.
    pub file: Option<Bytes>,
    /// Source line.
    pub line: Option<u32>,
    /// A function inlined into the next frame (same address).
    pub inlined: bool,
}

/// How the registers a walk started from were taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum How {
    /// From `syscall`: blocked in a system call; not stopped.
    Syscall,
    /// From `syscall`: blocked outside a system call (a page fault); not
    /// stopped.
    Fault,
    /// It was on a CPU: stopped alone (`PTRACE_INTERRUPT`) for this many
    /// microseconds.
    Interrupted {
        /// How long it was stopped.
        stopped_us: u64,
    },
}

/// Why a walk ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum End {
    /// At the outermost frame (the unwind information says so).
    Root,
    /// At [`MAX_FRAMES`].
    Limit,
    /// The stack could not be read at this address.
    Unreadable {
        /// The address.
        addr: u64,
    },
    /// The next frame's rule needs the frame pointer register, which a
    /// thread's `syscall` file does not give.
    NeedsFramePointer,
    /// A return address outside any executable mapping.
    NotCode {
        /// The address.
        addr: u64,
    },
    /// The walk did not move up the stack.
    NoProgress,
    /// The thread kept moving while it was read.
    Moved,
}

/// A thread's user-space stack.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserStack {
    /// Innermost first.
    pub frames: Vec<UserFrame>,
    /// Where the registers came from.
    pub how: How,
    /// Why the walk ended.
    pub end: End,
}

impl UserStack {
    /// The innermost frame with a function name that is not in the C
    /// library or the dynamic loader: the program's own function that
    /// waits (`db_commit` rather than `__futex_abstimed_wait_common`).
    pub fn caller(&self) -> Option<&UserFrame> {
        let own = |f: &&UserFrame| {
            f.function.is_some()
                && !f.module.as_ref().is_some_and(|m| {
                    let name = m
                        .as_slice()
                        .rsplit(|b| *b == b'/')
                        .next()
                        .unwrap_or_default();
                    name.starts_with(b"libc.so")
                        || name.starts_with(b"libc-")
                        || name.starts_with(b"libpthread")
                        || name.starts_with(b"ld-linux")
                })
        };
        self.frames.iter().find(own)
    }
}

/// A walk's raw frames, how its registers were taken and why it ended.
type Walked = (Vec<FrameAddress>, How, End);

/// Registers a walk starts from.
#[derive(Debug, Clone, Copy)]
struct Regs {
    ip: u64,
    sp: u64,
    bp: u64,
}

/// What the run shares between processes: unwind sections by file.
#[derive(Debug, Default)]
pub struct Cache {
    modules: ModuleCache,
}

/// Fills in [`crate::threads::ThreadInfo::user`] for every thread of `p`.
/// Threads on a CPU are stopped one at a time for microseconds when
/// `interrupt` is set; otherwise they say they were not stopped.
pub fn read(
    root: &ProcRoot,
    p: &mut ProcessThreads,
    session: &Session,
    cache: &Arc<Cache>,
    interrupt: bool,
) {
    if let Err(f) = read_all(root, p, session, cache, interrupt) {
        for t in &mut p.threads {
            if t.user.is_none() {
                t.user = Some(Err(f.clone()));
            }
        }
    }
}

fn read_all(
    root: &ProcRoot,
    p: &mut ProcessThreads,
    session: &Session,
    cache: &Arc<Cache>,
    interrupt: bool,
) -> Outcome<()> {
    match &p.abi {
        Ok(Abi::X86_64) => {}
        Ok(a) => {
            return Err(Failure::Unsupported {
                what: format!("user stacks of {} processes", a.label()),
            });
        }
        Err(f) => return Err(f.clone()),
    }
    if !root.is_live() {
        return Err(Failure::Unsupported {
            what: "a copied or fixture tree has no process memory".into(),
        });
    }
    let dir = root.process(p.pid)?;
    let me = Target::pid(p.pid);
    let proc_path = root.path().join(p.pid.to_string());
    let (d, c) = (dir.clone(), cache.clone());
    // `maps` takes the memory lock, and opening the mapped files can wait on
    // their filesystem: both under the deadline.
    let code = Arc::new(session.once(Some(me), move || {
        let mut b = Vec::new();
        d.read(c"maps", &mut b, 64 << 20)?;
        Ok(modules::code(&c.modules, &proc_path, parse_maps(&b)))
    })?);
    let mem = Memory::open(&dir)?;

    // Threads on a CPU: stopped one at a time in the helper.
    let running: Vec<i32> = p
        .threads
        .iter()
        .filter(|t| matches!(t.syscall, Ok(SyscallState::Running)))
        .map(|t| t.tid)
        .collect();
    let mut samples: HashMap<i32, Result<procscope_read::ptrace::Sample, Failure>> = HashMap::new();
    if !interrupt {
        for tid in &running {
            samples.insert(
                *tid,
                Err(Failure::Absent {
                    what: "on a CPU (not stopped to read it)".into(),
                }),
            );
        }
    } else if !running.is_empty() {
        let timeout = session
            .timeout()
            .unwrap_or(std::time::Duration::from_secs(1));
        match procscope_read::ptrace::sample(&dir, &running, timeout) {
            Ok(v) => {
                for (tid, r) in v {
                    samples.insert(tid, r.map_err(refused));
                }
            }
            Err(f) => {
                for tid in &running {
                    samples.insert(*tid, Err(f.clone()));
                }
            }
        }
    }

    // Where each thread's walk starts from.
    let mut jobs = Vec::new();
    for t in &mut p.threads {
        let start = match (&t.syscall, t.state.as_ref().ok()) {
            (Ok(SyscallState::InSyscall { sp, pc, .. }), _) => Ok((
                Regs {
                    ip: *pc,
                    sp: *sp,
                    bp: 0,
                },
                How::Syscall,
                None,
            )),
            (Ok(SyscallState::Blocked { sp, pc }), _) => Ok((
                Regs {
                    ip: *pc,
                    sp: *sp,
                    bp: 0,
                },
                How::Fault,
                None,
            )),
            (Ok(SyscallState::Running), _) => match samples.remove(&t.tid) {
                Some(Ok(s)) => Ok((
                    Regs {
                        ip: s.ip,
                        sp: s.sp,
                        bp: s.bp,
                    },
                    How::Interrupted {
                        stopped_us: s.stopped_us,
                    },
                    Some((s.sp, s.stack)),
                )),
                Some(Err(f)) => Err(f),
                None => Err(Failure::Absent {
                    what: "on a CPU, and more running threads than are ever stopped".into(),
                }),
            },
            (Err(_), Some(TaskState::Zombie | TaskState::Dead)) => Err(Failure::Absent {
                what: "it exited".into(),
            }),
            (Err(f), _) => Err(f.clone()),
        };
        match start {
            Ok((regs, how, copy)) => jobs.push((t.tid, regs, how, copy)),
            Err(f) => t.user = Some(Err(f)),
        }
    }

    let (d, c2, m2) = (dir.clone(), code.clone(), mem.clone());
    let walked = session.run(
        jobs,
        move |(tid, regs, how, copy), ctx: &Ctx<(), (i32, Outcome<Walked>)>| {
            ctx.target(me);
            let r = ctx.guarded(|| Ok(walk_thread(&d, tid, regs, how, copy, &c2, &m2)));
            (tid, r.and_then(|x| x))
        },
    );
    let mut raw: HashMap<i32, Outcome<Walked>> = HashMap::new();
    for f in walked {
        match f.rest {
            Ok((tid, r)) => {
                raw.insert(tid, r);
            }
            Err(e) => {
                // A job that timed out: which thread is not known here; the
                // threads without an answer get this failure below.
                raw.entry(-1).or_insert(Err(e));
            }
        }
    }
    let lost = raw.remove(&-1).and_then(|r| r.err());

    // Symbols: every address of every thread, per module, in one guarded
    // call (it opens the files and their debug files).
    let mut wanted: BTreeMap<usize, Vec<u64>> = BTreeMap::new();
    for (frames, _, _) in raw.values().filter_map(|r| r.as_ref().ok()) {
        for f in frames {
            let a = f.address_for_lookup();
            if let Some((m, i)) = code.module_of(a) {
                wanted
                    .entry(i)
                    .or_default()
                    .push(a.wrapping_sub(m.start).wrapping_add(m.offset));
            }
        }
    }
    for v in wanted.values_mut() {
        v.sort_unstable();
        v.dedup();
    }
    let c3 = code.clone();
    // blazesym's symbolizer is not `Send`: one per process, made on the
    // guarded worker (within a process every address shares it).
    let names: HashMap<(usize, u64), Vec<UserFrame>> = session
        .once(Some(me), move || {
            let s = symbols::symbolizer();
            let mut out = HashMap::new();
            for (i, offs) in &wanted {
                let Some(m) = c3.modules.get(*i) else {
                    continue;
                };
                for (off, frames) in symbols::symbolize(&s, &m.open_path, offs) {
                    out.insert((*i, off), frames);
                }
            }
            Ok(out)
        })
        .unwrap_or_default();

    for t in &mut p.threads {
        if t.user.is_some() {
            continue;
        }
        t.user = Some(match raw.remove(&t.tid) {
            Some(Ok((frames, how, end))) => Ok(UserStack {
                frames: name_frames(&code, &names, &frames),
                how,
                end,
            }),
            Some(Err(f)) => Err(f),
            None => Err(lost.clone().unwrap_or(Failure::Gone)),
        });
    }
    Ok(())
}

/// Names `frames`: each address's symbols (one frame per inlined
/// function, innermost first), else the bare address and its module.
fn name_frames(
    code: &Code,
    names: &HashMap<(usize, u64), Vec<UserFrame>>,
    frames: &[FrameAddress],
) -> Vec<UserFrame> {
    let mut out = Vec::new();
    for f in frames {
        let addr = f.address();
        let lookup = f.address_for_lookup();
        let module = code.module_of(lookup);
        let named = module.and_then(|(m, i)| {
            names.get(&(i, lookup.wrapping_sub(m.start).wrapping_add(m.offset)))
        });
        let module_name = module
            .and_then(|(_, i)| code.modules.get(i))
            .map(|m| m.name.clone());
        match named {
            Some(v) => {
                for n in v {
                    let mut n = n.clone();
                    n.addr = addr;
                    n.module = module_name.clone();
                    // Offsets were taken at the lookup address (one byte
                    // before a return address): give them at the address.
                    n.offset = n
                        .offset
                        .map(|o| o.saturating_add(addr.saturating_sub(lookup)));
                    out.push(n);
                }
            }
            None => out.push(UserFrame {
                addr,
                module: module_name,
                ..UserFrame::default()
            }),
        }
    }
    out
}

/// Why the helper could not sample a thread, as a failure.
fn refused(r: procscope_read::ptrace::Refused) -> Failure {
    use procscope_read::ptrace::Refused;
    match r {
        Refused::Seize(e) if e == libc_eperm() => Failure::Denied {
            need: procscope_read::Need::PtraceAttach,
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
    }
}

fn libc_eperm() -> i32 {
    rustix::io::Errno::PERM.raw_os_error()
}

/// Walks one thread's stack; for a thread that was not stopped, reads its
/// `syscall` again afterwards and walks once more if it moved.
fn walk_thread(
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
        let (frames, end) = walk(code, regs, copy.as_ref(), mem);
        if matches!(how, How::Interrupted { .. }) {
            return Ok((frames, how, end));
        }
        let now = dir.task(tid).and_then(|t| {
            let mut b = Vec::new();
            t.read(c"syscall", &mut b, 4096)?;
            SyscallState::parse(&b).map_err(|e| Failure::malformed("syscall", e))
        })?;
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

/// Walks from `regs`: stack words from `copy` (the bytes taken while the
/// thread was stopped, from its stack pointer up) when they cover the
/// address, else from the process's memory.
fn walk(
    code: &Code,
    regs: Regs,
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
    let mut it = code.unwinder.iter_frames(
        regs.ip,
        UnwindRegsX86_64::new(regs.ip, regs.sp, regs.bp),
        &mut cache,
        &mut read,
    );
    let mut frames = Vec::new();
    let end = loop {
        if frames.len() >= MAX_FRAMES {
            break End::Limit;
        }
        match it.next() {
            Ok(Some(f)) => {
                let a = f.address_for_lookup();
                if !frames.is_empty() && code.module_of(a).is_none() {
                    break End::NotCode { addr: f.address() };
                }
                frames.push(f);
            }
            Ok(None) => break End::Root,
            Err(framehop::Error::CouldNotReadStack(addr)) if addr < 0x10000 && regs.bp == 0 => {
                break End::NeedsFramePointer;
            }
            Err(framehop::Error::CouldNotReadStack(addr)) => break End::Unreadable { addr },
            Err(_) => break End::NoProgress,
        }
    };
    (frames, end)
}

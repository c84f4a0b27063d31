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
//! The files a process maps are never opened by procscope itself: a
//! helper copies each into a sealed memfd ([`procscope_read::modcopy`]),
//! killed at the deadline, so a library on a filesystem that does not
//! answer, or a FIFO put at its path, blocks nothing here; such a module
//! is named in [`UserStack::unread`]. The unwinder and the symbolizer both
//! read those copies, made once per file per run.
//!
//! Frames are walked with framehop (`.eh_frame`, `.debug_frame`, frame
//! pointers as a fallback) and named with blazesym. From a system call the
//! frame pointer register is not known: the walk goes as far as the unwind
//! rules need only the stack pointer (glibc's system call wrappers and most
//! `-O2` code) and says where it stopped and why.

mod modules;
mod recorded;
mod symbols;
mod walk;

pub use modules::{Cache as ModuleCache, Code, Mapping, parse_maps};

use crate::bytes::Bytes;
use crate::threads::ProcessThreads;
use framehop::FrameAddress;
use procscope_parse::stat::TaskState;
use procscope_parse::syscall::{Abi, SyscallState};
use procscope_read::guard::{Ctx, Session, Target};
use procscope_read::memory::Memory;
use procscope_read::ptrace::Refused;
use procscope_read::{Failure, Outcome, ProcRoot};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// At most this many frames are walked per thread.
pub const MAX_FRAMES: usize = 128;

/// One user-space frame.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum How {
    /// From `syscall`: blocked in a system call; not stopped.
    Syscall,
    /// From `syscall`: blocked outside a system call (a page fault); not
    /// stopped.
    Fault,
    /// It was already stopped (`T`/`t`: by a signal or a debugger), not by
    /// procscope: registers from `syscall`.
    Stopped,
    /// It was on a CPU: stopped alone (`PTRACE_INTERRUPT`) for this many
    /// microseconds.
    Interrupted {
        /// How long it was stopped.
        stopped_us: u64,
    },
}

/// Why a walk ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
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
    /// The next frame's rule needs the frame pointer, and the thread's
    /// (read while it was stopped) is 0: the code keeps none.
    NoFramePointer,
    /// The code at this address has no unwind information (no `.eh_frame`
    /// or `.debug_frame`) and no frame pointer leads further.
    NoUnwindInfo {
        /// The address.
        addr: u64,
    },
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
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UserStack {
    /// Innermost first.
    pub frames: Vec<UserFrame>,
    /// Where the registers came from.
    pub how: How,
    /// Why the walk ended.
    pub end: End,
    /// Why the frames have no names, when naming them failed as a whole
    /// (the symbolizer timed out): they are bare addresses then.
    pub symbols: Option<Failure>,
    /// Another process traces this thread (strace, gdb): "already traced
    /// by PID N (name)".
    pub traced: Option<String>,
    /// The process's modules that could not be read, each with why
    /// ("timed out opening /mnt/x/libfoo.so"): frames in them have no
    /// names, and walks through them no unwind information.
    pub unread: Vec<String>,
}

// `Failure` is not `Hash`: whether names failed is enough to tell stacks
// apart (equal stacks hash equal).
impl std::hash::Hash for UserStack {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.frames.hash(h);
        self.how.hash(h);
        self.end.hash(h);
        self.symbols.is_some().hash(h);
        self.traced.hash(h);
        self.unread.hash(h);
    }
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

/// Where a walk starts: registers, how they were taken, and the stack
/// bytes copied while the thread was stopped (from its stack pointer up).
type Start = (Regs, How, Option<(u64, Vec<u8>)>);

/// Registers a walk starts from.
#[derive(Debug, Clone, Copy)]
struct Regs {
    ip: u64,
    sp: u64,
    bp: u64,
}

/// What the run shares between processes: unwind sections by file, and
/// the names found for each file offset (a host runs many copies of the
/// same programs, waiting at the same places: each place is named once).
#[derive(Debug, Default)]
pub struct Cache {
    modules: ModuleCache,
    names: std::sync::Mutex<Names>,
}

/// Frames named at each file offset (empty: it names nothing), by file
/// (device, inode).
type Names = HashMap<(u64, u64), HashMap<u64, Vec<UserFrame>>>;

impl Cache {
    fn names(&self) -> std::sync::MutexGuard<'_, Names> {
        self.names.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Fills in [`crate::threads::ThreadInfo::user`] for every thread of `p`.
/// Threads on a CPU are stopped one at a time for microseconds when
/// `interrupt` is set; otherwise they say they were not stopped.
///
/// The session's deadline is a budget for the whole process, not for each
/// of its steps (maps, sampling, walking, naming): each step gets what is
/// left of it, but at least a fifth of it, so that a slow first step still
/// leaves the next ones a chance and the whole stays within about twice
/// the deadline even on a saturated machine.
pub fn read(
    root: &ProcRoot,
    p: &mut ProcessThreads,
    session: &Session,
    cache: &Arc<Cache>,
    interrupt: bool,
) {
    if recorded::replay(root, p) {
        return;
    }
    if let Err(f) = read_all(root, p, session, cache, interrupt) {
        for t in &mut p.threads {
            if t.user.is_none() {
                t.user = Some(Err(f.clone()));
            }
        }
    }
    recorded::keep(root, p);
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
    // A leader that exited (pthread_exit in main) is a zombie whose memory
    // is gone while its threads run on: the memory, maps and mapped files
    // are read through a live thread's directory then.
    let live = p.threads.iter().find(|t| {
        t.tid != p.pid
            && !matches!(
                t.state.as_ref().ok(),
                Some(TaskState::Zombie | TaskState::Dead)
            )
    });
    let leader_gone = p.threads.iter().find(|t| t.tid == p.pid).is_some_and(|t| {
        matches!(
            t.state.as_ref().ok(),
            Some(TaskState::Zombie | TaskState::Dead)
        )
    });
    let (mdir, proc_path) = match live {
        Some(t) if leader_gone => (
            dir.task(t.tid)?,
            root.path().join(format!("{}/task/{}", p.pid, t.tid)),
        ),
        _ => (dir.clone(), root.path().join(p.pid.to_string())),
    };
    let me = Target::pid(p.pid);
    let started = std::time::Instant::now();
    let budget = session.timeout();
    let left =
        || session.with_timeout(budget.map(|b| b.saturating_sub(started.elapsed()).max(b / 5)));
    let d = mdir.clone();
    // `maps` takes the memory lock: under the deadline. The first step has
    // the whole deadline (and says so when it passes).
    let maps = session.once(Some(me), move || {
        let mut b = Vec::new();
        d.read(c"maps", &mut b, 64 << 20)?;
        Ok(parse_maps(&b))
    })?;
    // The mapped files are copied by a helper that is killed at the
    // deadline (a file on a filesystem that does not answer, or a FIFO,
    // blocks only the helper); the rest reads procscope's copies.
    let copy_timeout = left()
        .timeout()
        .unwrap_or(std::time::Duration::from_secs(1));
    let code = Arc::new(modules::code(
        &cache.modules,
        &proc_path,
        maps,
        copy_timeout,
    ));
    let unread: Vec<String> = code
        .modules
        .iter()
        .filter_map(|m| m.error.clone())
        .collect();
    let mem = Memory::open(&mdir)?;

    // Threads another process traces: named as traced, and never seized
    // (only one tracer is allowed: the seize would fail anyway, and a
    // thread found in its tracer's stop, or asleep, would say nothing).
    let traced = walk::tracers(root, &dir, p);
    let mut samples: HashMap<i32, Result<procscope_read::ptrace::Sample, Failure>> = HashMap::new();
    // Threads on a CPU: stopped one at a time in the helper.
    let mut running: Vec<i32> = Vec::new();
    for t in p
        .threads
        .iter()
        .filter(|t| matches!(t.syscall, Ok(SyscallState::Running)))
    {
        match traced.get(&t.tid) {
            Some(by) => {
                samples.insert(
                    t.tid,
                    Err(Failure::Absent {
                        what: format!("on a CPU, and {by}"),
                    }),
                );
            }
            None => running.push(t.tid),
        }
    }
    let mut asleep: HashMap<i32, Outcome<Start>> = HashMap::new();
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
        let timeout = left()
            .timeout()
            .unwrap_or(std::time::Duration::from_secs(1));
        match procscope_read::ptrace::sample(&dir, &mdir, &running, timeout) {
            Ok(v) => {
                for (tid, r) in v {
                    match r {
                        // It went to sleep just before it was to be
                        // interrupted: read like any blocked thread.
                        Err(Refused::Asleep) => {
                            asleep.insert(tid, walk::blocked_now(&dir, tid));
                        }
                        r => {
                            samples.insert(tid, r.map_err(|r| walk::refused(r, root, &dir, tid)));
                        }
                    }
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
        // A thread that was already stopped says so, whatever `syscall`
        // shows (-1 for a stop outside a system call).
        let stopped = matches!(
            t.state.as_ref().ok(),
            Some(TaskState::Stopped | TaskState::TracingStop)
        );
        let blocked = |how: How| if stopped { How::Stopped } else { how };
        let start: Outcome<Start> = match (&t.syscall, t.state.as_ref().ok()) {
            (Ok(SyscallState::InSyscall { sp, pc, .. }), _) => Ok((
                Regs {
                    ip: *pc,
                    sp: *sp,
                    bp: 0,
                },
                blocked(How::Syscall),
                None,
            )),
            (Ok(SyscallState::Blocked { sp, pc }), _) => Ok((
                Regs {
                    ip: *pc,
                    sp: *sp,
                    bp: 0,
                },
                blocked(How::Fault),
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
                None if asleep.contains_key(&t.tid) => {
                    asleep.remove(&t.tid).unwrap_or(Err(Failure::Gone))
                }
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
    let walked = left().run(
        jobs,
        move |(tid, regs, how, copy), ctx: &Ctx<(), (i32, Outcome<Walked>)>| {
            ctx.target(me);
            let r = ctx.guarded(|| Ok(walk::walk_thread(&d, tid, regs, how, copy, &c2, &m2)));
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
    // A later step that ran out of time ran out of the whole budget: say
    // so with the deadline the user gave, not with what was left of it.
    let nominal = |f: Failure| match (f, budget) {
        (Failure::TimedOut { .. }, Some(after)) => Failure::TimedOut { after },
        (f, _) => f,
    };
    for r in raw.values_mut() {
        if let Err(f) = r {
            *f = nominal(f.clone());
        }
    }
    let lost = raw.remove(&-1).and_then(|r| r.err());

    // Symbols: every address of every thread, per module, in one guarded
    // call (it reads the sealed copies, and opens debug files).
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
    // Offsets named earlier in this run (in another process mapping the
    // same file) are not named again.
    let mut known: HashMap<(usize, u64), Vec<UserFrame>> = HashMap::new();
    {
        let cached = cache.names();
        for (i, offs) in &mut wanted {
            let Some(per) = code.modules.get(*i).and_then(|m| cached.get(&m.key)) else {
                continue;
            };
            offs.retain(|off| match per.get(off) {
                Some(frames) => {
                    if !frames.is_empty() {
                        known.insert((*i, *off), frames.clone());
                    }
                    false
                }
                None => true,
            });
        }
    }
    wanted.retain(|_, offs| !offs.is_empty());
    let asked = wanted.clone();
    let c3 = code.clone();
    // blazesym's symbolizer is not `Send`: one per process, made on the
    // guarded worker (within a process every address shares it).
    let named: Outcome<HashMap<(usize, u64), Vec<UserFrame>>> = if wanted.is_empty() {
        Ok(HashMap::new())
    } else {
        left().once(Some(me), move || {
            let s = symbols::symbolizer();
            let mut out = HashMap::new();
            for (i, offs) in &wanted {
                let Some(m) = c3.modules.get(*i) else {
                    continue;
                };
                let Some(copy) = &m.copy else { continue };
                let got = match &m.debug {
                    Some(d) => symbols::symbolize_with_debug(&s, copy, d, &m.loads, offs),
                    None => symbols::symbolize(&s, copy, offs),
                };
                for (off, frames) in got {
                    out.insert((*i, off), frames);
                }
            }
            Ok(out)
        })
    };
    // Frames without names must say why, not pass for stripped code.
    let (mut names, symbols) = match named {
        Ok(n) => {
            let mut cached = cache.names();
            for (i, offs) in &asked {
                let Some(m) = code.modules.get(*i) else {
                    continue;
                };
                let per = cached.entry(m.key).or_default();
                for off in offs {
                    per.insert(*off, n.get(&(*i, *off)).cloned().unwrap_or_default());
                }
            }
            (n, None)
        }
        Err(f) => (HashMap::new(), Some(nominal(f))),
    };
    names.extend(known);

    for t in &mut p.threads {
        if t.user.is_some() {
            continue;
        }
        t.user = Some(match raw.remove(&t.tid) {
            Some(Ok((frames, how, end))) => {
                let named = name_frames(&code, &names, &frames);
                let end = cut_or_root(end, how, &named);
                Ok(UserStack {
                    frames: named,
                    how,
                    end,
                    symbols: (!frames.is_empty()).then(|| symbols.clone()).flatten(),
                    traced: traced.get(&t.tid).cloned(),
                    unread: unread.clone(),
                })
            }
            Some(Err(f)) => Err(f),
            None => Err(lost.clone().unwrap_or(Failure::Gone)),
        });
    }
    Ok(())
}

/// Functions a stack really ends in: the program's entry and the start
/// of a thread made by `clone`.
const OUTERMOST: [&str; 7] = [
    "_start",
    "clone",
    "clone3",
    "__clone",
    "__clone3",
    "__thread_start",
    "thread_start",
];

/// framehop ends a walk (no error) when the next frame's rule needs the
/// frame pointer and it is 0 — which it is for every thread read from its
/// `syscall` file, which gives no frame pointer: code built with frame
/// pointers (`-O0`, `-fno-omit-frame-pointer`) looked like the end of the
/// stack. A walk without the frame pointer that ends anywhere but in a
/// program's or thread's first function says it was cut, not that it
/// reached the root.
fn cut_or_root(end: End, how: How, frames: &[UserFrame]) -> End {
    let no_bp = matches!(how, How::Syscall | How::Fault | How::Stopped);
    let name = |i: usize| frames.get(i).and_then(|f| f.function.as_deref());
    let last = frames.len().saturating_sub(1);
    // A stripped program's `_start` has no name: it is the frame that
    // called glibc's `__libc_start_main`.
    let outermost = name(last).is_some_and(|f| OUTERMOST.contains(&f))
        || (last > 0 && name(last - 1).is_some_and(|f| f.starts_with("__libc_start_main")));
    if end == End::Root && no_bp && !frames.is_empty() && !outermost {
        End::NeedsFramePointer
    } else {
        end
    }
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

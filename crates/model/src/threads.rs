//! What every thread of a process is doing in the kernel: state, wchan,
//! system call and kernel stack, and threads grouped by all of those.

use crate::bytes::Bytes;
use crate::clock::Clock;
use crate::listing::read_stat;
use procscope_parse::stack;
use procscope_parse::stat::TaskState;
use procscope_parse::syscall::{Abi, SyscallState};
use procscope_read::guard::{Ctx, Session, Target};
use procscope_read::{Failure, Outcome, ProcDir, ProcRoot};
use std::collections::HashMap;

/// One kernel stack frame, owned.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FrameInfo {
    /// Function.
    pub symbol: Bytes,
    /// Offset into it.
    pub offset: Option<u64>,
    /// Its length.
    pub len: Option<u64>,
    /// Module, if any.
    pub module: Option<Bytes>,
}

/// One thread.
#[derive(Debug, Clone)]
pub struct ThreadInfo {
    /// Thread ID.
    pub tid: i32,
    /// Thread name.
    pub comm: Bytes,
    /// Scheduler state.
    pub state: Outcome<TaskState>,
    /// Where it sleeps (`None`: not sleeping in the kernel).
    pub wchan: Outcome<Option<Bytes>>,
    /// The system call it is in.
    pub syscall: Outcome<SyscallState>,
    /// Kernel stack, innermost first.
    pub stack: Outcome<Vec<FrameInfo>>,
    /// How long ago it last ran, in milliseconds (from `sched`; `None` on
    /// kernels without `CONFIG_SCHED_DEBUG`, or when it is running).
    pub idle_ms: Option<u64>,
    /// What a thread in nanosleep/clock_nanosleep asked for.
    pub sleep: Option<Sleep>,
    /// For a thread waiting on a futex that is a locked pthread mutex: the
    /// TID of another thread of this process that owns it (glibc keeps the
    /// owner next to the lock word, `__owner` at +8; a PI futex holds the
    /// owner in the word itself). Only kept when that TID is a thread of
    /// the process, so a futex that is not a mutex is almost never taken
    /// for one.
    pub futex_owner: Option<i32>,
    /// For a thread in poll, select or epoll_pwait2: the fds it waits on
    /// and a timeout given by pointer, read from its memory.
    pub call_memory: Option<crate::callmem::CallMemory>,
    /// The user-space stack (`None`: not asked for; see
    /// [`crate::ustack::read`]).
    pub user: Option<Outcome<crate::ustack::UserStack>>,
}

/// A sleep's length, read from the timespec the call points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sleep {
    /// A relative sleep of this many milliseconds (it began about when the
    /// thread last ran: see [`ThreadInfo::idle_ms`]).
    For {
        /// Requested length.
        ms: u64,
    },
    /// An absolute deadline (`TIMER_ABSTIME`), this many milliseconds from
    /// now (negative: already passed).
    Until {
        /// Time left.
        left_ms: i64,
    },
}

impl ThreadInfo {
    /// Milliseconds until a sleeping thread wakes, when known.
    pub fn wakes_in_ms(&self) -> Option<i64> {
        match self.sleep? {
            Sleep::Until { left_ms } => Some(left_ms),
            Sleep::For { ms } => {
                let slept = i64::try_from(self.idle_ms?).ok()?;
                Some(i64::try_from(ms).ok()?.saturating_sub(slept))
            }
        }
    }
}

/// Where a thread is, as far as grouping goes: the system call's number,
/// or why there is none.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CallKey {
    /// On a CPU.
    Running,
    /// Blocked outside a system call (a page fault).
    NotInCall,
    /// In this system call (by number, in the task's ABI).
    Nr(i64),
    /// The system call could not be read (the failure's kind).
    Unreadable(&'static str),
}

/// What threads are grouped by: state, system call, wchan and every
/// frame's symbol and offset (same code path). Two threads with equal keys
/// are doing the same thing.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupKey {
    /// Scheduler state (`None`: not read, or left out on purpose — `hung`
    /// groups D and long-asleep tasks in one call together).
    pub state: Option<TaskState>,
    /// The system call.
    pub call: CallKey,
    /// Where it sleeps (`None`: not sleeping, or not read).
    pub wchan: Option<Bytes>,
    /// The kernel frames (symbol, offset), or the kind of failure that
    /// kept them from being read.
    pub frames: Result<Vec<(Bytes, Option<u64>)>, &'static str>,
    /// The user-space frames' addresses, when they were read (`None`: not
    /// asked for, or not read).
    pub user: Option<Vec<u64>>,
}

impl ThreadInfo {
    /// What threads are grouped by: see [`GroupKey`].
    pub fn group_key(&self) -> GroupKey {
        GroupKey {
            state: self.state.as_ref().ok().copied(),
            call: match &self.syscall {
                Ok(SyscallState::Running) => CallKey::Running,
                Ok(SyscallState::Blocked { .. }) => CallKey::NotInCall,
                Ok(SyscallState::InSyscall { nr, .. }) => CallKey::Nr(*nr),
                Err(f) => CallKey::Unreadable(f.kind()),
            },
            wchan: self.wchan.as_ref().ok().cloned().flatten(),
            frames: match &self.stack {
                Ok(f) => Ok(f.iter().map(|f| (f.symbol.clone(), f.offset)).collect()),
                Err(e) => Err(e.kind()),
            },
            user: match &self.user {
                Some(Ok(u)) => Some(u.frames.iter().map(|f| f.addr).collect()),
                _ => None,
            },
        }
    }
}

/// A process's threads.
#[derive(Debug, Clone)]
pub struct ProcessThreads {
    /// Process ID.
    pub pid: i32,
    /// Process name.
    pub comm: Bytes,
    /// The system call ABI, from the executable's ELF header.
    pub abi: Outcome<Abi>,
    /// Every thread, by TID.
    pub threads: Vec<ThreadInfo>,
}

/// Threads with the same [`ThreadInfo::group_key`], largest group first
/// (then by lowest TID). Returns indexes into `threads`.
pub fn group(threads: &[ThreadInfo]) -> Vec<Vec<usize>> {
    let mut by: HashMap<GroupKey, Vec<usize>> = HashMap::new();
    let mut order = Vec::new();
    for (i, t) in threads.iter().enumerate() {
        let k = t.group_key();
        if !by.contains_key(&k) {
            order.push(k.clone());
        }
        by.entry(k).or_default().push(i);
    }
    let mut groups: Vec<Vec<usize>> = order.into_iter().filter_map(|k| by.remove(&k)).collect();
    groups.sort_by(|a, b| b.len().cmp(&a.len()).then(a.first().cmp(&b.first())));
    groups
}

/// The fds the threads' system calls wait on (fd arguments, and the fds
/// polled or selected), decoded, with who is at their other ends: one
/// `fds` read and one peer search for the whole process.
pub fn call_fds(
    root: &ProcRoot,
    p: &ProcessThreads,
    session: &Session,
) -> Vec<crate::fds::FdEntry> {
    let abi = p.abi.as_ref().ok().copied();
    let mut wanted: Vec<i32> = p
        .threads
        .iter()
        .flat_map(|t| match (&t.syscall, abi) {
            (Ok(SyscallState::InSyscall { nr, args, .. }), Some(a)) => a
                .name(*nr)
                .map(|n| crate::calls::fds_in(n, args, t.call_memory.as_ref()))
                .unwrap_or_default(),
            _ => Vec::new(),
        })
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    if wanted.is_empty() {
        return Vec::new();
    }
    let Ok(dir) = root.process(p.pid) else {
        return Vec::new();
    };
    let Ok(mut entries) = crate::fds::read(&dir, &wanted) else {
        return Vec::new();
    };
    crate::fds::resolve_peers(root, p.pid, &mut entries, session);
    entries
}

/// Reads every thread of `pid`. The reads of `syscall` and `stack` wait
/// for the task's exec lock, and the ELF header is read through the `exe`
/// link (on whatever filesystem it lives): all run under the deadline.
pub fn read(root: &ProcRoot, pid: i32, session: &Session) -> Outcome<ProcessThreads> {
    let clock = Clock::read(root)?.with_sched_now(root);
    let dir = root.process(pid)?;
    let mut buf = Vec::new();
    let st = read_stat(&dir, c"stat", &clock, &mut buf)?;
    let d2 = dir.clone();
    let me = Target {
        pid,
        start: Some(st.start_ticks),
    };
    let abi = session.once(Some(me), move || {
        let mut h = Vec::new();
        if let Err(f) = d2.read(c"exe", &mut h, 64) {
            // A leader that exited has no `exe` (its memory is gone) while
            // its threads run the program on: ask one of them.
            let other = d2
                .tids()
                .unwrap_or_default()
                .into_iter()
                .filter(|t| *t != pid)
                .find_map(|t| {
                    h.clear();
                    d2.task(t).ok()?.read(c"exe", &mut h, 64).ok()
                });
            if other.is_none() {
                return Err(f);
            }
        }
        Abi::from_elf_header(&h).ok_or_else(|| Failure::Unsupported {
            what: "executable is not an x86, x86_64, arm or arm64 ELF".into(),
        })
    });
    let tids = dir.tids()?;
    // Threads that exit are reaped at once; a zombie leader listed with
    // others is a leader that exited while its threads run on.
    let others_live = tids.iter().any(|t| *t != pid);
    let known_abi = abi.as_ref().ok().copied();
    let results = session.run(tids, move |tid: i32, ctx: &Ctx<ThreadInfo, ThreadInfo>| {
        ctx.target(me);
        let t = read_thread(&dir, tid, &clock);
        ctx.checkpoint(t.clone());
        let d = dir.clone();
        // `syscall` and `stack` wait for the exec lock, not the memory
        // map's: a process whose memory lock is stuck still answers them.
        let (sc, stack) =
            match ctx.guarded_on(procscope_read::guard::Lock::Exec, || Ok(read_slow(&d, tid))) {
                Ok(v) => v,
                Err(f) => (Err(f.clone()), Err(f)),
            };
        let t = ThreadInfo {
            syscall: sc,
            stack,
            ..t
        };
        // A sleep's timespec, the mutex a futex waiter waits for, or
        // the fds and timeout of poll and select are in the process's
        // memory: their own guarded call, after the syscall and stack
        // are safe.
        let memory = match (&t.syscall, known_abi) {
            (Ok(s @ SyscallState::InSyscall { nr, .. }), Some(a)) => a
                .name(*nr)
                .filter(|n| {
                    n.contains("nanosleep") || n.starts_with("futex") || crate::callmem::wants(n)
                })
                .map(|n| (*s, a, n)),
            _ => None,
        };
        match memory {
            Some((s, a, name)) => {
                ctx.checkpoint(t.clone());
                let (sleep, futex_word, call_memory) = ctx
                    .guarded(|| {
                        let call = match &s {
                            SyscallState::InSyscall { args, .. } => {
                                crate::callmem::read(&d, a, name, args)
                            }
                            _ => None,
                        };
                        Ok((sleep_of(&d, a, &s), futex_word(&d, a, &s), call))
                    })
                    .unwrap_or((None, None, None));
                ThreadInfo {
                    sleep,
                    futex_owner: futex_word,
                    call_memory,
                    ..t
                }
            }
            None => t,
        }
    });
    // Kernel threads run no program: their `syscall` reads as "0 0x0 …",
    // which is not a read(2), and there is no executable to take an ABI from.
    let kernel = st.kernel_thread;
    let zombie = st.state == TaskState::Zombie && !st.leader_exited && !others_live;
    let abi = if kernel {
        Err(Failure::Absent {
            what: "kernel thread: no user-space program".into(),
        })
    } else if zombie {
        Err(Failure::Absent {
            what: "zombie: it exited, its parent has not reaped it".into(),
        })
    } else {
        abi
    };
    let threads: Vec<ThreadInfo> = results
        .into_iter()
        .filter_map(|f| match (f.rest, f.partial) {
            (Ok(t), _) => Some(t),
            // Timed out after the syscall and stack were read (reading a
            // sleep's timespec): keep them.
            (Err(_), Some(t)) if !matches!(t.syscall, Err(Failure::Gone)) => Some(t),
            (Err(e), Some(t)) => Some(ThreadInfo {
                syscall: Err(e.clone()),
                stack: Err(e),
                ..t
            }),
            (Err(_), None) => None,
        })
        .filter(|t| !matches!(t.state, Err(Failure::Gone)))
        .map(|t| {
            if kernel {
                ThreadInfo {
                    syscall: Err(Failure::Absent {
                        what: "kernel threads make no system calls".into(),
                    }),
                    ..t
                }
            } else if t.state.as_ref().is_ok_and(|s| *s == TaskState::Zombie) {
                ThreadInfo {
                    syscall: Err(Failure::Absent {
                        what: "it exited".into(),
                    }),
                    ..t
                }
            } else {
                t
            }
        })
        .collect();
    // A futex "owner" that is not another thread of this process was not
    // a mutex owner after all.
    let tids: Vec<i32> = threads.iter().map(|t: &ThreadInfo| t.tid).collect();
    let threads = threads
        .into_iter()
        .map(|t| ThreadInfo {
            futex_owner: t.futex_owner.filter(|o| *o != t.tid && tids.contains(o)),
            ..t
        })
        .collect();
    Ok(ProcessThreads {
        pid,
        comm: st.comm,
        abi,
        threads,
    })
}

fn read_thread(dir: &ProcDir, tid: i32, clock: &Clock) -> ThreadInfo {
    let mut buf = Vec::with_capacity(1024);
    let task = dir.task(tid);
    let st = task
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|t| read_stat(t, c"stat", clock, &mut buf));
    let wchan = task.as_ref().map_err(Clone::clone).and_then(|t| {
        t.read(c"wchan", &mut buf, 4096)
            .map(|_| stack::wchan(&buf).map(Bytes::from))
    });
    let running = st.as_ref().is_ok_and(|s| s.state == TaskState::Running);
    let idle_ms = task
        .as_ref()
        .ok()
        .filter(|_| !running)
        .and_then(|t| t.read(c"sched", &mut buf, 64 * 1024).ok())
        .and_then(|_| procscope_parse::sched::exec_start_ms(&buf))
        .map(|start| clock.idle_ms(start));
    ThreadInfo {
        tid,
        comm: st.as_ref().map(|s| s.comm.clone()).unwrap_or_default(),
        state: st.map(|s| s.state),
        wchan,
        syscall: Err(Failure::Gone),
        stack: Err(Failure::Gone),
        idle_ms,
        sleep: None,
        futex_owner: None,
        call_memory: None,
        user: None,
    }
}

fn read_slow(dir: &ProcDir, tid: i32) -> (Outcome<SyscallState>, Outcome<Vec<FrameInfo>>) {
    let task = match dir.task(tid) {
        Ok(t) => t,
        Err(e) => return (Err(e.clone()), Err(e)),
    };
    let mut buf = Vec::with_capacity(4096);
    let sc = task
        .read(c"syscall", &mut buf, 4096)
        .and_then(|_| SyscallState::parse(&buf).map_err(|e| Failure::malformed("syscall", e)));
    let st = task.read(c"stack", &mut buf, 64 * 1024).map(|_| {
        stack::frames(&buf)
            .into_iter()
            .map(|f| FrameInfo {
                symbol: Bytes::from(f.symbol),
                offset: f.offset,
                len: f.len,
                module: f.module.map(Bytes::from),
            })
            .collect()
    });
    (sc, st)
}

/// The candidate owner of the futex a thread waits on: for FUTEX_LOCK_PI
/// the TID in the word (`FUTEX_TID_MASK`), for a plain wait on a locked
/// word (non-zero) the int at +8 (glibc's `__owner`). Validated against the
/// process's threads by the caller.
fn futex_word(dir: &ProcDir, abi: Abi, sc: &SyscallState) -> Option<i32> {
    let SyscallState::InSyscall { nr, args, .. } = sc else {
        return None;
    };
    if !abi.name(*nr)?.starts_with("futex") || abi.name(*nr)? == "futex_waitv" {
        return None;
    }
    let op = args[1] & !(128 | 256); // without PRIVATE and CLOCK_REALTIME
    let mut b = [0u8; 12];
    if dir.read_memory(args[0], &mut b).ok()? != 12 {
        return None;
    }
    let word = u32::from_le_bytes(b.get(..4)?.try_into().ok()?);
    match op {
        // FUTEX_LOCK_PI, FUTEX_LOCK_PI2, FUTEX_WAIT_REQUEUE_PI
        6 | 13 => i32::try_from(word & 0x3fff_ffff).ok().filter(|t| *t > 0),
        // FUTEX_WAIT, FUTEX_WAIT_BITSET
        0 | 9 if word != 0 => {
            let owner = i32::from_le_bytes(b.get(8..12)?.try_into().ok()?);
            (owner > 0).then_some(owner)
        }
        _ => None,
    }
}

/// Reads the timespec of a nanosleep/clock_nanosleep (its address is an
/// argument register; the struct is in the process's memory). 64-bit
/// ABIs and the `_time64` calls use 64-bit fields, the old 32-bit calls
/// 32-bit ones; x86 and arm are little-endian.
fn sleep_of(dir: &ProcDir, abi: Abi, sc: &SyscallState) -> Option<Sleep> {
    let SyscallState::InSyscall { nr, args, .. } = sc else {
        return None;
    };
    let name = abi.name(*nr)?;
    let (addr, absolute, clock) = match name {
        "nanosleep" => (args[0], false, 1),
        "clock_nanosleep" | "clock_nanosleep_time64" => (args[2], args[1] & 1 != 0, args[0]),
        _ => return None,
    };
    let wide = matches!(abi, Abi::X86_64 | Abi::X32 | Abi::Aarch64) || name.ends_with("_time64");
    let mut b = [0u8; 16];
    let len = procscope_parse::callmem::time_size(wide);
    let got = dir.read_memory(addr, b.get_mut(..len)?).ok()?;
    if got != len {
        return None;
    }
    let (sec, nsec) = procscope_parse::callmem::timespec(&b, wide)?;
    let ms = sec.checked_mul(1000)?.checked_add(nsec / 1_000_000)?;
    if !absolute {
        return Some(Sleep::For {
            ms: u64::try_from(ms).ok()?,
        });
    }
    // In a snapshot: counted down from the clocks when it was taken (an
    // older file without them cannot say).
    let now = match dir.tape().filter(|t| t.is_replay()) {
        Some(t) => t.facts().and_then(|f| f.clocks)?,
        None => procscope_read::tape::ClocksNow::now(),
    };
    let now_ms = now.of(clock)?;
    Some(Sleep::Until {
        left_ms: ms.saturating_sub(now_ms),
    })
}

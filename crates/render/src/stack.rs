//! `stack` in words: the text of `procscope stack` as a document
//! ([`doc`]) and its JSON process ([`wire_process`]), both from the
//! model's threads and the words for the fds their system calls use.
//!
//! `fds` maps an fd number to what it is in words ([`crate::fds::brief`]),
//! for the fds the threads' system calls name (the model resolves them).

use crate::calls;
use crate::doc::{Doc, Line, Style};
use crate::escape::escape;
use crate::wire::common::{Bytes as WireBytes, OrError, or_error};
use crate::wire::stack as wire;
use procscope_model::Failure;
use procscope_model::threads::{self, ProcessThreads, Sleep, ThreadInfo};
use procscope_parse::stat::TaskState;
use procscope_parse::syscall::{Abi, SyscallState};
use std::collections::HashMap;

/// Where a group's details start (under its line).
const DETAIL: usize = 6;

/// Width of the detail keys (`wchan`, `syscall`, `wakes`, `futexes`).
const DETAIL_KEY: usize = 7;

/// Where kernel frames start.
const FRAMES: usize = 8;

/// Threads listed by name in a group's line before `… N more`.
const NAMED: usize = 8;

/// The text of `procscope stack` for one process: its title, then one
/// block per group of threads in the same state, system call and kernel
/// stack (one per thread with `no_group`): the group's line, its wait
/// channel, system call, wake-up time, futexes and kernel frames.
///
/// Also returns what to warn about once, after the text: what would allow
/// a system call or kernel stack that could not be read.
pub fn doc(p: &ProcessThreads, fds: &HashMap<i32, String>, no_group: bool) -> (Doc, Vec<String>) {
    let mut d = Doc::new();
    let mut warnings = Vec::new();
    let abi = p.abi.as_ref().ok().copied();
    let abi_text = match &p.abi {
        Ok(a) => a.label().to_string(),
        Err(Failure::Absent { what }) if what.starts_with("zombie") => "zombie".to_string(),
        Err(Failure::Absent { .. }) => "kernel thread".to_string(),
        Err(f) => format!("ABI unknown: {f}"),
    };
    let n = p.threads.len();
    d.heading_line(
        Line::styled(
            format!("PID {} ({})", p.pid, escape(p.comm.as_slice())),
            Style::Heading,
        )
        .with(
            format!(": {n} thread{}, {abi_text}", if n == 1 { "" } else { "s" }),
            Style::Plain,
        ),
    );
    for g in groups(p, no_group) {
        let members: Vec<&ThreadInfo> = g.iter().filter_map(|&i| p.threads.get(i)).collect();
        let Some(first) = members.first() else {
            continue;
        };
        group_line(&mut d, &members, first, abi);
        match &first.wchan {
            Ok(Some(w)) => detail(&mut d, "wchan", escape(w.as_slice()).into_owned()),
            Ok(None) => {}
            Err(f) => detail(&mut d, "wchan", format!("? ({f})")),
        }
        match &first.syscall {
            Ok(s) => detail(
                &mut d,
                "syscall",
                escape(syscall_text(first, s, abi, fds).as_bytes()).into_owned(),
            ),
            Err(Failure::Absent { what }) => detail(&mut d, "syscall", format!("none ({what})")),
            Err(f) => {
                detail(&mut d, "syscall", format!("? ({})", f.kind()));
                warnings.push(format!("system calls: {f}"));
            }
        }
        // A sleep's length, read from its timespec: the soonest waker.
        if let Some(w) = members.iter().filter_map(|t| t.wakes_in_ms()).min() {
            let asked = match first.sleep {
                Some(Sleep::For { ms }) => format!(" (asked for {})", calls::ms(ms)),
                Some(Sleep::Until { .. }) => " (an absolute deadline)".to_string(),
                None => String::new(),
            };
            if w > 0 {
                let t = format!("in {}{asked}", calls::ms(w.unsigned_abs()));
                detail(&mut d, "wakes", t);
            } else {
                detail(
                    &mut d,
                    "wakes",
                    format!("now (the deadline has passed){asked}"),
                );
            }
        }
        let fx = futexes(&members, abi);
        if fx.len() > 1 {
            let list: Vec<String> = fx
                .iter()
                .map(|(a, n)| {
                    let s = if *n == 1 { "" } else { "s" };
                    format!("{a:#x} ({n} thread{s})")
                })
                .collect();
            detail(&mut d, "futexes", list.join(", "));
        }
        match &first.stack {
            Ok(frames) if frames.is_empty() => {
                let t = if first.state.as_ref().is_ok_and(|s| *s == TaskState::Zombie) {
                    "(exited: waiting for its parent to reap it)"
                } else {
                    "(no kernel frames: running in user space)"
                };
                d.line(DETAIL, t);
            }
            Ok(frames) => {
                for f in frames {
                    let mut t = escape(f.symbol.as_slice()).into_owned();
                    if let (Some(o), Some(l)) = (f.offset, f.len) {
                        t.push_str(&format!("+{o:#x}/{l:#x}"));
                    }
                    if let Some(m) = &f.module {
                        t.push_str(&format!(" [{}]", escape(m.as_slice())));
                    }
                    d.line(FRAMES, t);
                }
            }
            Err(f) => {
                detail(&mut d, "kernel stack", format!("? ({})", f.kind()));
                warnings.push(format!("kernel stacks: {f}"));
            }
        }
        crate::ustack::lines(&mut d, &first.user, DETAIL, FRAMES, DETAIL_KEY);
    }
    (d, warnings)
}

/// A detail of a group: `wchan   pipe_read`.
fn detail(d: &mut Doc, key: &str, value: String) {
    d.field(DETAIL, DETAIL_KEY, key, value);
}

/// `2 × S (sleeping) in read for 3m 05s  [7 victim, 8 locker]`: how many,
/// doing what, for how long (strong), and who (dim).
fn group_line(d: &mut Doc, members: &[&ThreadInfo], first: &ThreadInfo, abi: Option<Abi>) {
    let state = first.state.as_ref().map_or_else(
        |_| "?".to_string(),
        |s| format!("{} ({})", s.letter(), s.meaning()),
    );
    let sc = first.syscall.as_ref().map_or_else(
        |f| match f {
            Failure::Absent { what } if what == "it exited" => "nothing (it exited)".to_string(),
            Failure::Absent { .. } => "the kernel".to_string(),
            f => format!("?({})", f.kind()),
        },
        |s| syscall_name(s, abi),
    );
    let tids: Vec<String> = members
        .iter()
        .take(NAMED)
        .map(|t| format!("{} {}", t.tid, escape(t.comm.as_slice())))
        .collect();
    let more = if members.len() > NAMED {
        format!(", … {} more", members.len() - NAMED)
    } else {
        String::new()
    };
    // The most recently run member: the group has waited at least that long.
    let idle = idle_ms(members)
        .filter(|ms| *ms >= 1000)
        .map_or_else(String::new, |ms| {
            format!(" for {}", crate::dossier::human_secs(ms / 1000))
        });
    d.line(
        2,
        Line::styled(
            format!("{} × {state} in {sc}{idle}", members.len()),
            Style::Strong,
        )
        .with("  ", Style::Plain)
        .with(format!("[{}{more}]", tids.join(", ")), Style::Dim),
    );
}

/// The groups of `p`'s threads, as indexes into its threads.
fn groups(p: &ProcessThreads, no_group: bool) -> Vec<Vec<usize>> {
    if no_group {
        (0..p.threads.len()).map(|i| vec![i]).collect()
    } else {
        threads::group(&p.threads)
    }
}

/// How long the most recently run member has been idle, when every
/// member's is known.
fn idle_ms(members: &[&ThreadInfo]) -> Option<u64> {
    members
        .iter()
        .map(|t| t.idle_ms)
        .collect::<Option<Vec<u64>>>()
        .and_then(|v| v.into_iter().min())
}

/// The system call with its arguments decoded (fds resolved; what poll
/// and select wait on from `t`'s memory).
pub fn syscall_text(
    t: &ThreadInfo,
    sc: &SyscallState,
    abi: Option<Abi>,
    fds: &HashMap<i32, String>,
) -> String {
    match sc {
        SyscallState::Running => "running (on a CPU)".into(),
        SyscallState::Blocked { .. } => "not in a system call".into(),
        SyscallState::InSyscall { nr, args, .. } => match abi.and_then(|a| a.name(*nr)) {
            Some(name) => calls::describe(name, args, t.call_memory.as_ref(), &|fd| {
                fds.get(&fd).cloned()
            }),
            None => {
                let args: Vec<String> = args.iter().map(|a| format!("{a:#x}")).collect();
                format!("syscall_{nr}({})", args.join(", "))
            }
        },
    }
}

/// Futex addresses of a group's threads, most waited-on first, when they
/// are not all the same (threads on one address wait for the same thing).
fn futexes(members: &[&ThreadInfo], abi: Option<Abi>) -> Vec<(u64, usize)> {
    let mut by: Vec<(u64, usize)> = Vec::new();
    for t in members {
        if let (Ok(SyscallState::InSyscall { nr, args, .. }), Some(a)) = (&t.syscall, abi) {
            if a.name(*nr).is_some_and(|n| n.starts_with("futex")) {
                let [addr, ..] = *args;
                match by.iter_mut().find(|(x, _)| *x == addr) {
                    Some((_, c)) => *c += 1,
                    None => by.push((addr, 1)),
                }
            }
        }
    }
    by.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    by
}

/// The system call's name (`running`, `-` when not in one).
fn syscall_name(sc: &SyscallState, abi: Option<Abi>) -> String {
    match sc {
        SyscallState::Running => "running".into(),
        SyscallState::Blocked { .. } => "-".into(),
        SyscallState::InSyscall { nr, .. } => abi
            .and_then(|a| a.name(*nr))
            .map_or_else(|| format!("syscall_{nr}"), str::to_owned),
    }
}

/// What a group's first thread is doing, for `stack --json`.
struct ThreadWire {
    state: OrError<String>,
    state_meaning: Option<String>,
    wchan: OrError<Option<WireBytes>>,
    syscall: OrError<wire::Syscall>,
    stack: OrError<Vec<wire::Frame>>,
}

fn json_thread(t: &ThreadInfo, abi: Option<Abi>, fds: &HashMap<i32, String>) -> ThreadWire {
    ThreadWire {
        state: or_error(&t.state, |s| s.letter().to_string()),
        state_meaning: t.state.as_ref().ok().map(|s| s.meaning().to_string()),
        wchan: or_error(&t.wchan, |w| w.as_ref().map(WireBytes::from)),
        syscall: or_error(&t.syscall, |s| match s {
            SyscallState::InSyscall { nr, args, .. } => {
                wire::Syscall::In(Box::new(wire::InSyscall {
                    nr: *nr,
                    name: abi.and_then(|a| a.name(*nr)).map(String::from),
                    args: *args,
                    call: syscall_text(t, s, abi, fds),
                    memory: t.call_memory.as_ref().map(wire::CallMemory::from),
                }))
            }
            other => wire::Syscall::Not(wire::NotInSyscall {
                name: syscall_name(other, abi),
            }),
        }),
        stack: or_error(&t.stack, |fs| fs.iter().map(wire::Frame::from).collect()),
    }
}

/// One process of `procscope stack --json`: the same groups as the text,
/// each with its first thread's state, system call (decoded, in words) and
/// stack.
pub fn wire_process(
    p: &ProcessThreads,
    fds: &HashMap<i32, String>,
    no_group: bool,
) -> wire::Process {
    let abi = p.abi.as_ref().ok().copied();
    let groups = groups(p, no_group)
        .iter()
        .filter_map(|g| {
            let members: Vec<&ThreadInfo> = g.iter().filter_map(|&i| p.threads.get(i)).collect();
            // A group is never empty; one that were would have no state.
            let first = json_thread(members.first()?, abi, fds);
            Some(wire::Group {
                count: members.len(),
                tids: members.iter().map(|t| t.tid).collect(),
                names: members.iter().map(|t| WireBytes::from(&t.comm)).collect(),
                state: first.state,
                state_meaning: first.state_meaning,
                wchan: first.wchan,
                syscall: first.syscall,
                stack: first.stack,
                idle_ms: idle_ms(&members),
                futexes: futexes(&members, abi)
                    .into_iter()
                    .map(|(addr, threads)| wire::Futex { addr, threads })
                    .collect(),
                wakes_in_ms: members.iter().filter_map(|t| t.wakes_in_ms()).min(),
                user: crate::ustack::wire(&members.first()?.user),
            })
        })
        .collect();
    wire::Process {
        pid: p.pid,
        comm: WireBytes::from(&p.comm),
        abi: or_error(&p.abi, |a| a.label().to_string()),
        threads: p.threads.len(),
        groups,
    }
}

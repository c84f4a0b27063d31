//! `procscope stack TARGET`: what every thread is doing in the kernel.

use crate::cli::{Global, StackArgs};
use crate::cmd::targets;
use crate::output::{self, Exit};
use anstyle::Style;
use procscope_model::threads::{self, ProcessThreads, ThreadInfo};
use procscope_parse::stat::TaskState;
use procscope_parse::syscall::{Abi, SyscallState};
use procscope_read::Failure;
use procscope_render::calls;
use procscope_render::escape::escape;
use procscope_render::wire::common::{Bytes as WireBytes, OrError, or_error};
use procscope_render::wire::stack as wire;
use std::collections::HashMap;
use std::io::Write;

/// Extra help for `procscope stack --help`.
pub const AFTER_HELP: &str = "\
Examples:
  sudo procscope stack 1234            every thread, grouped by identical state, syscall and stack
  sudo procscope stack --no-group 1234 one block per thread
  procscope stack --json nginx | jq '.processes[].groups[] | {count, syscall}'

Kernel stacks need CAP_SYS_ADMIN (run with sudo); the system call needs
ptrace rights over the process. Without them everything else is shown and
the missing part says what would allow it.";

/// Runs `procscope stack`.
pub fn run(g: &Global, a: &StackArgs) -> anyhow::Result<Exit> {
    let root = crate::cmd::ps::open_root(g)?;
    let opts = &g.session;
    let pids = targets::resolve(g, &root, &a.target)?;
    let mut procs = Vec::new();
    for pid in pids {
        match threads::read(&root, pid, opts) {
            Ok(p) => {
                let fds = fd_texts(&root, &p, opts);
                procs.push((p, fds));
            }
            Err(Failure::Gone) => {}
            Err(f) => output::warn(&format!("PID {pid}: {f}")),
        }
    }
    if procs.is_empty() {
        output::warn(&targets::no_match(&root, &a.target));
        return Ok(Exit::NoMatch);
    }
    // Nothing could be read about any target's threads (neither system
    // calls nor kernel stacks): an error, not an answer.
    let readable = |p: &threads::ProcessThreads| {
        p.threads
            .iter()
            .any(|t| t.syscall.is_ok() || t.stack.is_ok())
    };
    let exit = if procs.iter().any(|(p, _)| readable(p)) {
        Exit::Success
    } else {
        Exit::Failed
    };
    let mut out = output::stdout(g.color);
    if g.json {
        let docs = procs
            .iter()
            .map(|(p, fds)| json_process(p, fds, a.no_group))
            .collect();
        procscope_render::json::write(&mut out, &wire::Document::new(docs))?;
        out.flush()?;
        return Ok(exit);
    }
    let mut hints = Vec::new();
    for (p, fds) in &procs {
        human(&mut out, p, fds, a.no_group, &mut hints)?;
    }
    out.flush()?;
    drop(out);
    hints.sort();
    hints.dedup();
    for h in hints {
        output::warn(&h);
    }
    Ok(exit)
}

/// What the fds in the threads' system calls are, in words, by fd (the
/// model resolves them: one `fds` read and one peer search per process).
fn fd_texts(
    root: &procscope_read::ProcRoot,
    p: &ProcessThreads,
    opts: &procscope_read::Session,
) -> HashMap<i32, String> {
    threads::call_fds(root, p, opts)
        .iter()
        .map(|e| (e.fd, procscope_render::fds::brief(e)))
        .collect()
}

/// The system call with its arguments decoded (fds resolved; what poll
/// and select wait on from `t`'s memory).
fn syscall_text(
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
                match by.iter_mut().find(|(addr, _)| *addr == args[0]) {
                    Some((_, c)) => *c += 1,
                    None => by.push((args[0], 1)),
                }
            }
        }
    }
    by.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    by
}

fn syscall_name(sc: &SyscallState, abi: Option<Abi>) -> String {
    match sc {
        SyscallState::Running => "running".into(),
        SyscallState::Blocked { .. } => "-".into(),
        SyscallState::InSyscall { nr, .. } => abi
            .and_then(|a| a.name(*nr))
            .map_or_else(|| format!("syscall_{nr}"), str::to_owned),
    }
}

fn human(
    out: &mut dyn Write,
    p: &ProcessThreads,
    fds: &HashMap<i32, String>,
    no_group: bool,
    hints: &mut Vec<String>,
) -> std::io::Result<()> {
    let bold = Style::new().bold();
    let dim = Style::new().dimmed();
    let abi = p.abi.as_ref().ok().copied();
    let abi_text = match &p.abi {
        Ok(a) => a.label().to_string(),
        Err(Failure::Absent { what }) if what.starts_with("zombie") => "zombie".to_string(),
        Err(Failure::Absent { .. }) => "kernel thread".to_string(),
        Err(f) => format!("ABI unknown: {f}"),
    };
    writeln!(
        out,
        "{}PID {} ({}){}: {} thread{}, {abi_text}",
        bold.render(),
        p.pid,
        escape(p.comm.as_slice()),
        bold.render_reset(),
        p.threads.len(),
        if p.threads.len() == 1 { "" } else { "s" }
    )?;
    let groups: Vec<Vec<usize>> = if no_group {
        (0..p.threads.len()).map(|i| vec![i]).collect()
    } else {
        threads::group(&p.threads)
    };
    for g in groups {
        let members: Vec<&ThreadInfo> = g.iter().filter_map(|&i| p.threads.get(i)).collect();
        let Some(first) = members.first() else {
            continue;
        };
        let state = first.state.as_ref().map_or_else(
            |_| "?".to_string(),
            |s| format!("{} ({})", s.letter(), s.meaning()),
        );
        let sc = first.syscall.as_ref().map_or_else(
            |f| match f {
                Failure::Absent { what } if what == "it exited" => {
                    "nothing (it exited)".to_string()
                }
                Failure::Absent { .. } => "the kernel".to_string(),
                f => format!("?({})", f.kind()),
            },
            |s| syscall_name(s, abi),
        );
        let tids: Vec<String> = members
            .iter()
            .take(8)
            .map(|t| format!("{} {}", t.tid, escape(t.comm.as_slice())))
            .collect();
        let more = if members.len() > 8 {
            format!(", … {} more", members.len() - 8)
        } else {
            String::new()
        };
        // The most recently run member: the group has waited at least that long.
        let idle = members
            .iter()
            .map(|t| t.idle_ms)
            .collect::<Option<Vec<u64>>>()
            .and_then(|v| v.into_iter().min())
            .filter(|ms| *ms >= 1000)
            .map_or_else(String::new, |ms| {
                format!(" for {}", procscope_render::dossier::human_secs(ms / 1000))
            });
        writeln!(
            out,
            "  {}{} × {state} in {sc}{idle}{}  {}[{}{more}]{}",
            bold.render(),
            members.len(),
            bold.render_reset(),
            dim.render(),
            tids.join(", "),
            dim.render_reset()
        )?;
        match &first.wchan {
            Ok(Some(w)) => writeln!(out, "      wchan   {}", escape(w.as_slice()))?,
            Ok(None) => {}
            Err(f) => writeln!(out, "      wchan   ? ({f})")?,
        }
        match &first.syscall {
            Ok(s) => writeln!(
                out,
                "      syscall {}",
                escape(syscall_text(first, s, abi, fds).as_bytes())
            )?,
            Err(Failure::Absent { what }) => writeln!(out, "      syscall none ({what})")?,
            Err(f) => {
                writeln!(out, "      syscall ? ({})", f.kind())?;
                hints.push(format!("system calls: {f}"));
            }
        }
        // A sleep's length, read from its timespec: the soonest waker.
        if let Some(w) = members.iter().filter_map(|t| t.wakes_in_ms()).min() {
            let asked = match first.sleep {
                Some(threads::Sleep::For { ms }) => {
                    format!(" (asked for {})", calls::ms(ms))
                }
                Some(threads::Sleep::Until { .. }) => " (an absolute deadline)".to_string(),
                None => String::new(),
            };
            if w > 0 {
                writeln!(
                    out,
                    "      wakes   in {}{asked}",
                    calls::ms(w.unsigned_abs())
                )?;
            } else {
                writeln!(out, "      wakes   now (the deadline has passed){asked}")?;
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
            writeln!(out, "      futexes {}", list.join(", "))?;
        }
        match &first.stack {
            Ok(frames) if frames.is_empty() => {
                if first.state.as_ref().is_ok_and(|s| *s == TaskState::Zombie) {
                    writeln!(out, "      (exited: waiting for its parent to reap it)")?
                } else {
                    writeln!(out, "      (no kernel frames: running in user space)")?
                }
            }
            Ok(frames) => {
                for f in frames {
                    write!(out, "        {}", escape(f.symbol.as_slice()))?;
                    if let (Some(o), Some(l)) = (f.offset, f.len) {
                        write!(out, "+{o:#x}/{l:#x}")?;
                    }
                    if let Some(m) = &f.module {
                        write!(out, " [{}]", escape(m.as_slice()))?;
                    }
                    writeln!(out)?;
                }
            }
            Err(f) => {
                writeln!(out, "      kernel stack ? ({})", f.kind())?;
                hints.push(format!("kernel stacks: {f}"));
            }
        }
    }
    Ok(())
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

fn json_process(p: &ProcessThreads, fds: &HashMap<i32, String>, no_group: bool) -> wire::Process {
    let abi = p.abi.as_ref().ok().copied();
    let groups: Vec<Vec<usize>> = if no_group {
        (0..p.threads.len()).map(|i| vec![i]).collect()
    } else {
        threads::group(&p.threads)
    };
    let groups = groups
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
                idle_ms: members
                    .iter()
                    .map(|t| t.idle_ms)
                    .collect::<Option<Vec<u64>>>()
                    .and_then(|v| v.into_iter().min()),
                futexes: futexes(&members, abi)
                    .into_iter()
                    .map(|(addr, threads)| wire::Futex { addr, threads })
                    .collect(),
                wakes_in_ms: members.iter().filter_map(|t| t.wakes_in_ms()).min(),
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

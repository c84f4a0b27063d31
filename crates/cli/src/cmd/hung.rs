//! `procscope hung`: every task stuck in uninterruptible sleep, grouped.

use crate::cli::{Global, HungArgs};
use crate::output::{self, Exit};
use anstyle::Style;
use procscope_model::bytes::Bytes;
use procscope_model::hung;
use procscope_model::threads::{self, ThreadInfo};
use procscope_parse::stat::TaskState;
use procscope_parse::syscall::{Abi, SyscallState};
use procscope_read::Session;
use procscope_render::escape::escape;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;

/// Extra help for `procscope hung --help`.
pub const AFTER_HELP: &str = "\
Examples:
  sudo procscope hung                  sample for 1 s; exit 1 if anything stays in D
  sudo procscope hung --window 5s --samples 10
  procscope hung --json | jq '.groups[] | {count, cause}'
  sudo procscope hung --over 5m        also tasks asleep in one call (a read, a lock) for 5+ minutes

A task in D (uninterruptible sleep) for a moment is normal (a disk read); one
in D at every sample over the window is stuck. Stuck tasks are grouped by
their kernel stack across processes, and each group names its likely cause
from the frames (FUSE, NFS, block I/O, page-cache reads, kernel locks,
memory reclaim, vfork). Kernel stacks need CAP_SYS_ADMIN.
Exit status: 0 nothing is stuck, 1 something is, 2 error.";

struct Task {
    pid: i32,
    process: procscope_model::bytes::Bytes,
    thread: ThreadInfo,
    abi: Option<Abi>,
}

/// System calls that wait by design: a task asleep in one of them for
/// hours is idle, not stuck.
fn waits_by_design(name: &str) -> bool {
    matches!(
        name,
        "epoll_wait"
            | "epoll_pwait"
            | "epoll_pwait2"
            | "poll"
            | "ppoll"
            | "select"
            | "pselect6"
            | "nanosleep"
            | "clock_nanosleep"
            | "pause"
            | "rt_sigsuspend"
            | "rt_sigtimedwait"
            | "sigsuspend"
            | "wait4"
            | "waitid"
            | "accept"
            | "accept4"
            | "io_getevents"
            | "io_uring_enter"
    )
}

/// Runs `procscope hung`.
pub fn run(g: &Global, a: &HungArgs) -> anyhow::Result<Exit> {
    let root = crate::cmd::ps::open_root(g)?;
    let samples = a.samples.max(2);
    let sampling = hung::sample(&root, a.window, samples, a.over).map_err(|f| {
        anyhow::anyhow!("cannot list processes under {}: {f}", root.path().display())
    })?;
    let stuck = &sampling.stuck;
    let opts = &g.session;
    // Stacks and syscalls of the stuck threads, read per process.
    let mut by_pid: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
    for s in stuck {
        by_pid.entry(s.pid).or_default().push(s.tid);
    }
    let mut tasks = Vec::new();
    let mut idle = 0usize;
    for (pid, tids) in by_pid {
        let Ok(p) = threads::read(&root, pid, opts) else {
            continue;
        };
        let abi = p.abi.as_ref().ok().copied();
        for t in p.threads.into_iter().filter(|t| tids.contains(&t.tid)) {
            // Asleep a long time in a call that waits by design: idle.
            let asleep = t.state.as_ref().is_ok_and(|s| *s != TaskState::DiskSleep);
            let idle_call = match &t.syscall {
                Ok(SyscallState::InSyscall { nr, .. }) => {
                    abi.and_then(|a| a.name(*nr)).is_some_and(waits_by_design)
                }
                _ => false,
            };
            if asleep && idle_call {
                idle += 1;
                continue;
            }
            tasks.push(Task {
                pid,
                process: p.comm.clone(),
                thread: t,
                abi,
            });
        }
    }
    // Group across processes by state, syscall name, wchan and frames.
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (i, t) in tasks.iter().enumerate() {
        let name = match &t.thread.syscall {
            Ok(SyscallState::InSyscall { nr, .. }) => {
                t.abi.and_then(|a| a.name(*nr)).unwrap_or("?").to_string()
            }
            _ => String::new(),
        };
        let key = format!(
            "{name}|{}",
            t.thread.group_key().split_once('|').map_or("", |(_, r)| r)
        );
        let gi = *index.entry(key).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        if let Some(g) = groups.get_mut(gi) {
            g.push(i);
        }
    }
    groups.sort_by_key(|g| std::cmp::Reverse(g.len()));
    let mut out = output::stdout(g.color);
    if g.json {
        let gs: Vec<serde_json::Value> = groups
            .iter()
            .map(|g| json_group(&root, &tasks, g, opts))
            .collect();
        procscope_render::json::write_document(
            &mut out,
            "hung",
            &serde_json::json!({
                "window_ms": u64::try_from(a.window.as_millis()).unwrap_or(u64::MAX),
                "samples": samples,
                "samples_taken": sampling.samples,
                "elapsed_ms": u64::try_from(sampling.elapsed.as_millis()).unwrap_or(u64::MAX),
                "candidates_at_first_sample": sampling.first,
                "stuck": tasks.len(),
                "groups": gs,
            }),
        )?;
    } else if tasks.is_empty() {
        writeln!(
            out,
            "nothing is stuck: {}",
            nothing_stuck(&sampling, a.over, idle)
        )?;
        // Other users' tasks may be stuck where this caller cannot see.
        if !rustix::process::geteuid().is_root() {
            if let Some(h) = root.hiding() {
                output::warn(&format!(
                    "{} is mounted with {h}: other users' tasks are hidden from you and were not looked at; run as root",
                    root.path().display()
                ));
            }
        }
    } else {
        let bold = Style::new().bold();
        let red = Style::new()
            .fg_color(Some(anstyle::AnsiColor::Red.into()))
            .bold();
        let in_d = tasks
            .iter()
            .filter(|t| {
                t.thread
                    .state
                    .as_ref()
                    .is_ok_and(|s| *s == TaskState::DiskSleep)
            })
            .count();
        writeln!(
            out,
            "{}{in_d} task(s) stuck in D{} (in D at all {})",
            red.render(),
            red.render_reset(),
            sampled(&sampling)
        )?;
        if let Some(o) = a.over {
            writeln!(
                out,
                "{}{} task(s) asleep in one system call for over {}{} (never ran during the window)",
                red.render(),
                tasks.len() - in_d,
                procscope_render::dossier::human_secs(o.as_secs()),
                red.render_reset()
            )?;
        }
        for g in &groups {
            let Some(first) = g.first().and_then(|&i| tasks.get(i)) else {
                continue;
            };
            let frames = frame_syms(&first.thread);
            let wchan = first
                .thread
                .wchan
                .as_ref()
                .ok()
                .and_then(|w| w.as_ref())
                .map(|w| w.as_slice());
            let res: Vec<_> = g
                .iter()
                .filter_map(|&i| tasks.get(i))
                .filter_map(|t| resource(&root, t, opts))
                .collect();
            let cause = group_cause(&frames, wchan, &res);
            let sc = syscall_name(first);
            let letter = first.thread.state.as_ref().map_or('?', |s| s.letter());
            let idle = g
                .iter()
                .filter_map(|&i| tasks.get(i).and_then(|t| t.thread.idle_ms))
                .min()
                .filter(|ms| *ms >= 1000)
                .map_or_else(String::new, |ms| {
                    format!(" for {}", procscope_render::dossier::human_secs(ms / 1000))
                });
            writeln!(out)?;
            writeln!(
                out,
                "{}{} × {letter} in {sc}{idle}{} — likely: {cause}",
                bold.render(),
                g.len(),
                bold.render_reset()
            )?;
            for t in g.iter().filter_map(|&i| tasks.get(i)).take(20) {
                writeln!(
                    out,
                    "    PID {} ({}) TID {} ({})",
                    t.pid,
                    escape(t.process.as_slice()),
                    t.thread.tid,
                    escape(t.thread.comm.as_slice())
                )?;
            }
            if g.len() > 20 {
                writeln!(out, "    … and {} more", g.len() - 20)?;
            }
            writeln!(out, "    → procscope why {}", first.pid)?;
            let mut paths: Vec<&Bytes> = res.iter().map(|r| &r.what).collect();
            paths.sort();
            paths.dedup();
            for p in paths.iter().take(5) {
                writeln!(out, "    on {}", escape(p.as_slice()))?;
            }
            if let Some(w) = wchan {
                writeln!(out, "    wchan {}", escape(w))?;
            }
            match &first.thread.stack {
                Ok(fr) => {
                    for f in fr {
                        writeln!(out, "      {}", escape(f.symbol.as_slice()))?;
                    }
                }
                Err(f) => writeln!(out, "    kernel stack: {f}")?,
            }
        }
    }
    out.flush()?;
    Ok(if tasks.is_empty() {
        Exit::Success
    } else {
        Exit::NoMatch
    })
}

/// `5 samples over 1.0 s`, or `1 sample in 3 ms`: what was done, measured.
fn sampled(s: &hung::Sampling) -> String {
    let took = procscope_model::calls::ms(u64::try_from(s.elapsed.as_millis()).unwrap_or(u64::MAX));
    if s.samples == 1 {
        format!("1 sample in {took}")
    } else {
        format!("{} samples over {took}", s.samples)
    }
}

/// Why nothing is reported, from what sampling saw (it stops early once no
/// candidate is left).
fn nothing_stuck(s: &hung::Sampling, over: Option<std::time::Duration>, idle: usize) -> String {
    let what = match over {
        Some(o) => format!(
            "in D or asleep in one system call for over {}",
            procscope_render::dossier::human_secs(o.as_secs())
        ),
        None => "in D".to_string(),
    };
    if s.first == 0 {
        format!("no task was {what} at the first sample ({})", sampled(s))
    } else if s.stuck.is_empty() {
        format!(
            "{} task(s) were {what} at the first sample, none at every sample ({})",
            s.first,
            sampled(s)
        )
    } else if idle > 0 {
        format!(
            "the {idle} task(s) asleep at every sample wait by design (epoll, poll, select, sleep, wait, accept) ({})",
            sampled(s)
        )
    } else {
        format!(
            "the {} task(s) {what} at every sample had exited when their stacks were read ({})",
            s.stuck.len(),
            sampled(s)
        )
    }
}

/// The file a stuck task's system call is about (its fd argument),
/// resolved from fd/fdinfo/mountinfo, with who holds a lock on it.
struct Resource {
    /// The file or object, as bytes (escaped when printed, exact in JSON).
    what: Bytes,
    mount: Option<Bytes>,
    fs_type: Option<Bytes>,
    /// Processes holding a lock on the file (not the task's own), escaped
    /// for people.
    lock_holders: Vec<String>,
}

fn resource(root: &procscope_read::ProcRoot, t: &Task, opts: &Session) -> Option<Resource> {
    let SyscallState::InSyscall { nr, args, .. } = t.thread.syscall.as_ref().ok()? else {
        return None;
    };
    let fd = procscope_model::calls::fd_arg(t.abi?.name(*nr)?, args)?;
    let dir = root.process(t.pid).ok()?;
    let mut v = procscope_model::fds::read(&dir, &[fd]).ok()?;
    // Files only: no holder scan, just /proc/locks and the link count.
    if v.iter()
        .all(|e| matches!(e.detail, procscope_model::fds::Detail::File { .. }))
    {
        procscope_model::fds::resolve_peers(root, t.pid, &mut v, opts);
    }
    let e = v.into_iter().next()?;
    let lossy = |b: &Bytes| escape(b.as_slice()).into_owned();
    let lock_holders = e
        .file_locks
        .iter()
        .filter(|l| !l.waiting && l.pid != i64::from(t.pid))
        .map(|l| match &l.comm {
            Some(c) => format!("{} ({})", l.pid, lossy(c)),
            None => l.pid.to_string(),
        })
        .collect();
    match &e.detail {
        procscope_model::fds::Detail::File {
            path,
            mount_point,
            fs_type,
            ..
        } => Some(Resource {
            what: path.clone(),
            mount: mount_point.clone(),
            fs_type: fs_type.clone(),
            lock_holders,
        }),
        _ => Some(Resource {
            what: Bytes::from(procscope_model::fds::brief(&e).as_bytes()),
            mount: None,
            fs_type: None,
            lock_holders,
        }),
    }
}

/// The likely cause of a group, sharpened by the mount its tasks' files
/// are on (a page-cache wait on a FUSE file is the FUSE daemon's fault).
fn group_cause(frames: &[&[u8]], wchan: Option<&[u8]>, res: &[Resource]) -> String {
    let base = hung::likely_cause(frames, wchan);
    // Waiting for a file lock: name the file and who holds it.
    if let Some(r) = res.iter().find(|r| !r.lock_holders.is_empty()) {
        let mut holders: Vec<&String> = res.iter().flat_map(|r| &r.lock_holders).collect();
        holders.sort();
        holders.dedup();
        let h: Vec<&str> = holders.iter().map(|s| s.as_str()).collect();
        return format!(
            "a file lock on {} held by {}",
            escape(r.what.as_slice()),
            h.join(", ")
        );
    }
    // procfs answers from memory: a task reading /proc/PID/mem waits for
    // that process, not for /proc.
    let mut mounts: Vec<(String, String)> = res
        .iter()
        .filter_map(|r| Some((r.mount.as_ref()?, r.fs_type.as_ref()?)))
        .filter(|(_, t)| t.as_slice() != b"proc")
        .map(|(m, t)| {
            (
                escape(m.as_slice()).into_owned(),
                escape(t.as_slice()).into_owned(),
            )
        })
        .collect();
    mounts.sort();
    mounts.dedup();
    match mounts.as_slice() {
        [(m, t)] if t.starts_with("fuse") => {
            format!("the FUSE filesystem at {m} ({t}): its daemon is not answering")
        }
        [(m, t)] if t.starts_with("nfs") => {
            format!("the NFS mount {m} ({t}): the server is not answering")
        }
        [(m, t)] => format!("{base} — the files are on {m} ({t})"),
        _ => base.to_string(),
    }
}

fn frame_syms(t: &ThreadInfo) -> Vec<&[u8]> {
    t.stack
        .as_ref()
        .map(|f| f.iter().map(|f| f.symbol.as_slice()).collect())
        .unwrap_or_default()
}

fn syscall_name(t: &Task) -> String {
    match &t.thread.syscall {
        Ok(SyscallState::InSyscall { nr, .. }) => t
            .abi
            .and_then(|a| a.name(*nr))
            .map_or_else(|| format!("syscall_{nr}"), str::to_owned),
        Ok(SyscallState::Running) => "running".into(),
        Ok(SyscallState::Blocked { .. }) => "no system call (a page fault?)".into(),
        Err(f) => format!("?({})", f.kind()),
    }
}

fn json_group(
    root: &procscope_read::ProcRoot,
    tasks: &[Task],
    g: &[usize],
    opts: &Session,
) -> serde_json::Value {
    let members: Vec<&Task> = g.iter().filter_map(|&i| tasks.get(i)).collect();
    let Some(first) = members.first() else {
        return serde_json::Value::Null;
    };
    let wchan = first.thread.wchan.as_ref().ok().and_then(|w| w.clone());
    let res: Vec<_> = members
        .iter()
        .filter_map(|t| resource(root, t, opts))
        .collect();
    let cause = group_cause(
        &frame_syms(&first.thread),
        wchan.as_ref().map(|w| w.as_slice()),
        &res,
    );
    let files: Vec<serde_json::Value> = res
        .iter()
        .map(|r| serde_json::json!({"what": r.what, "mount_point": r.mount, "fs_type": r.fs_type, "lock_holders": r.lock_holders}))
        .collect();
    serde_json::json!({
        "count": members.len(),
        "state": first.thread.state.as_ref().map(|s| s.letter().to_string()).ok(),
        "idle_ms": members.iter().filter_map(|t| t.thread.idle_ms).min(),
        "cause": cause,
        "files": files,
        "syscall": syscall_name(first),
        "wchan": wchan,
        "stack": first.thread.stack.as_ref().ok().map(|f| f.iter().map(|f| f.symbol.clone()).collect::<Vec<_>>()),
        "tasks": members.iter().map(|t| serde_json::json!({"pid": t.pid, "tid": t.thread.tid, "process": t.process, "comm": t.thread.comm})).collect::<Vec<_>>(),
    })
}

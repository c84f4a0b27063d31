//! `hung` in words: the likely cause of each group, what was sampled, the
//! text report and the JSON document ([`crate::wire::hung`]).

use crate::doc::{Doc, Line, Style};
use crate::escape::escape;
use crate::wire::hung as wire;
use procscope_model::bytes::Bytes;
use procscope_model::hung::{CallName, Cause, GroupCause, HungGroup, Report, Resource, Sampling};
use std::time::Duration;

/// What a task in the kernel most likely waits for, in words.
pub fn cause(c: Cause) -> &'static str {
    match c {
        Cause::MemoryLockHolder => {
            "holding a process's memory-map lock while faulting in a page of one of its mapped files: that file's filesystem is not answering (every reader of the process's cmdline, environ or maps, and its own mmap, wait behind this)"
        }
        Cause::MemoryLockWaiter => {
            "waiting for a process's memory-map lock (mmap_lock), held by a thread stuck in a page fault (look in this report for a task holding it)"
        }
        Cause::Fuse => "a FUSE filesystem (its daemon is not answering)",
        Cause::Nfs => "NFS (the server is not answering)",
        Cause::Vfork => "a vfork parent waiting for its child to exec or exit",
        Cause::PageRead => {
            "reading a file's pages (the filesystem or device behind it is slow or hung)"
        }
        Cause::BlockIo => "block I/O (a slow or failing disk)",
        Cause::KernelLock => {
            "a kernel lock (held by another task: look for the holder in the same group)"
        }
        Cause::FileLock => "a file lock held by another process (procscope why names the holder)",
        Cause::Pipe => "a pipe (procscope why names the process at the other end)",
        Cause::Socket => "a socket (procscope why names the local peer)",
        Cause::Reclaim => "memory reclaim (the host is short of memory)",
        Cause::FrozenCgroup => "a frozen cgroup",
        Cause::Unknown => "unknown: read the kernel frames",
        Cause::IdleKernelThread => "a kernel thread, idle until it has work",
    }
}

/// The likely cause of a group in words; `text` turns bytes (paths,
/// names) into text: [`escape`] for a terminal, lossy UTF-8 for JSON.
pub fn group_cause(g: &HungGroup, text: &dyn Fn(&[u8]) -> String) -> String {
    match &g.cause {
        GroupCause::FileLock { on, holders } => {
            let what = g.files.get(*on).map(what).unwrap_or_default();
            let mut h: Vec<String> = holders
                .iter()
                .map(|l| match &l.comm {
                    Some(c) => format!("{} ({})", l.pid, text(c.as_slice())),
                    None => l.pid.to_string(),
                })
                .collect();
            h.sort();
            h.dedup();
            format!(
                "a file lock on {} held by {}",
                text(what.as_slice()),
                h.join(", ")
            )
        }
        GroupCause::Fuse { mount, fs_type } => format!(
            "the FUSE filesystem at {} ({}): its daemon is not answering",
            text(mount.as_slice()),
            text(fs_type.as_slice())
        ),
        GroupCause::Nfs { mount, fs_type } => format!(
            "the NFS mount {} ({}): the server is not answering",
            text(mount.as_slice()),
            text(fs_type.as_slice())
        ),
        GroupCause::OnMount {
            cause: c,
            mount,
            fs_type,
        } => format!(
            "{} — the files are on {} ({})",
            cause(*c),
            text(mount.as_slice()),
            text(fs_type.as_slice())
        ),
        GroupCause::MemoryLock {
            cause: Cause::MemoryLockWaiter,
            pid,
            holders,
        } if !holders.is_empty() => format!(
            "waiting for the memory-map lock of PID {pid}, held by thread {} (stuck in a page fault: see its group)",
            holders
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        GroupCause::MemoryLock { cause: c, pid, .. } => {
            format!("{} — the lock of PID {pid}", cause(*c))
        }
        GroupCause::Kernel(c) => cause(*c).to_string(),
    }
}

/// What a stuck task's system call is about: a file's path, or the fd in
/// words (a pipe, a socket).
pub fn what(r: &Resource) -> Bytes {
    match r.file() {
        Some((path, _, _)) => path.clone(),
        None => Bytes(crate::fds::brief(&r.entry).into_bytes()),
    }
}

/// The system call a group is in (`read`, `syscall_335`, `running`).
pub fn call_name(c: CallName) -> String {
    match c {
        CallName::Named(n) => n.to_string(),
        CallName::Number(nr) => format!("syscall_{nr}"),
        CallName::Running => "running".into(),
        CallName::NotInCall => "no system call (a page fault?)".into(),
        CallName::Unreadable(kind) => format!("?({kind})"),
    }
}

/// `5 samples over 1.0 s`, or `1 sample in 3 ms`: what was done, measured.
pub fn sampled(s: &Sampling) -> String {
    // A snapshot holds one moment: nothing was seen to last.
    if s.snapshot {
        return "1 sample: when the snapshot was taken".into();
    }
    let took = crate::calls::ms(u64::try_from(s.elapsed.as_millis()).unwrap_or(u64::MAX));
    if s.samples == 1 {
        format!("1 sample in {took}")
    } else {
        format!("{} samples over {took}", s.samples)
    }
}

/// Why nothing is reported, from what sampling saw (it stops early once no
/// candidate is left) and how many were left out as idle.
pub fn nothing_stuck(s: &Sampling, over: Option<Duration>, idle: usize) -> String {
    let what = match over {
        Some(o) => format!(
            "in D or asleep in one system call for over {}",
            crate::dossier::human_secs(o.as_secs())
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

/// The text report as a document: what is stuck, group by group (or why
/// nothing is).
pub fn doc(r: &Report, s: &Sampling, over: Option<Duration>) -> Doc {
    let mut d = Doc::new();
    let stuck = r.tasks().count();
    if stuck == 0 {
        d.line(
            0,
            format!("nothing is stuck: {}", nothing_stuck(s, over, r.idle)),
        );
        return d;
    }
    let in_d = r.tasks().filter(|t| t.in_d()).count();
    d.heading_line(
        Line::styled(format!("{in_d} task(s) stuck in D"), Style::Critical).with(
            if s.snapshot {
                " (in D when the snapshot was taken: 1 sample)".to_string()
            } else {
                format!(" (in D at all {})", sampled(s))
            },
            Style::Plain,
        ),
    );
    if let Some(o) = over {
        d.heading_line(
            Line::styled(
                format!(
                    "{} task(s) asleep in one system call for over {}",
                    stuck - in_d,
                    crate::dossier::human_secs(o.as_secs())
                ),
                Style::Critical,
            )
            .with(
                if s.snapshot {
                    " (had not run for that long when the snapshot was taken)"
                } else {
                    " (never ran during the window)"
                },
                Style::Plain,
            ),
        );
    }
    let esc = |b: &[u8]| escape(b).into_owned();
    for g in &r.groups {
        let Some(first) = g.tasks.first() else {
            continue;
        };
        let letter = first.thread.state.as_ref().map_or('?', |s| s.letter());
        let idle = g
            .idle_ms()
            .filter(|ms| *ms >= 1000)
            .map_or_else(String::new, |ms| {
                format!(" for {}", crate::dossier::human_secs(ms / 1000))
            });
        d.blank();
        d.heading_line(
            Line::styled(
                format!(
                    "{} × {letter} in {}{idle}",
                    g.tasks.len(),
                    call_name(first.call())
                ),
                Style::Strong,
            )
            .with(format!(" — likely: {}", group_cause(g, &esc)), Style::Plain),
        );
        for t in g.tasks.iter().take(LISTED) {
            d.line(
                4,
                format!(
                    "PID {} ({}) TID {} ({})",
                    t.pid,
                    escape(t.process.as_slice()),
                    t.thread.tid,
                    escape(t.thread.comm.as_slice())
                ),
            );
        }
        if g.tasks.len() > LISTED {
            d.line(4, format!("… and {} more", g.tasks.len() - LISTED));
        }
        d.line(4, format!("→ procscope why {}", first.pid));
        let mut paths: Vec<Bytes> = g.files.iter().map(what).collect();
        paths.sort();
        paths.dedup();
        for p in paths.iter().take(5) {
            d.line(4, format!("on {}", escape(p.as_slice())));
        }
        let wchan = first.thread.wchan.as_ref().ok().and_then(|w| w.as_ref());
        if let Some(w) = wchan {
            d.line(4, format!("wchan {}", escape(w.as_slice())));
        }
        match &first.thread.stack {
            Ok(fr) => {
                for f in fr {
                    d.line(6, escape(f.symbol.as_slice()).into_owned());
                }
            }
            Err(f) => d.line(4, format!("kernel stack: {f}")),
        }
    }
    d
}

/// Tasks of a group listed by name before `… and N more`.
const LISTED: usize = 20;

/// The JSON document's body: what was asked (`window`, `samples`), what
/// was done, and the groups, with bytes as bytes and the cause in words
/// made of lossy UTF-8 (never terminal escapes).
pub fn wire(r: &Report, s: &Sampling, window: Duration, samples: u32) -> wire::Hung {
    let lossy = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let groups = r
        .groups
        .iter()
        .filter_map(|g| {
            let first = g.tasks.first()?;
            Some(wire::Group {
                count: g.tasks.len(),
                state: first
                    .thread
                    .state
                    .as_ref()
                    .ok()
                    .map(|s| s.letter().to_string()),
                idle_ms: g.idle_ms(),
                cause: group_cause(g, &lossy),
                cause_kind: g.cause.kind(),
                files: g
                    .files
                    .iter()
                    .map(|f| {
                        let (mount_point, fs_type) = f
                            .file()
                            .map_or((None, None), |(_, m, t)| (m.cloned(), t.cloned()));
                        wire::File {
                            what: what(f),
                            mount_point,
                            fs_type,
                            lock_holders: f
                                .lock_holders
                                .iter()
                                .map(|l| wire::LockHolder {
                                    pid: l.pid,
                                    comm: l.comm.clone(),
                                })
                                .collect(),
                        }
                    })
                    .collect(),
                syscall: call_name(first.call()),
                wchan: first.thread.wchan.as_ref().ok().and_then(|w| w.clone()),
                stack: first
                    .thread
                    .stack
                    .as_ref()
                    .ok()
                    .map(|f| f.iter().map(|f| f.symbol.clone()).collect()),
                tasks: g
                    .tasks
                    .iter()
                    .map(|t| wire::Task {
                        pid: t.pid,
                        tid: t.thread.tid,
                        process: t.process.clone(),
                        comm: t.thread.comm.clone(),
                    })
                    .collect(),
            })
        })
        .collect();
    wire::Hung {
        window_ms: u64::try_from(window.as_millis()).unwrap_or(u64::MAX),
        samples,
        samples_taken: s.samples,
        elapsed_ms: u64::try_from(s.elapsed.as_millis()).unwrap_or(u64::MAX),
        candidates_at_first_sample: s.first,
        at_snapshot: s.snapshot,
        stuck: r.tasks().count(),
        groups,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use procscope_model::hung::{HungKey, LockHolder, StuckTask};
    use procscope_model::threads::{FrameInfo, ThreadInfo};
    use procscope_parse::stat::TaskState;
    use procscope_parse::syscall::SyscallState;

    fn task(pid: i32, state: TaskState) -> StuckTask {
        StuckTask {
            pid,
            process: Bytes(b"p".to_vec()),
            thread: ThreadInfo {
                tid: pid,
                comm: Bytes(b"t".to_vec()),
                state: Ok(state),
                wchan: Ok(Some(Bytes(b"request_wait_answer".to_vec()))),
                syscall: Ok(SyscallState::Running),
                stack: Ok(vec![FrameInfo {
                    symbol: Bytes(b"fuse_simple_request".to_vec()),
                    offset: Some(3),
                    len: Some(4),
                    module: None,
                }]),
                idle_ms: None,
                sleep: None,
                futex_owner: None,
                call_memory: None,
                user: None,
            },
            abi: None,
        }
    }

    fn group(cause: GroupCause) -> HungGroup {
        let t = task(5, TaskState::DiskSleep);
        HungGroup {
            key: HungKey::of(&t),
            tasks: vec![t],
            files: Vec::new(),
            cause,
        }
    }

    #[test]
    fn causes_escape_for_the_terminal_and_stay_bytes_in_json() {
        let g = group(GroupCause::Fuse {
            mount: Bytes(b"/mnt/\x1b[31mx".to_vec()),
            fs_type: Bytes(b"fuse.sshfs".to_vec()),
        });
        let esc = |b: &[u8]| escape(b).into_owned();
        let lossy = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let text = group_cause(&g, &esc);
        assert!(!text.contains('\x1b'), "{text}");
        assert_eq!(
            group_cause(&g, &lossy),
            "the FUSE filesystem at /mnt/\x1b[31mx (fuse.sshfs): its daemon is not answering"
        );
        // Lock holders: each once, in the order of their words.
        let g = group(GroupCause::FileLock {
            on: 0,
            holders: vec![
                LockHolder {
                    pid: 9,
                    comm: Some(Bytes(b"w".to_vec())),
                },
                LockHolder {
                    pid: 10,
                    comm: None,
                },
                LockHolder {
                    pid: 9,
                    comm: Some(Bytes(b"w".to_vec())),
                },
            ],
        });
        assert_eq!(group_cause(&g, &lossy), "a file lock on  held by 10, 9 (w)");
        assert_eq!(
            group_cause(&group(GroupCause::Kernel(Cause::Vfork)), &lossy),
            "a vfork parent waiting for its child to exec or exit"
        );
    }

    #[test]
    fn the_key_leaves_the_state_out_but_not_the_frames() {
        let d = task(1, TaskState::DiskSleep);
        let s = task(2, TaskState::Sleeping);
        assert_eq!(HungKey::of(&d), HungKey::of(&s));
        assert_ne!(d.thread.group_key(), s.thread.group_key());
        let mut other = task(3, TaskState::DiskSleep);
        other.thread.stack = Ok(Vec::new());
        assert_ne!(HungKey::of(&d), HungKey::of(&other));
        assert_eq!(call_name(d.call()), "running");
    }
}

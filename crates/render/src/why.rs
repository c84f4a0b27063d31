//! `why` in words: the verdict on what a group of threads waits for, its
//! system call decoded, and the text of `procscope why` as a document
//! ([`page`]); its JSON is [`crate::wire::why`], with these words next to
//! the model's facts.

use crate::doc::{Doc, Line, Style};
use crate::escape::escape;
use procscope_model::why::{Call, Group, PipeEnd, Process, Wait, Who, Why};
use std::collections::HashMap;

/// The system call in words (`read(fd 0 → pipe:[12] read end, 4096
/// bytes)`), each fd it waits on said by [`crate::fds::brief`].
pub fn call(c: &Call) -> String {
    crate::calls::describe(c.name, &c.args, c.memory.as_ref(), &|fd| {
        c.fds.iter().find(|e| e.fd == fd).map(crate::fds::brief)
    })
}

fn names(v: &[Who]) -> String {
    v.iter()
        .map(|w| format!("{} ({})", w.pid, String::from_utf8_lossy(w.comm.as_slice())))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One line for people about what a group of threads of process `pid`
/// waits for. Process names are not escaped here (they are made lossy
/// UTF-8): the text output escapes the whole line, JSON carries it as is.
pub fn verdict(pid: i32, w: &Wait) -> String {
    match w {
        Wait::Running => "running on a CPU: not waiting".into(),
        Wait::Stopped => format!("stopped by a signal: resume it with kill -CONT {pid}"),
        Wait::Traced => "stopped by a debugger or tracer (see TracerPid)".into(),
        Wait::Zombie => "exited; its parent has not reaped it".into(),
        Wait::Pipe {
            end: PipeEnd::Read,
            other_end,
            ..
        } if other_end.is_empty() => "waiting for data on a pipe nobody else can write".into(),
        Wait::Pipe {
            end: PipeEnd::Read,
            other_end,
            ..
        } => {
            format!("waiting for data on a pipe written by {}", names(other_end))
        }
        Wait::Pipe { other_end, .. } if other_end.is_empty() => {
            "the pipe is full and nobody else can read it".into()
        }
        Wait::Pipe { other_end, .. } => {
            format!(
                "the pipe is full: waiting for {} to read it",
                names(other_end)
            )
        }
        Wait::Socket {
            entry, other_end, ..
        } if other_end.is_empty() => {
            format!(
                "waiting on a socket ({}); the other end is not a process on this host",
                crate::fds::brief(entry)
            )
        }
        Wait::Socket { other_end, .. } => {
            format!("waiting on a socket connected to {}", names(other_end))
        }
        Wait::Lock { path, holders, .. } if holders.is_empty() => format!(
            "waiting for a lock on {}",
            String::from_utf8_lossy(path.as_slice())
        ),
        Wait::Lock { path, holders, .. } => format!(
            "waiting for a lock on {} held by {}",
            String::from_utf8_lossy(path.as_slice()),
            names(holders)
        ),
        Wait::File {
            path,
            mount_point,
            fs_type,
            daemons,
            ..
        } => {
            let on = match (mount_point, fs_type) {
                (Some(m), Some(t)) => format!(
                    " on {} ({})",
                    String::from_utf8_lossy(m.as_slice()),
                    String::from_utf8_lossy(t.as_slice())
                ),
                _ => String::new(),
            };
            let d = match daemons.len() {
                0 => String::new(),
                1 => format!("; FUSE daemon: {}", names(daemons)),
                _ => format!(
                    "; one of the FUSE daemons on this host (the kernel does not say which serves this mount): {}",
                    names(daemons)
                ),
            };
            format!(
                "waiting for I/O on {}{on}: the filesystem is not answering{d}",
                String::from_utf8_lossy(path.as_slice())
            )
        }
        Wait::Children { children } if children.is_empty() => "waiting for a child".into(),
        Wait::Children { children } => format!("waiting for its child {}", names(children)),
        Wait::Futex { addr } => {
            format!("waiting on a user-space lock or condition variable (futex {addr:#x})")
        }
        Wait::Mutex {
            addr,
            owner,
            owner_name,
        } => format!(
            "waiting for a mutex (futex {addr:#x}) held by thread {owner} ({})",
            String::from_utf8_lossy(owner_name.as_slice())
        ),
        Wait::MemoryLockHolder {
            owner,
            addr,
            files,
            daemons,
        } => {
            let whose = if *owner == pid {
                "its own memory-map lock".to_string()
            } else {
                format!("the memory-map lock of process {owner}")
            };
            let at = addr.map_or_else(String::new, |a| format!(" at {a:#x}"));
            let on = match files.as_slice() {
                [] => String::new(),
                [f] => format!(
                    " of {} (fd {}{})",
                    String::from_utf8_lossy(f.path.as_slice()),
                    f.fd,
                    match (&f.mount_point, &f.fs_type) {
                        (Some(m), Some(t)) => format!(
                            ", on {} ({})",
                            String::from_utf8_lossy(m.as_slice()),
                            String::from_utf8_lossy(t.as_slice())
                        ),
                        _ => String::new(),
                    }
                ),
                v => format!(
                    " of one of {}",
                    v.iter()
                        .map(|f| String::from_utf8_lossy(f.path.as_slice()).into_owned())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            let d = match daemons.len() {
                0 => String::new(),
                1 => format!("; FUSE daemon: {}", names(daemons)),
                _ => format!("; FUSE daemons on this host: {}", names(daemons)),
            };
            format!(
                "holding {whose} while faulting in a page{at}{on}: that filesystem is not answering{d} (readers of the process's memory, maps or command line, and its own mmap, wait behind this)"
            )
        }
        Wait::MemoryLockWaiter { holders } => format!(
            "waiting for its memory-map lock, held by {} (stuck in a page fault)",
            holders
                .iter()
                .map(|t| format!(
                    "thread {} ({})",
                    t.tid,
                    String::from_utf8_lossy(t.name.as_slice())
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Wait::Events => "idle: waiting for events (epoll/poll/select)".into(),
        Wait::Sleep {
            wakes_in_ms: Some(ms),
        } if *ms > 0 => format!(
            "sleeping by choice; wakes in {}",
            crate::calls::ms(ms.unsigned_abs())
        ),
        Wait::Sleep { .. } => "sleeping by choice".into(),
        Wait::Accept => "waiting for a connection".into(),
        Wait::Kernel { cause } => format!("in the kernel: {}", crate::hung::cause(*cause)),
        Wait::Other => "in a system call".into(),
        Wait::Unknown { reason } => format!("cannot tell: {reason}"),
    }
}

/// The text of `procscope why` for these answers, a blank line between
/// them.
pub fn page(found: &[Why]) -> Doc {
    let mut d = Doc::new();
    for (i, w) in found.iter().enumerate() {
        if i > 0 {
            d.blank();
        }
        d.append(doc(w));
    }
    d
}

/// The text of one `why` answer: the target's thread groups (what each is
/// in and the verdict under it), the processes it waits for (their first
/// groups), then the verdict: a deadlock first, then each of the target's
/// groups followed along what it waits for to the end.
pub fn doc(w: &Why) -> Doc {
    let mut d = Doc::new();
    let by_pid: HashMap<i32, &Process> = w.processes.iter().map(|p| (p.pid, p)).collect();
    for (i, p) in w.processes.iter().enumerate() {
        let title = Line::styled(
            format!("PID {} ({})", p.pid, escape(p.comm.as_slice())),
            Style::Heading,
        );
        // Followed processes sit under the target, and show only the
        // groups that explain something.
        let (indent, shown) = if i == 0 {
            d.heading_line(title);
            (0, p.groups.len())
        } else {
            d.line(2, title);
            (2, 3)
        };
        for g in p.groups.iter().take(shown) {
            group(&mut d, p.pid, g, indent + 2);
        }
    }
    d.heading("Verdict");
    if let Some(c) = &w.cycle {
        let path: Vec<String> = c.iter().map(|p| name(w, *p)).collect();
        d.line(
            2,
            Line::styled(format!("deadlock: {}", path.join(" → ")), Style::Alert).with(
                " — each waits for the next; killing one of them breaks it",
                Style::Plain,
            ),
        );
    }
    for p in &w.processes {
        if let Some(c) = &p.thread_cycle {
            let path: Vec<String> = c
                .iter()
                .map(|t| format!("{} ({})", t.tid, escape(t.name.as_slice())))
                .collect();
            d.line(
                2,
                Line::styled(
                    format!(
                        "deadlock inside {}: threads {}",
                        name(w, p.pid),
                        path.join(" → ")
                    ),
                    Style::Alert,
                )
                .with(" — each holds the mutex the next waits for", Style::Plain),
            );
        }
    }
    let Some(target) = by_pid.get(&w.target) else {
        return d;
    };
    for g in &target.groups {
        // A mutex held by another thread: say what that thread does (and
        // follow it, when it waits on another process).
        let mut text = place_prefix(g);
        text.push_str(&escape(verdict(w.target, &g.wait).as_bytes()));
        let mut first_wait = g.waits_for.first().copied();
        if let Wait::Mutex { owner, .. } = &g.wait {
            if let Some(og) = target
                .groups
                .iter()
                .find(|o| o.tids.contains(owner) && !std::ptr::eq(*o, g))
            {
                let at = og.place.as_ref().map_or_else(String::new, |p| {
                    format!(" (in {})", escape(crate::ustack::place(p).as_bytes()))
                });
                text.push_str(&format!(
                    "; thread {owner}{at}: {}",
                    escape(verdict(w.target, &og.wait).as_bytes())
                ));
                first_wait = first_wait.or(og.waits_for.first().copied());
            }
        }
        // Follow the first process this group waits on to the end.
        let mut seen = vec![w.target];
        let mut next = first_wait;
        while let Some(n) = next {
            if seen.contains(&n) {
                break;
            }
            seen.push(n);
            let Some(p) = by_pid.get(&n) else { break };
            let Some(pg) = p.groups.first() else { break };
            text.push_str(&format!(
                "; {}: {}",
                name(w, n),
                escape(verdict(n, &pg.wait).as_bytes())
            ));
            next = pg.waits_for.first().copied();
        }
        d.line(2, format!("{}: {text}", threads(g)));
    }
    d
}

/// `comm (pid)` of a process in the answer, or the bare PID.
fn name(w: &Why, pid: i32) -> String {
    w.processes.iter().find(|p| p.pid == pid).map_or_else(
        || pid.to_string(),
        |p| format!("{} ({pid})", escape(p.comm.as_slice())),
    )
}

/// `waits in db_lock (target.c:25): ` when the group's place in its
/// program is known.
fn place_prefix(g: &Group) -> String {
    let verb = if matches!(g.wait, Wait::Running) {
        "in"
    } else {
        "waits in"
    };
    g.place.as_ref().map_or_else(String::new, |p| {
        format!("{verb} {}: ", escape(crate::ustack::place(p).as_bytes()))
    })
}

fn threads(g: &Group) -> String {
    match g.tids.as_slice() {
        [one] => format!("thread {one}"),
        v => format!("{} threads", v.len()),
    }
}

/// A group's line (its state, system call and how long it has waited) and
/// its verdict under it.
fn group(d: &mut Doc, pid: i32, g: &Group, indent: usize) {
    let call = g.call.as_ref().map_or_else(String::new, |c| {
        format!(" in {}", escape(call(c).as_bytes()))
    });
    let idle = g
        .idle_ms
        .filter(|ms| *ms >= 1000 && g.state != 'R')
        .map_or_else(String::new, |ms| {
            format!(", for {}", crate::dossier::human_secs(ms / 1000))
        });
    d.line(
        indent,
        format!("{} {} ({}){call}{idle}", threads(g), g.state, g.meaning),
    );
    d.line(
        indent + 2,
        Line::styled(
            format!(
                "→ {}{}",
                place_prefix(g),
                escape(verdict(pid, &g.wait).as_bytes())
            ),
            Style::Dim,
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        let w = |pid, c: &str| Who {
            pid,
            comm: procscope_model::bytes::Bytes(c.as_bytes().to_vec()),
            fd: None,
        };
        assert_eq!(
            verdict(
                9,
                &Wait::Pipe {
                    fd: 1,
                    inode: 5,
                    end: PipeEnd::Write,
                    other_end: vec![w(812, "gzip")]
                }
            ),
            "the pipe is full: waiting for 812 (gzip) to read it"
        );
        assert_eq!(
            verdict(9, &Wait::Stopped),
            "stopped by a signal: resume it with kill -CONT 9"
        );
    }

    #[test]
    fn an_unreadable_call_says_why_in_text_and_json() {
        let w = Wait::Unknown {
            reason: procscope_model::Failure::Gone,
        };
        assert_eq!(verdict(9, &w), "cannot tell: process gone");
        assert_eq!(
            crate::wire::why::Wait::from(&w),
            crate::wire::why::Wait::Unknown {
                reason: "process gone".into()
            }
        );
        let w = Wait::Unknown {
            reason: procscope_model::Failure::Malformed {
                detail: "syscall: 2 fields".into(),
            },
        };
        assert_eq!(verdict(9, &w), "cannot tell: malformed: syscall: 2 fields");
    }
}

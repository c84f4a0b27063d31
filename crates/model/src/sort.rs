//! Sorting rows by keys (`--sort -rss,pid`; the names are the columns'
//! names, parsed by the renderer).

use crate::process::ProcessRow;
use std::cmp::Ordering;

/// A sort key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Key {
    Pid,
    Tid,
    Ppid,
    User,
    Uid,
    State,
    Threads,
    Rss,
    Vsz,
    Cpu,
    Start,
    Elapsed,
    Comm,
    Command,
    Nice,
    /// procps' `pri` (39 - priority: larger runs first).
    Pri,
    /// The kernel's priority (`stat` field 18: smaller runs first).
    Priority,
    Pgrp,
    Session,
    Tty,
}

/// Compares two rows by one key. Rows missing the value sort last.
pub fn compare(a: &ProcessRow, b: &ProcessRow, key: Key) -> Ordering {
    fn opt<T: Ord>(x: Option<T>, y: Option<T>) -> Ordering {
        match (x, y) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        }
    }
    let st = |r: &ProcessRow| r.stat.as_ref().ok().cloned();
    match key {
        Key::Pid => a.pid.cmp(&b.pid),
        Key::Tid => a.tid.unwrap_or(a.pid).cmp(&b.tid.unwrap_or(b.pid)),
        Key::Ppid => opt(a.ppid(), b.ppid()),
        Key::User => opt(a.user.as_ref(), b.user.as_ref()),
        Key::Uid => opt(
            a.uid.as_ref().and_then(|u| u.as_ref().ok()),
            b.uid.as_ref().and_then(|u| u.as_ref().ok()),
        ),
        Key::State => opt(a.state().map(|s| s.letter()), b.state().map(|s| s.letter())),
        Key::Threads => opt(st(a).map(|s| s.threads), st(b).map(|s| s.threads)),
        Key::Rss => opt(st(a).map(|s| s.rss_bytes), st(b).map(|s| s.rss_bytes)),
        Key::Vsz => opt(st(a).map(|s| s.vsz_bytes), st(b).map(|s| s.vsz_bytes)),
        Key::Cpu => opt(st(a).map(|s| s.cpu_time_ms), st(b).map(|s| s.cpu_time_ms)),
        Key::Start => opt(st(a).map(|s| s.start_ticks), st(b).map(|s| s.start_ticks)),
        Key::Elapsed => opt(st(a).map(|s| s.elapsed_secs), st(b).map(|s| s.elapsed_secs)),
        Key::Comm => opt(a.comm(), b.comm()),
        Key::Command => opt(
            a.cmdline
                .as_ref()
                .and_then(|c| c.as_ref().ok())
                .map(|c| c.raw.as_slice()),
            b.cmdline
                .as_ref()
                .and_then(|c| c.as_ref().ok())
                .map(|c| c.raw.as_slice()),
        ),
        Key::Nice => opt(st(a).map(|s| s.nice), st(b).map(|s| s.nice)),
        Key::Pri => opt(st(a).map(|s| s.pri()), st(b).map(|s| s.pri())),
        Key::Priority => opt(st(a).map(|s| s.priority), st(b).map(|s| s.priority)),
        Key::Pgrp => opt(st(a).map(|s| s.pgrp), st(b).map(|s| s.pgrp)),
        Key::Session => opt(st(a).map(|s| s.session), st(b).map(|s| s.session)),
        Key::Tty => opt(st(a).map(|s| s.tty_nr), st(b).map(|s| s.tty_nr)),
    }
}

/// Sorts rows by the keys in order (stable; PID breaks remaining ties).
pub fn sort(rows: &mut [ProcessRow], keys: &[(Key, bool)]) {
    rows.sort_by(|a, b| {
        for &(k, desc) in keys {
            let o = compare(a, b, k);
            let o = if desc { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        a.pid.cmp(&b.pid).then(a.tid.cmp(&b.tid))
    });
}

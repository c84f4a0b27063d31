//! Sorting rows by a named key (`--sort -rss,pid`).

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
    Priority,
}

/// Names accepted by [`parse`], for help and error messages.
pub const NAMES: &[&str] = &[
    "pid", "tid", "ppid", "user", "uid", "state", "threads", "rss", "vsz", "cpu", "start",
    "elapsed", "comm", "command", "nice", "pri",
];

/// Parses `KEY` or `-KEY` (descending), comma-separated.
pub fn parse(spec: &str) -> Result<Vec<(Key, bool)>, String> {
    let mut out = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (desc, name) = match part.strip_prefix('-') {
            Some(n) => (true, n),
            None => (false, part.strip_prefix('+').unwrap_or(part)),
        };
        let key = match name.to_ascii_lowercase().as_str() {
            "pid" => Key::Pid,
            "tid" | "lwp" | "spid" => Key::Tid,
            "ppid" => Key::Ppid,
            "user" => Key::User,
            "uid" => Key::Uid,
            "state" | "stat" | "s" => Key::State,
            "threads" | "nlwp" | "thcount" => Key::Threads,
            "rss" | "mem" => Key::Rss,
            "vsz" | "vsize" => Key::Vsz,
            "cpu" | "time" | "cputime" => Key::Cpu,
            "start" | "start_time" | "lstart" => Key::Start,
            "elapsed" | "etime" | "age" => Key::Elapsed,
            "comm" | "name" => Key::Comm,
            "command" | "args" | "cmd" | "cmdline" => Key::Command,
            "nice" | "ni" => Key::Nice,
            "pri" | "priority" => Key::Priority,
            other => {
                return Err(format!(
                    "unknown sort key `{other}` (known: {})",
                    NAMES.join(", ")
                ));
            }
        };
        out.push((key, desc));
    }
    Ok(out)
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
        Key::Priority => opt(st(a).map(|s| s.priority), st(b).map(|s| s.priority)),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_keys() {
        assert_eq!(
            parse("-rss,pid").unwrap(),
            vec![(Key::Rss, true), (Key::Pid, false)]
        );
        assert_eq!(parse("+etime").unwrap(), vec![(Key::Elapsed, false)]);
        assert!(parse("bogus").unwrap_err().contains("known: pid"));
    }
}

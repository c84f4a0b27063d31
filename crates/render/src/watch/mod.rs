//! `procscope watch` in words: one line per event, each starting with the
//! time and the PID, so that the stream can be grepped and read as it
//! comes. Every byte from /proc is escaped.

use crate::doc::{Line, Style};
use crate::escape::escape;
use crate::units::size;
use procscope_model::fds::FdEntry;
use procscope_model::watch::{
    Direction, Event, Exit, FdClass, Leak, Metric, Notice, Progress, Rates, Started, Summary,
};
use std::collections::BTreeMap;

/// More fds opened (or closed) in one interval than this are listed up
/// to this many, then counted by class on one line.
pub const LIST_MAX: usize = 8;

/// How an fd reads in a watch line: its type, then what `fds` says.
pub fn fd_text(e: &FdEntry, searched: bool) -> String {
    if e.undecoded_socket() {
        return format!(
            "socket {} (not decoded: more than {} new fds this interval)",
            crate::fds::describe(e, false),
            procscope_model::watch::process::DECODE_MAX
        );
    }
    format!(
        "{} {}",
        e.detail.type_name(),
        crate::fds::describe(e, searched)
    )
}

/// A class, counted: `3 unix sockets`, `1 pipe`, `2 /dev/null`.
pub fn class_count(c: &FdClass, n: u64) -> String {
    let one = n == 1;
    let noun = |s: &str, p: &str| if one { s.to_string() } else { p.to_string() };
    let w = match c {
        FdClass::Path(p) => escape(p.as_slice()).into_owned(),
        FdClass::Unix => noun("unix socket", "unix sockets"),
        FdClass::Tcp => noun("TCP socket", "TCP sockets"),
        FdClass::Udp => noun("UDP socket", "UDP sockets"),
        FdClass::Socket => noun("socket", "sockets"),
        FdClass::Undecoded => noun("undecoded socket", "undecoded sockets"),
        FdClass::Pipe => noun("pipe", "pipes"),
        FdClass::Fifo => noun("FIFO", "FIFOs"),
        FdClass::Memfd => noun("memfd", "memfds"),
        FdClass::Anon(a) => format!("{}", escape(a.as_slice())),
        FdClass::Other => noun("other", "others"),
    };
    format!("{n} {w}")
}

/// A class without a count, plural: `unix sockets`, `/dev/null`.
pub fn class_name(c: &FdClass) -> String {
    let s = class_count(c, 2);
    s.split_once(' ').map_or(s.clone(), |(_, w)| w.to_string())
}

/// A rate for people: `10`, `2.5`, `0.3`.
pub fn rate(x: f64) -> String {
    if x.abs() >= 10.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

/// Bytes per second: `4.0M/s`.
pub fn byte_rate(x: f64) -> String {
    format!("{}/s", size(x.max(0.0).round() as u64))
}

/// A duration in whole seconds for an ETA: `45s`, `5m 50s`, `2h 05m`,
/// `3d 4h`.
pub fn eta(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else if s < 86_400 {
        format!("{}h {:02}m", s / 3600, (s / 60) % 60)
    } else {
        format!("{}d {}h", s / 86_400, (s / 3600) % 24)
    }
}

/// The time at the start of each line: `HH:MM:SS` local time, with
/// milliseconds when the interval is under a second.
pub fn clock(unix_ms: i64, with_ms: bool) -> String {
    let tz = jiff::tz::TimeZone::system();
    match jiff::Timestamp::from_millisecond(unix_ms) {
        Ok(t) if with_ms => t.to_zoned(tz).strftime("%H:%M:%S%.3f").to_string(),
        Ok(t) => t.to_zoned(tz).strftime("%H:%M:%S").to_string(),
        Err(_) => "?".into(),
    }
}

fn head(time: &str, pid: Option<i32>, label: &str, style: Style) -> Line {
    let pid = pid.map_or_else(String::new, |p| p.to_string());
    Line::new()
        .with(format!("{time} "), Style::Dim)
        .with(format!("{pid:>7} "), Style::Strong)
        .with(format!("{label:<9}"), style)
        .with(" ", Style::Plain)
}

fn metric_name(m: Metric) -> &'static str {
    match m {
        Metric::Fds => "fds",
        Metric::Rss => "rss",
        Metric::Threads => "threads",
        Metric::Children => "children",
    }
}

/// `fds +10/s: unix sockets and /dev/null, 153 of 1024 (limit in ~1m 27s)`.
pub fn leak_text(l: &Leak) -> String {
    let span = eta(l.window_ms as f64 / 1000.0);
    match l.metric {
        Metric::Rss => format!(
            "rss (anon) +{}: {} now (+{} in {span})",
            byte_rate(l.per_sec),
            size(l.value),
            size(l.value.saturating_sub(l.from))
        ),
        m => {
            let mut s = format!("{} +{}/s", metric_name(m), rate(l.per_sec));
            if !l.growing.is_empty() {
                let names: Vec<String> =
                    l.growing.iter().take(3).map(|g| class_name(&g.0)).collect();
                let joined = match names.as_slice() {
                    [a] => a.clone(),
                    [a, b] => format!("{a} and {b}"),
                    [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
                    [] => String::new(),
                };
                s.push_str(&format!(": {joined}"));
            }
            match (l.limit, l.limit_eta_secs) {
                (Some(lim), Some(e)) => {
                    s.push_str(&format!(", {} of {lim} (limit in ~{})", l.value, eta(e)))
                }
                (Some(lim), None) => s.push_str(&format!(", {} of {lim}", l.value)),
                _ => s.push_str(&format!(
                    ", {} now (+{} in {span})",
                    l.value,
                    l.value.saturating_sub(l.from)
                )),
            }
            s
        }
    }
}

fn size_or_why(p: &Progress) -> Result<u64, String> {
    p.size.clone().map_err(|f| f.to_string())
}

/// `fd 3 /data/big 45.2% (1.2G of 2.6G) at 4.0M/s, ETA 5m 50s`.
pub fn progress_text(p: &Progress, stalled: bool) -> String {
    let mut s = format!("fd {} {}", p.fd, escape(p.path.as_slice()));
    let at = p.per_sec.map(|r| format!(" at {}", byte_rate(r)));
    match (p.direction, size_or_why(p)) {
        (Direction::Read, Ok(total)) => {
            let pct = p.percent.map_or_else(String::new, |x| format!(" {x:.1}%"));
            let verb = if stalled { " stalled at" } else { "" };
            s.push_str(&format!("{verb}{pct} ({} of {})", size(p.pos), size(total)));
            if let Some(a) = at {
                s.push_str(&a);
            }
            if let Some(e) = p.eta_secs {
                s.push_str(&format!(", ETA {}", eta(e)));
            }
        }
        (Direction::Read, Err(why)) => {
            let verb = if stalled { "stalled at" } else { "at" };
            s.push_str(&format!(" {verb} {}", size(p.pos)));
            if let Some(a) = at {
                s.push_str(&a);
            }
            s.push_str(&format!(" (size: {why})"));
        }
        (Direction::Write | Direction::Moving, known) => {
            let verb = match (stalled, p.direction) {
                (true, _) => "stalled at",
                (false, Direction::Write) => "written to",
                (false, _) => "position moving: at",
            };
            s.push_str(&format!(" {verb} {}", size(p.pos)));
            // In place (not growing): how far through the file.
            if let (Some(x), Ok(total)) = (p.percent, known) {
                s.push_str(&format!(" of {} ({x:.1}%)", size(total)));
            }
            if let Some(a) = at {
                s.push_str(&a);
            }
            if let Some(e) = p.eta_secs {
                s.push_str(&format!(", ETA {}", eta(e)));
            }
        }
    }
    s
}

/// `exited with status 3`, `killed by SIGKILL`.
pub fn exit_text(e: &Exit) -> String {
    match (e.code(), e.signal()) {
        (Some(c), _) => format!("with status {c}"),
        (None, Some(s)) => format!(
            "killed by {}{}",
            procscope_parse::decode::signal_name(u32::try_from(s).unwrap_or(0)),
            if e.core_dumped() {
                " (core dumped)"
            } else {
                ""
            }
        ),
        _ => "(its exit status is unknown: it was reaped before it was seen as a zombie)".into(),
    }
}

fn started_text(s: &Started) -> String {
    let comm = escape(s.comm.as_slice());
    let cmd = match &s.cmdline {
        Ok(c) if c.as_slice().is_empty() => "no command line".to_string(),
        Ok(c) => {
            let args: Vec<String> = procscope_parse::cmdline::Cmdline::parse(c.as_slice())
                .args()
                .map(|a| crate::escape::escape_arg(a).into_owned())
                .collect();
            crate::escape::truncate(&args.join(" "), 160).into_owned()
        }
        Err(f) => format!("<cmdline {f}>"),
    };
    let threads = if s.threads == 1 {
        "1 thread".to_string()
    } else {
        format!("{} threads", s.threads)
    };
    let fds = match &s.fds {
        Ok(v) => {
            let n: u64 = v.iter().map(|c| c.1).sum();
            let mut by: Vec<&(FdClass, u64)> = v.iter().collect();
            by.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            let mut parts: Vec<String> =
                by.iter().take(4).map(|c| class_count(&c.0, c.1)).collect();
            if by.len() > 4 {
                parts.push("…".into());
            }
            let lim = s.fd_limit.map_or_else(String::new, |l| format!(" of {l}"));
            if parts.is_empty() {
                format!("{n} fds{lim}")
            } else {
                format!("{n} fds{lim}: {}", parts.join(", "))
            }
        }
        Err(f) => format!("fds: {f}"),
    };
    let what = if s.appeared { "appeared:" } else { "watching" };
    format!(
        "{what} {comm} ({cmd}) — {} ({}), {threads}, RSS {}, {fds}",
        s.state.letter(),
        s.state.meaning(),
        size(s.rss_bytes)
    )
}

/// The rates line, or `None` when the process did nothing this interval.
pub fn rates_text(r: &Rates) -> Option<String> {
    let idle_io = r.io_per_sec.is_none_or(|i| i.read == 0.0 && i.write == 0.0);
    let idle_cs = r.ctxsw_per_sec.is_none_or(|c| c.0 == 0.0 && c.1 == 0.0);
    if r.cpu_percent < 0.05 && r.rss_change == 0 && idle_io && idle_cs {
        return None;
    }
    let mut s = format!("cpu {:.1}%  rss {}", r.cpu_percent, size(r.rss_bytes));
    if r.rss_change != 0 {
        let sign = if r.rss_change > 0 { "+" } else { "-" };
        s.push_str(&format!(" ({sign}{})", size(r.rss_change.unsigned_abs())));
    }
    if let Some(i) = r.io_per_sec {
        s.push_str(&format!(
            "  read {}  written {}",
            byte_rate(i.read),
            byte_rate(i.write)
        ));
        if i.disk_read > 0.0 || i.disk_write > 0.0 {
            s.push_str(&format!(
                " (disk {} / {})",
                byte_rate(i.disk_read),
                byte_rate(i.disk_write)
            ));
        }
    }
    if let Some((v, n)) = r.ctxsw_per_sec {
        s.push_str(&format!(
            "  switches {}/s ({} involuntary)",
            rate(v + n),
            rate(n)
        ));
    }
    Some(s)
}

fn summary_text(s: &Summary) -> String {
    let secs = s.watched_ms as f64 / 1000.0;
    let cpu_pct = if s.watched_ms > 0 {
        s.cpu_ms as f64 / s.watched_ms as f64 * 100.0
    } else {
        0.0
    };
    let mut parts = vec![format!(
        "watched {secs:.1}s ({} sample{}): cpu {:.1}s ({cpu_pct:.1}% avg), rss {} → {} (max {})",
        s.samples,
        if s.samples == 1 { "" } else { "s" },
        s.cpu_ms as f64 / 1000.0,
        size(s.rss.0),
        size(s.rss.1),
        size(s.rss.2)
    )];
    if let Some((a, b, m)) = s.fds {
        parts.push(format!(
            "fds {a} → {b} (max {m}; {} opened, {} closed)",
            s.opened, s.closed
        ));
    }
    parts.push(format!("threads {} → {}", s.threads.0, s.threads.1));
    if let Some(io) = s.io {
        parts.push(format!(
            "read {} written {}",
            size(io.rchar),
            size(io.wchar)
        ));
    }
    if let Some((v, n)) = s.ctxsw {
        parts.push(format!("{} switches ({n} involuntary)", v + n));
    }
    let mut text = parts.join(", ");
    if !s.leaks.is_empty() {
        let l: Vec<String> = s
            .leaks
            .iter()
            .map(|l| match l.metric {
                Metric::Rss => format!("rss +{}", byte_rate(l.per_sec)),
                m => format!("{} +{}/s", metric_name(m), rate(l.per_sec)),
            })
            .collect();
        text.push_str(&format!("; leaks: {}", l.join(", ")));
    }
    if s.timeouts > 0 {
        text.push_str(&format!("; {} read(s) timed out", s.timeouts));
    }
    if let Some(e) = &s.exit {
        text.push_str(&format!("; exited {}", exit_text(e)));
    }
    text
}

/// The line of one event (`None`: nothing to say, an idle interval).
pub fn event_line(time: &str, pid: i32, e: &Event) -> Option<Line> {
    let p = Some(pid);
    let (label, style, text) = match e {
        Event::Started(s) => ("watch", Style::Heading, started_text(s)),
        Event::FdOpened {
            entry, searched, ..
        } => (
            "+fd",
            Style::Good,
            format!("{} {}", entry.fd, fd_text(entry, *searched)),
        ),
        Event::FdClosed { entry, .. } => (
            "-fd",
            Style::Warn,
            format!("{} {}", entry.fd, fd_text(entry, false)),
        ),
        Event::State { from, to } => {
            let st = match to.letter() {
                'D' => Style::Critical,
                'T' | 't' => Style::Paused,
                _ => Style::Plain,
            };
            (
                "state",
                st,
                format!("{} → {} ({})", from.letter(), to.letter(), to.meaning()),
            )
        }
        Event::Threads { from, to } => ("threads", Style::Plain, format!("{from} → {to}")),
        Event::Renamed { from, to } => (
            "renamed",
            Style::Plain,
            format!("{} → {}", escape(from.as_slice()), escape(to.as_slice())),
        ),
        Event::Blocked(c) => {
            let mut s = match c.name {
                Some(n) => format!("in {n}()"),
                None => match c.nr {
                    Some(nr) => format!("in system call {nr}"),
                    None => "asleep".to_string(),
                },
            };
            if let Some(w) = &c.wchan {
                s.push_str(&format!(" (wchan {})", escape(w.as_slice())));
            }
            ("blocked", Style::Plain, s)
        }
        Event::Rates(r) => ("rates", Style::Dim, rates_text(r)?),
        Event::Leak(l) => ("LEAK", Style::Bad, leak_text(l)),
        Event::LeakEnded { metric, value } => (
            "leak over",
            Style::Good,
            format!(
                "{} stopped growing at {}",
                metric_name(*metric),
                match metric {
                    Metric::Rss => size(*value),
                    _ => value.to_string(),
                }
            ),
        ),
        Event::Progress(pr) => (
            match pr.direction {
                Direction::Read => "read",
                Direction::Write => "write",
                Direction::Moving => "moving",
            },
            Style::Strong,
            progress_text(pr, false),
        ),
        Event::Stalled(pr) => ("stalled", Style::Warn, progress_text(pr, true)),
        Event::FdRenamed { fd, from, to } => (
            "~fd",
            Style::Plain,
            format!(
                "fd {fd} {} → {} (the same open file)",
                escape(from.as_slice()),
                escape(to.as_slice())
            ),
        ),
        Event::PositionsStill { files } => (
            "no progress",
            Style::Dim,
            format!(
                "it reads, but the position of {} open for reading does not move \
                 (pread or mmap, or its reads are of pipes and sockets): \
                 per-file progress cannot be shown",
                if *files == 1 {
                    "the 1 file".to_string()
                } else {
                    format!("any of the {files} files")
                }
            ),
        ),
        Event::TimedOut { what, failure } => (
            "TIMEOUT",
            Style::Warn,
            format!("{}: {failure}", what.join(", ")),
        ),
        Event::Unreadable { what, failure } => {
            ("unreadable", Style::Warn, format!("{what}: {failure}"))
        }
        Event::Exited(x) => ("exited", Style::Heading, exit_text(x)),
        Event::Summary(s) => ("summary", Style::Heading, summary_text(s)),
    };
    Some(head(time, p, label, style).with(text, Style::Plain))
}

/// The line of a notice about the whole watch.
pub fn notice_line(time: &str, target: &str, n: &Notice) -> Line {
    let (label, text) = match n {
        Notice::Waiting => (
            "waiting",
            format!(
                "no process matches `{}` yet: processes that appear are followed",
                escape(target.as_bytes())
            ),
        ),
        Notice::Capped { watching, matching } => (
            "capped",
            format!("{matching} processes match: following {watching} of them"),
        ),
        Notice::ListFailed(f) => ("error", format!("cannot list processes: {f}")),
    };
    head(time, None, label, Style::Warn).with(text, Style::Plain)
}

/// fds beyond the listed ones: counts by class, lowest and highest fd.
type Rest = (BTreeMap<FdClass, u64>, i32, i32);

/// The lines of one interval's events. More than [`LIST_MAX`] fds opened
/// (or closed) by one process are listed up to `LIST_MAX - 1`, and the
/// rest counted by class on one line with their lowest and highest fd.
pub fn lines(time: &str, events: &[(i32, Event)]) -> Vec<Line> {
    // (pid, opened?) -> how many in this batch.
    let mut totals: BTreeMap<(i32, bool), usize> = BTreeMap::new();
    for (pid, e) in events {
        match e {
            Event::FdOpened { .. } => *totals.entry((*pid, true)).or_default() += 1,
            Event::FdClosed { .. } => *totals.entry((*pid, false)).or_default() += 1,
            _ => {}
        }
    }
    let mut seen: BTreeMap<(i32, bool), usize> = BTreeMap::new();
    let mut rest: BTreeMap<(i32, bool), Rest> = BTreeMap::new();
    let mut out = Vec::new();
    for (pid, e) in events {
        let key = match e {
            Event::FdOpened { entry, class, .. } | Event::FdClosed { entry, class } => {
                Some(((*pid, matches!(e, Event::FdOpened { .. })), entry.fd, class))
            }
            _ => None,
        };
        if let Some((k, fd, class)) = key {
            let n = seen.entry(k).or_default();
            *n += 1;
            if totals.get(&k).copied().unwrap_or(0) > LIST_MAX && *n >= LIST_MAX {
                let r = rest.entry(k).or_insert((BTreeMap::new(), fd, fd));
                *r.0.entry(class.clone()).or_default() += 1;
                r.1 = r.1.min(fd);
                r.2 = r.2.max(fd);
                if *n == totals.get(&k).copied().unwrap_or(0) {
                    let (by, lo, hi) = r.clone();
                    let mut by: Vec<(FdClass, u64)> = by.into_iter().collect();
                    by.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                    let count: u64 = by.iter().map(|c| c.1).sum();
                    let parts: Vec<String> = by.iter().map(|(c, n)| class_count(c, *n)).collect();
                    let (label, style, verb) = if k.1 {
                        ("+fd", Style::Good, "opened")
                    } else {
                        ("-fd", Style::Warn, "closed")
                    };
                    out.push(head(time, Some(k.0), label, style).with(
                        format!("{count} more {verb}: {} (fds {lo}–{hi})", parts.join(", ")),
                        Style::Plain,
                    ));
                }
                continue;
            }
        }
        if let Some(l) = event_line(time, *pid, e) {
            out.push(l);
        }
    }
    out
}

#[cfg(test)]
mod tests;

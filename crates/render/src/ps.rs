//! Process rows as table cells.

use crate::escape::{escape, escape_arg};
use crate::table::{Align, Cell};
use crate::units;
use anstyle::{AnsiColor, Style};
use procscope_model::Failure;
use procscope_model::process::ProcessRow;
use procscope_model::sort::Key;
use procscope_model::tree::TreeLine;
use procscope_parse::cmdline::Shape;
use procscope_parse::stat::TaskState;

/// A column of `procscope ps`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Column {
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
    Nice,
    Pri,
    Priority,
    Pgrp,
    Sid,
    Tty,
    Comm,
    Command,
}

/// Every column name, for help and errors.
pub const NAMES: &str = "pid, tid, ppid, user, uid, state, threads, rss, vsz, cpu, start, elapsed, nice, pri, priority, pgrp, sid, tty, comm, command";

/// The default columns.
pub const DEFAULT: &[Column] = &[
    Column::Pid,
    Column::Ppid,
    Column::User,
    Column::State,
    Column::Threads,
    Column::Rss,
    Column::Cpu,
    Column::Start,
    Column::Elapsed,
    Column::Command,
];

impl Column {
    /// Parses a comma-separated list of column names (ps aliases accepted).
    pub fn parse_list(s: &str) -> Result<Vec<Column>, String> {
        s.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| {
                Ok(match p.to_ascii_lowercase().as_str() {
                    "pid" => Column::Pid,
                    "tid" | "lwp" | "spid" => Column::Tid,
                    "ppid" => Column::Ppid,
                    "user" | "euser" => Column::User,
                    "uid" | "euid" => Column::Uid,
                    "state" | "stat" | "s" => Column::State,
                    "threads" | "nlwp" | "thcount" => Column::Threads,
                    "rss" | "mem" => Column::Rss,
                    "vsz" | "vsize" => Column::Vsz,
                    "cpu" | "time" | "cputime" => Column::Cpu,
                    "start" | "start_time" | "stime" => Column::Start,
                    "elapsed" | "etime" => Column::Elapsed,
                    "nice" | "ni" => Column::Nice,
                    "pri" => Column::Pri,
                    "priority" | "prio" => Column::Priority,
                    "pgrp" | "pgid" => Column::Pgrp,
                    "sid" | "session" | "sess" => Column::Sid,
                    "tty" | "tt" => Column::Tty,
                    "comm" | "name" | "ucomm" => Column::Comm,
                    "command" | "args" | "cmd" | "cmdline" => Column::Command,
                    other => return Err(format!("unknown column `{other}` (known: {NAMES})")),
                })
            })
            .collect()
    }

    /// The header text.
    pub fn header(self) -> &'static str {
        match self {
            Column::Pid => "PID",
            Column::Tid => "TID",
            Column::Ppid => "PPID",
            Column::User => "USER",
            Column::Uid => "UID",
            Column::State => "S",
            Column::Threads => "THR",
            Column::Rss => "RSS",
            Column::Vsz => "VSZ",
            Column::Cpu => "TIME",
            Column::Start => "START",
            Column::Elapsed => "ELAPSED",
            Column::Nice => "NI",
            Column::Pri => "PRI",
            Column::Priority => "PRIORITY",
            Column::Pgrp => "PGRP",
            Column::Sid => "SID",
            Column::Tty => "TTY",
            Column::Comm => "COMM",
            Column::Command => "COMMAND",
        }
    }

    /// Alignment: numbers right, text left.
    pub fn align(self) -> Align {
        match self {
            Column::User
            | Column::State
            | Column::Start
            | Column::Tty
            | Column::Comm
            | Column::Command => Align::Left,
            _ => Align::Right,
        }
    }

    /// The sort key of the column (`--sort` takes column names).
    pub fn sort_key(self) -> Key {
        match self {
            Column::Pid => Key::Pid,
            Column::Tid => Key::Tid,
            Column::Ppid => Key::Ppid,
            Column::User => Key::User,
            Column::Uid => Key::Uid,
            Column::State => Key::State,
            Column::Threads => Key::Threads,
            Column::Rss => Key::Rss,
            Column::Vsz => Key::Vsz,
            Column::Cpu => Key::Cpu,
            Column::Start => Key::Start,
            Column::Elapsed => Key::Elapsed,
            Column::Nice => Key::Nice,
            Column::Pri => Key::Pri,
            Column::Priority => Key::Priority,
            Column::Pgrp => Key::Pgrp,
            Column::Sid => Key::Session,
            Column::Tty => Key::Tty,
            Column::Comm => Key::Comm,
            Column::Command => Key::Command,
        }
    }

    /// Whether the column needs the UID (`status`).
    pub fn needs_uid(self) -> bool {
        matches!(self, Column::User | Column::Uid)
    }

    /// Whether the column needs the command line (a guarded read).
    pub fn needs_cmdline(self) -> bool {
        matches!(self, Column::Command)
    }

    /// Whether the column needs only what every listing reads (`stat`).
    pub fn is_tree_anchor(self) -> bool {
        matches!(self, Column::Command | Column::Comm)
    }
}

/// Parses `--sort`: column names, comma-separated, each optionally
/// prefixed with `-` (descending) or `+`.
pub fn parse_sort(spec: &str) -> Result<Vec<(Key, bool)>, String> {
    let mut out = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (desc, name) = match part.strip_prefix('-') {
            Some(n) => (true, n),
            None => (false, part.strip_prefix('+').unwrap_or(part)),
        };
        let cols = Column::parse_list(name)
            .map_err(|_| format!("unknown sort key `{name}` (known: {NAMES})"))?;
        out.extend(cols.into_iter().map(|c| (c.sort_key(), desc)));
    }
    Ok(out)
}

/// Context for formatting cells.
#[derive(Debug, Clone, Copy)]
pub struct CellCtx {
    /// Now, for START.
    pub now_unix: u64,
}

fn state_style(s: TaskState) -> Style {
    match s {
        TaskState::DiskSleep => Style::new().fg_color(Some(AnsiColor::Red.into())).bold(),
        TaskState::Zombie => Style::new().fg_color(Some(AnsiColor::Yellow.into())),
        TaskState::Running => Style::new().fg_color(Some(AnsiColor::Green.into())),
        TaskState::Stopped | TaskState::TracingStop => {
            Style::new().fg_color(Some(AnsiColor::Magenta.into()))
        }
        _ => Style::new(),
    }
}

fn dim() -> Style {
    Style::new().dimmed()
}

fn warn() -> Style {
    Style::new().fg_color(Some(AnsiColor::Red.into()))
}

/// A placeholder for a value that could not be read. Tables show `?`; the
/// reasons are summarised once on standard error (see [`problems`]) and
/// given per field in JSON.
fn missing(_f: &Failure) -> Cell {
    Cell::styled("?", dim())
}

/// One line per row whose `stat` or `status` could not be read (vanished
/// processes are not problems), for a warning under a table.
pub fn problems(rows: &[ProcessRow]) -> Vec<String> {
    let mut out = Vec::new();
    for r in rows {
        let id = r.tid.map_or_else(
            || format!("PID {}", r.pid),
            |t| format!("PID {} TID {t}", r.pid),
        );
        if let Err(e) = &r.stat {
            if *e != Failure::Gone {
                out.push(format!("{id}: stat: {e}"));
            }
        }
        if let Some(Err(e)) = &r.uid {
            if *e != Failure::Gone {
                out.push(format!("{id}: status: {e}"));
            }
        }
    }
    out
}

/// Decodes a `tty_nr` (Documentation/admin-guide/devices.txt).
pub fn tty_name(tty_nr: i32) -> String {
    if tty_nr == 0 {
        return "?".into();
    }
    let nr = u32::from_ne_bytes(tty_nr.to_ne_bytes());
    let major = (nr >> 8) & 0xfff;
    let minor = (nr & 0xff) | ((nr >> 12) & 0xfff00);
    match major {
        4 if minor < 64 => format!("tty{minor}"),
        4 => format!("ttyS{}", minor - 64),
        136..=143 => format!("pts/{}", (major - 136) * 256 + minor),
        _ => format!("{major}:{minor}"),
    }
}

/// The COMMAND text of a row: escaped arguments, or `[comm]` for kernel
/// threads and processes without a command line, `<defunct>` for zombies,
/// and the reason when the command line could not be read.
pub fn command_text(row: &ProcessRow) -> (String, Style) {
    let comm = escape(row.comm().unwrap_or_default()).into_owned();
    let bracketed = format!("[{comm}]");
    if row.state() == Some(TaskState::Zombie) {
        return (format!("{bracketed} <defunct>"), dim());
    }
    if row.is_kernel_thread() {
        return (bracketed, dim());
    }
    match &row.cmdline {
        None => (comm, Style::new()),
        Some(Err(Failure::Gone)) => (bracketed, dim()),
        Some(Err(f @ (Failure::TimedOut { .. } | Failure::Skipped { .. }))) => (
            format!(
                "{bracketed} <cmdline {}: memory lock held>",
                f.kind().replace('_', " ")
            ),
            warn(),
        ),
        Some(Err(f)) => (format!("{bracketed} <cmdline {}>", f.kind()), dim()),
        Some(Ok(c)) => {
            let view = c.view();
            if view.shape() == Shape::Empty {
                return (bracketed, dim());
            }
            let mut s = String::with_capacity(c.raw.len().min(4096));
            for (i, a) in view.display_args().enumerate() {
                if i > 0 {
                    s.push(' ');
                }
                s.push_str(&escape_arg(a));
            }
            if c.truncated {
                s.push_str(" <truncated>");
            }
            (s, Style::new())
        }
    }
}

/// The guide drawn before a command in tree mode (`ps f` style).
pub fn tree_prefix(line: &TreeLine) -> String {
    if line.depth == 0 {
        return String::new();
    }
    let mut s = String::new();
    for &g in &line.guides {
        s.push_str(if g { " │  " } else { "    " });
    }
    if line.depth > line.guides.len() + 1 {
        s.push_str(" … ");
    }
    s.push_str(if line.last { " └─ " } else { " ├─ " });
    s
}

/// Formats one cell.
pub fn cell(col: Column, row: &ProcessRow, ctx: &CellCtx) -> Cell {
    let st = row.stat.as_ref();
    let num = |f: &dyn Fn(&procscope_model::process::StatInfo) -> String| match st {
        Ok(s) => Cell::plain(f(s)),
        Err(e) => missing(e),
    };
    match col {
        Column::Pid => Cell::plain(row.pid.to_string()),
        Column::Tid => Cell::plain(row.tid.unwrap_or(row.pid).to_string()),
        Column::Ppid => num(&|s| s.ppid.to_string()),
        Column::User => match (&row.user, &row.uid) {
            (Some(u), _) => Cell::plain(escape(u.as_slice()).into_owned()),
            (None, Some(Ok(uid))) => Cell::plain(uid.to_string()),
            (None, Some(Err(e))) => missing(e),
            (None, None) => Cell::plain("?"),
        },
        Column::Uid => match &row.uid {
            Some(Ok(uid)) => Cell::plain(uid.to_string()),
            Some(Err(e)) => missing(e),
            None => Cell::plain("?"),
        },
        Column::State => match st {
            Ok(s) => Cell::styled(s.state.letter().to_string(), state_style(s.state)),
            Err(e) => missing(e),
        },
        Column::Threads => num(&|s| s.threads.to_string()),
        Column::Rss => num(&|s| units::size(s.rss_bytes)),
        Column::Vsz => num(&|s| units::size(s.vsz_bytes)),
        Column::Cpu => num(&|s| units::cpu_time(s.cpu_time_ms)),
        Column::Start => num(&|s| units::start_time(s.start_time_unix, ctx.now_unix)),
        Column::Elapsed => num(&|s| units::elapsed(s.elapsed_secs)),
        // Like procps: nice does not apply to real-time, deadline and idle tasks.
        Column::Nice => num(&|s| {
            if s.nice_applies() {
                s.nice.to_string()
            } else {
                "-".to_string()
            }
        }),
        Column::Pri => num(&|s| s.pri().to_string()),
        Column::Priority => num(&|s| s.priority.to_string()),
        Column::Pgrp => num(&|s| s.pgrp.to_string()),
        Column::Sid => num(&|s| s.session.to_string()),
        Column::Tty => num(&|s| tty_name(s.tty_nr)),
        Column::Comm => match st {
            Ok(s) => Cell::plain(escape(s.comm.as_slice()).into_owned()),
            Err(e) => missing(e),
        },
        Column::Command => {
            let (t, style) = command_text(row);
            Cell::styled(t, style)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttys() {
        assert_eq!(tty_name(0), "?");
        assert_eq!(tty_name(34816), "pts/0");
        assert_eq!(tty_name(34817 + 256 - 1), "pts/256");
        assert_eq!(tty_name(1025), "tty1");
        assert_eq!(tty_name(4 << 8 | 64), "ttyS0");
    }

    #[test]
    fn sort_specs() {
        assert_eq!(
            parse_sort("-rss,pid").unwrap(),
            vec![(Key::Rss, true), (Key::Pid, false)]
        );
        assert_eq!(parse_sort("+etime").unwrap(), vec![(Key::Elapsed, false)]);
        assert_eq!(parse_sort("args").unwrap(), vec![(Key::Command, false)]);
        assert!(
            parse_sort("bogus")
                .unwrap_err()
                .contains("unknown sort key `bogus` (known: pid")
        );
    }

    #[test]
    fn column_lists() {
        assert_eq!(
            Column::parse_list("pid,args").unwrap(),
            vec![Column::Pid, Column::Command]
        );
        assert!(
            Column::parse_list("pid,nope")
                .unwrap_err()
                .contains("unknown column `nope`")
        );
    }
}

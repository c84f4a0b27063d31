//! `who-has` in words: the table, what was left out, what "nobody" means,
//! and the JSON document ([`crate::wire::whohas`]).

use crate::escape::escape;
use crate::table::{Align, Cell, Table};
use crate::wire::whohas as wire;
use procscope_model::Failure;
use procscope_model::fdscan::UseKind;
use procscope_model::whohas::{Found, Matched, Row, Use};
use std::io::{self, Write};

/// A user as the USER column shows it: the name, else the UID, else `?`.
fn user(r: &Row) -> String {
    match (&r.user, r.uid) {
        (Some(n), _) => escape(n.as_slice()).into_owned(),
        (None, Some(u)) => u.to_string(),
        (None, None) => "?".into(),
    }
}

/// The table (`deleted`: with the SIZE column); nothing when no row.
pub fn write_table(
    out: &mut dyn Write,
    f: &Found,
    deleted: bool,
    width: Option<usize>,
) -> io::Result<()> {
    if f.rows.is_empty() {
        return Ok(());
    }
    let mut headers = vec![
        ("PID".to_string(), Align::Right),
        ("COMMAND".into(), Align::Left),
        ("USER".into(), Align::Left),
        ("FD".into(), Align::Right),
        ("MODE".into(), Align::Left),
    ];
    if deleted {
        headers.push(("SIZE".into(), Align::Right));
    }
    headers.push(("WHAT".into(), Align::Left));
    let mut t = Table::new(headers);
    for r in &f.rows {
        let (fd, mode) = match r.what {
            Use::Fd(fd) => (fd.to_string(), r.mode.map_or("?", crate::fds::access_mode)),
            Use::Other(k) => (
                k.name().to_string(),
                r.mode.map_or("-", crate::fds::access_mode),
            ),
        };
        let mut cells = vec![
            Cell::plain(r.pid.to_string()),
            Cell::plain(escape(r.comm.as_slice()).into_owned()),
            Cell::plain(user(r)),
            Cell::plain(fd),
            Cell::plain(mode),
        ];
        if deleted {
            cells.push(Cell::plain(
                r.size.map_or_else(|| "?".into(), crate::units::size),
            ));
        }
        cells.push(Cell::plain(escape(r.link.as_slice()).into_owned()));
        t.push(cells);
    }
    t.write(out, width, true)
}

/// The warnings after the table: processes that could not be looked into,
/// and links left out as a different file.
pub fn warnings(f: &Found) -> Vec<String> {
    let mut v = Vec::new();
    if !f.unreadable.is_empty() {
        let mut why: Vec<String> = f.unreadable.iter().map(|(_, e)| e.to_string()).collect();
        why.sort();
        why.dedup();
        let n = f.unreadable.len();
        // Which ones: a count alone leaves the reader to guess whom to ask
        // about (the first few named, in PID order).
        let mut pids: Vec<i32> = f.unreadable.iter().map(|(p, _)| *p).collect();
        pids.sort_unstable();
        let named: Vec<String> = pids.iter().take(NAMED).map(i32::to_string).collect();
        let more = pids.len().saturating_sub(NAMED);
        let which = format!(
            "{} {}{}",
            if n == 1 { "PID" } else { "PIDs" },
            named.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        );
        v.push(format!(
            "the fds of {n} {} ({which}) could not be read, so {} not included: {}",
            if n == 1 { "process" } else { "processes" },
            if n == 1 { "it is" } else { "they are" },
            why.join("; ")
        ));
    }
    if f.not_same > 0 {
        v.push(format!(
            "{} {} with this path left out: a different file (another mount namespace's, or one replaced since)",
            f.not_same,
            if f.not_same == 1 { "link" } else { "links" }
        ));
    }
    v
}

/// Processes named in the warning about unreadable fds before "and N more".
const NAMED: usize = 10;

/// What it means that nobody was found.
pub fn nobody(matched: Matched) -> &'static str {
    match matched {
        Matched::PathUnder => {
            "nobody holds anything there open or uses it (matched by path under it, confirmed by identity)"
        }
        Matched::Identity => {
            "nobody holds it open or uses it (fds matched by device and inode, under any name)"
        }
        Matched::Inodes => "nobody holds it",
        Matched::Deleted => "no process holds a deleted file",
    }
}

/// An error object as docs/json.md describes them (the one conversion
/// every document uses).
pub fn error(f: &Failure) -> crate::wire::common::ErrorBody {
    crate::wire::common::ErrorObject::from(f).error
}

/// The JSON document's body.
pub fn wire(f: &Found) -> wire::WhoHas {
    wire::WhoHas {
        holders: f
            .rows
            .iter()
            .map(|r| wire::Holder {
                pid: r.pid,
                comm: r.comm.clone(),
                user: r
                    .user
                    .clone()
                    .or_else(|| r.uid.map(|u| u.to_string().into_bytes().as_slice().into())),
                uid: r.uid,
                what: match r.what {
                    Use::Fd(_) => wire::Use::Fd,
                    Use::Other(UseKind::Cwd) => wire::Use::Cwd,
                    Use::Other(UseKind::Root) => wire::Use::Root,
                    Use::Other(UseKind::Exe) => wire::Use::Exe,
                    Use::Other(UseKind::Mem) => wire::Use::Mem,
                },
                fd: match r.what {
                    Use::Fd(fd) => Some(fd),
                    Use::Other(_) => None,
                },
                mode: r.mode.map(|m| crate::wire::common::name(&m)),
                link: r.link.clone(),
                size: r.size,
            })
            .collect(),
        unreadable: f
            .unreadable
            .iter()
            .map(|(pid, e)| wire::Unreadable {
                pid: *pid,
                error: error(e),
            })
            .collect(),
    }
}

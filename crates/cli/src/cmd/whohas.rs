//! `procscope who-has WHAT`: which processes hold a file, a port, a pipe.

use crate::cli::{Global, WhoHasArgs};
use crate::output::{self, Exit, UsageError};
use procscope_model::whohas::{AskError, Asked, Query};
use procscope_render::escape::escape;
use std::io::Write;

/// Extra help for `procscope who-has --help`.
pub const AFTER_HELP: &str = "\
Examples:
  procscope who-has /var/log/syslog    who has this file open (like fuser / lsof FILE)
  procscope who-has --mount /mnt/data  anything under this path (a mount point: who keeps it busy)
  procscope who-has :8080              who has a socket on port 8080 (tcp or udp); tcp:8080, udp:53, 127.0.0.1:8080
  procscope who-has 'pipe:[123456]'    both ends of a pipe
  procscope who-has --deleted          open or mapped but deleted files, with sizes (the disk is full but du disagrees)

For a path, the FD column also shows processes whose working directory
(cwd), root, executable (exe) or a mapped file (mem) it is or, with --mount,
is under it — what keeps a mount busy as often as an open file (fuser's c,
r, e, m). Only fd, cwd, root and exe links, fdinfo, maps (under the
deadline) and the socket tables are read (no stat through a hung mount,
except the size of deleted files, which is read under the deadline).
Ports are looked up in procscope's own network namespace.
Exit status: 0 when someone has it, 1 when nobody does.";

/// Runs `procscope who-has`: what is asked, found by the model, said by
/// render.
pub fn run(g: &Global, a: &WhoHasArgs) -> anyhow::Result<Exit> {
    let root = crate::cmd::ps::open_root(g)?;
    let opts = &g.session;
    let asked = Asked::parse(a.what.as_deref(), a.deleted, a.mount).map_err(|e| match e {
        AskError::NothingAsked => UsageError(
            "who-has needs WHAT (a path, :PORT, pipe:[INODE], socket:[INODE]) or --deleted".into(),
        ),
        AskError::BadPort(w) => UsageError(format!(
            "`{}`: a port is a number from 1 to 65535 (:PORT, tcp:PORT, udp:PORT, ADDR:PORT)",
            escape(&w)
        )),
    })?;
    let query = asked.resolve(&root, opts);
    let found = procscope_model::whohas::find(&root, &query, opts);
    let mut out = output::stdout(g.color);
    if g.json {
        procscope_render::json::write_document(
            &mut out,
            "who-has",
            &procscope_render::whohas::wire(&found),
        )?;
    } else {
        procscope_render::whohas::write_table(
            &mut out,
            &found,
            matches!(query, Query::Deleted),
            output::term_width(),
        )?;
    }
    out.flush()?;
    if !g.json {
        for w in procscope_render::whohas::warnings(&found) {
            output::warn(&w);
        }
    }
    if let Query::Path(m) = &query {
        if m.missing && found.rows.is_empty() {
            let p = m.paths.first().map(Vec::as_slice).unwrap_or_default();
            return Err(UsageError(format!(
                "no such file or directory: {} (and no process holds a deleted file of that name)",
                escape(p)
            ))
            .into());
        }
    }
    if found.rows.is_empty() && !g.json {
        output::warn(procscope_render::whohas::nobody(query.matched()));
    }
    Ok(if found.rows.is_empty() {
        Exit::NoMatch
    } else {
        Exit::Success
    })
}

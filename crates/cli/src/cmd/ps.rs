//! `procscope ps`: find and list processes.

use crate::cli::{Global, PsArgs};
use crate::output::{self, Exit, UsageError};
use anyhow::Context;
use procscope_model::listing::{self, Request};
use procscope_model::process::ProcessRow;
use procscope_model::select::{self, Filter};
use procscope_model::sort::{self, Key};
use procscope_model::{tree, users};
use procscope_read::{Failure, ProcRoot, Session};
use procscope_render::ps::{CellCtx, Column, DEFAULT};
use procscope_render::table::{Align, Cell, Layout, Table};
use procscope_render::{json, wire};
use std::io::Write;

/// Extra help for `procscope ps --help`.
pub const AFTER_HELP: &str = "\
Examples:
  procscope ps                         all processes
  procscope ps sshd                    name matches the regex (procscope itself is never listed)
  procscope ps -fx '/usr/bin/python3 app.py'   whole command line, exactly
  procscope ps --state D,Z --tree      stuck and defunct processes in their tree
  procscope ps -u postgres --sort=-rss -o pid,rss,command
  procscope ps --threads -p 1234       one row per thread
  kill $(procscope ps --pids -x sleep)

COMMAND shows [name] for kernel threads, [name] <defunct> for zombies, and
'<cmdline timed out: memory lock held>' for a process whose command line
cannot be read because one of its threads is stuck (ps would hang there).
Exit status: 0 when something matched, 1 when nothing did, 2 on errors.";

/// Command lines longer than this are cut in listings (`cmdline` shows all).
const CMDLINE_CAP: usize = 256 * 1024;

/// Runs `procscope ps`.
pub fn run(g: &Global, a: &PsArgs) -> anyhow::Result<Exit> {
    let root = open_root(g)?;
    let mut columns = match &a.columns {
        Some(s) => Column::parse_list(s).map_err(UsageError)?,
        None => DEFAULT.to_vec(),
    };
    if columns.is_empty() {
        return Err(UsageError("--columns needs at least one column".into()).into());
    }
    if a.threads && !columns.contains(&Column::Tid) {
        let at = columns
            .iter()
            .position(|c| *c == Column::Pid)
            .map_or(0, |i| i + 1);
        columns.insert(at, Column::Tid);
    }
    let keys = match &a.sort {
        Some(s) => procscope_render::ps::parse_sort(s).map_err(UsageError)?,
        None => Vec::new(),
    };
    if a.pids_only && g.json {
        return Err(UsageError(
            "--pids and --json cannot be combined: --json already lists the PIDs".into(),
        )
        .into());
    }
    let filter = build_filter(a, &root, &g.session)?;

    let sort_uid = keys.iter().any(|(k, _)| matches!(k, Key::User | Key::Uid));
    let sort_cmd = keys.iter().any(|(k, _)| *k == Key::Command);
    let need_uid =
        g.json || columns.iter().any(|c| c.needs_uid()) || filter.needs_uid() || sort_uid;
    let need_cmd_out =
        !a.pids_only && (g.json || columns.iter().any(|c| c.needs_cmdline()) || sort_cmd);
    let need_cmd_filter = filter.needs_cmdline();
    // Command lines are read last, in display order, and each row is printed
    // as soon as its command line is in: memory holds the small stat rows,
    // not every command line (and a pattern on names reads only the matches'
    // command lines). This needs the command to be the table's last column
    // (the others' widths are known before it is read), one row per process,
    // and neither a -f pattern nor a sort on the command line.
    let cmd_last = columns.last() == Some(&Column::Command);
    let stream =
        need_cmd_out && !need_cmd_filter && !sort_cmd && !a.threads && (g.json || cmd_last);
    let pid_hint = (!a.pids.is_empty() && a.ppid.is_empty() && a.children_of.is_empty())
        .then(|| a.pids.clone());
    let opts = &g.session;
    let req = Request {
        uid: need_uid,
        cmdline: (need_cmd_out && !stream) || need_cmd_filter,
        threads: a.threads,
        pids: pid_hint,
        cmdline_cap: CMDLINE_CAP,
        session: opts.clone(),
        keep_handles: if stream { handle_budget(&root) } else { 0 },
    };
    let listing = listing::list(&root, &req).map_err(|f| proc_root_error(g, &f))?;
    let clock = listing.clock;
    let mut timed_out = listing.timed_out;
    let mut rows = filter.apply(listing.rows);
    if need_uid {
        let uids = rows
            .iter()
            .filter_map(|r| r.uid.as_ref().and_then(|u| u.as_ref().ok()).copied());
        let names = users::resolve(&root, uids, opts);
        for r in &mut rows {
            if let Some(Ok(uid)) = &r.uid {
                r.user = names.get(uid).cloned();
            }
        }
    }
    if !keys.is_empty() {
        sort::sort(&mut rows, &keys);
    }
    // Display order, with the tree guide of each row.
    let (rows, prefixes): (Vec<ProcessRow>, Vec<String>) = if a.tree && !a.pids_only {
        let lines = tree::forest(&rows);
        let mut slots: Vec<Option<ProcessRow>> = rows.into_iter().map(Some).collect();
        lines
            .iter()
            .filter_map(|l| {
                Some((
                    slots.get_mut(l.index)?.take()?,
                    procscope_render::ps::tree_prefix(l),
                ))
            })
            .unzip()
    } else {
        let n = rows.len();
        (rows, vec![String::new(); n])
    };
    let matched = !rows.is_empty();
    let problems = if g.json {
        Vec::new()
    } else {
        procscope_render::ps::problems(&rows)
    };

    let mut out = output::stdout(g.color);
    let ctx = CellCtx {
        now_unix: clock
            .boot_time_unix
            .saturating_add(clock.uptime_centis / 100),
    };
    let width = if a.wide { None } else { output::term_width() };
    let headers: Vec<(String, Align)> = columns
        .iter()
        .map(|c| (c.header().to_owned(), c.align()))
        .collect();
    let anchor = columns.iter().rposition(|c| c.is_tree_anchor());
    let cells = |r: &ProcessRow, prefix: &str| -> Vec<Cell> {
        let mut cells: Vec<Cell> = columns
            .iter()
            .map(|c| procscope_render::ps::cell(*c, r, &ctx))
            .collect();
        if let Some(cell) = anchor.and_then(|i| cells.get_mut(i)) {
            cell.text.insert_str(0, prefix);
        }
        cells
    };

    if a.pids_only {
        for r in &rows {
            writeln!(out, "{}", r.tid.unwrap_or(r.pid))?;
        }
    } else if g.json {
        // The rows are written as their command lines come in: a consumer
        // can parse the document as a stream (docs/json.md).
        let head = wire::ps::Head::new(root.path().display().to_string());
        let mut doc = json::Stream::begin(&mut out, &head, "processes")?;
        if stream {
            timed_out.extend(stream_rows(&root, rows, opts, |_, r| {
                doc.item(&mut out, &wire::ps::Row::from(r))
            })?);
        } else {
            for r in &rows {
                doc.item(&mut out, &wire::ps::Row::from(r))?;
            }
        }
        doc.end(
            &mut out,
            &wire::ps::Tail {
                timed_out: timed_out.clone(),
            },
        )?;
    } else if matched {
        if stream {
            // Widths from every column but the command, which is last,
            // measured row by row (no table is held).
            let mut layout = Layout::measuring(headers);
            for (r, p) in rows.iter().zip(&prefixes) {
                let mut c = cells(r, p);
                c.pop();
                layout.measure(&c);
            }
            let layout = layout.finish(width);
            if !a.no_header {
                layout.write_header(&mut out)?;
            }
            timed_out.extend(stream_rows(&root, rows, opts, |k, r| {
                let prefix = prefixes.get(k).map_or("", String::as_str);
                layout.write_row(&mut out, &cells(r, prefix))
            })?);
        } else {
            let mut table = Table::new(headers);
            for (r, p) in rows.iter().zip(&prefixes) {
                table.push(cells(r, p));
            }
            table.write(&mut out, width, !a.no_header)?;
        }
    }
    out.flush()?;
    drop(out);
    if !g.json && !rustix::process::geteuid().is_root() {
        if let Some(h) = root.hiding() {
            output::warn(&format!(
                "{} is mounted with {h}: other users' processes are hidden from you; run as root to see them",
                root.path().display()
            ));
        }
    }
    if !problems.is_empty() {
        let shown: Vec<&str> = problems.iter().take(5).map(String::as_str).collect();
        let more = problems.len().saturating_sub(shown.len());
        output::warn(&format!(
            "some fields could not be read and show as `?`: {}{}",
            shown.join("; "),
            if more > 0 {
                format!("; and {more} more (see --json)")
            } else {
                String::new()
            }
        ));
    }
    if !timed_out.is_empty() && !g.json {
        timed_out.sort_unstable();
        timed_out.dedup();
        let list: Vec<String> = timed_out.iter().take(10).map(i32::to_string).collect();
        output::warn(&format!(
            "the command line of {} process(es) could not be read within {} ms (PID {}): a thread of each holds its memory lock, so `ps` and `cat /proc/PID/cmdline` would hang on it; look at its D-state threads",
            timed_out.len(),
            g.timeout.as_millis(),
            list.join(", ")
        ));
    }
    Ok(if matched {
        Exit::Success
    } else {
        // Like pgrep, --pids stays silent (scripts test the status).
        if !a.pids_only && !g.json {
            output::warn("no process matches the selection");
        }
        Exit::NoMatch
    })
}

/// Streams command lines for `rows` (see [`listing::stream_cmdlines`]) and
/// writes each row with `write(index, row)` as it completes. After the first
/// write error (a closed pipe) nothing more is written, and the error is
/// returned once the stream ends. Returns the PIDs whose read timed out.
fn stream_rows(
    root: &ProcRoot,
    rows: Vec<ProcessRow>,
    opts: &Session,
    mut write: impl FnMut(usize, &ProcessRow) -> std::io::Result<()>,
) -> std::io::Result<Vec<i32>> {
    let mut err = None;
    let mut k = 0usize;
    let timed_out = listing::stream_cmdlines(root, rows, CMDLINE_CAP, opts, |r| {
        if err.is_none() {
            err = write(k, &r).err();
        }
        k += 1;
    });
    match err {
        Some(e) => Err(e),
        None => Ok(timed_out),
    }
}

/// How many `/proc/PID` handles a streamed listing may keep open, and
/// room for them made in the fd table. Processes beyond the budget are
/// reopened by PID and checked by start time.
///
/// The soft RLIMIT_NOFILE is raised to the hard limit. Then the fd table is
/// grown once to fit about every process, while procscope is still
/// single-threaded: growing it later, with worker threads sharing it, makes
/// the kernel wait for an RCU grace period at each doubling
/// (`expand_fdtable()` in fs/file.c), which measured 13–16 ms each.
fn handle_budget(root: &ProcRoot) -> usize {
    use procscope_read::fdroom;
    let soft = fdroom::raise_soft_limit();
    let soft = usize::try_from(soft.min(1 << 20)).unwrap_or(1024);
    let want = root.process_count_hint().saturating_mul(5) / 4 + 256;
    let room = want.min(soft.saturating_sub(1));
    if fdroom::grow_table(room) {
        room.saturating_sub(128)
    } else {
        // Could not grow the table (fd limit): keep few handles.
        256
    }
}

/// Opens the proc root, with a hint when it cannot be.
pub fn open_root(g: &Global) -> anyhow::Result<ProcRoot> {
    if let Some(s) = &g.opened {
        return s.root().with_context(|| {
            format!(
                "cannot read the unpacked snapshot {}",
                s.dir.path().display()
            )
        });
    }
    ProcRoot::open(&g.proc_root).with_context(|| {
        format!(
            "cannot open the proc root {} (is procfs mounted? point --proc-root at a proc tree)",
            g.proc_root.display()
        )
    })
}

fn proc_root_error(g: &Global, f: &Failure) -> anyhow::Error {
    anyhow::anyhow!("cannot list processes under {}: {f}", g.proc_root.display())
}

fn build_filter(
    a: &PsArgs,
    root: &ProcRoot,
    nss: &procscope_read::Session,
) -> anyhow::Result<Filter> {
    let mut f = Filter::default();
    if let Some(p) = &a.pattern {
        let re = select::compile(p, a.exact, a.ignore_case)
            .map_err(|e| UsageError(format!("invalid pattern `{p}`: {e}")))?;
        f.pattern = Some(re);
        f.full = a.full;
        // Like pgrep, never match ourselves.
        f.exclude.push(root.own_pid());
    } else if a.full || a.exact || a.ignore_case {
        return Err(UsageError("-f, -x and -i need a PATTERN".into()).into());
    }
    f.pids = a.pids.clone();
    for u in &a.users {
        let uid = users::uid_by_name(root, u, nss)
            .ok_or_else(|| UsageError(format!("unknown user `{u}`")))?;
        f.uids.push(uid);
    }
    if let Some(s) = &a.state {
        f.states = select::parse_states(s).map_err(UsageError)?;
        // In a snapshot, the procscope that took it was in whatever state
        // taking it put it (writing the file, reading a hung target): that
        // is no answer about the host it was taken on.
        if root.is_snapshot() {
            f.exclude.push(root.own_pid());
        }
    }
    f.ppids = a.ppid.clone();
    f.descendants_of = a.children_of.clone();
    Ok(f)
}

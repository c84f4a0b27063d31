//! `procscope ps`: find and list processes.

use crate::cli::{Global, PsArgs};
use crate::output::{self, Exit, UsageError};
use anyhow::Context;
use procscope_model::listing::{self, Request};
use procscope_model::process::ProcessRow;
use procscope_model::select::{self, Filter};
use procscope_model::sort::{self, Key};
use procscope_model::{tree, users};
use procscope_read::{Failure, ProcRoot, guard};
use procscope_render::ps::{CellCtx, Column, DEFAULT};
use procscope_render::table::{Cell, Table};
use serde::Serialize;
use std::collections::HashMap;
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
        Some(s) => sort::parse(s).map_err(UsageError)?,
        None => Vec::new(),
    };
    if a.pids_only && g.json {
        return Err(UsageError(
            "--pids and --json cannot be combined: --json already lists the PIDs".into(),
        )
        .into());
    }
    let nss_timeout = guard_timeout(g);
    let filter = build_filter(a, &root, nss_timeout)?;

    let sort_uid = keys.iter().any(|(k, _)| matches!(k, Key::User | Key::Uid));
    let sort_cmd = keys.iter().any(|(k, _)| *k == Key::Command);
    let need_uid =
        g.json || columns.iter().any(|c| c.needs_uid()) || filter.needs_uid() || sort_uid;
    let need_cmd_out =
        !a.pids_only && (g.json || columns.iter().any(|c| c.needs_cmdline()) || sort_cmd);
    let need_cmd_filter = filter.needs_cmdline();
    // With a selection that does not look at command lines, read them only
    // for the processes that matched (a pgrep-like query reads one or two).
    let two_phase = need_cmd_out && !need_cmd_filter && !filter.is_empty();
    let pid_hint = (!a.pids.is_empty() && a.ppid.is_empty() && a.children_of.is_empty())
        .then(|| a.pids.clone());
    let opts = guard::Options {
        timeout: nss_timeout,
        ..guard::Options::default()
    };
    let req = Request {
        uid: need_uid,
        cmdline: need_cmd_filter || (need_cmd_out && !two_phase),
        threads: a.threads,
        pids: pid_hint,
        cmdline_cap: CMDLINE_CAP,
        guard: opts,
    };
    let listing = listing::list(&root, &req).map_err(|f| proc_root_error(g, &f))?;
    let clock = listing.clock;
    let mut timed_out = listing.timed_out;
    let mut rows = filter.apply(listing.rows);

    if two_phase && !rows.is_empty() {
        let mut pids: Vec<i32> = rows.iter().map(|r| r.pid).collect();
        pids.dedup();
        let req2 = Request {
            uid: false,
            cmdline: true,
            threads: false,
            pids: Some(pids),
            cmdline_cap: CMDLINE_CAP,
            guard: opts,
        };
        let second = listing::list(&root, &req2).map_err(|f| proc_root_error(g, &f))?;
        timed_out.extend(second.timed_out);
        let by_pid: HashMap<i32, ProcessRow> =
            second.rows.into_iter().map(|r| (r.pid, r)).collect();
        // Clone, not take: with --threads every row of a process shares it.
        for r in &mut rows {
            r.cmdline = Some(match by_pid.get(&r.pid).and_then(|s| s.cmdline.clone()) {
                Some(c) => c,
                None => Err(Failure::Gone),
            });
        }
    }
    if need_uid {
        let uids = rows
            .iter()
            .filter_map(|r| r.uid.as_ref().and_then(|u| u.as_ref().ok()).copied());
        let names = users::resolve(uids, nss_timeout);
        for r in &mut rows {
            if let Some(Ok(uid)) = &r.uid {
                r.user = names.get(uid).cloned();
            }
        }
    }
    if !keys.is_empty() {
        sort::sort(&mut rows, &keys);
    }

    let mut out = output::stdout(g.color);
    if a.pids_only {
        for r in &rows {
            writeln!(out, "{}", r.tid.unwrap_or(r.pid))?;
        }
    } else if g.json {
        write_json(&mut out, &root, &rows, &timed_out)?;
    } else if !rows.is_empty() {
        let ctx = CellCtx {
            now_unix: clock
                .boot_time_unix
                .saturating_add(clock.uptime_centis / 100),
        };
        let mut table = Table::new(
            columns
                .iter()
                .map(|c| (c.header().to_owned(), c.align()))
                .collect(),
        );
        let anchor = columns.iter().rposition(|c| c.is_tree_anchor());
        if a.tree {
            for line in tree::forest(&rows) {
                let Some(r) = rows.get(line.index) else {
                    continue;
                };
                let mut cells: Vec<Cell> = columns
                    .iter()
                    .map(|c| procscope_render::ps::cell(*c, r, &ctx))
                    .collect();
                if let Some(cell) = anchor.and_then(|i| cells.get_mut(i)) {
                    cell.text
                        .insert_str(0, &procscope_render::ps::tree_prefix(&line));
                }
                table.push(cells);
            }
        } else {
            for r in &rows {
                table.push(
                    columns
                        .iter()
                        .map(|c| procscope_render::ps::cell(*c, r, &ctx))
                        .collect(),
                );
            }
        }
        let width = if a.wide { None } else { output::term_width() };
        table.write(&mut out, width, !a.no_header)?;
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
    if !g.json {
        let problems = procscope_render::ps::problems(&rows);
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
    Ok(if rows.is_empty() {
        Exit::NoMatch
    } else {
        Exit::Success
    })
}

fn guard_timeout(g: &Global) -> Option<std::time::Duration> {
    (!g.timeout.is_zero()).then_some(g.timeout)
}

/// Opens the proc root, with a hint when it cannot be.
pub fn open_root(g: &Global) -> anyhow::Result<ProcRoot> {
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
    nss: Option<std::time::Duration>,
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
        let uid =
            users::uid_by_name(u, nss).ok_or_else(|| UsageError(format!("unknown user `{u}`")))?;
        f.uids.push(uid);
    }
    if let Some(s) = &a.state {
        f.states = select::parse_states(s).map_err(UsageError)?;
    }
    f.ppids = a.ppid.clone();
    f.descendants_of = a.children_of.clone();
    Ok(f)
}

#[derive(Serialize)]
struct PsDoc<'a> {
    proc_root: String,
    processes: &'a [ProcessRow],
    timed_out: &'a [i32],
}

fn write_json(
    out: &mut dyn Write,
    root: &ProcRoot,
    rows: &[ProcessRow],
    timed_out: &[i32],
) -> std::io::Result<()> {
    let doc = PsDoc {
        proc_root: root.path().display().to_string(),
        processes: rows,
        timed_out,
    };
    procscope_render::json::write_document(out, "ps", &doc)
}

//! `procscope fds TARGET [FD…]`: open file descriptors, decoded.

use crate::cli::{FdsArgs, Global, Peers};
use crate::cmd::targets;
use crate::output::{self, Exit, UsageError};
use procscope_model::fds::{self, Detail, FdEntry};
use procscope_parse::decode;
use procscope_read::guard;
use procscope_render::escape::escape;
use procscope_render::json;
use procscope_render::table::{Align, Cell, Table};
use procscope_render::wire::common::{Bytes as WireBytes, ErrorObject};
use procscope_render::wire::fds as wire;
use std::collections::BTreeMap;
use std::io::Write;

use procscope_render::fds::{describe, search_line};

/// Extra help for `procscope fds --help`.
pub const AFTER_HELP: &str = "\
Examples:
  procscope fds 1234                   every fd: type, mode, O_* flags, position, what it is
  procscope fds 1234 3 5               only fds 3 and 5
  procscope fds --json nginx
  procscope fds --peers all 1234       every holder on the host of each pipe and socket (lsof +E)
  procscope fds --peers none 1234      no search for the other ends at all
  procscope fds --all --deleted        lsof-style, every process

Everything comes from /proc/PID/fd, fdinfo, the process's own mountinfo, the
socket tables and sock_diag of its network namespace, and /proc/locks. The
few things that reach a filesystem — link counts and sizes (statx from the
kernel's cache), inotify watch paths (open_by_handle_at, never on FUSE or
network filesystems) — run under --timeout, so a dead NFS or FUSE mount
cannot hang it.

Who holds the other end of each pipe and socket is looked for outward from
the process (--peers near): itself and its ancestors, then the process each
unix socket's credentials (SO_PEERCRED) name and the processes of the cgroup
a local TCP peer's socket was created in, then its children, siblings,
process group and session — where pipes and socketpairs travel by fork.
Only when the kernel says an end is still held (a pipe end that does not
poll HUP/ERR, a connected socket whose peer exists) and none of those holds
it are other processes' fd links read, nearest PID first, until it is
found (ss -p and lsof +E always read them all). The cost follows the
process, not the host. --peers all always reads every
process and lists every holder; the last line says how far it looked.";

/// One process's answer, produced on a worker.
#[derive(Clone)]
struct ProcFds {
    pid: i32,
    comm: Vec<u8>,
    uid: Option<u32>,
    soft: Option<u64>,
    entries: procscope_read::Outcome<Vec<FdEntry>>,
    search: Option<fds::PeerSearch>,
}

fn keep(e: &FdEntry, a: &FdsArgs) -> bool {
    if !a.types.is_empty()
        && !a.types.iter().any(|t| {
            t == e.detail.type_name()
                || (t == "socket" && matches!(e.detail, Detail::Socket { .. }))
        })
    {
        return false;
    }
    match (&e.detail, &a.path, a.deleted) {
        (Detail::File { path, deleted, .. }, prefix, want_deleted) => {
            (!want_deleted || *deleted)
                && prefix
                    .as_ref()
                    .is_none_or(|p| path.as_slice().starts_with(p.as_bytes()))
        }
        (Detail::Fifo { path, .. }, Some(prefix), false) => {
            path.as_slice().starts_with(prefix.as_bytes())
        }
        (_, None, false) => true,
        _ => false,
    }
}

/// Runs `procscope fds`.
pub fn run(g: &Global, a: &FdsArgs) -> anyhow::Result<Exit> {
    let root = crate::cmd::ps::open_root(g)?;
    let opts = &g.session;
    let pids = match &a.target {
        Some(t) => targets::resolve(g, &root, t)?,
        None => root.pids().map_err(|f| {
            anyhow::anyhow!("cannot list processes under {}: {f}", root.path().display())
        })?,
    };
    let want_uid = match &a.user {
        Some(u) => Some(
            procscope_model::users::uid_by_name(&root, u, opts)
                .ok_or_else(|| UsageError(format!("unknown user `{u}`")))?,
        ),
        None => None,
    };
    let cache = std::sync::Arc::new(fds::SocketCache::default());
    let all = a.all;
    if all {
        if let Ok(me) = root.process(root.own_pid()) {
            fds::warm(&me, &cache);
        }
    }
    let only = a.fds.clone();
    let r2 = root.clone();
    let mut out = output::stdout(g.color);
    // Processes are written as they are read (docs/json.md).
    let mut json = if g.json {
        Some(json::Stream::begin(
            &mut out,
            &wire::Head::default(),
            "processes",
        )?)
    } else {
        None
    };
    let mut shown = 0usize;
    let mut read_ok = 0usize;
    // Processes whose fds could not be read (denied, timed out).
    let mut unreadable: Vec<(i32, Vec<u8>, procscope_read::Failure)> = Vec::new();
    let mut err: Option<std::io::Error> = None;
    let width = if a.wide { None } else { output::term_width() };
    let scope = match (a.no_peers, a.peers) {
        (true, _) | (_, Peers::None) => fds::PeerScope::None,
        (false, Peers::Near) => fds::PeerScope::Near,
        (false, Peers::All) => fds::PeerScope::All,
    };
    let single = !a.all && scope != fds::PeerScope::None;
    let several = pids.len() > 1;
    let mut index: Option<fds::HolderIndex> = None;
    let mut locks: Option<Option<fds::LockTable>> = None;
    let mut names: std::collections::HashMap<i32, Option<procscope_model::bytes::Bytes>> =
        std::collections::HashMap::new();
    opts.run_ordered(
        pids,
        move |pid: i32, ctx: &guard::Ctx<Option<ProcFds>, Option<ProcFds>>| {
            let dir = r2.process(pid).ok()?;
            if want_uid.is_some() && fds::owner(&dir, &mut Vec::new()) != want_uid {
                return None;
            }
            let header = fds::Header::read(&dir);
            // Host-wide: each namespace's tables once, shared. Chosen
            // processes: each socket asked about itself (cost follows them).
            let entries = fds::read_cached(&dir, &only, all.then_some(&*cache));
            if matches!(entries, Err(procscope_read::Failure::Gone)) {
                return None;
            }
            let mut p = ProcFds {
                pid,
                comm: header.comm.0,
                uid: header.uid,
                soft: header.nofile_soft,
                entries,
                search: None,
            };
            // What a stat tells (a file's kind, links and size, FIFOs, memfd
            // sizes), here unless the peer search does it: guarded, with
            // the fds kept if a stat outlives the deadline.
            let stat_here = !single
                && p.entries.as_ref().is_ok_and(|e| {
                    e.iter()
                        .any(|x| matches!(x.detail, Detail::File { .. } | Detail::Memfd { .. }))
                });
            if stat_here {
                ctx.checkpoint(Some(p.clone()));
                if let Ok(e) = &mut p.entries {
                    if let Ok(stats) = ctx.guarded(|| Ok(fds::file_stats(&dir, e))) {
                        fds::apply_stats(e, &stats);
                    }
                }
            }
            Some(p)
        },
        |_, f| {
            let mut p = match (f.rest, f.partial) {
                (Ok(Some(p)), _) | (Err(_), Some(Some(p))) => p,
                _ => return,
            };
            if err.is_some() {
                return;
            }
            if a.all {
                // Locks by /proc/locks (read once), with their holders'
                // names, as for one process.
                if let Ok(e) = &mut p.entries {
                    if e.iter().any(|x| x.file_id.is_some()) {
                        let t = locks.get_or_insert_with(|| fds::LockTable::read(&root));
                        if let Some(t) = t {
                            t.attach(e, &mut |pid| {
                                names
                                    .entry(pid)
                                    .or_insert_with(|| fds::comm_of(&root, pid))
                                    .clone()
                            });
                        }
                    }
                }
            }
            if single {
                if let Ok(e) = &mut p.entries {
                    // Several processes (a pattern) with --peers all: one
                    // holder scan for all of them.
                    let needs = e.iter().any(|x| {
                        matches!(
                            x.detail,
                            fds::Detail::Pipe { .. } | fds::Detail::Socket { .. }
                        )
                    });
                    let ix = (several && needs && scope == fds::PeerScope::All).then(|| {
                        &*index.get_or_insert_with(|| fds::HolderIndex::scan(&root, opts))
                    });
                    p.search = fds::resolve_peers_with(&root, p.pid, e, opts, scope, ix);
                }
            }
            let filtered = p.entries.is_ok()
                && (!a.fds.is_empty() || !a.types.is_empty() || a.path.is_some() || a.deleted);
            match &mut p.entries {
                Ok(e) => {
                    read_ok += 1;
                    e.retain(|x| keep(x, a));
                    if filtered && e.is_empty() {
                        return;
                    }
                }
                Err(f) => {
                    unreadable.push((p.pid, p.comm.clone(), f.clone()));
                    if a.all {
                        // A listing of the host says once, at the end, which
                        // processes it could not look into.
                        return;
                    }
                }
            }
            shown += 1;
            let r = print_one(&mut out, &p, a, json.as_mut(), width);
            if let Err(e) = r {
                err = Some(e);
            }
        },
    );
    if let Some(e) = err {
        return Err(e.into());
    }
    if let Some(doc) = json {
        let tail = wire::Tail {
            unreadable: (!unreadable.is_empty()).then(|| {
                unreadable
                    .iter()
                    .map(|(pid, comm, f)| wire::Unreadable {
                        pid: *pid,
                        comm: WireBytes::new(comm),
                        error: ErrorObject::from(f).error,
                    })
                    .collect()
            }),
        };
        doc.end(&mut out, &tail)?;
    }
    out.flush()?;
    if a.all && !unreadable.is_empty() && !g.json {
        output::warn(&unreadable_summary(&unreadable));
    }
    if read_ok == 0 && !unreadable.is_empty() {
        // Nothing could be read at all: an error, not "nothing matched".
        return Ok(Exit::Failed);
    }
    if shown == 0 {
        if !g.json {
            let filtered = !a.fds.is_empty()
                || !a.types.is_empty()
                || a.path.is_some()
                || a.deleted
                || a.user.is_some();
            let msg = match (&a.target, filtered) {
                (_, true) => "no fd matches the filters".to_string(),
                (Some(t), false) => targets::no_match(&root, t),
                (None, false) => "no process to show".to_string(),
            };
            output::warn(&msg);
        }
        return Ok(Exit::NoMatch);
    }
    Ok(Exit::Success)
}

fn print_one(
    out: &mut dyn Write,
    p: &ProcFds,
    a: &FdsArgs,
    json: Option<&mut json::Stream>,
    width: Option<usize>,
) -> std::io::Result<()> {
    let title = format!("PID {} ({})", p.pid, escape(&p.comm));
    if let Some(doc) = json {
        let v = match &p.entries {
            Ok(e) => wire::Process::Read(wire::ProcessFds {
                pid: p.pid,
                comm: WireBytes::new(&p.comm),
                uid: p.uid,
                nofile_soft_limit: p.soft,
                fds: e.iter().map(wire::Fd::from).collect(),
                peer_search: p.search.as_ref().map(wire::PeerSearch::from),
            }),
            Err(f) => wire::Process::Failed(wire::ProcessFailed {
                pid: p.pid,
                fds: ErrorObject::from(f),
            }),
        };
        return doc.item(out, &v);
    }
    let entries = match &p.entries {
        Ok(e) => e,
        Err(f) => {
            writeln!(out, "{title}: fd: {f}")?;
            return Ok(());
        }
    };
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for e in entries {
        *counts.entry(e.detail.type_name()).or_default() += 1;
    }
    let by_type: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
    let filtered = !a.fds.is_empty() || !a.types.is_empty() || a.path.is_some() || a.deleted;
    let limit = match p.soft {
        Some(s) if s > 0 && !filtered => format!(
            " — {}/{s}, {}% of RLIMIT_NOFILE",
            entries.len(),
            entries.len() as u64 * 100 / s
        ),
        _ => String::new(),
    };
    let bold = anstyle::Style::new().bold();
    let kinds = if by_type.is_empty() {
        String::new()
    } else {
        format!(" ({})", by_type.join(", "))
    };
    writeln!(
        out,
        "{}{title}{}: {} fds{kinds}{limit}",
        bold.render(),
        bold.render_reset(),
        entries.len(),
    )?;
    if entries.is_empty() {
        // A kernel thread or a zombie has no fd table; no empty table.
        return Ok(());
    }
    let mut table = Table::new(vec![
        ("FD".into(), Align::Right),
        ("TYPE".into(), Align::Left),
        ("MODE".into(), Align::Left),
        ("POS".into(), Align::Right),
        ("FLAGS".into(), Align::Left),
        ("DESCRIPTION".into(), Align::Left),
    ]);
    for e in entries {
        let flags = e
            .flags
            .map(|f| {
                decode::open_flags(f)
                    .into_iter()
                    .skip(1)
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .unwrap_or_default();
        table.push(vec![
            Cell::plain(e.fd.to_string()),
            Cell::plain(e.detail.type_name()),
            Cell::plain(e.flags.map_or("?", |f| {
                procscope_render::fds::access_mode(fds::AccessMode::of_flags(f))
            })),
            Cell::plain(e.pos.map_or_else(|| "?".into(), |p| p.to_string())),
            Cell::plain(if flags.is_empty() {
                "-".to_string()
            } else {
                flags
            }),
            Cell::plain(describe(e, p.search.is_some())),
        ]);
    }
    table.write(out, width, true)?;
    if let Some(line) = p.search.as_ref().map(search_line) {
        let dim = anstyle::Style::new().dimmed();
        writeln!(out, "{}{line}{}", dim.render(), dim.render_reset())?;
    }
    Ok(())
}

/// One line for the processes a host-wide listing could not look into:
/// how many, why (by reason), and a few of them by name.
fn unreadable_summary(list: &[(i32, Vec<u8>, procscope_read::Failure)]) -> String {
    let mut by_reason: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (pid, comm, f) in list {
        by_reason
            .entry(f.to_string())
            .or_default()
            .push(format!("{pid} ({})", escape(comm)));
    }
    let parts: Vec<String> = by_reason
        .iter()
        .map(|(why, who)| {
            let shown: Vec<&str> = who.iter().take(3).map(String::as_str).collect();
            let more = who.len().saturating_sub(shown.len());
            format!(
                "{} {}: {why} (e.g. {}{})",
                who.len(),
                if who.len() == 1 {
                    "process"
                } else {
                    "processes"
                },
                shown.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            )
        })
        .collect();
    let n = list.len();
    let noun = if n == 1 { "process" } else { "processes" };
    format!("fds of {n} {noun} not listed — {}", parts.join("; "))
}

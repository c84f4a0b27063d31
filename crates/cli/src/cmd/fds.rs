//! `procscope fds TARGET [FD…]`: open file descriptors, decoded.

use crate::cli::{FdsArgs, Global, Peers};
use crate::cmd::targets;
use crate::output::{self, Exit, UsageError};
use procscope_model::fds::{self, Detail, FdEntry, SocketDesc};
use procscope_parse::decode;
use procscope_read::guard;
use procscope_render::escape::escape;
use procscope_render::table::{Align, Cell, Table};
use std::collections::BTreeMap;
use std::io::Write;

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

fn clock_name(id: i64) -> String {
    match id {
        0 => "CLOCK_REALTIME".into(),
        1 => "CLOCK_MONOTONIC".into(),
        7 => "CLOCK_BOOTTIME".into(),
        8 => "CLOCK_REALTIME_ALARM".into(),
        9 => "CLOCK_BOOTTIME_ALARM".into(),
        n => format!("clock {n}"),
    }
}

fn secs(ns: i128) -> String {
    procscope_render::units::duration_ns(u128::try_from(ns).unwrap_or(0))
}

fn addr(a: std::net::IpAddr, p: u16) -> String {
    procscope_model::fds::addr_port(&a, p)
}

/// Inotify watches or fanotify inode marks: mask by name and the path.
fn inode_watches(watches: &[procscope_model::fds::InotifyWatch], fanotify: bool) -> Vec<String> {
    watches
        .iter()
        .map(|w| {
            let (mask, what) = if fanotify {
                (
                    decode::bits(w.mask, decode::FANOTIFY_MASK),
                    "inode".to_string(),
                )
            } else {
                (
                    decode::bits(w.mask, decode::INOTIFY_MASK),
                    format!("wd {}", w.wd),
                )
            };
            let (ma, mi) = w.device;
            match &w.path {
                Some(Ok(p)) => format!("{what}: {mask} on {}", escape(p.as_slice())),
                Some(Err(f)) => format!(
                    "{what}: {mask} on inode {} (dev {ma}:{mi}; path: {f})",
                    w.inode
                ),
                None => format!("{what}: {mask} on inode {} (dev {ma}:{mi})", w.inode),
            }
        })
        .collect()
}

/// The human description of an fd; `searched`: its other ends were looked
/// for (an empty list then means nobody holds them).
pub fn describe(e: &FdEntry, searched: bool) -> String {
    let mut s = match &e.detail {
        Detail::File {
            path,
            deleted,
            unlinked,
            nlink,
            size,
            mount_point,
            fs_type,
        } => {
            let mut s = escape(path.as_slice()).into_owned();
            if *deleted {
                s.push_str(" (deleted)");
            } else if *unlinked {
                let n = nlink.map_or_else(String::new, |n| format!(": {n} other link(s) remain"));
                s.push_str(&format!(" (this name was unlinked{n})"));
            }
            let size = size.map(|z| {
                if z < 1024 {
                    format!("{z} B")
                } else {
                    procscope_render::units::size(z)
                }
            });
            match (size, mount_point, fs_type) {
                (Some(z), Some(m), Some(t)) => s.push_str(&format!(
                    "  [{z}, on {} {}]",
                    escape(m.as_slice()),
                    escape(t.as_slice())
                )),
                (None, Some(m), Some(t)) => s.push_str(&format!(
                    "  [on {} {}]",
                    escape(m.as_slice()),
                    escape(t.as_slice())
                )),
                (Some(z), _, _) => s.push_str(&format!("  [{z}]")),
                _ => {}
            }
            s
        }
        Detail::Socket {
            inode,
            socket: None,
        } => format!("socket:[{inode}] (not in this namespace's tcp/udp/unix tables)"),
        Detail::Socket {
            inode,
            socket: Some(SocketDesc::Other { name, protocol }),
        } => match protocol {
            Some(p) => format!("{name} socket:[{inode}] protocol {p}"),
            None => format!("{name} socket:[{inode}]"),
        },
        Detail::Socket {
            socket:
                Some(SocketDesc::Inet {
                    local,
                    local_port,
                    remote,
                    remote_port,
                    state,
                    tx_queue,
                    rx_queue,
                    ..
                }),
            ..
        } => {
            let mut s = if *state == "LISTEN" || (remote.is_unspecified() && *remote_port == 0) {
                format!("{} {state}", addr(*local, *local_port))
            } else {
                format!(
                    "{} -> {} {state}",
                    addr(*local, *local_port),
                    addr(*remote, *remote_port)
                )
            };
            if *tx_queue > 0 || *rx_queue > 0 {
                s.push_str(&format!(
                    " (queued: {tx_queue} to send, {rx_queue} to read)"
                ));
            }
            s
        }
        Detail::Socket {
            socket:
                Some(SocketDesc::Unix {
                    path,
                    kind,
                    state,
                    peer_inode,
                }),
            inode,
        } => {
            let mut s = match path {
                Some(p) => format!("{kind} {state} {}", escape(p.as_slice())),
                None => format!("{kind} {state} (unnamed) socket:[{inode}]"),
            };
            if let (Some(p), true) = (peer_inode, e.other_end.is_empty()) {
                s.push_str(&format!(" -> socket:[{p}]"));
            }
            s
        }
        Detail::Pipe { inode } => format!("pipe:[{inode}]"),
        Detail::Fifo { path, .. } => escape(path.as_slice()).into_owned(),
        Detail::Eventfd {
            count,
            id,
            semaphore,
        } => {
            let id = id.map_or_else(String::new, |i| format!(", id {i}"));
            let sem = if *semaphore == Some(true) {
                " (semaphore)"
            } else {
                ""
            };
            format!("count {count}{sem}{id}")
        }
        Detail::Epoll { watches } => {
            let w: Vec<String> = watches
                .iter()
                .map(|(fd, ev, what)| {
                    let what = what.as_ref().map_or_else(
                        || "closed".to_string(),
                        |b| escape(b.as_slice()).into_owned(),
                    );
                    format!(
                        "fd {fd} {} -> {what}",
                        decode::bits(*ev, decode::EPOLL_EVENTS)
                    )
                })
                .collect();
            if w.is_empty() {
                "empty set".into()
            } else {
                format!("watches {}", w.join(", "))
            }
        }
        Detail::Inotify { watches } => {
            let w = inode_watches(watches, false);
            if w.is_empty() {
                "no watches".into()
            } else {
                w.join(", ")
            }
        }
        Detail::Fanotify {
            watches,
            marks,
            init_flags,
            ..
        } => {
            let mut w: Vec<String> = init_flags.map(decode::fanotify_init).into_iter().collect();
            for m in marks {
                let mask = decode::bits(m.mask, decode::FANOTIFY_MASK);
                let ignored = if m.ignored_mask == 0 {
                    String::new()
                } else {
                    format!(
                        " (ignoring {})",
                        decode::bits(m.ignored_mask, decode::FANOTIFY_MASK)
                    )
                };
                let at = match (&m.mount_point, &m.fs_type) {
                    (Some(p), Some(t)) => {
                        format!("{} ({})", escape(p.as_slice()), escape(t.as_slice()))
                    }
                    _ => match (m.mnt_id, m.device) {
                        (_, Some((ma, mi))) if m.kind == "filesystem" => format!("dev {ma}:{mi}"),
                        (Some(id), _) => format!("mount ID {id}"),
                        _ => "?".into(),
                    },
                };
                w.push(format!("{} {at}: {mask}{ignored}", m.kind));
            }
            w.extend(inode_watches(watches, true));
            if marks.is_empty() && watches.is_empty() {
                w.push("no marks".into());
            }
            w.join(", ")
        }
        Detail::Timerfd {
            clockid,
            ticks,
            next_ns,
            interval_ns,
        } => {
            let next = if *next_ns == 0 {
                "disarmed".to_string()
            } else {
                format!("next in {}", secs(*next_ns))
            };
            let every = if *interval_ns == 0 {
                "one-shot".to_string()
            } else {
                format!("every {}", secs(*interval_ns))
            };
            format!(
                "{}, {next}, {every}, {ticks} unread expirations",
                clock_name(*clockid)
            )
        }
        Detail::Signalfd { sigmask } => decode::signals(*sigmask).join(", "),
        Detail::Pidfd { pid, comm } => match (*pid, comm) {
            (p, _) if p < 0 => "process exited".into(),
            (0, _) => "a process in another PID namespace".into(),
            (p, Some(c)) => format!("PID {p} ({})", escape(c.as_slice())),
            (p, None) => format!("PID {p} (exited since)"),
        },
        Detail::Memfd { name } => format!("memfd:{}", escape(name.as_slice())),
        Detail::Anon { name, fields } => {
            let mut s = format!("anon_inode:{}", escape(name.as_slice()));
            for (k, v) in fields.iter().take(6) {
                s.push_str(&format!(
                    " {}={}",
                    escape(k.as_slice()),
                    escape(v.as_slice())
                ));
            }
            if fields.len() > 6 {
                s.push_str(&format!(" (+{} more in --json)", fields.len() - 6));
            }
            s
        }
        Detail::Other => e.link.as_ref().map_or_else(
            |f| format!("? ({f})"),
            |l| escape(l.as_slice()).into_owned(),
        ),
    };
    if let Detail::Pipe { .. } | Detail::Fifo { .. } = e.detail {
        let end = match e.flags.map(decode::access_mode) {
            Some("r") => " read end",
            Some("w") => " write end",
            Some("rw") => " opened for reading and writing (its own reader and writer)",
            _ => "",
        };
        s.push_str(end);
    }
    let both_ends = matches!(e.flags.map(decode::access_mode), Some("rw"));
    if matches!(e.detail, Detail::Pipe { .. } | Detail::Fifo { .. })
        && both_ends
        && !e.peers.is_empty()
    {
        s.push_str(&format!("; also held by {}", holders(&e.peers)));
    } else if matches!(e.detail, Detail::Pipe { .. } | Detail::Fifo { .. })
        && !both_ends
        && (searched || !e.peers.is_empty())
    {
        // Who is at the other end of a pipe: writers for a read end,
        // readers for a write end.
        let (writers, readers): (Vec<_>, Vec<_>) = e
            .peers
            .iter()
            .cloned()
            .partition(|p| matches!(p.mode, Some("w" | "rw")));
        let mine_is_read = matches!(e.flags.map(decode::access_mode), Some("r"));
        let (other, same, other_verb, same_verb) = if mine_is_read {
            (writers, readers, "written by", "also read by")
        } else {
            (readers, writers, "read by", "also written by")
        };
        if other.is_empty() {
            s.push_str(if mine_is_read {
                "; no writer left"
            } else {
                "; no reader left"
            });
        } else {
            s.push_str(&format!("; {other_verb} {}", holders(&other)));
        }
        if !same.is_empty() {
            s.push_str(&format!("; {same_verb} {}", holders(&same)));
        }
    } else if !e.peers.is_empty() {
        s.push_str(&format!("; also held by {}", holders(&e.peers)));
    }
    if !e.other_end.is_empty() {
        s.push_str(&format!("; other end: {}", holders(&e.other_end)));
    }
    if e.file_locks.is_empty() {
        for l in &e.locks {
            s.push_str(&format!("  lock: {}", escape(l.as_slice())));
        }
    } else {
        let (held, waiting): (Vec<_>, Vec<_>) = e.file_locks.iter().partition(|l| !l.waiting);
        let text = |l: &procscope_model::fds::FileLock| {
            let who = match &l.comm {
                Some(c) => format!("{} ({})", l.pid, escape(c.as_slice())),
                None => l.pid.to_string(),
            };
            let range = match (l.start, l.end) {
                (0, None) => String::new(),
                (a, None) => format!(" {a}-EOF"),
                (a, Some(b)) => format!(" {a}-{b}"),
            };
            format!(
                "{} {}{range} by {who}",
                escape(l.kind.as_slice()),
                escape(l.access.as_slice())
            )
        };
        if !held.is_empty() {
            let h: Vec<String> = held.iter().map(|l| text(l)).collect();
            s.push_str(&format!("  locked: {}", h.join(", ")));
        }
        if !waiting.is_empty() {
            let w: Vec<String> = waiting.iter().map(|l| text(l)).collect();
            s.push_str(&format!("; waiting: {}", w.join(", ")));
        }
    }
    s
}

fn holders(v: &[procscope_model::fds::Peer]) -> String {
    v.iter()
        .map(|p| {
            format!(
                "{} ({}) fd {}{}",
                p.pid,
                escape(p.comm.as_slice()),
                p.fd,
                p.mode.map(|m| format!(" {m}")).unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// One process's answer, produced on a worker.
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
    let opts = targets::guard_opts(g);
    let pids = match &a.target {
        Some(t) => targets::resolve(g, &root, t)?,
        None => root.pids().map_err(|f| {
            anyhow::anyhow!("cannot list processes under {}: {f}", root.path().display())
        })?,
    };
    let want_uid = match &a.user {
        Some(u) => Some(
            procscope_model::users::uid_by_name(u, opts.timeout)
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
    let mut json = if g.json {
        write!(
            out,
            "{{\"procscope\":{},\"kind\":\"fds\",\"processes\":[",
            procscope_render::json::VERSION
        )?;
        Some(true)
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
    guard::run_ordered(
        pids,
        opts,
        move |pid: i32, _ctx: &guard::Ctx<(), Option<ProcFds>>| {
            let dir = r2.process(pid).ok()?;
            let mut buf = Vec::new();
            let uid = dir
                .read(c"status", &mut buf, 64 * 1024)
                .ok()
                .and_then(|_| procscope_parse::status::uid(&buf))
                .map(|i| i.effective);
            if want_uid.is_some() && uid != want_uid {
                return None;
            }
            let comm = dir
                .read(c"comm", &mut buf, 4096)
                .map(|_| procscope_parse::comm::parse(&buf).to_vec())
                .unwrap_or_default();
            // Host-wide: each namespace's tables once, shared. Chosen
            // processes: each socket asked about itself (cost follows them).
            let entries = fds::read_cached(&dir, &only, all.then_some(&*cache));
            if matches!(entries, Err(procscope_read::Failure::Gone)) {
                return None;
            }
            let soft = dir.read(c"limits", &mut buf, 64 * 1024).ok().and_then(|_| {
                let l = procscope_parse::limits::Limits::parse(&buf).ok()?;
                match l.get(procscope_parse::limits::Resource::Nofile)?.soft {
                    procscope_parse::limits::LimitValue::Value(v) => Some(v),
                    procscope_parse::limits::LimitValue::Unlimited => None,
                }
            });
            Some(ProcFds {
                pid,
                comm,
                uid,
                soft,
                entries,
                search: None,
            })
        },
        |_, f| {
            let Ok(Some(mut p)) = f.rest else { return };
            if err.is_some() {
                return;
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
            if a.all && a.types.iter().any(|t| t == "fifo") {
                // FIFOs are told from files by a stat of the fd, which the
                // host-wide listing skips unless asked for them.
                if let Ok(e) = &mut p.entries {
                    fds::stat_files(&root, p.pid, e, opts);
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
    if json.is_some() {
        if unreadable.is_empty() {
            out.write_all(b"]}\n")?;
        } else {
            let skipped: Vec<serde_json::Value> = unreadable
                .iter()
                .map(|(pid, comm, f)| serde_json::json!({"pid": pid, "comm": procscope_model::bytes::Bytes(comm.clone()), "error": f}))
                .collect();
            write!(out, "],\"unreadable\":")?;
            serde_json::to_writer(&mut out, &skipped)?;
            out.write_all(b"}\n")?;
        }
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

fn print_one(
    out: &mut dyn Write,
    p: &ProcFds,
    a: &FdsArgs,
    json: Option<&mut bool>,
    width: Option<usize>,
) -> std::io::Result<()> {
    let title = format!("PID {} ({})", p.pid, escape(&p.comm));
    if let Some(first) = json {
        if !*first {
            out.write_all(b",")?;
        }
        *first = false;
        let v = match &p.entries {
            Ok(e) => {
                serde_json::json!({ "pid": p.pid, "comm": procscope_model::bytes::Bytes(p.comm.clone()), "uid": p.uid, "nofile_soft_limit": p.soft, "fds": e, "peer_search": p.search })
            }
            Err(f) => {
                serde_json::json!({ "pid": p.pid, "fds": procscope_model::process::OutcomeJson::<()>(&Err(f.clone())) })
            }
        };
        return serde_json::to_writer(&mut *out, &v).map_err(std::io::Error::other);
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
            Cell::plain(e.flags.map_or("?", decode::access_mode)),
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

/// How far the holders of the other ends were looked for.
fn search_line(s: &fds::PeerSearch) -> String {
    match (s.scope, s.widened_for_fd) {
        ("near", _) => format!(
            "other ends looked for among {} related processes; --peers all lists every holder on the host",
            s.processes
        ),
        ("widened", Some(fd)) => format!(
            "other ends looked for among {} processes: fd {fd}'s other end is held by no related process; --peers all lists every holder",
            s.processes
        ),
        _ => format!("other ends looked for in all {} processes", s.processes),
    }
}

//! Taking a snapshot: every file procscope's commands read, per process,
//! copied into a tar in the layout `--proc-root` reads, and the answers
//! only the live host gives recorded on a [`Tape`].
//!
//! Reads that can block on a hung process (the memory-lock files, and
//! `syscall`/`stack`, which wait for the task's exec lock) run on the
//! session's workers under its deadline; a read past it is recorded as
//! timed out and the snapshot goes on. Each file is capped; a cut file is
//! named in the manifest.

use crate::format::{self, Manifest, Unreadable};
use crate::write::Writer;
use procscope_model::redact::Redactor;
use procscope_read::ProcRoot;
use procscope_read::guard::{Ctx, Session};
use procscope_read::tape::Tape;
use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::sync::{Arc, Mutex};

/// What to take.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The processes (empty: every process).
    pub pids: Vec<i32>,
    /// The TARGETs as typed (for the manifest).
    pub targets: Vec<String>,
    /// Leave environments out.
    pub no_env: bool,
    /// Mask secrets in environments and command lines before writing.
    pub redact: Option<Redactor>,
    /// At most this many bytes of any one file.
    pub max_file: usize,
    /// Copy `smaps` too (every mapping's sizes: `show`'s largest
    /// mappings, `maps -x`; most of a snapshot's size).
    pub smaps: bool,
    /// The command line, for the manifest.
    pub command_line: Vec<String>,
}

/// Called with (processes done, processes in all).
pub type Progress<'a> = &'a mut dyn FnMut(usize, usize);

mod host;
mod process;

use host::HOST_WIDE;
use host::{host_files, record_live, whereabouts, with_ancestors};
use process::{Item, Shared, cstr, process, tape_key};

/// Takes a snapshot of `root` (a live procfs: its live-only answers are
/// recorded) into `out`, a zstd-compressed tar. Returns the manifest.
pub fn take(
    root: &ProcRoot,
    session: &Session,
    opts: Options,
    out: impl Write,
    progress: Progress<'_>,
) -> std::io::Result<Manifest> {
    let started = std::time::SystemTime::now();
    let t0 = std::time::Instant::now();
    let tape = Tape::recorder();
    let root = root.clone().with_tape(tape.clone());
    let mut w = Writer::new(out)?;
    let pids = if opts.pids.is_empty() {
        root.pids().map_err(std::io::Error::other)?
    } else {
        // procscope's own process too: commands compare namespaces and
        // mount tables with their own (when PID 1's cannot be read).
        let mut v = opts.pids.clone();
        v.push(root.own_pid());
        with_ancestors(&root, &v)
    };
    // Host-wide files.
    let mut buf = Vec::new();
    for (name, cap) in HOST_WIDE {
        if let Some(c) = cstr(name) {
            if root.read(&c, &mut buf, *cap).is_ok() {
                w.file(name, &buf)?;
            }
        }
    }
    // "Now" on the scheduler's clock, next to the `uptime` just copied:
    // idle times are `se.exec_start`s measured against it, as live (see
    // `Clock::with_sched_now`; uptime runs ahead of it on a VM, by 13 s
    // on one, and every thread would read as idle that much longer).
    let sched_now_ms = procscope_model::clock::Clock::read(&root)
        .ok()
        .and_then(|c| c.with_sched_now(&root).sched_now_ms);
    let clocks = root.is_live().then(procscope_read::tape::ClocksNow::now);
    let own = root.own_pid();
    if let Ok(me) = root.process(own) {
        if me
            .read(c"mountinfo", &mut buf, procscope_read::cap::MOUNTINFO)
            .is_ok()
        {
            w.file("self/mountinfo", &buf)?;
        }
    }
    host_files(&root, &mut w)?;
    let sh = Arc::new(Shared {
        claimed: Mutex::new(HashSet::new()),
        opts: opts.clone(),
    });
    let total = pids.len();
    let mut done = 0usize;
    let mut unreadable = Vec::new();
    let mut truncated = Vec::new();
    let mut shared_data: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut shared_links: Vec<(String, String)> = Vec::new();
    let mut taken = Vec::new();
    let mut err: Option<std::io::Error> = None;
    let r2 = root.clone();
    let sh2 = sh.clone();
    session.run_unordered(
        pids,
        move |pid: i32, ctx: &Ctx<Vec<Item>, Vec<Item>>| process(pid, &r2, &sh2, ctx),
        |_, f| {
            done += 1;
            progress(done, total);
            if done % 64 == 0 {
                trim();
            }
            let timed_out = f.rest.as_ref().err().cloned();
            let items = match (f.rest, f.partial) {
                (Ok(v), _) => v,
                (Err(_), Some(v)) => v,
                (Err(_), None) => Vec::new(),
            };
            if err.is_some() || items.is_empty() {
                return;
            }
            let mut pid_path = None;
            let mut had: HashSet<String> = HashSet::new();
            for it in items {
                let r = match it {
                    Item::File(p, b) => {
                        had.insert(p.clone());
                        w.file(&p, &b)
                    }
                    Item::Link(p, t) => w.symlink(&p, &t),
                    Item::Dir(p) => {
                        if pid_path.is_none() {
                            pid_path = Some(p.clone());
                        }
                        w.dir(&p)
                    }
                    Item::Shared(p, k) => {
                        shared_links.push((p, k));
                        Ok(())
                    }
                    Item::SharedData(k, b) => {
                        shared_data.insert(k, b);
                        Ok(())
                    }
                    Item::Failed(p, f) => {
                        had.insert(p.clone());
                        unreadable.push(Unreadable { path: p, error: f });
                        Ok(())
                    }
                    Item::Truncated(p) => {
                        truncated.push(p);
                        Ok(())
                    }
                };
                if let Err(e) = r {
                    err = Some(e);
                    return;
                }
            }
            // A job cut by the deadline: what it did not get to is timed out.
            if let (Some(f), Some(p)) = (timed_out, pid_path.clone()) {
                let mut names: Vec<String> =
                    vec!["cmdline".into(), "maps".into(), "smaps_rollup".into()];
                if !sh.opts.no_env {
                    names.push("environ".into());
                }
                if sh.opts.smaps {
                    names.push("smaps".into());
                }
                for n in names {
                    let path = format!("{p}/{n}");
                    if !had.contains(&path) {
                        unreadable.push(Unreadable {
                            path,
                            error: f.clone(),
                        });
                    }
                }
            }
            if let Some(pid) = pid_path.as_deref().and_then(|p| p.parse::<i32>().ok()) {
                taken.push(pid);
            }
        },
    );
    if let Some(e) = err {
        return Err(e);
    }
    // Shared files, then every process's hard link to them.
    for (k, b) in &shared_data {
        w.file(&format!("{}/{k}", format::SHARED_DIR), b)?;
    }
    for (p, k) in &shared_links {
        if shared_data.contains_key(k) {
            w.hard_link(p, &format!("{}/{k}", format::SHARED_DIR))?;
        }
    }
    for u in &unreadable {
        if let Some((pid, name)) = tape_key(&u.path) {
            tape.file_failed(pid, &name, u.error.clone());
        }
    }
    // `attr/current` answers EINVAL on every process when no security
    // module labels processes: what the host is, not something that could
    // not be read (kept on the tape, so it replays as it read live).
    unreadable.retain(|u| {
        !(u.path.ends_with("/attr/current")
            && matches!(u.error, procscope_read::Failure::Io { errno: 22, .. }))
    });
    taken.sort_unstable();
    // The workers' read buffers are freed but glibc keeps them mapped: give
    // them back before recording, which forks a helper per process (a fork
    // copies the page tables of everything mapped).
    trim();
    record_live(&root, session, &taken);
    let (hostname, kernel_release, boot_id) = whereabouts(&root);
    let taken_at_unix_ms = started
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let taken_at = format::taken_at(taken_at_unix_ms);
    let manifest = Manifest {
        format: format::FORMAT,
        procscope_version: env!("CARGO_PKG_VERSION").to_owned(),
        taken_at_unix_ms,
        taken_at,
        duration_ms: u64::try_from(t0.elapsed().as_millis()).unwrap_or(u64::MAX),
        hostname,
        kernel_release,
        boot_id,
        command_line: opts.command_line.clone(),
        own_pid: own,
        targets: opts.targets.clone(),
        no_env: opts.no_env,
        redacted: opts.redact.is_some(),
        timeout_ms: session
            .timeout()
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        processes: taken.len(),
        unreadable,
        truncated,
        sched_now_ms,
        clocks,
    };
    let m = serde_json::to_vec(&manifest).map_err(std::io::Error::other)?;
    w.file(format::MANIFEST_ENTRY, &m)?;
    let live = serde_json::to_vec(&tape.records()).map_err(std::io::Error::other)?;
    w.file(format::LIVE_ENTRY, &live)?;
    w.finish()?;
    Ok(manifest)
}

/// Gives freed heap memory back to the system (glibc keeps what worker
/// threads freed in their arenas; a snapshot reads ~70 KB per process).
fn trim() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only releases free heap memory.
    unsafe {
        libc::malloc_trim(0);
    }
}

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
use procscope_read::guard::{Ctx, Session, Target};
use procscope_read::tape::Tape;
use procscope_read::{Failure, ProcDir, ProcRoot};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::CString;
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

/// Process files copied as they are (never block).
const PLAIN: &[(&str, usize)] = &[
    ("stat", procscope_read::cap::RECORD),
    ("status", procscope_read::cap::RECORD),
    ("statm", 4096),
    ("limits", procscope_read::cap::RECORD),
    ("cgroup", procscope_read::cap::RECORD),
    ("io", 4096),
    ("wchan", 4096),
    ("comm", 4096),
    ("oom_score", 4096),
    ("oom_score_adj", 4096),
    ("attr/current", 4096),
];

/// Thread files copied as they are.
const TASK_PLAIN: &[(&str, usize)] = &[
    ("stat", procscope_read::cap::RECORD),
    ("status", procscope_read::cap::RECORD),
    ("wchan", 4096),
    ("comm", 4096),
    ("sched", 64 * 1024),
];

/// Thread files whose read waits for the task's exec lock.
const TASK_GUARDED: &[(&str, usize)] = &[("syscall", 4096), ("stack", procscope_read::cap::RECORD)];

/// Links read with readlink (never followed).
const LINKS: &[&str] = &["exe", "cwd", "root"];

/// Namespace links.
const NS: &[&str] = &[
    "cgroup",
    "ipc",
    "mnt",
    "net",
    "pid",
    "pid_for_children",
    "time",
    "time_for_children",
    "user",
    "uts",
];

/// A network namespace's tables (kept once per namespace).
const NET: &[&str] = &["tcp", "tcp6", "udp", "udp6", "raw", "raw6", "unix"];

/// Host-wide files of the proc root.
const HOST_WIDE: &[(&str, usize)] = &[
    ("stat", procscope_read::cap::RECORD),
    ("meminfo", procscope_read::cap::RECORD),
    ("loadavg", 4096),
    ("uptime", 4096),
    ("locks", procscope_read::cap::LOCKS),
    ("sys/kernel/pid_max", 64),
    ("sys/kernel/cap_last_cap", 64),
    ("sys/kernel/random/boot_id", 64),
    ("version", 4096),
];

/// The cgroup files `show` reads (v2, then v1).
const CGROUP_FILES: &[&str] = &[
    "memory.max",
    "memory.current",
    "cpu.max",
    "pids.max",
    "pids.current",
    "memory.limit_in_bytes",
    "memory.usage_in_bytes",
    "cpu.cfs_quota_us",
    "cpu.cfs_period_us",
];

/// One entry of a process, made on a worker, written in PID order.
#[derive(Debug, Clone)]
pub(crate) enum Item {
    /// A regular file.
    File(String, Vec<u8>),
    /// A symbolic link's text.
    Link(String, Vec<u8>),
    /// A directory (so that an empty `fd/` is there).
    Dir(String),
    /// `path` is the shared file `key` (a hard link, written at the end).
    Shared(String, String),
    /// The shared file `key`'s content (the first process to need it).
    SharedData(String, Vec<u8>),
    /// A file that could not be read.
    Failed(String, Failure),
    /// A file cut at the cap.
    Truncated(String),
}

/// What the workers share.
struct Shared {
    /// Shared keys already claimed by a worker (it reads them).
    claimed: Mutex<HashSet<String>>,
    opts: Options,
}

impl Shared {
    /// True for the first caller with `key`.
    fn claim(&self, key: &str) -> bool {
        self.claimed
            .lock()
            .map(|mut c| c.insert(key.to_owned()))
            .unwrap_or(false)
    }
}

fn cstr(s: &str) -> Option<CString> {
    CString::new(s).ok()
}

/// Reads `name` of `dir` into an item under `prefix`.
fn copy(dir: &ProcDir, prefix: &str, name: &str, cap: usize, out: &mut Vec<Item>) {
    let Some(c) = cstr(name) else { return };
    let mut buf = Vec::new();
    let path = format!("{prefix}/{name}");
    match dir.read(&c, &mut buf, cap) {
        Ok(r) => {
            if r.truncated {
                out.push(Item::Truncated(path.clone()));
            }
            out.push(Item::File(path, buf));
        }
        Err(Failure::Gone) => {}
        Err(f) => out.push(Item::Failed(path, f)),
    }
}

fn link(dir: &ProcDir, prefix: &str, name: &str, out: &mut Vec<Item>) -> Option<Vec<u8>> {
    let c = cstr(name)?;
    match dir.readlink(&c) {
        Ok(t) => {
            out.push(Item::Link(format!("{prefix}/{name}"), t.clone()));
            Some(t)
        }
        Err(Failure::Gone) => None,
        Err(f) => {
            out.push(Item::Failed(format!("{prefix}/{name}"), f));
            None
        }
    }
}

/// The environment with every value masked by `r`'s rules.
fn redact_environ(r: &Redactor, b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    for e in procscope_parse::environ::entries(b) {
        match e.value() {
            Some(v) => {
                out.extend_from_slice(e.key());
                out.push(b'=');
                out.extend(r.value(e.key(), v));
            }
            None => out.extend_from_slice(e.raw()),
        }
        out.push(0);
    }
    out
}

/// The command line with its secrets masked by `r`'s rules.
fn redact_cmdline(r: &Redactor, b: &[u8]) -> Vec<u8> {
    let c = procscope_parse::cmdline::Cmdline::parse(b);
    let mut out = Vec::with_capacity(b.len());
    for a in r.argv(c.args()) {
        out.extend(a);
        out.push(0);
    }
    if !b.ends_with(&[0]) {
        out.pop();
    }
    out
}

/// Everything of one process, as items. Plain files first (checkpointed),
/// then the guarded ones one by one.
fn process(pid: i32, root: &ProcRoot, sh: &Shared, ctx: &Ctx<Vec<Item>, Vec<Item>>) -> Vec<Item> {
    let mut out = Vec::new();
    let Ok(dir) = root.process(pid) else {
        return out;
    };
    let p = pid.to_string();
    let mut buf = Vec::new();
    // The start time names the target for the quarantine.
    match dir.read(c"stat", &mut buf, procscope_read::cap::RECORD) {
        Ok(_) => {
            if let Ok(s) = procscope_parse::stat::Stat::parse(&buf) {
                ctx.target(Target {
                    pid,
                    start: Some(s.starttime_ticks),
                });
            }
        }
        Err(_) => return out, // gone
    }
    out.push(Item::Dir(p.clone()));
    let max = sh.opts.max_file.max(1);
    for (name, cap) in PLAIN {
        copy(&dir, &p, name, (*cap).min(max), &mut out);
    }
    for l in LINKS {
        link(&dir, &p, l, &mut out);
    }
    out.push(Item::Dir(format!("{p}/ns")));
    let mut ns = HashMap::new();
    for n in NS {
        if let Some(t) = link(&dir, &p, &format!("ns/{n}"), &mut out) {
            ns.insert(*n, t);
        }
    }
    fds(&dir, &p, max, &mut out);
    // Shared per namespace: the network tables, the mount table.
    let net_key = match ns.get("net") {
        Some(t) => format!("net/{}", String::from_utf8_lossy(t)),
        None => format!("net/pid-{pid}"),
    };
    out.push(Item::Dir(format!("{p}/net")));
    let first = sh.claim(&net_key);
    for t in NET {
        let key = format!("{net_key}/{t}");
        if first {
            let mut b = Vec::new();
            if let Some(c) = cstr(&format!("net/{t}")) {
                match dir.read(
                    &c,
                    &mut b,
                    procscope_read::cap::NET.min(max.max(1 << 20) * 64),
                ) {
                    Ok(_) => out.push(Item::SharedData(key.clone(), b)),
                    Err(_) => continue,
                }
            }
        }
        out.push(Item::Shared(format!("{p}/net/{t}"), key));
    }
    let root_link = dir.readlink(c"root").unwrap_or_default();
    let mnt_key = match ns.get("mnt") {
        Some(t) => format!(
            "mnt/{}{}",
            String::from_utf8_lossy(t),
            String::from_utf8_lossy(&root_link).replace('/', "_")
        ),
        None => format!("mnt/pid-{pid}"),
    };
    if sh.claim(&mnt_key) {
        let mut b = Vec::new();
        match dir.read(c"mountinfo", &mut b, procscope_read::cap::MOUNTINFO) {
            Ok(_) => out.push(Item::SharedData(format!("{mnt_key}/mountinfo"), b)),
            Err(f) => out.push(Item::Failed(format!("{p}/mountinfo"), f)),
        }
    }
    out.push(Item::Shared(
        format!("{p}/mountinfo"),
        format!("{mnt_key}/mountinfo"),
    ));
    // Threads: plain files now, the guarded ones below.
    let tids = dir.tids().unwrap_or_default();
    if !tids.is_empty() {
        out.push(Item::Dir(format!("{p}/task")));
    }
    let mut tasks = Vec::new();
    for &tid in &tids {
        let Ok(t) = dir.task(tid) else { continue };
        let tp = format!("{p}/task/{tid}");
        out.push(Item::Dir(tp.clone()));
        for (name, cap) in TASK_PLAIN {
            copy(&t, &tp, name, (*cap).min(max), &mut out);
        }
        tasks.push((t, tp));
    }
    ctx.checkpoint(out.clone());
    // Guarded, one at a time: a timeout keeps what came before.
    let guarded = |d: &ProcDir, prefix: &str, name: &str, cap: usize, out: &mut Vec<Item>| {
        let path = format!("{prefix}/{name}");
        let Some(c) = cstr(name) else { return };
        let r = ctx.guarded(|| {
            let mut b = Vec::new();
            d.read(&c, &mut b, cap).map(|r| (b, r.truncated))
        });
        match r {
            Ok((mut b, truncated)) => {
                if let Some(red) = &sh.opts.redact {
                    if name == "environ" {
                        b = redact_environ(red, &b);
                    } else if name == "cmdline" {
                        b = redact_cmdline(red, &b);
                    }
                }
                if truncated {
                    out.push(Item::Truncated(path.clone()));
                }
                out.push(Item::File(path, b));
            }
            Err(Failure::Gone) => {}
            Err(f) => out.push(Item::Failed(path, f)),
        }
        ctx.checkpoint(out.clone());
    };
    for (t, tp) in &tasks {
        for (name, cap) in TASK_GUARDED {
            guarded(t, tp, name, (*cap).min(max), &mut out);
        }
    }
    guarded(&dir, &p, "syscall", 4096, &mut out);
    guarded(
        &dir,
        &p,
        "stack",
        procscope_read::cap::RECORD.min(max),
        &mut out,
    );
    guarded(
        &dir,
        &p,
        "cmdline",
        procscope_read::cap::TEXT.min(max),
        &mut out,
    );
    if !sh.opts.no_env {
        guarded(
            &dir,
            &p,
            "environ",
            procscope_read::cap::TEXT.min(max),
            &mut out,
        );
    }
    guarded(
        &dir,
        &p,
        "maps",
        procscope_read::cap::MAPS.min(max),
        &mut out,
    );
    guarded(
        &dir,
        &p,
        "smaps_rollup",
        procscope_read::cap::RECORD.min(max),
        &mut out,
    );
    if sh.opts.smaps {
        guarded(
            &dir,
            &p,
            "smaps",
            procscope_read::cap::SMAPS.min(max),
            &mut out,
        );
    }
    out
}

/// fd links and fdinfo. Each link is read on its own (as `fds` does): a
/// process whose links are all refused (Yama, an LSM, a protected init)
/// is recorded as "fd: denied", not as a process without fds.
fn fds(dir: &ProcDir, p: &str, max: usize, out: &mut Vec<Item>) {
    let list = match dir.fds() {
        Ok(l) => l,
        Err(Failure::Gone) => return,
        Err(f) => {
            out.push(Item::Failed(format!("{p}/fd"), f));
            return;
        }
    };
    let mut got = Vec::new();
    let mut denied = None;
    for fd in list {
        let Some(c) = cstr(&format!("fd/{fd}")) else {
            continue;
        };
        match dir.readlink(&c) {
            Ok(l) => got.push((fd, l)),
            Err(f @ Failure::Denied { .. }) => denied = Some(f),
            Err(_) => {}
        }
    }
    if got.is_empty() {
        if let Some(f) = denied {
            out.push(Item::Failed(format!("{p}/fd"), f));
            return;
        }
    }
    out.push(Item::Dir(format!("{p}/fd")));
    out.push(Item::Dir(format!("{p}/fdinfo")));
    for (fd, l) in got {
        out.push(Item::Link(format!("{p}/fd/{fd}"), l));
        copy(dir, p, &format!("fdinfo/{fd}"), max.min(1 << 20), out);
    }
}

/// The tree-relative PID and file name of a path (`12/task/13/stack` →
/// 13, `stack`), as the tape keys failed files.
fn tape_key(path: &str) -> Option<(i32, String)> {
    let mut parts = path.splitn(2, '/');
    let pid: i32 = parts.next()?.parse().ok()?;
    let rest = parts.next()?;
    if let Some(t) = rest.strip_prefix("task/") {
        let mut tp = t.splitn(2, '/');
        let tid: i32 = tp.next()?.parse().ok()?;
        return Some((tid, tp.next()?.to_owned()));
    }
    Some((pid, rest.to_owned()))
}

/// `pids` and every ancestor of each (`show` names a process's parents;
/// a snapshot of some processes keeps who started them), ascending.
fn with_ancestors(root: &ProcRoot, pids: &[i32]) -> Vec<i32> {
    let mut all: std::collections::BTreeSet<i32> = pids.iter().copied().collect();
    let mut buf = Vec::new();
    for &p in pids {
        let mut cur = p;
        // PID namespaces nest at most 32 deep; chains are far shorter.
        for _ in 0..4096 {
            let ppid = root
                .process(cur)
                .and_then(|d| d.read(c"stat", &mut buf, procscope_read::cap::RECORD))
                .ok()
                .and_then(|_| procscope_parse::stat::Stat::parse(&buf).ok())
                .map(|s| s.ppid);
            match ppid {
                Some(pp) if pp > 0 && all.insert(pp) => cur = pp,
                _ => break,
            }
        }
    }
    all.into_iter().collect()
}

/// Host name, kernel release and boot ID.
fn whereabouts(root: &ProcRoot) -> (String, String, Option<String>) {
    let u = rustix::system::uname();
    let mut b = Vec::new();
    let boot = root
        .read(c"sys/kernel/random/boot_id", &mut b, 64)
        .ok()
        .map(|_| String::from_utf8_lossy(procscope_parse::num::trim(&b)).into_owned());
    (
        u.nodename().to_string_lossy().into_owned(),
        u.release().to_string_lossy().into_owned(),
        boot,
    )
}

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
    session.run_ordered(
        pids,
        move |pid: i32, ctx: &Ctx<Vec<Item>, Vec<Item>>| process(pid, &r2, &sh2, ctx),
        |_, f| {
            done += 1;
            progress(done, total);
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
    record_live(&root, session, &taken);
    let (hostname, kernel_release, boot_id) = whereabouts(&root);
    let taken_at_unix_ms = started
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let taken_at = jiff::Timestamp::from_millisecond(i64::try_from(taken_at_unix_ms).unwrap_or(0))
        .map(|t| t.to_string())
        .unwrap_or_default();
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
    };
    let m = serde_json::to_vec(&manifest).map_err(std::io::Error::other)?;
    w.file(format::MANIFEST_ENTRY, &m)?;
    let live = serde_json::to_vec(&tape.records()).map_err(std::io::Error::other)?;
    w.file(format::LIVE_ENTRY, &live)?;
    w.finish()?;
    Ok(manifest)
}

/// `/etc/passwd`, `/etc/group`, and the cgroup v2 files of every cgroup
/// a process is in, under `.host/`.
fn host_files(root: &ProcRoot, w: &mut Writer<impl Write>) -> std::io::Result<()> {
    let host = root.host();
    let mut b = Vec::new();
    for f in ["/etc/passwd", "/etc/group"] {
        if host
            .read(f.as_bytes(), &mut b, procscope_read::cap::USERS)
            .is_ok()
        {
            w.file(&format!(".host{f}"), &b)?;
        }
    }
    // cgroup files: for each cgroup line of each process, the directory
    // under each mount of its hierarchy (v2, or the v1 mounts of its
    // controllers), as `show` looks for them.
    let Ok(me) = root.process(root.own_pid()) else {
        return Ok(());
    };
    if me
        .read(c"mountinfo", &mut b, procscope_read::cap::MOUNTINFO)
        .is_err()
    {
        return Ok(());
    }
    let Ok(mounts) = procscope_parse::mountinfo::parse(&b) else {
        return Ok(());
    };
    let mounts: Vec<_> = mounts
        .into_iter()
        .filter(|m| m.fs_type == b"cgroup2" || m.fs_type == b"cgroup")
        .collect();
    let mut dirs = std::collections::BTreeSet::new();
    for pid in root.pids().unwrap_or_default() {
        let Ok(d) = root.process(pid) else { continue };
        if d.read(c"cgroup", &mut b, procscope_read::cap::RECORD)
            .is_err()
        {
            continue;
        }
        for line in b.split(|&c| c == b'\n') {
            let mut f = line.splitn(3, |&c| c == b':');
            let (Some(h), Some(ctl), Some(path)) = (f.next(), f.next(), f.next()) else {
                continue;
            };
            for m in &mounts {
                let ours = if h == b"0" {
                    m.fs_type == b"cgroup2"
                } else {
                    m.fs_type == b"cgroup"
                        && ctl
                            .split(|&c| c == b',')
                            .any(|c| !c.is_empty() && m.super_option(c).is_some())
                };
                if !ours {
                    continue;
                }
                let rel = if m.root == b"/" {
                    Some(path)
                } else {
                    path.strip_prefix(m.root.as_slice())
                };
                let Some(rel) = rel else { continue };
                let mut dir = m.mount_point.clone();
                for c in rel.split(|&c| c == b'/').filter(|c| !c.is_empty()) {
                    if c == b".." || c == b"." {
                        continue;
                    }
                    dir.push(b'/');
                    dir.extend_from_slice(c);
                }
                dirs.insert(dir);
            }
        }
    }
    for dir in dirs {
        for f in CGROUP_FILES {
            let mut path = dir.clone();
            path.push(b'/');
            path.extend_from_slice(f.as_bytes());
            if host
                .read(&path, &mut b, procscope_read::cap::RECORD)
                .is_ok()
            {
                w.file(&format!(".host{}", String::from_utf8_lossy(&path)), &b)?;
            }
        }
    }
    Ok(())
}

/// Asks what `fds`, `stack`, `why` and `show` ask of the live host about
/// each process, with the tape recording: the unix sockets of each network
/// namespace (one dump), every process's pipe and socket ends, socket
/// descriptions, file stats, inotify paths, sleep and futex memory, and the
/// executable's identity on disk.
fn record_live(root: &ProcRoot, session: &Session, pids: &[i32]) {
    if !root.is_live() {
        return;
    }
    let mut seen = HashSet::new();
    for &pid in pids {
        let Ok(dir) = root.process(pid) else { continue };
        if let Ok(ns) = dir.readlink(c"ns/net") {
            if seen.insert(ns) {
                if let Ok(mut d) = procscope_read::sockdiag::SockDiag::for_process(&dir) {
                    let _ = d.record_unix();
                }
            }
        }
    }
    let quick = session.with_workers(procscope_read::guard::default_workers());
    let r2 = root.clone();
    let s2 = session.clone();
    quick.run(pids.to_vec(), move |pid: i32, ctx: &Ctx<(), ()>| {
        let Ok(dir) = r2.process(pid) else { return };
        if let Ok(mut e) = procscope_model::fds::read(&dir, &[]) {
            procscope_model::fds::resolve_peers(&r2, pid, &mut e, &s2);
        }
        let _ = procscope_model::threads::read(&r2, pid, &s2);
        // The executable on disk (`show`): a stat that may reach a network
        // filesystem, so guarded.
        let mut maps = Vec::new();
        let link = dir.readlink(c"exe");
        if let Ok(link) = link {
            let host = r2.host();
            let _ = ctx.guarded(|| {
                dir.read(c"maps", &mut maps, procscope_read::cap::MAPS)?;
                Ok(procscope_model::target::exe_on_disk(&host, &maps, &link))
            });
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_masks_values_and_keeps_keys() {
        let r = Redactor::default();
        let env = b"PATH=/bin\0API_TOKEN=s3cr3t-value\0NOEQ\0";
        let got = redact_environ(&r, env);
        let text = String::from_utf8_lossy(&got);
        assert!(!text.contains("s3cr3t"), "{text}");
        assert!(text.starts_with("PATH=/bin\0API_TOKEN=<redacted: 8-31 bytes>\0NOEQ\0"));
        let cmd = b"app\0--password\0hunter22\0--url=https://u:pw123@h/\0";
        let got = redact_cmdline(&r, cmd);
        let text = String::from_utf8_lossy(&got);
        assert!(
            !text.contains("hunter22") && !text.contains("pw123"),
            "{text}"
        );
        assert!(got.ends_with(&[0]));
    }

    #[test]
    fn failed_files_are_keyed_by_the_directory_that_reads_them() {
        assert_eq!(tape_key("12/cmdline"), Some((12, "cmdline".into())));
        assert_eq!(tape_key("12/task/13/stack"), Some((13, "stack".into())));
        assert_eq!(tape_key(".host/etc/passwd"), None);
    }
}

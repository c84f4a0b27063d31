//! One process's files, read on a session worker: plain ones first
//! (checkpointed), then the guarded ones one at a time.

use procscope_model::redact::Redactor;
use procscope_read::guard::{Ctx, Target};
use procscope_read::{Failure, ProcDir, ProcRoot};
use std::collections::{HashMap, HashSet};
use std::ffi::CString;
use std::sync::Mutex;

use super::Options;

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
pub(super) struct Shared {
    /// Shared keys already claimed by a worker (it reads them).
    pub(super) claimed: Mutex<HashSet<String>>,
    pub(super) opts: Options,
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

pub(super) fn cstr(s: &str) -> Option<CString> {
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
pub(super) fn process(
    pid: i32,
    root: &ProcRoot,
    sh: &Shared,
    ctx: &Ctx<Vec<Item>, Vec<Item>>,
) -> Vec<Item> {
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
    // Threads: plain files now, the guarded ones below. Of the procscope
    // taking the snapshot only the main thread is kept (its directory is
    // there for its namespaces and mounts): the others are this snapshot's
    // own readers, whose states (in D behind a hung target's read) would
    // be answered as the host's — live commands never see their own
    // readers stuck.
    let mut tids = dir.tids().unwrap_or_default();
    if pid == root.own_pid() {
        tids.retain(|&t| t == pid);
    }
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
    // The executable's first bytes (its ELF header: the system call ABI,
    // which names the calls in `hung`, `stack` and `why`), kept on the tape
    // by the read. Here, before the memory-lock reads: those quarantine a
    // process whose memory lock is stuck, and the later pass
    // (`record_live`) would then get "timed out" for its header, though
    // this read takes no such lock. It opens the executable through `exe`,
    // which may sit on a hung filesystem: guarded, quarantined with the
    // exec-lock reads (already done above), not with the memory lock.
    let _ = ctx.guarded_on(procscope_read::guard::Lock::Exec, || {
        let mut h = Vec::new();
        dir.read(c"exe", &mut h, 64).map(|_| ())
    });
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

pub(super) use crate::format::tape_key;

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

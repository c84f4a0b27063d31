//! What is not one process's: host-wide files, `.host/` files, the
//! ancestors of the chosen processes, and the live-only answers recorded
//! for every process taken.

use crate::write::Writer;
use procscope_read::ProcRoot;
use procscope_read::guard::{Ctx, Session};
use std::collections::HashSet;
use std::io::Write;

/// Host-wide files of the proc root.
pub(super) const HOST_WIDE: &[(&str, usize)] = &[
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

/// `pids` and every ancestor of each (`show` names a process's parents;
/// a snapshot of some processes keeps who started them), ascending.
pub(super) fn with_ancestors(root: &ProcRoot, pids: &[i32]) -> Vec<i32> {
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
pub(super) fn whereabouts(root: &ProcRoot) -> (String, String, Option<String>) {
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

/// `/etc/passwd`, `/etc/group`, and the cgroup v2 files of every cgroup
/// a process is in, under `.host/`.
pub(super) fn host_files(root: &ProcRoot, w: &mut Writer<impl Write>) -> std::io::Result<()> {
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
pub(super) fn record_live(root: &ProcRoot, session: &Session, pids: &[i32]) {
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
        // A process quarantined by the file pass (a read stuck on its
        // memory lock) is answered "timed out" at once here.
        ctx.target(procscope_read::guard::Target::pid(pid));
        if let Ok(mut e) = procscope_model::fds::read(&dir, &[]) {
            procscope_model::fds::ask_everything(&r2, pid, &mut e, &s2);
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
    // Where each waiting thread waits in its program (`why`'s place,
    // `stack --user`): walked from memory the snapshot will not hold.
    // Running threads are not stopped for it; a process whose memory lock
    // is stuck is not walked (as `why` does not). A pass of its own, after
    // the one above: its caches (unwind tables, names) grow this process,
    // and every helper the pass above forks would copy their page tables.
    let ustacks = std::sync::Arc::new(procscope_model::ustack::Cache::default());
    let (r3, s3) = (root.clone(), session.clone());
    quick.run(pids.to_vec(), move |pid: i32, ctx: &Ctx<(), ()>| {
        ctx.target(procscope_read::guard::Target::pid(pid));
        if let Ok(mut pt) = procscope_model::threads::read(&r3, pid, &s3) {
            if !procscope_model::hung::memory_lock_stuck(&pt) {
                procscope_model::ustack::read(&r3, &mut pt, &s3, &ustacks, false);
            }
        }
    });
}

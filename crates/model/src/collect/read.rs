//! One collection's reads of one process, on the session's pool.

use super::snapshot::{IoCounters, Part, Proc, StateCounts};
use super::{Fingerprint, Known, Want};
use crate::bytes::Bytes;
use crate::clock::Clock;
use crate::process::CmdlineInfo;
use procscope_parse::stat::{Stat, TaskState};
use procscope_read::guard::Ctx;
use procscope_read::{Failure, Kept, Outcome, ProcDir, ProcRoot, Session, Target};
use std::cell::RefCell;
use std::sync::Arc;
use std::time::Instant;

/// One process to read, with what is remembered about its PID.
pub(super) struct Item {
    pub pid: i32,
    pub known: Option<Known>,
    /// Re-read what only changes when the process runs, even if `stat`
    /// says it did not.
    pub recheck: bool,
    /// Keep `stat` open for the next collection (within the budget).
    pub keep: bool,
    /// `stat` as [`quick`] read it through the kept file this collection.
    pub stat: Option<Vec<u8>>,
}

/// What [`quick`] made of a remembered process.
pub(super) enum Quick {
    /// It did not run since: finished from its kept `stat`.
    Done(Known),
    /// It needs the full read on the pool (with what is remembered, or
    /// nothing when its kept `stat` says it was reaped), and the `stat`
    /// just read when it ran (the pool's job does not read it again).
    Full(Option<Known>, Option<Vec<u8>>),
}

/// Re-reads the kept `stat` of a remembered process in the calling thread
/// (a procfs `stat` read never waits on the target's locks) and finishes
/// it when nothing says it ran: same fingerprint, same name, nothing due.
pub(super) fn quick(mut k: Known, recheck: bool, clock: &Clock, buf: &mut Vec<u8>) -> Quick {
    let Some(kept) = k.stat.clone() else {
        return Quick::Full(Some(k), None);
    };
    if recheck || k.proc.missing(Part::Cmdline).is_some() {
        return Quick::Full(Some(k), None);
    }
    match kept.reread(buf, procscope_read::cap::RECORD) {
        Ok(_) => {}
        // Reaped: the PID listed now is another process (or none).
        Err(Failure::Gone) => return Quick::Full(None, None),
        Err(_) => return Quick::Full(Some(k), None),
    }
    let Ok(st) = Stat::parse(buf) else {
        return Quick::Full(Some(k), None);
    };
    if st.starttime_ticks != k.proc.start_ticks {
        return Quick::Full(None, None);
    }
    if fingerprint(&st) != k.fingerprint || k.proc.comm.0 != st.comm {
        return Quick::Full(Some(k), Some(buf.clone()));
    }
    if !same_stat(&k.proc, &st) {
        from_stat(Arc::make_mut(&mut k.proc), &st, clock);
    }
    Quick::Done(k)
}

/// True when [`from_stat`] would change nothing in `p` (the fingerprint
/// and name already matched; these are what changes without running: a
/// new parent, group or terminal, a renice from outside).
fn same_stat(p: &Proc, st: &Stat<'_>) -> bool {
    p.ppid == st.ppid
        && p.pgrp == st.pgrp
        && p.tty_nr == st.tty_nr
        && p.nice == st.nice
        && p.priority == st.priority
        && p.utime_ticks == st.utime_ticks
        && p.stime_ticks == st.stime_ticks
        && p.rss_bytes != 0
}

/// `stat`'s fields that change when a process runs.
fn fingerprint(st: &Stat<'_>) -> Fingerprint {
    Fingerprint {
        cpu: st.utime_ticks.saturating_add(st.stime_ticks),
        minflt: st.minflt,
        majflt: st.majflt,
        state: st.state.letter() as u8,
        threads: st.num_threads,
        vsize: st.vsize_bytes,
        rss_pages: st.rss_pages,
    }
}

/// What a job delivers before its command-line read: the process, or why
/// it could not be looked into.
type Seen = Result<Known, (i32, Failure)>;

/// What a job reads under the deadline (the target's memory lock): the
/// command line and the PSS, each when due.
type Risky = (Option<Outcome<CmdlineInfo>>, Option<Outcome<u64>>);

thread_local! {
    static BUF: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(4096));
}

/// Reads every item; returns the processes in PID order and those that
/// could not be looked into.
pub(super) fn run(
    root: &ProcRoot,
    session: &Session,
    want: &Want,
    clock: &Clock,
    items: Vec<Item>,
) -> (Vec<Known>, Vec<(i32, Failure)>) {
    let (root, want2, clock) = (root.clone(), want.clone(), *clock);
    let mut out = Vec::with_capacity(items.len());
    let mut unreadable = Vec::new();
    session.run_ordered(
        items,
        move |item: Item, ctx: &Ctx<Seen, Risky>| job(&root, &want2, &clock, item, ctx),
        |_, f| {
            let Some(seen) = f.partial else { return };
            let mut k = match seen {
                Ok(k) => k,
                Err(e) => {
                    unreadable.push(e);
                    return;
                }
            };
            let (cmd, pss): (
                Result<CmdlineInfo, Option<Failure>>,
                Result<u64, Option<Failure>>,
            ) = match f.rest {
                Ok((c, p)) => (
                    c.map_or(Err(None), |c| c.map_err(Some)),
                    p.map_or(Err(None), |p| p.map_err(Some)),
                ),
                Err(e) => (Err(Some(e.clone())), Err(Some(e))),
            };
            // The job left this process unshared: no copy here.
            match pss {
                Ok(v) => {
                    let p = Arc::make_mut(&mut k.proc);
                    p.pss_bytes = Some(v);
                    set_missing(p, Part::Pss, None);
                }
                Err(None) => {}
                Err(Some(e)) => set_missing(Arc::make_mut(&mut k.proc), Part::Pss, Some(e)),
            }
            match cmd {
                Ok(c) => {
                    let p = Arc::make_mut(&mut k.proc);
                    p.cmdline = Some(Bytes(c.raw));
                    p.cmdline_truncated = c.truncated;
                    set_missing(p, Part::Cmdline, None);
                }
                // Not read this time: the last value stands.
                Err(None) => {}
                // A failed read (a stuck memory lock) keeps the last value
                // seen, and says why it is not fresh.
                Err(Some(e)) => set_missing(Arc::make_mut(&mut k.proc), Part::Cmdline, Some(e)),
            }
            out.push(k);
        },
    );
    (out, unreadable)
}

/// Records why `part` could not be read (`None`: it was read).
fn set_missing(p: &mut Proc, part: Part, why: Option<Failure>) {
    p.missing.retain(|(q, _)| *q != part);
    if let Some(f) = why {
        p.missing.push((part, f));
        p.missing.sort_by_key(|(q, _)| *q);
    }
}

fn job(root: &ProcRoot, want: &Want, clock: &Clock, item: Item, ctx: &Ctx<Seen, Risky>) -> Risky {
    let Item {
        pid,
        known,
        recheck,
        keep,
        stat,
    } = item;
    let dir = match root.process(pid) {
        Ok(d) => d,
        Err(Failure::Gone) => return (None, None),
        Err(e) => {
            ctx.checkpoint(Err((pid, e)));
            return (None, None);
        }
    };
    BUF.with(|b| {
        let mut buf = b.borrow_mut();
        let mut kept = None;
        let read = match (stat, known.as_ref().and_then(|k| k.stat.clone())) {
            // Read through the kept file moments ago: the same process
            // (a kept file never answers for a reused PID).
            (Some(b), Some(s)) => {
                buf.clear();
                buf.extend_from_slice(&b);
                kept = Some(s);
                Ok(())
            }
            _ => read_stat(&dir, known.as_ref(), keep, &mut buf, &mut kept),
        };
        let st = match read {
            Ok(()) => match Stat::parse(&buf) {
                Ok(s) => s,
                Err(e) => {
                    ctx.checkpoint(Err((pid, Failure::malformed("stat", e))));
                    return (None, None);
                }
            },
            Err(Failure::Gone) => return (None, None),
            Err(e) => {
                ctx.checkpoint(Err((pid, e)));
                return (None, None);
            }
        };
        // A remembered PID with another start time is another process.
        let known = known.filter(|k| k.proc.start_ticks == st.starttime_ticks);
        let fp = fingerprint(&st);
        let fresh = recheck || known.as_ref().is_none_or(|k| k.fingerprint != fp);
        let known_fp = known.as_ref().map(|k| k.fingerprint);
        let comm_changed = known.as_ref().is_some_and(|k| k.proc.comm.0 != st.comm);
        let cpu = fp.cpu;
        // Due: on first sight; after an exec (a new name: exec keeps PID
        // and start time); when the last command-line read failed (a
        // quarantined target is answered at once, so a retry is free and
        // a lock that came loose is seen); else when the process ran or
        // grew and the values are older than slow_age.
        let slow_due = known.as_ref().is_none_or(|k| {
            comm_changed
                || k.proc.missing(Part::Cmdline).is_some()
                || ((k.slow_cpu != cpu || k.fingerprint.vsize != fp.vsize)
                    && k.slow_at.elapsed() >= want.slow_age)
        });
        let (mut shared, slow_at, slow_cpu) = match known {
            Some(k) if !slow_due => (k.proc, k.slow_at, k.slow_cpu),
            Some(k) => (k.proc, Instant::now(), cpu),
            None => (Arc::new(blank(pid, &st)), Instant::now(), cpu),
        };
        // A copy only when a snapshot still holds this process.
        let p = Arc::make_mut(&mut shared);
        from_stat(p, &st, clock);
        let stat_rss = u64::try_from(st.rss_pages)
            .unwrap_or(0)
            .saturating_mul(clock.page_size);
        let threads = st.num_threads;
        let leader = st.state;
        let kernel = st.is_kernel_thread();
        let start = st.starttime_ticks;
        let mut cmd_dir = None;
        // `stat`'s fingerprint moved: the process ran. A periodic recheck
        // of a single-threaded one that did not asks `status` first: the
        // same context switch counts mean it did not run at all (not even
        // for less than a tick), so io, fds and wchan cannot have moved.
        // (`status` counts the leader's switches only: with more threads,
        // another may have run, so those are read in full.)
        let ran = threads != 1 || known_fp.is_none_or(|f| f != fp);
        let switches = (p.ctxsw_voluntary, p.ctxsw_involuntary);
        if fresh {
            read_status(&dir, &mut buf, p, stat_rss);
        }
        let quiet = !ran
            && switches.0.is_some()
            && switches == (p.ctxsw_voluntary, p.ctxsw_involuntary)
            && p.missing.is_empty();
        if fresh && !quiet {
            if want.io && !kernel {
                read_io(&dir, &mut buf, p);
            }
            if want.fds && !kernel {
                let n = dir.fd_count();
                p.fds = n.as_ref().ok().and_then(|n| u32::try_from(*n).ok());
                set_missing(p, Part::Fds, n.err());
            }
            if want.wchan {
                let w = dir.read(c"wchan", &mut buf, procscope_read::cap::RECORD);
                p.wchan = w
                    .as_ref()
                    .ok()
                    .map(|_| Bytes(buf.to_vec()))
                    .filter(|b| !b.0.is_empty() && b.0 != b"0");
                set_missing(p, Part::Wchan, w.err());
            }
            cmd_dir = fold_threads(&dir, pid, &mut buf, p, leader, threads, want.threads);
        }
        // A leader that exited first reads as a zombie with no command
        // line and no exe: those come from a live thread (rule 7), found
        // here too when this collection did not fold the threads.
        if slow_due && cmd_dir.is_none() && leader == TaskState::Zombie && threads > 1 {
            cmd_dir = live_thread(&dir, pid, &mut buf);
        }
        if slow_due && !kernel {
            read_slow(cmd_dir.as_ref().unwrap_or(&dir), &mut buf, p, want);
        }
        drop(buf);
        ctx.target(Target {
            pid,
            start: Some(start),
        });
        ctx.checkpoint(Ok(Known {
            proc: shared,
            fingerprint: fp,
            slow_at,
            slow_cpu,
            stat: kept,
        }));
        let want_cmd = slow_due && want.cmdline;
        let want_pss = want.pss && fresh;
        if !(want_cmd || want_pss) || kernel {
            return (None, None);
        }
        let d = cmd_dir.unwrap_or(dir);
        let cap = want.cmdline_cap;
        // Both memory-lock reads in one guarded call: if the first hangs,
        // the second is never tried (one outstanding read per process).
        match ctx.guarded(|| {
            let c = want_cmd.then(|| crate::listing::read_cmdline(&d, cap));
            let p = want_pss.then(|| read_pss(&d));
            Ok((c, p))
        }) {
            Ok(r) => r,
            Err(e) => (want_cmd.then(|| Err(e.clone())), want_pss.then_some(Err(e))),
        }
    })
}

/// Reads `stat` into `buf`: through the remembered kept file when it still
/// answers (the same process: the PID cannot be reused while it exists),
/// else through a newly kept one when `keep`, else by opening it once.
fn read_stat(
    dir: &ProcDir,
    known: Option<&Known>,
    keep: bool,
    buf: &mut Vec<u8>,
    kept: &mut Option<Arc<Kept>>,
) -> Outcome<()> {
    let cap = procscope_read::cap::RECORD;
    if let Some(s) = known.and_then(|k| k.stat.clone()) {
        if s.reread(buf, cap).is_ok() {
            *kept = Some(s);
            return Ok(());
        }
    }
    if keep {
        if let Ok(s) = dir.keep(c"stat") {
            s.reread(buf, cap)?;
            *kept = Some(Arc::new(s));
            return Ok(());
        }
    }
    dir.read(c"stat", buf, cap).map(|_| ())
}

/// A process seen for the first time: identity and names from `stat`,
/// the rest filled in by the reads that follow.
fn blank(pid: i32, st: &Stat<'_>) -> Proc {
    let mut thread_states = StateCounts::default();
    thread_states.add(st.state);
    Proc {
        pid,
        start_ticks: st.starttime_ticks,
        ppid: st.ppid,
        pgrp: st.pgrp,
        tty_nr: st.tty_nr,
        comm: Bytes::from(st.comm),
        state: st.state.letter(),
        kernel_thread: st.is_kernel_thread(),
        threads: 1,
        thread_states,
        utime_ticks: 0,
        stime_ticks: 0,
        minflt: 0,
        majflt: 0,
        nice: 0,
        priority: 0,
        vsz_bytes: 0,
        rss_bytes: 0,
        swap_bytes: None,
        pss_bytes: None,
        uid: None,
        ctxsw_voluntary: None,
        ctxsw_involuntary: None,
        io: None,
        fds: None,
        fd_limit: None,
        exe: None,
        cmdline: None,
        cmdline_truncated: false,
        cgroup: None,
        wchan: None,
        missing: Vec::new(),
    }
}

/// The fields `stat` gives, read on every collection.
fn from_stat(p: &mut Proc, st: &Stat<'_>, clock: &Clock) {
    p.ppid = st.ppid;
    p.pgrp = st.pgrp;
    p.tty_nr = st.tty_nr;
    if p.comm.0 != st.comm {
        p.comm = Bytes::from(st.comm);
    }
    p.threads = u32::try_from(st.num_threads).unwrap_or(0);
    p.utime_ticks = st.utime_ticks;
    p.stime_ticks = st.stime_ticks;
    p.minflt = st.minflt;
    p.majflt = st.majflt;
    p.nice = st.nice;
    p.priority = st.priority;
    p.vsz_bytes = st.vsize_bytes;
    p.kernel_thread = st.is_kernel_thread();
    if p.rss_bytes == 0 {
        p.rss_bytes = u64::try_from(st.rss_pages)
            .unwrap_or(0)
            .saturating_mul(clock.page_size);
    }
}

/// `status`: UID, exact RSS (`VmRSS`; `stat`'s is an approximate per-CPU
/// counter since 6.2), swap, context switches.
fn read_status(dir: &ProcDir, buf: &mut Vec<u8>, p: &mut Proc, stat_rss: u64) {
    let r = dir.read(c"status", buf, procscope_read::cap::RECORD);
    if let Err(e) = r {
        p.rss_bytes = stat_rss;
        set_missing(p, Part::Status, Some(e));
        return;
    }
    let mut rss = None;
    for (k, v) in procscope_parse::status::fields(buf) {
        match k {
            b"Uid" => {
                p.uid = procscope_parse::num::words(v)
                    .nth(1)
                    .and_then(procscope_parse::num::dec_u64)
                    .and_then(|u| u32::try_from(u).ok());
            }
            b"VmRSS" => rss = procscope_parse::num::kb_to_bytes(v),
            b"VmSwap" => p.swap_bytes = procscope_parse::num::kb_to_bytes(v),
            b"voluntary_ctxt_switches" => {
                p.ctxsw_voluntary = procscope_parse::num::dec_u64(v);
            }
            b"nonvoluntary_ctxt_switches" => {
                p.ctxsw_involuntary = procscope_parse::num::dec_u64(v);
            }
            _ => {}
        }
    }
    // Kernel threads and zombies have no VmRSS: nothing resident.
    p.rss_bytes = rss.unwrap_or(if p.kernel_thread { 0 } else { stat_rss });
    set_missing(p, Part::Status, None);
}

fn read_io(dir: &ProcDir, buf: &mut Vec<u8>, p: &mut Proc) {
    let r = dir
        .read(c"io", buf, procscope_read::cap::RECORD)
        .and_then(|_| procscope_parse::io::Io::parse(buf).map_err(|e| Failure::malformed("io", e)));
    match r {
        Ok(io) => {
            p.io = Some(IoCounters {
                rchar: io.rchar.unwrap_or(0),
                wchar: io.wchar.unwrap_or(0),
                read_bytes: io.read_bytes.unwrap_or(0),
                write_bytes: io.write_bytes.unwrap_or(0),
                syscr: io.syscr.unwrap_or(0),
                syscw: io.syscw.unwrap_or(0),
            });
            set_missing(p, Part::Io, None);
        }
        Err(e) => {
            p.io = None;
            set_missing(p, Part::Io, Some(e));
        }
    }
}

/// Every thread's state, for a process with several: the process is `D`
/// when any thread is (that is what makes it stuck), and when the leader
/// exited first (it reads `Z` while others run) its state comes from a
/// live thread — whose directory is returned, to read the command line
/// from (reliability rule 7).
fn fold_threads(
    dir: &ProcDir,
    pid: i32,
    buf: &mut Vec<u8>,
    p: &mut Proc,
    leader: TaskState,
    threads: i64,
    want: bool,
) -> Option<ProcDir> {
    let mut counts = StateCounts::default();
    p.state = leader.letter();
    if threads <= 1 || !want {
        counts.add(leader);
        p.thread_states = counts;
        set_missing(p, Part::Threads, None);
        return None;
    }
    let tids = match dir.tids() {
        Ok(t) => t,
        Err(e) => {
            counts.add(leader);
            p.thread_states = counts;
            set_missing(p, Part::Threads, Some(e));
            return None;
        }
    };
    let mut live: Option<(ProcDir, TaskState)> = None;
    for t in tids {
        let Ok(td) = dir.task(t) else { continue };
        if td.read(c"stat", buf, procscope_read::cap::RECORD).is_err() {
            continue;
        }
        let Ok(ts) = Stat::parse(buf) else { continue };
        counts.add(ts.state);
        if t != pid && ts.state != TaskState::Zombie && live.is_none() {
            live = Some((td, ts.state));
        }
    }
    p.thread_states = counts;
    set_missing(p, Part::Threads, None);
    let mut cmd_dir = None;
    if leader == TaskState::Zombie {
        if let Some((td, state)) = live {
            p.state = state.letter();
            cmd_dir = Some(td);
        }
    }
    if counts.disk_sleep > 0 {
        p.state = TaskState::DiskSleep.letter();
    }
    cmd_dir
}

/// `Pss` of `smaps_rollup`, bytes (call inside a guarded read).
fn read_pss(dir: &ProcDir) -> Outcome<u64> {
    let mut b = Vec::with_capacity(1024);
    dir.read(c"smaps_rollup", &mut b, procscope_read::cap::RECORD)?;
    procscope_parse::maps::rollup(&b)
        .into_iter()
        .find(|(k, _)| *k == b"Pss")
        .map(|(_, v)| v)
        .ok_or_else(|| Failure::malformed("smaps_rollup", "no Pss line"))
}

/// A thread of `pid` other than the leader that has not exited.
fn live_thread(dir: &ProcDir, pid: i32, buf: &mut Vec<u8>) -> Option<ProcDir> {
    for t in dir.tids().ok()? {
        if t == pid {
            continue;
        }
        let Ok(td) = dir.task(t) else { continue };
        if td.read(c"stat", buf, procscope_read::cap::RECORD).is_err() {
            continue;
        }
        if Stat::parse(buf).is_ok_and(|s| s.state != TaskState::Zombie) {
            return Some(td);
        }
    }
    None
}

/// What changes only when the process runs, and rarely then: the `exe`
/// link, the fd limit, the cgroup.
fn read_slow(dir: &ProcDir, buf: &mut Vec<u8>, p: &mut Proc, want: &Want) {
    if want.exe {
        let e = dir.readlink(c"exe");
        p.exe = e.as_ref().ok().map(|l| Bytes(l.clone()));
        set_missing(p, Part::Exe, e.err());
    }
    if want.fds {
        let r = dir
            .read(c"limits", buf, procscope_read::cap::RECORD)
            .and_then(|_| {
                procscope_parse::limits::Limits::parse(buf)
                    .map_err(|e| Failure::malformed("limits", e))
                    .map(|l| {
                        l.get(procscope_parse::limits::Resource::Nofile)
                            .and_then(|l| match l.soft {
                                procscope_parse::limits::LimitValue::Value(v) => Some(v),
                                procscope_parse::limits::LimitValue::Unlimited => None,
                            })
                    })
            });
        p.fd_limit = r.as_ref().ok().copied().flatten();
        set_missing(p, Part::Limits, r.err());
    }
    if want.cgroup {
        let r = dir.read(c"cgroup", buf, procscope_read::cap::RECORD);
        p.cgroup = r.as_ref().ok().and_then(|_| {
            let lines = procscope_parse::maps::cgroups(buf);
            lines
                .iter()
                .find(|l| l.id == 0)
                .or(lines.first())
                .map(|l| Bytes(l.path.to_vec()))
        });
        set_missing(p, Part::Cgroup, r.err());
    }
}

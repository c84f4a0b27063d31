//! Reading many processes at once, through the guarded pool.

use crate::bytes::Bytes;
use crate::clock::Clock;
use crate::process::{CmdlineInfo, ProcessRow, StatInfo};
use procscope_parse::stat::{Stat, TaskState};
use procscope_read::guard::{self, Ctx};
use procscope_read::{Failure, Outcome, ProcDir, ProcRoot};
use std::cell::RefCell;

/// What to read for each process.
#[derive(Debug, Clone)]
pub struct Request {
    /// Read `status` for the effective UID.
    pub uid: bool,
    /// Read `cmdline` (a memory-lock read: guarded).
    pub cmdline: bool,
    /// One row per thread instead of per process.
    pub threads: bool,
    /// Only these PIDs (`None`: every process).
    pub pids: Option<Vec<i32>>,
    /// At most this many bytes of each command line.
    pub cmdline_cap: usize,
    /// Deadline and pool settings.
    pub guard: guard::Options,
}

impl Default for Request {
    fn default() -> Self {
        Request {
            uid: true,
            cmdline: true,
            threads: false,
            pids: None,
            cmdline_cap: 256 * 1024,
            guard: guard::Options::default(),
        }
    }
}

/// The result of a listing.
#[derive(Debug)]
pub struct Listing {
    /// Rows in PID (then TID) order. Processes that vanished mid-read are
    /// left out; those that refused keep a row with the failure.
    pub rows: Vec<ProcessRow>,
    /// Clock facts used for times.
    pub clock: Clock,
    /// Processes whose command line read timed out (hung memory lock).
    pub timed_out: Vec<i32>,
}

thread_local! {
    static BUF: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(8192));
}

/// Reads the processes `req` asks for. Fails only if the proc root itself
/// cannot be listed.
pub fn list(root: &ProcRoot, req: &Request) -> Outcome<Listing> {
    let clock = Clock::read(root)?;
    let pids = match &req.pids {
        Some(p) => {
            let mut p = p.clone();
            p.sort_unstable();
            p.dedup();
            p
        }
        None => root.pids()?,
    };
    let root2 = root.clone();
    let want = req.clone();
    let results = guard::run(
        pids,
        req.guard,
        move |pid: i32, ctx: &Ctx<Vec<ProcessRow>, Option<Outcome<CmdlineInfo>>>| {
            read_one(&root2, &want, &clock, pid, ctx)
        },
    );
    let mut rows = Vec::with_capacity(results.len());
    let mut timed_out = Vec::new();
    for f in results {
        let Some(mut part) = f.partial else { continue };
        let cmd = match f.rest {
            Ok(c) => c,
            Err(e) => {
                if matches!(e, Failure::TimedOut { .. }) {
                    if let Some(r) = part.first() {
                        timed_out.push(r.pid);
                    }
                }
                Some(Err(e))
            }
        };
        if let Some(c) = cmd {
            for r in part.iter_mut() {
                r.cmdline = Some(c.clone());
            }
        }
        rows.extend(part);
    }
    Ok(Listing {
        rows,
        clock,
        timed_out,
    })
}

fn read_one(
    root: &ProcRoot,
    req: &Request,
    clock: &Clock,
    pid: i32,
    ctx: &Ctx<Vec<ProcessRow>, Option<Outcome<CmdlineInfo>>>,
) -> Option<Outcome<CmdlineInfo>> {
    let dir = match root.process(pid) {
        Ok(d) => d,
        Err(Failure::Gone) => return None,
        Err(e) => {
            ctx.checkpoint(vec![ProcessRow {
                pid,
                tid: None,
                stat: Err(e),
                uid: None,
                user: None,
                cmdline: None,
            }]);
            return None;
        }
    };
    let (stat, uid) = BUF.with(|b| {
        let mut buf = b.borrow_mut();
        let stat = read_stat(&dir, c"stat", clock, &mut buf);
        let uid = req.uid.then(|| read_uid(&dir, &mut buf));
        (stat, uid)
    });
    if matches!(stat, Err(Failure::Gone)) {
        return None;
    }
    // A leader that exited while other threads run reads as a zombie, and
    // its cmdline as empty (its mm is gone): take the state and the command
    // line from a live thread instead (reliability rule 7).
    let mut stat = stat;
    let mut cmd_dir = dir.clone();
    if let Ok(st) = &mut stat {
        if st.state == TaskState::Zombie && st.threads > 1 {
            if let Some((t, tst)) = live_thread(&dir, pid, clock) {
                st.state = tst.state;
                st.leader_exited = true;
                cmd_dir = t;
            }
        }
    }
    let mut rows = Vec::new();
    if req.threads {
        match dir.tids() {
            Ok(tids) => BUF.with(|b| {
                let mut buf = b.borrow_mut();
                for tid in tids {
                    let st = dir
                        .task(tid)
                        .and_then(|t| read_stat(&t, c"stat", clock, &mut buf));
                    if matches!(st, Err(Failure::Gone)) {
                        continue;
                    }
                    rows.push(ProcessRow {
                        pid,
                        tid: Some(tid),
                        stat: st,
                        uid: uid.clone(),
                        user: None,
                        cmdline: None,
                    });
                }
            }),
            Err(Failure::Gone) => return None,
            Err(e) => rows.push(ProcessRow {
                pid,
                tid: None,
                stat: Err(e),
                uid: uid.clone(),
                user: None,
                cmdline: None,
            }),
        }
    } else {
        rows.push(ProcessRow {
            pid,
            tid: None,
            stat,
            uid,
            user: None,
            cmdline: None,
        });
    }
    ctx.checkpoint(rows);
    if !req.cmdline {
        return None;
    }
    let cap = req.cmdline_cap;
    Some(ctx.guarded(|| read_cmdline(&cmd_dir, cap)))
}

/// The first thread other than the (exited) leader that is not a zombie.
fn live_thread(dir: &ProcDir, pid: i32, clock: &Clock) -> Option<(ProcDir, StatInfo)> {
    let tids = dir.tids().ok()?;
    BUF.with(|b| {
        let mut buf = b.borrow_mut();
        tids.into_iter().filter(|&t| t != pid).find_map(|t| {
            let td = dir.task(t).ok()?;
            let st = read_stat(&td, c"stat", clock, &mut buf).ok()?;
            (st.state != TaskState::Zombie).then_some((td, st))
        })
    })
}

/// Reads and converts `stat` of a process or thread directory.
pub fn read_stat(
    dir: &ProcDir,
    name: &std::ffi::CStr,
    clock: &Clock,
    buf: &mut Vec<u8>,
) -> Outcome<StatInfo> {
    dir.read(name, buf, 64 * 1024)?;
    let s = Stat::parse(buf).map_err(|e| Failure::malformed("stat", e))?;
    Ok(stat_info(&s, clock))
}

/// Converts parsed `stat` fields to model units.
pub fn stat_info(s: &Stat<'_>, clock: &Clock) -> StatInfo {
    StatInfo {
        comm: Bytes::from(s.comm),
        state: s.state,
        ppid: s.ppid,
        pgrp: s.pgrp,
        session: s.session,
        tty_nr: s.tty_nr,
        threads: s.num_threads,
        rss_bytes: u64::try_from(s.rss_pages)
            .unwrap_or(0)
            .saturating_mul(clock.page_size),
        vsz_bytes: s.vsize_bytes,
        cpu_time_ms: clock.ticks_to_ms(s.utime_ticks.saturating_add(s.stime_ticks)),
        start_time_unix: clock.start_unix(s.starttime_ticks),
        elapsed_secs: clock.elapsed_secs(s.starttime_ticks),
        nice: s.nice,
        priority: s.priority,
        kernel_thread: s.is_kernel_thread(),
        start_ticks: s.starttime_ticks,
        leader_exited: false,
    }
}

fn read_uid(dir: &ProcDir, buf: &mut Vec<u8>) -> Outcome<u32> {
    dir.read(c"status", buf, 64 * 1024)?;
    procscope_parse::status::uid(buf)
        .map(|ids| ids.effective)
        .ok_or_else(|| Failure::malformed("status", "no Uid line"))
}

/// Reads `cmdline` (call inside [`Ctx::guarded`]: it takes the memory lock).
pub fn read_cmdline(dir: &ProcDir, cap: usize) -> Outcome<CmdlineInfo> {
    let mut raw = Vec::new();
    let r = dir.read(c"cmdline", &mut raw, cap)?;
    raw.shrink_to_fit();
    Ok(CmdlineInfo {
        raw,
        truncated: r.truncated,
    })
}

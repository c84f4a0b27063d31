//! Reading many processes at once, through the guarded pool.

use crate::bytes::Bytes;
use crate::clock::Clock;
use crate::process::{CmdlineInfo, Handle, ProcessRow, StatInfo};
use procscope_parse::stat::{Stat, TaskState};
use procscope_read::guard::{Ctx, Session, Target};
use procscope_read::{Failure, Outcome, ProcDir, ProcRoot};
use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

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
    /// The read session (deadline, pool, stuck budget, quarantine).
    pub session: Session,
    /// Keep each process's directory handle in its row (for
    /// [`stream_cmdlines`]), for at most this many processes; the rest are
    /// reopened by PID and checked by start time.
    pub keep_handles: usize,
}

impl Default for Request {
    fn default() -> Self {
        Request {
            uid: true,
            cmdline: true,
            threads: false,
            pids: None,
            cmdline_cap: 256 * 1024,
            session: Session::default(),
            keep_handles: 0,
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
    // Handles kept so far in this call (bounded by `keep_handles`).
    let kept = Arc::new(AtomicUsize::new(0));
    let n = pids.len();
    let mut rows = Vec::with_capacity(n);
    let mut timed_out = Vec::new();
    // Rows are merged as they come (in PID order) rather than collected
    // first: the listing never holds two copies.
    req.session.run_ordered(
        pids,
        move |pid: i32, ctx: &Ctx<Vec<ProcessRow>, Option<Outcome<CmdlineInfo>>>| {
            read_one(&root2, &want, &clock, &kept, pid, ctx)
        },
        |_, f| {
            let Some(mut part) = f.partial else { return };
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
        },
    );
    rows.shrink_to_fit();
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
    kept: &AtomicUsize,
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
                handle: None,
            }]);
            return None;
        }
    };
    // With --threads every thread gets its own row: no need to fold them.
    let (stat, uid, cmd_dir) =
        BUF.with(|b| read_process(&dir, pid, clock, &mut b.borrow_mut(), !req.threads));
    if matches!(stat, Err(Failure::Gone)) {
        return None;
    }
    ctx.target(Target {
        pid,
        start: stat.as_ref().ok().map(|s| s.start_ticks),
    });
    let uid = req.uid.then_some(uid);
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
                        handle: None,
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
                handle: None,
            }),
        }
    } else {
        let keep = req.keep_handles > 0 && kept.fetch_add(1, Ordering::Relaxed) < req.keep_handles;
        rows.push(ProcessRow {
            pid,
            tid: None,
            stat,
            uid,
            user: None,
            cmdline: None,
            handle: keep.then(|| Handle(cmd_dir.clone())),
        });
    }
    ctx.checkpoint(rows);
    if !req.cmdline {
        return None;
    }
    let cap = req.cmdline_cap;
    Some(ctx.guarded(|| read_cmdline(&cmd_dir, cap)))
}

/// A process's `stat` facts as they concern the whole process, its
/// effective UID, and the directory to read its command line from:
///
/// - RSS from `status` (`VmRSS`: the exact sum of the mm's counters), not
///   `stat`'s field 24, which since Linux 6.2 is an approximate per-CPU
///   counter (measured here: median 9% low, up to 27%);
/// - the state accounts for every thread: a process with any thread in
///   `D` is `D` (`blocked_threads` counts them), since that is what makes
///   it stuck; the leader's own state otherwise;
/// - a leader that exited while other threads run reads as a zombie, and
///   its cmdline as empty (its mm is gone): the state and the command line
///   come from a live thread instead (reliability rule 7).
pub fn read_process(
    dir: &ProcDir,
    pid: i32,
    clock: &Clock,
    buf: &mut Vec<u8>,
    fold_threads: bool,
) -> (Outcome<StatInfo>, Outcome<u32>, ProcDir) {
    let mut stat = read_stat(dir, c"stat", clock, buf);
    let status = dir.read(c"status", buf, procscope_read::cap::RECORD);
    let uid = status.and_then(|_| {
        procscope_parse::status::uid(buf)
            .map(|ids| ids.effective)
            .ok_or_else(|| Failure::malformed("status", "no Uid line"))
    });
    let mut cmd_dir = dir.clone();
    if let Ok(st) = &mut stat {
        let rss = procscope_parse::status::fields(buf)
            .find(|(k, _)| *k == b"VmRSS")
            .and_then(|(_, v)| procscope_parse::num::kb_to_bytes(v));
        if fold_threads {
            cmd_dir = whole_process(dir, pid, clock, buf, st, rss);
        } else if let Some(rss) = rss {
            st.rss_bytes = rss;
        }
    }
    (stat, uid, cmd_dir)
}

/// Turns a leader's `stat` facts into the process's (see
/// [`read_process`]): RSS from `status` (`vm_rss`, when the caller has
/// it), every thread's state, the leader-exited rule. Returns the
/// directory to read the command line from. `buf` is scratch space.
pub fn whole_process(
    dir: &ProcDir,
    pid: i32,
    clock: &Clock,
    buf: &mut Vec<u8>,
    st: &mut StatInfo,
    vm_rss: Option<u64>,
) -> ProcDir {
    let mut cmd_dir = dir.clone();
    if let Some(rss) = vm_rss {
        st.rss_bytes = rss;
    }
    st.blocked_threads = u32::from(st.state == TaskState::DiskSleep);
    if st.threads > 1 {
        let leader_zombie = st.state == TaskState::Zombie;
        let mut live: Option<(ProcDir, TaskState)> = None;
        let mut blocked = 0u32;
        for t in dir.tids().unwrap_or_default() {
            let Ok(td) = dir.task(t) else { continue };
            let Ok(ts) = read_stat(&td, c"stat", clock, buf) else {
                continue;
            };
            if ts.state == TaskState::DiskSleep {
                blocked = blocked.saturating_add(1);
            }
            if t != pid && ts.state != TaskState::Zombie && live.is_none() {
                live = Some((td, ts.state));
            }
        }
        st.blocked_threads = blocked;
        if leader_zombie {
            if let Some((td, state)) = live {
                st.state = state;
                st.leader_exited = true;
                cmd_dir = td;
            }
        }
        if blocked > 0 {
            st.state = TaskState::DiskSleep;
        }
    }
    cmd_dir
}

/// Reads the command line of each row, in the rows' order, and hands every
/// row to `sink` as soon as it and the rows before it are complete (see
/// [`Session::run_ordered`]): at most a few command lines are held at once.
/// Rows should come from a listing with `keep_handles`; a row without a
/// handle is reopened by PID and used only if its start time still matches.
/// Returns the PIDs whose read timed out.
pub fn stream_cmdlines(
    root: &ProcRoot,
    rows: Vec<ProcessRow>,
    cap: usize,
    session: &Session,
    mut sink: impl FnMut(ProcessRow),
) -> Vec<i32> {
    let root = root.clone();
    let mut timed_out = Vec::new();
    session.run_ordered(
        rows,
        move |mut row: ProcessRow, ctx: &Ctx<ProcessRow, Outcome<CmdlineInfo>>| {
            let handle = row.handle.take();
            let start = row.stat.as_ref().ok().map(|s| s.start_ticks);
            let pid = row.pid;
            ctx.target(Target { pid, start });
            ctx.checkpoint(row);
            let dir = match handle {
                Some(h) => h.0,
                None => reopen(&root, pid, start)?,
            };
            ctx.guarded(|| read_cmdline(&dir, cap))
        },
        |_, f| {
            let Some(mut row) = f.partial else { return };
            let cmd = f.rest.and_then(|r| r);
            if matches!(cmd, Err(Failure::TimedOut { .. })) {
                timed_out.push(row.pid);
            }
            row.cmdline = Some(cmd);
            sink(row);
        },
    );
    timed_out
}

/// Reopens `/proc/PID` and checks that it is still the process that started
/// at `start_ticks` (PID and start time are a process's identity).
fn reopen(root: &ProcRoot, pid: i32, start_ticks: Option<u64>) -> Outcome<ProcDir> {
    let dir = root.process(pid)?;
    let mut buf = Vec::with_capacity(1024);
    dir.read(c"stat", &mut buf, 64 * 1024)?;
    let now = Stat::parse(&buf).map_err(|e| Failure::malformed("stat", e))?;
    if start_ticks.is_some_and(|s| s != now.starttime_ticks) {
        return Err(Failure::Gone);
    }
    Ok(dir)
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
        policy: s.policy,
        kernel_thread: s.is_kernel_thread(),
        start_ticks: s.starttime_ticks,
        leader_exited: false,
        blocked_threads: 0,
    }
}

/// Reads `cmdline` (call inside [`Ctx::guarded`]: it takes the memory lock).
/// The read goes into the thread's reused buffer and is copied out at its
/// exact size, so that thousands of command lines held or streamed leave no
/// grown-then-shrunk allocations behind.
pub fn read_cmdline(dir: &ProcDir, cap: usize) -> Outcome<CmdlineInfo> {
    BUF.with(|b| {
        let mut buf = b.borrow_mut();
        let r = dir.read(c"cmdline", &mut buf, cap)?;
        let raw = buf.to_vec();
        // Don't keep a huge buffer around after one huge command line.
        if buf.capacity() > 1 << 20 {
            *buf = Vec::with_capacity(8192);
        }
        Ok(CmdlineInfo {
            raw,
            truncated: r.truncated,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn stat(pid: i32, start: u64) -> String {
        format!(
            "{pid} (p{pid}) S 1 {pid} {pid} 0 -1 4194304 0 0 0 0 1 1 0 0 20 0 1 0 {start} 1000 10 0\n"
        )
    }

    #[test]
    fn streams_in_order_reopening_past_the_handle_budget_and_detecting_reuse() {
        let t = tempfile::tempdir().unwrap();
        fs::write(t.path().join("stat"), "btime 1700000000\n").unwrap();
        fs::write(t.path().join("uptime"), "100.00 50.00\n").unwrap();
        for pid in [10, 20, 30] {
            let d = t.path().join(pid.to_string());
            fs::create_dir(&d).unwrap();
            fs::write(d.join("stat"), stat(pid, 500)).unwrap();
            fs::write(d.join("cmdline"), format!("cmd{pid}\0arg\0")).unwrap();
        }
        let root = ProcRoot::open(t.path()).unwrap();
        // One worker: PID 10 (listed first) is the one that keeps its handle.
        let one = Session::default().with_workers(1);
        let req = Request {
            uid: false,
            cmdline: false,
            keep_handles: 1,
            session: one,
            ..Request::default()
        };
        let l = list(&root, &req).unwrap();
        let kept: Vec<i32> = l
            .rows
            .iter()
            .filter(|r| r.handle.is_some())
            .map(|r| r.pid)
            .collect();
        assert_eq!(kept, vec![10]);
        assert!(l.rows.iter().all(|r| r.cmdline.is_none()));
        // PID 30 is "reused" between the listing and the command-line read:
        // its start time changed, so its new command line must not be shown.
        fs::write(t.path().join("30/stat"), stat(30, 900)).unwrap();
        let mut got = Vec::new();
        let timed_out = stream_cmdlines(&root, l.rows, 1024, &Session::default(), |r| {
            got.push((r.pid, r.cmdline.unwrap().map(|c| c.raw)));
        });
        assert!(timed_out.is_empty());
        assert_eq!(
            got,
            vec![
                (10, Ok(b"cmd10\0arg\0".to_vec())),
                (20, Ok(b"cmd20\0arg\0".to_vec())),
                (30, Err(Failure::Gone)),
            ]
        );
    }
}

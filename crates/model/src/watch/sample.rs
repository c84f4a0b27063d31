//! One cheap look at a process, taken every interval: `stat`, `status`,
//! `io`, the `fd/` links, `fdinfo/N` of the regular files followed for
//! progress, `wchan`, and the children of up to [`CHILDREN_THREADS`]
//! threads. None of these take the target's memory-map lock; what can
//! wait on a lock the target may hold (`syscall`, stats through fd links)
//! is read by the watcher under the session's deadline, not here.

use crate::bytes::Bytes;
use crate::clock::Clock;
use crate::collect::IoCounters;
use procscope_parse::stat::{Stat, TaskState};
use procscope_read::{Failure, Outcome, ProcDir};
use std::collections::BTreeMap;
use std::ffi::CString;

/// Children are counted from `task/TID/children` of at most this many
/// threads (a process with more threads counts those of its first ones).
pub const CHILDREN_THREADS: usize = 32;

/// What one interval read about a process.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// When, in milliseconds since the watch began.
    pub at_ms: u64,
    /// `comm`.
    pub comm: Bytes,
    /// State of the process (of its leader, as `stat` says).
    pub state: TaskState,
    /// Parent PID.
    pub ppid: i32,
    /// A kernel thread (`PF_KTHREAD`): it makes no system calls, and its
    /// `syscall` file reads as if it were in `read` (number 0).
    pub kernel: bool,
    /// Threads.
    pub threads: u64,
    /// Start time, clock ticks after boot (with the PID, the identity).
    pub start_ticks: u64,
    /// User + system CPU time, clock ticks.
    pub cpu_ticks: u64,
    /// Resident set size, bytes (`VmRSS` when `status` was read, else
    /// `stat`'s pages).
    pub rss_bytes: u64,
    /// Anonymous and shared-memory resident bytes (`RssAnon` +
    /// `RssShmem`), when `status` was read: what the leak test counts.
    /// File-backed pages (a file read through `mmap`) are page cache the
    /// kernel reclaims, not a leak.
    pub anon_bytes: Option<u64>,
    /// Minor and major page faults.
    pub faults: (u64, u64),
    /// `stat`'s `exit_code` (a zombie's wait status), when present.
    pub exit_code: Option<i64>,
    /// Voluntary and involuntary context switches of every live thread
    /// (`status` counts the leader's only: the other threads' are summed
    /// from their `task/TID/status`).
    pub ctxsw: Option<(u64, u64)>,
    /// `io`, or why not.
    pub io: Outcome<IoCounters>,
    /// Every open fd and its link, or why they could not be listed.
    pub fds: Outcome<BTreeMap<i32, Bytes>>,
    /// Position and flags of the fds asked for (regular files).
    pub pos: BTreeMap<i32, (u64, u64)>,
    /// The open files' identities of the fds asked for, when their
    /// `fdinfo` has `mnt_id:` and `ino:` (5.14+): a path reopened onto
    /// another file shows there, not in the link.
    pub ids: BTreeMap<i32, super::FileIdent>,
    /// Child processes, when `task/*/children` could be read.
    pub children: Option<u64>,
    /// `wchan` of the leader, when asleep and readable.
    pub wchan: Option<Bytes>,
}

impl Sample {
    /// The process has exited: a zombie (or dead) whose threads are gone.
    /// A leader that exited while other threads run also reads `Z`, with
    /// more than one thread: that process is alive.
    pub fn exited(&self) -> bool {
        matches!(self.state, TaskState::Zombie | TaskState::Dead) && self.threads <= 1
    }

    /// The open fd count, when the fds were listed.
    pub fn fd_count(&self) -> Option<u64> {
        self.fds.as_ref().ok().map(|m| m.len() as u64)
    }
}

/// Reads a sample of `dir`: fails only when its `stat` cannot be read (the
/// process is gone, or the handle now names nothing). `pos_of` are the fds
/// whose `fdinfo` position is read.
///
/// A process whose main thread exited while others run has a zombie
/// leader: its `fd/` lists nothing, and its `status` no memory. Then what
/// belongs to the whole process (memory, fds, positions) is read through
/// `task/TID` of a live thread, kept in `live` from one sample to the next
/// (found again when it exits); the state is that thread's. `live` is
/// `None` while the leader runs.
pub fn read(
    dir: &ProcDir,
    live: &mut Option<ProcDir>,
    at_ms: u64,
    clock: &Clock,
    pos_of: &[i32],
    buf: &mut Vec<u8>,
) -> Outcome<Sample> {
    dir.read(c"stat", buf, procscope_read::cap::RECORD)?;
    let st = Stat::parse(buf).map_err(|e| Failure::malformed("stat", e))?;
    let stat_rss = u64::try_from(st.rss_pages)
        .unwrap_or(0)
        .saturating_mul(clock.page_size);
    let mut s = Sample {
        at_ms,
        comm: Bytes::from(st.comm),
        state: st.state,
        ppid: st.ppid,
        kernel: st.is_kernel_thread(),
        threads: u64::try_from(st.num_threads).unwrap_or(0),
        start_ticks: st.starttime_ticks,
        cpu_ticks: st.utime_ticks.saturating_add(st.stime_ticks),
        rss_bytes: stat_rss,
        anon_bytes: None,
        faults: (st.minflt, st.majflt),
        exit_code: st.exit_code,
        ctxsw: None,
        io: Err(Failure::Gone),
        fds: Err(Failure::Gone),
        pos: BTreeMap::new(),
        ids: BTreeMap::new(),
        children: None,
        wchan: None,
    };
    if s.exited() {
        // A zombie has no memory, files or io left to read.
        s.rss_bytes = 0;
        *live = None;
        return Ok(s);
    }
    let leader_gone = matches!(s.state, TaskState::Zombie | TaskState::Dead);
    if !leader_gone {
        *live = None;
    } else if live.as_ref().is_none_or(|t| thread_state(t, buf).is_none()) {
        *live = live_thread(dir, buf);
    }
    let d = live.as_ref().unwrap_or(dir);
    if let Some(st) = live.as_ref().and_then(|t| thread_state(t, buf)) {
        s.state = st;
    }
    read_status(d, buf, &mut s);
    if s.threads > 1 {
        s.ctxsw = thread_ctxsw(dir, buf).or(s.ctxsw);
    }
    // The process's `io` sums its threads (the leader's included); it is
    // the live thread's alone only when the process's is refused.
    s.io = read_io(dir, buf).or_else(|_| read_io(d, buf));
    s.fds = read_fds(d);
    for &fd in pos_of {
        if let Some((pos, flags, id)) = read_pos(d, fd, buf) {
            s.pos.insert(fd, (pos, flags));
            if let Some(id) = id {
                s.ids.insert(fd, id);
            }
        }
    }
    s.children = read_children(dir, s.threads, buf);
    if matches!(
        s.state,
        TaskState::Sleeping | TaskState::DiskSleep | TaskState::Idle
    ) {
        s.wchan = dir
            .read(c"wchan", buf, 256)
            .ok()
            .map(|_| procscope_parse::num::trim(buf))
            .filter(|w| !w.is_empty() && *w != b"0")
            .map(Bytes::from);
    }
    Ok(s)
}

fn read_status(dir: &ProcDir, buf: &mut Vec<u8>, s: &mut Sample) {
    if dir
        .read(c"status", buf, procscope_read::cap::RECORD)
        .is_err()
    {
        return;
    }
    let (mut anon, mut shmem) = (None, None);
    for (k, v) in procscope_parse::status::fields(buf) {
        match k {
            // `stat`'s RSS is an approximate per-CPU counter since 6.2.
            b"VmRSS" => {
                if let Some(r) = procscope_parse::num::kb_to_bytes(v) {
                    s.rss_bytes = r;
                }
            }
            b"RssAnon" => anon = procscope_parse::num::kb_to_bytes(v),
            b"RssShmem" => shmem = procscope_parse::num::kb_to_bytes(v),
            _ => {}
        }
    }
    s.anon_bytes = anon.map(|a| a.saturating_add(shmem.unwrap_or(0)));
    s.ctxsw = ctxsw_of(buf);
}

/// The state of a thread that has not exited (`None`: it has, or is gone).
fn thread_state(t: &ProcDir, buf: &mut Vec<u8>) -> Option<TaskState> {
    t.read(c"stat", buf, procscope_read::cap::RECORD).ok()?;
    let st = Stat::parse(buf).ok()?;
    (!matches!(st.state, TaskState::Zombie | TaskState::Dead)).then_some(st.state)
}

/// A thread of the process other than its (exited) leader that has not
/// exited, as `collect` finds one for the same reason.
fn live_thread(dir: &ProcDir, buf: &mut Vec<u8>) -> Option<ProcDir> {
    let pid = dir.pid();
    for tid in dir.tids().ok()? {
        if tid == pid {
            continue;
        }
        let Ok(t) = dir.task(tid) else { continue };
        if thread_state(&t, buf).is_some() {
            return Some(t);
        }
    }
    None
}

/// The context switches in one `status` file.
fn ctxsw_of(status: &[u8]) -> Option<(u64, u64)> {
    let (mut vol, mut invol) = (None, None);
    for (k, v) in procscope_parse::status::fields(status) {
        match k {
            b"voluntary_ctxt_switches" => vol = procscope_parse::num::dec_u64(v),
            b"nonvoluntary_ctxt_switches" => invol = procscope_parse::num::dec_u64(v),
            _ => {}
        }
    }
    vol.zip(invol)
}

/// The context switches of every thread: `/proc/PID/status` holds the
/// leader's own counters only (fs/proc/array.c reads `p->nvcsw`, not a
/// sum over the group as `stat`'s times are), so a worker pool would show
/// the idle main thread's rate. One `task/TID/status` read per thread
/// (`sched` has them too, but is longer and varies by kernel config).
/// Threads that exited take their counts with them: the sum can drop,
/// and rates saturate at 0. `None` when no thread could be read.
fn thread_ctxsw(dir: &ProcDir, buf: &mut Vec<u8>) -> Option<(u64, u64)> {
    let mut sum: Option<(u64, u64)> = None;
    for tid in dir.tids().ok()? {
        let Ok(name) = CString::new(format!("task/{tid}/status")) else {
            continue;
        };
        if dir.read(&name, buf, procscope_read::cap::RECORD).is_err() {
            continue;
        }
        if let Some((v, i)) = ctxsw_of(buf) {
            let (sv, si) = sum.unwrap_or((0, 0));
            sum = Some((sv.saturating_add(v), si.saturating_add(i)));
        }
    }
    sum
}

fn read_io(dir: &ProcDir, buf: &mut Vec<u8>) -> Outcome<IoCounters> {
    dir.read(c"io", buf, procscope_read::cap::RECORD)?;
    let io = procscope_parse::io::Io::parse(buf).map_err(|e| Failure::malformed("io", e))?;
    Ok(IoCounters {
        rchar: io.rchar.unwrap_or(0),
        wchar: io.wchar.unwrap_or(0),
        read_bytes: io.read_bytes.unwrap_or(0),
        write_bytes: io.write_bytes.unwrap_or(0),
        syscr: io.syscr.unwrap_or(0),
        syscw: io.syscw.unwrap_or(0),
    })
}

/// Every fd's link: the directory opened once, each link read relative to
/// it ([`ProcDir::fd_links`]).
fn read_fds(dir: &ProcDir) -> Outcome<BTreeMap<i32, Bytes>> {
    let mut m = BTreeMap::new();
    let mut denied = 0usize;
    dir.fd_links(|fd, link| {
        m.insert(fd, Bytes::from(link));
    })?;
    // Some LSMs list the directory but refuse every link: no fds then
    // would be a lie. (`fd_links` skips links it cannot read.)
    if m.is_empty() {
        if let Ok(n) = dir.fd_count() {
            denied = n;
        }
    }
    if denied > 0 {
        return Err(Failure::Denied {
            need: procscope_read::Need::PtraceRead,
        });
    }
    Ok(m)
}

/// `pos:`, `flags:`, and `mnt_id:` with `ino:` of `fdinfo/FD`.
pub(super) fn read_pos(
    dir: &ProcDir,
    fd: i32,
    buf: &mut Vec<u8>,
) -> Option<(u64, u64, Option<super::FileIdent>)> {
    let name = CString::new(format!("fdinfo/{fd}")).ok()?;
    dir.read(&name, buf, procscope_read::cap::RECORD).ok()?;
    let info = procscope_parse::fdinfo::FdInfo::parse(buf).ok()?;
    Some((info.pos, info.flags, info.mnt_id.zip(info.ino)))
}

/// Children of the process: the PIDs in `task/TID/children` of its threads
/// (a child is listed under the thread that forked it). `None` when the
/// kernel has no such file (CONFIG_PROC_CHILDREN) or it was refused.
fn read_children(dir: &ProcDir, threads: u64, buf: &mut Vec<u8>) -> Option<u64> {
    let tids: Vec<i32> = if threads <= 1 {
        vec![dir.pid()]
    } else {
        dir.tids().ok()?
    };
    let mut n = 0u64;
    let mut any = false;
    for tid in tids.into_iter().take(CHILDREN_THREADS) {
        let Ok(name) = CString::new(format!("task/{tid}/children")) else {
            continue;
        };
        if dir.read(&name, buf, 1 << 20).is_ok() {
            any = true;
            n = n.saturating_add(procscope_parse::num::words(buf).count() as u64);
        }
    }
    any.then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use procscope_read::ProcRoot;

    /// This test process, read as `watch` reads it: its own fds and
    /// counters, and a child it started.
    #[test]
    fn reads_this_process() {
        let root = ProcRoot::open("/proc").unwrap();
        let clock = Clock::read(&root).unwrap();
        let dir = root.process(root.own_pid()).unwrap();
        let f = std::fs::File::open("/proc/self/stat").unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&f);
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let mut buf = Vec::new();
        let s = read(&dir, &mut None, 7, &clock, &[fd], &mut buf).unwrap();
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(s.at_ms, 7);
        assert!(!s.exited());
        let fds = s.fds.as_ref().unwrap();
        assert_eq!(
            fds.get(&fd).map(|b| b.as_slice()),
            Some(format!("/proc/{}/stat", root.own_pid()).as_bytes())
        );
        assert_eq!(s.pos.get(&fd).map(|p| p.0), Some(0));
        assert!(s.children.unwrap() >= 1, "{:?}", s.children);
        assert!(s.rss_bytes > 0 && s.threads >= 1 && s.ctxsw.is_some());
        assert!(s.io.is_ok());
    }

    /// A worker thread that sleeps in a loop switches context; the main
    /// thread, parked in `join`, does not: the process's voluntary
    /// switches are the worker's too, not the leader's only.
    #[test]
    fn watch_ctxsw_counts_every_thread() {
        let root = ProcRoot::open("/proc").unwrap();
        let clock = Clock::read(&root).unwrap();
        let dir = root.process(root.own_pid()).unwrap();
        let mut buf = Vec::new();
        let (tx, rx) = std::sync::mpsc::channel::<i32>();
        let (go, wait) = std::sync::mpsc::channel::<()>();
        let worker = std::thread::spawn(move || {
            // `/proc/thread-self` links to `PID/task/TID`.
            let me = std::fs::read_link("/proc/thread-self").unwrap();
            let tid = me.file_name().unwrap().to_str().unwrap().parse().unwrap();
            let _ = tx.send(tid);
            for _ in 0..200 {
                std::thread::sleep(std::time::Duration::from_micros(50));
            }
            let _ = wait.recv();
        });
        let tid = rx.recv().unwrap();
        while !std::fs::read_to_string(format!("/proc/self/task/{tid}/status"))
            .unwrap()
            .lines()
            .any(|l| {
                l.starts_with("voluntary_ctxt_switches") && {
                    l.split_whitespace()
                        .nth(1)
                        .and_then(|n| n.parse::<u64>().ok())
                        >= Some(150)
                }
            })
        {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let s = read(&dir, &mut None, 0, &clock, &[], &mut buf).unwrap();
        dir.read(c"status", &mut buf, 1 << 16).unwrap();
        let leader = ctxsw_of(&buf).unwrap();
        let _ = go.send(());
        worker.join().unwrap();
        let all = s.ctxsw.unwrap();
        assert!(all.0 >= leader.0 + 150, "all {all:?}, leader {leader:?}");
    }

    /// A leader that exited while a thread runs: memory, fds and state
    /// come from the live thread, not the zombie leader (`Z`, no memory,
    /// no fds).
    #[test]
    fn watch_a_leader_that_exited_is_read_through_a_live_thread() {
        let t = crate::fake::FakeProc::new();
        t.process(20, "app", 'Z', 600)
            .stat("app", 'Z', 600, 0, 0, 2)
            .file("status", "Name:\tapp\nVmRSS:\t       0 kB\n")
            .thread(20, "app", 'Z', 600)
            .thread(21, "worker", 'S', 601)
            .file(
                "task/21/status",
                "Name:\tworker\nVmRSS:\t    2048 kB\nRssAnon:\t    1024 kB\nvoluntary_ctxt_switches:\t3\nnonvoluntary_ctxt_switches:\t1\n",
            );
        std::fs::create_dir_all(t.process_dir(20).join("task/21/fd")).unwrap();
        t.process(20, "app", 'Z', 600)
            .stat("app", 'Z', 600, 0, 0, 2)
            .file("status", "Name:\tapp\nVmRSS:\t       0 kB\n")
            .link("task/21/fd/3", "/tmp/data");
        let root = t.root();
        let clock = Clock {
            ticks_per_second: 100,
            boot_time_unix: 0,
            uptime_centis: 0,
            page_size: 4096,
            sched_now_ms: None,
        };
        let dir = root.process(20).unwrap();
        let mut live = None;
        let mut buf = Vec::new();
        let s = read(&dir, &mut live, 0, &clock, &[], &mut buf).unwrap();
        assert!(!s.exited());
        assert_eq!(s.state, TaskState::Sleeping);
        assert_eq!(s.rss_bytes, 2048 * 1024);
        assert_eq!(s.anon_bytes, Some(1024 * 1024));
        assert_eq!(s.fd_count(), Some(1), "{:?}", s.fds);
        assert_eq!(live.as_ref().map(|d| d.pid()), Some(21));
    }
}

//! Finding tasks stuck in uninterruptible sleep (`D`) across the host.
//!
//! A momentary `D` (a disk read) is normal; a task still in `D` at every
//! sample over a window is stuck. The first sample reads every thread's
//! `stat`; later ones re-read only the threads that were in `D`, so the
//! cost after the first pass is proportional to what is stuck.

use crate::bytes::Bytes;
use crate::clock::Clock;
use crate::listing::read_stat;
use procscope_parse::stat::TaskState;
use procscope_read::{Outcome, ProcRoot};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A thread found in `D` at every sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StuckThread {
    /// Process ID.
    pub pid: i32,
    /// Thread ID.
    pub tid: i32,
    /// Process name.
    pub process: Bytes,
    /// Thread name.
    pub comm: Bytes,
    /// `D`, or `S` for a task that has not run for longer than `over`.
    pub state: char,
    /// How long since it last ran (ms), when `sched` tells.
    pub idle_ms: Option<u64>,
}

/// What a sampling run found, and what it actually did: it stops early
/// once no candidate is left, so the samples taken and the time spent can
/// be less than asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sampling {
    /// Threads in `D` (or, with `over`, asleep) at every sample taken.
    pub stuck: Vec<StuckThread>,
    /// Candidates at the first sample (threads in `D`, or asleep too long).
    pub first: usize,
    /// Samples taken (1 when the first found no candidate).
    pub samples: u32,
    /// Time from the first sample's start to the last one's end, measured.
    pub elapsed: Duration,
}

/// When a thread last started running (`se.exec_start`, ms since boot).
fn exec_start(t: &procscope_read::ProcDir, buf: &mut Vec<u8>) -> Option<u64> {
    t.read(c"sched", buf, 64 * 1024).ok()?;
    procscope_parse::sched::exec_start_ms(buf)
}

/// Samples the host up to `samples` times over `window` and returns the
/// threads that were in `D` at every sample — and, with `over`, the threads
/// that were asleep (`S`) at every sample without running once, and had not
/// run for longer than `over` (so they sat in the same system call all
/// along). Sampling stops as soon as no candidate is left.
pub fn sample(
    root: &ProcRoot,
    window: Duration,
    samples: u32,
    over: Option<Duration>,
) -> Outcome<Sampling> {
    let started = Instant::now();
    let clock = Clock::read(root)?.with_sched_now(root);
    let over_ms = over.map(|o| u64::try_from(o.as_millis()).unwrap_or(u64::MAX));
    let mut buf = Vec::with_capacity(1024);
    // Threads asleep too long: (pid, tid) → exec_start, which must not move.
    let mut asleep: BTreeMap<(i32, i32), u64> = BTreeMap::new();
    // First pass: every thread of every process.
    let mut d: BTreeMap<(i32, i32), StuckThread> = BTreeMap::new();
    for pid in root.pids()? {
        let Ok(dir) = root.process(pid) else { continue };
        let Ok(pst) = read_stat(&dir, c"stat", &clock, &mut buf) else {
            continue;
        };
        let Ok(tids) = dir.tids() else { continue };
        for tid in tids {
            let Ok(t) = dir.task(tid) else { continue };
            if let Ok(st) = read_stat(&t, c"stat", &clock, &mut buf) {
                let idle = |buf: &mut Vec<u8>| exec_start(&t, buf).map(|s| (s, clock.idle_ms(s)));
                let (state, idle_ms) = match (st.state, over_ms) {
                    (TaskState::DiskSleep, _) => ('D', idle(&mut buf).map(|i| i.1)),
                    // Kernel threads sleep between jobs by design.
                    (TaskState::Sleeping, Some(o)) if !pst.kernel_thread => match idle(&mut buf) {
                        Some((start, ms)) if ms >= o => {
                            asleep.insert((pid, tid), start);
                            ('S', Some(ms))
                        }
                        _ => continue,
                    },
                    _ => continue,
                };
                d.insert(
                    (pid, tid),
                    StuckThread {
                        pid,
                        tid,
                        process: pst.comm.clone(),
                        comm: st.comm,
                        state,
                        idle_ms,
                    },
                );
            }
        }
    }
    let first = d.len();
    let mut taken = 1u32;
    let rest = samples.saturating_sub(1).max(1);
    for _ in 0..rest {
        if d.is_empty() {
            break;
        }
        std::thread::sleep(window / rest);
        taken += 1;
        d.retain(|(pid, tid), s| {
            let Ok(t) = root.process(*pid).and_then(|p| p.task(*tid)) else {
                return false;
            };
            let Ok(st) = read_stat(&t, c"stat", &clock, &mut buf) else {
                return false;
            };
            match s.state {
                'S' => {
                    st.state == TaskState::Sleeping
                        && exec_start(&t, &mut buf) == asleep.get(&(*pid, *tid)).copied()
                }
                _ => st.state == TaskState::DiskSleep,
            }
        });
    }
    Ok(Sampling {
        stuck: d.into_values().collect(),
        first,
        samples: taken,
        elapsed: started.elapsed(),
    })
}

/// The subsystem a kernel stack waits in, from its frames (innermost
/// first): a best guess that names what to look at next.
pub fn likely_cause(frames: &[&[u8]], wchan: Option<&[u8]>) -> &'static str {
    let has = |p: &[u8]| {
        frames
            .iter()
            .chain(wchan.iter())
            .any(|f| f.starts_with(p) || f.windows(p.len()).any(|w| w == p))
    };
    // Reading another process's memory (/proc/PID/mem, cmdline, environ:
    // access_remote_vm under that process's mmap_lock) and faulting one
    // of its file pages in: the lock stays held until the page comes.
    let remote_vm = has(b"access_remote_vm") || has(b"get_user_pages");
    let faulting = has(b"filemap_fault") || has(b"handle_mm_fault") || has(b"folio_wait");
    // Waiting for a process's memory-map lock: mmap/munmap/mprotect/brk
    // (write) or a fault or /proc reader (read) queued behind a holder.
    let mmap_lock = (has(b"rwsem_down_write_slowpath") || has(b"rwsem_down_read_slowpath"))
        && (has(b"mmap")
            || has(b"munmap")
            || has(b"mprotect")
            || has(b"brk")
            || has(b"lock_mm_and_find_vma")
            || has(b"access_remote_vm")
            || has(b"mm_access")
            || has(b"proc_pid_cmdline_read")
            || has(b"environ_read")
            || has(b"m_start"))
        // mmap & co. sleeping in their own frame: the lock itself
        // (mmap_write_lock_killable; the rwsem frames are not shown).
        || frames.first().or(wchan.as_ref()).is_some_and(|f| {
            [
                &b"vm_mmap_pgoff"[..],
                b"__vm_munmap",
                b"vm_munmap",
                b"do_mprotect_pkey",
                b"__do_sys_brk",
                b"__do_sys_mremap",
                b"do_madvise",
            ]
            .iter()
            .any(|p| f.starts_with(p))
        });
    if remote_vm && faulting {
        "holding a process's memory-map lock while faulting in a page of one of its mapped files: that file's filesystem is not answering (every reader of the process's cmdline, environ or maps, and its own mmap, wait behind this)"
    } else if mmap_lock {
        "waiting for a process's memory-map lock (mmap_lock), held by a thread stuck in a page fault (look in this report for a task holding it)"
    } else if has(b"fuse_") {
        "a FUSE filesystem (its daemon is not answering)"
    } else if has(b"nfs") || has(b"rpc_") {
        "NFS (the server is not answering)"
    } else if has(b"wait_for_vfork_done")
        || (has(b"kernel_clone")
            && frames
                .first()
                .is_some_and(|f| f.starts_with(b"kernel_clone")))
    {
        "a vfork parent waiting for its child to exec or exit"
    } else if has(b"filemap_fault")
        || has(b"folio_wait")
        || has(b"wait_on_page")
        || has(b"filemap_read")
    {
        "reading a file's pages (the filesystem or device behind it is slow or hung)"
    } else if has(b"blk_") || has(b"io_schedule") || has(b"bio_") {
        "block I/O (a slow or failing disk)"
    } else if has(b"rwsem") || has(b"mutex_lock") || has(b"down_read") || has(b"down_write") {
        "a kernel lock (held by another task: look for the holder in the same group)"
    } else if has(b"fcntl_setlk")
        || has(b"flock_lock")
        || has(b"locks_lock")
        || has(b"posix_lock")
        || has(b"__flock")
    {
        "a file lock held by another process (procscope why names the holder)"
    } else if has(b"pipe_read") || has(b"pipe_write") || has(b"pipe_wait") {
        "a pipe (procscope why names the process at the other end)"
    } else if has(b"unix_stream")
        || has(b"sk_wait")
        || has(b"tcp_recvmsg")
        || has(b"inet_csk_accept")
    {
        "a socket (procscope why names the local peer)"
    } else if has(b"shrink_") || has(b"reclaim") || has(b"compact") {
        "memory reclaim (the host is short of memory)"
    } else if has(b"cgroup") || has(b"freezer") || has(b"do_freezer_trap") {
        "a frozen cgroup"
    } else {
        "unknown: read the kernel frames"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn tree(state: char) -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        fs::write(t.path().join("stat"), "btime 1700000000\n").unwrap();
        fs::write(t.path().join("uptime"), "100.00 50.00\n").unwrap();
        let task = t.path().join("7/task/7");
        fs::create_dir_all(&task).unwrap();
        let stat =
            format!("7 (p7) {state} 1 7 7 0 -1 4194304 0 0 0 0 1 1 0 0 20 0 1 0 500 1000 10 0\n");
        fs::write(t.path().join("7/stat"), &stat).unwrap();
        fs::write(task.join("stat"), &stat).unwrap();
        t
    }

    #[test]
    fn sampling_says_what_it_did() {
        // Nothing in D at the first sample: one sample, far less than the window.
        let t = tree('S');
        let root = ProcRoot::open(t.path()).unwrap();
        let window = Duration::from_millis(800);
        let s = sample(&root, window, 5, None).unwrap();
        assert_eq!((s.stuck.len(), s.first, s.samples), (0, 0, 1));
        assert!(s.elapsed < window / 2, "{:?}", s.elapsed);
        // In D all along: every sample, over about the window.
        let t = tree('D');
        let root = ProcRoot::open(t.path()).unwrap();
        let window = Duration::from_millis(200);
        let s = sample(&root, window, 5, None).unwrap();
        assert_eq!((s.stuck.len(), s.first, s.samples), (1, 1, 5));
        assert!(s.elapsed >= window, "{:?}", s.elapsed);
    }

    #[test]
    fn memory_lock_holders_and_waiters() {
        let holder: &[&[u8]] = &[
            b"filemap_fault+0xac0/0x1700",
            b"__do_fault",
            b"handle_mm_fault",
            b"__get_user_pages",
            b"get_user_pages_remote",
            b"__access_remote_vm",
            b"mem_rw",
        ];
        assert!(
            likely_cause(holder, Some(b"filemap_fault"))
                .starts_with("holding a process's memory-map lock")
        );
        let waiter: &[&[u8]] = &[b"vm_mmap_pgoff+0xe9/0x230", b"do_syscall_64"];
        assert!(
            likely_cause(waiter, Some(b"vm_mmap_pgoff"))
                .starts_with("waiting for a process's memory-map lock")
        );
        let reader: &[&[u8]] = &[
            b"rwsem_down_read_slowpath",
            b"down_read_killable",
            b"proc_pid_cmdline_read",
        ];
        assert!(likely_cause(reader, None).starts_with("waiting for a process's memory-map lock"));
    }

    #[test]
    fn causes() {
        assert_eq!(
            likely_cause(&[b"fuse_wait_answer", b"fuse_request_send"], None),
            "a FUSE filesystem (its daemon is not answering)"
        );
        assert!(
            likely_cause(&[b"kernel_clone", b"__do_sys_vfork"], None).starts_with("a vfork parent")
        );
        assert!(
            likely_cause(&[b"folio_wait_bit_common", b"filemap_fault"], None)
                .starts_with("reading a file")
        );
        assert!(
            likely_cause(&[b"rpc_wait_bit_killable"], Some(b"rpc_wait_bit_killable"))
                .starts_with("NFS")
        );
        assert!(likely_cause(&[b"rwsem_down_write_slowpath"], None).starts_with("a kernel lock"));
        assert!(likely_cause(&[b"fcntl_setlk", b"do_fcntl"], None).starts_with("a file lock"));
        assert!(likely_cause(&[b"pipe_write", b"vfs_write"], None).starts_with("a pipe"));
        assert_eq!(likely_cause(&[], None), "unknown: read the kernel frames");
    }
}

use super::*;
use crate::fake::FakeProc;
use procscope_read::guard::Limits;

fn want_now() -> Want {
    Want {
        slow_age: Duration::ZERO,
        ..Want::default()
    }
}

fn tree() -> FakeProc {
    let t = FakeProc::new();
    t.process(10, "web", 'S', 500)
        .file("cmdline", "web\0--port\x008080\0")
        .file("limits", "Limit                     Soft Limit           Hard Limit           Units     \nMax open files            1024                 4096                 files     \n")
        .file("cgroup", "0::/system.slice/web.service\n")
        .file(
            "io",
            "rchar: 100\nwchar: 200\nsyscr: 3\nsyscw: 4\nread_bytes: 4096\nwrite_bytes: 8192\ncancelled_write_bytes: 0\n",
        )
        .link("exe", "/usr/bin/web")
        .fd(0, "/dev/null")
        .fd(1, "pipe:[77]")
        .fd(2, "socket:[88]");
    // A process with three threads, one of them stuck in D.
    t.process(20, "db", 'S', 600)
        .stat("db", 'S', 600, 0, 0, 3)
        .file("cmdline", "db\0")
        .thread(20, "db", 'S', 600)
        .thread(21, "db-io", 'D', 601)
        .thread(22, "db-w", 'R', 601);
    t
}

#[test]
fn first_collection_reads_everything() {
    let t = tree();
    let mut c = Collector::new(t.root(), Session::default(), Want::default());
    let s = c.collect().unwrap();
    assert_eq!(s.processes.len(), 2);
    let web = &s.processes[0];
    assert_eq!((web.pid, web.start_ticks, web.state), (10, 500, 'S'));
    assert_eq!(web.cmdline.as_ref().unwrap().0, b"web\0--port\x008080\0");
    assert_eq!(web.exe.as_ref().unwrap().0, b"/usr/bin/web");
    assert_eq!(web.cgroup.as_ref().unwrap().0, b"/system.slice/web.service");
    assert_eq!((web.fds, web.fd_limit), (Some(3), Some(1024)));
    assert_eq!(web.rss_bytes, 1024 * 1024);
    assert_eq!(
        (web.ctxsw_voluntary, web.ctxsw_involuntary),
        (Some(5), Some(1))
    );
    assert_eq!(
        web.io,
        Some(IoCounters {
            rchar: 100,
            wchar: 200,
            read_bytes: 4096,
            write_bytes: 8192,
            syscr: 3,
            syscw: 4
        })
    );
    assert_eq!(web.uid, Some(0));
    assert_eq!(s.users.get(&0).map(|b| b.0.as_slice()), Some(&b"root"[..]));
    let db = &s.processes[1];
    // One thread in D makes the process D.
    assert_eq!(db.state, 'D');
    assert_eq!(
        db.thread_states,
        StateCounts {
            running: 1,
            sleeping: 1,
            disk_sleep: 1,
            ..StateCounts::default()
        }
    );
    // What db lacks is said, not guessed.
    assert!(
        matches!(db.missing(Part::Io), Some(Failure::Gone)),
        "{:?}",
        db.missing
    );
    assert_eq!(db.io, None);
    let h = s.host.unwrap();
    assert_eq!((h.cpu.user, h.cpu.idle, h.cpus), (100, 1000, 1));
    assert_eq!((h.mem_total, h.mem_available), (1_024_000_000, 614_400_000));
    assert_eq!(h.load_centis, [50, 25, 10]);
}

/// What does not change for an identity is not read again unless the
/// process ran; a reused PID is a new process; a dead one is dropped.
#[test]
fn refresh_reads_only_what_can_have_changed() {
    let t = tree();
    let mut c = Collector::new(
        t.root(),
        Session::default(),
        Want {
            recheck_every: 1000,
            ..want_now()
        },
    );
    c.collect().unwrap();
    // The title and fd count change on disk, but stat does not: the
    // collector keeps what it knew (a process that did not run cannot
    // have changed them).
    let web = t.process_dir(10);
    std::fs::write(web.join("cmdline"), "web: idle\0").unwrap();
    std::os::unix::fs::symlink("/dev/zero", web.join("fd/3")).unwrap();
    let s = c.collect().unwrap();
    assert_eq!(
        s.processes[0].cmdline.as_ref().unwrap().0,
        b"web\0--port\x008080\0"
    );
    assert_eq!(s.processes[0].fds, Some(3));
    // It ran: CPU ticks changed, so both are read again.
    t.process(10, "web", 'S', 500)
        .stat("web", 'S', 500, 7, 1, 1);
    let s = c.collect().unwrap();
    assert_eq!(s.processes[0].cmdline.as_ref().unwrap().0, b"web: idle\0");
    assert_eq!(s.processes[0].fds, Some(4));
    assert_eq!(s.processes[0].utime_ticks, 7);
    // PID 10 reused by another process (another start time): nothing of
    // the old one survives.
    std::fs::remove_file(web.join("exe")).unwrap();
    t.process(10, "other", 'R', 900).file("cmdline", "other\0");
    let s = c.collect().unwrap();
    let p = &s.processes[0];
    assert_eq!((p.start_ticks, p.comm.0.as_slice()), (900, &b"other"[..]));
    assert_eq!(p.cmdline.as_ref().unwrap().0, b"other\0");
    assert_eq!(p.exe, None);
    assert!(p.missing(Part::Exe).is_some());
    // PID 20 exits.
    std::fs::remove_dir_all(t.process_dir(20)).unwrap();
    let s = c.collect().unwrap();
    assert_eq!(s.processes.len(), 1);
    assert_eq!(c.remembered(), 1);
}

/// An unchanged process is still re-read every `recheck_every`
/// collections (the tick granularity of CPU time hides short runs).
#[test]
fn unchanged_processes_are_rechecked_periodically() {
    let t = tree();
    let mut c = Collector::new(
        t.root(),
        Session::default(),
        Want {
            recheck_every: 3,
            ..Want::default()
        },
    );
    c.collect().unwrap();
    // An fd opened in less than a tick: `stat` does not move, the
    // context switches in `status` do.
    std::os::unix::fs::symlink("/dev/zero", t.process_dir(10).join("fd/3")).unwrap();
    let status = t.process_dir(10).join("status");
    let text = std::fs::read_to_string(&status).unwrap();
    std::fs::write(
        &status,
        text.replace("voluntary_ctxt_switches:\t5", "voluntary_ctxt_switches:\t6"),
    )
    .unwrap();
    let seen: Vec<Option<u32>> = (0..3)
        .map(|_| c.collect().unwrap().processes[0].fds)
        .collect();
    // Seen within three collections, and never a wrong value before.
    let first = seen.iter().position(|f| *f == Some(4));
    assert!(first.is_some(), "{seen:?}");
    assert!(
        seen[..first.unwrap()].iter().all(|f| *f == Some(3)),
        "{seen:?}"
    );
}

/// A recheck of a process whose context switches did not move reads
/// `status` and nothing else: it did not run at all since.
#[test]
fn a_recheck_of_a_process_that_did_not_switch_reads_only_status() {
    let t = tree();
    let mut c = Collector::new(
        t.root(),
        Session::default(),
        Want {
            recheck_every: 1,
            ..Want::default()
        },
    );
    c.collect().unwrap();
    // An fd appears with no context switch: impossible live, and the
    // proof that the recheck did not count fds again.
    std::os::unix::fs::symlink("/dev/zero", t.process_dir(10).join("fd/3")).unwrap();
    for _ in 0..3 {
        assert_eq!(c.collect().unwrap().processes[0].fds, Some(3));
    }
}

#[test]
fn snapshots_round_trip_through_json() {
    let t = tree();
    t.process(30, "bad\x1b[31m", 'Z', 700)
        .bytes("cmdline", b"\xff\xfe\0");
    let mut c = Collector::new(t.root(), Session::default(), Want::default());
    let s = c.collect().unwrap();
    let j = serde_json::to_string(&s).unwrap();
    let back: Snapshot = serde_json::from_str(&j).unwrap();
    assert_eq!(back, s);
    assert_eq!(back.processes[2].cmdline.as_ref().unwrap().0, b"\xff\xfe\0");
}

/// Two collectors at once, in one process, give the same answers as one.
#[test]
fn two_collectors_at_once_agree() {
    let t = tree();
    let one = Collector::new(t.root(), Session::default(), Want::default())
        .collect()
        .unwrap();
    let shared = Session::new(Limits::default());
    let handles: Vec<_> = (0..2)
        .map(|k| {
            let root = t.root();
            let session = if k == 0 {
                shared.clone()
            } else {
                Session::default()
            };
            std::thread::spawn(move || {
                let mut c = Collector::new(root, session, Want::default());
                (0..50).map(|_| c.collect().unwrap()).collect::<Vec<_>>()
            })
        })
        .collect();
    for h in handles {
        for s in h.join().unwrap() {
            assert_eq!(s.processes, one.processes);
            assert_eq!(s.users, one.users);
        }
    }
}

/// An exec keeps PID and start time: the new name makes the command line
/// and exe due again, even without a clock tick of CPU.
#[test]
fn an_exec_refreshes_the_command_line() {
    let t = tree();
    let mut c = Collector::new(
        t.root(),
        Session::default(),
        Want {
            recheck_every: 1000,
            slow_age: Duration::from_secs(3600),
            ..Want::default()
        },
    );
    c.collect().unwrap();
    let web = t.process_dir(10);
    std::fs::write(web.join("cmdline"), "sleep\x001001\0").unwrap();
    std::fs::remove_file(web.join("exe")).unwrap();
    std::os::unix::fs::symlink("/usr/bin/sleep", web.join("exe")).unwrap();
    t.process(10, "sleep", 'S', 500);
    let s = c.collect().unwrap();
    assert_eq!(s.processes[0].comm.0, b"sleep");
    assert_eq!(
        s.processes[0].cmdline.as_ref().unwrap().0,
        b"sleep\x001001\0"
    );
    assert_eq!(s.processes[0].exe.as_ref().unwrap().0, b"/usr/bin/sleep");
}

/// A leader that exited while a thread runs: the command line and exe
/// come from the live thread, on every collection that reads them.
#[test]
fn a_leader_that_exited_first_is_read_through_a_live_thread() {
    let t = FakeProc::new();
    t.process(20, "app", 'Z', 600)
        .stat("app", 'Z', 600, 0, 0, 2)
        .thread(20, "app", 'Z', 600)
        .thread(21, "worker", 'S', 601)
        .file("task/21/cmdline", "app\0--serve\0")
        .link("task/21/exe", "/usr/bin/app");
    let mut c = Collector::new(
        t.root(),
        Session::default(),
        Want {
            recheck_every: 1000,
            slow_age: Duration::ZERO,
            ..Want::default()
        },
    );
    for round in 0..3 {
        let s = c.collect().unwrap();
        let p = &s.processes[0];
        assert_eq!(p.state, 'S', "round {round}");
        assert_eq!(
            p.cmdline.as_ref().unwrap().0,
            b"app\0--serve\0",
            "round {round}"
        );
        assert_eq!(p.exe.as_ref().unwrap().0, b"/usr/bin/app", "round {round}");
        // It runs: the slow fields are due again on the next round.
        t.process(20, "app", 'Z', 600)
            .stat("app", 'Z', 600, round + 1, 0, 2);
    }
}

/// PSS when asked for, from smaps_rollup, under the deadline.
#[test]
fn pss_when_asked_for() {
    let t = tree();
    t.process(10, "web", 'S', 500).file(
        "smaps_rollup",
        "00400000-7fff0000 ---p 00000000 00:00 0 [rollup]\nRss:                2048 kB\nPss:                1536 kB\n",
    );
    let s = Collector::new(t.root(), Session::default(), Want::default())
        .collect()
        .unwrap();
    assert_eq!(s.processes[0].pss_bytes, None, "off by default");
    let s = Collector::new(
        t.root(),
        Session::default(),
        Want {
            pss: true,
            ..Want::default()
        },
    )
    .collect()
    .unwrap();
    assert_eq!(s.processes[0].pss_bytes, Some(1536 * 1024));
    assert!(matches!(
        s.processes[1].missing(Part::Pss),
        Some(Failure::Gone)
    ));
}

/// On the live procfs: an idle process's kept `stat` finishes it without
/// the pool and hands the next snapshot the very same allocation; a
/// change of state (stopped) is seen at once and makes a new one; a reaped
/// process leaves.
#[test]
fn live_refresh_shares_idle_processes_and_sees_changes() {
    let mut child = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .unwrap();
    let pid = i32::try_from(child.id()).unwrap();
    let root = ProcRoot::open("/proc").unwrap();
    let want = Want {
        only: Some(vec![pid]),
        recheck_every: 1_000_000,
        ..Want::default()
    };
    let mut c = Collector::new(root, Session::default(), want);
    // The child may still be exec'ing at first: wait until it sleeps.
    let mut first = c.collect().unwrap();
    for _ in 0..200 {
        if first
            .processes
            .first()
            .is_some_and(|p| p.state == 'S' && p.comm.0 == b"sleep")
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
        first = c.collect().unwrap();
    }
    let second = c.collect().unwrap();
    let (a, b) = (&first.processes[0], &second.processes[0]);
    assert_eq!(a.pid, pid);
    assert!(
        std::sync::Arc::ptr_eq(a, b),
        "an idle process was copied: {a:?} vs {b:?}"
    );
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid).unwrap(),
        rustix::process::Signal::STOP,
    )
    .unwrap();
    let mut stopped = None;
    for _ in 0..200 {
        let s = c.collect().unwrap();
        if s.processes[0].state == 'T' {
            stopped = Some(s);
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let stopped = stopped.expect("the stopped state was never seen");
    assert!(!std::sync::Arc::ptr_eq(&stopped.processes[0], b));
    assert_eq!(b.state, 'S', "the earlier snapshot must keep its values");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(c.collect().unwrap().processes.is_empty());
}

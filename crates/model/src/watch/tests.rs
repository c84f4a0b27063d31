use super::*;
use crate::fds::Detail;
use procscope_parse::stat::TaskState;
use procscope_read::Failure;

fn links(v: &[(i32, &str)]) -> BTreeMap<i32, Bytes> {
    v.iter()
        .map(|(fd, l)| (*fd, Bytes(l.as_bytes().to_vec())))
        .collect()
}

#[test]
fn fds_opened_closed_and_reused() {
    let before = links(&[(0, "/dev/null"), (3, "pipe:[7]"), (4, "/tmp/a")]);
    let now = links(&[(0, "/dev/null"), (4, "socket:[9]"), (5, "/tmp/b")]);
    let d = diff_fds(
        before.iter().map(|(k, v)| (*k, v.as_slice(), None)),
        &now,
        |_, _| None,
    );
    // fd 4 now names another file: closed and opened.
    assert_eq!(d.gone, vec![3, 4]);
    assert_eq!(
        d.new,
        vec![
            (4, Bytes(b"socket:[9]".to_vec())),
            (5, Bytes(b"/tmp/b".to_vec()))
        ]
    );
    let d = diff_fds(
        now.iter().map(|(k, v)| (*k, v.as_slice(), None)),
        &now,
        |_, _| None,
    );
    assert_eq!(d, FdDiff::default());
}

/// A rename or unlink of an open file is the same open file (its mount
/// and inode did not change): no close and open. The same path reopened
/// onto another inode is a close and an open.
#[test]
fn watch_fd_identity_not_link_text() {
    let before = links(&[(3, "/tmp/a"), (4, "/tmp/b"), (5, "/tmp/c")]);
    let now = links(&[(3, "/tmp/a2"), (4, "/tmp/b (deleted)"), (5, "/tmp/c")]);
    let ids: BTreeMap<i32, FileIdent> = [(3, (1, 10)), (4, (1, 11)), (5, (1, 99))].into();
    let d = diff_fds(
        before.iter().map(|(k, v)| {
            (
                *k,
                v.as_slice(),
                Some((1, 10 + u64::try_from(*k - 3).unwrap())),
            )
        }),
        &now,
        |fd, _| ids.get(&fd).copied(),
    );
    assert_eq!(d.gone, vec![5]);
    assert_eq!(d.new, vec![(5, Bytes(b"/tmp/c".to_vec()))]);
    assert_eq!(
        d.renamed,
        vec![
            (3, Bytes(b"/tmp/a2".to_vec())),
            (4, Bytes(b"/tmp/b (deleted)".to_vec()))
        ]
    );
}

#[test]
fn watch_classes_group_paths_by_pattern() {
    assert_eq!(
        FdClass::of_link(b"/var/log/job-123.4.log"),
        FdClass::Path(Bytes(b"/var/log/job-*.*.log".to_vec()))
    );
    // Directories named with digits are places, not ids.
    assert_eq!(
        event::path_pattern(b"/tmp/adv2/h2/x"),
        Bytes(b"/tmp/adv2/h2/x".to_vec())
    );
    assert_eq!(
        event::path_pattern(b"/proc/1234/fd/7"),
        Bytes(b"/proc/*/fd/*".to_vec())
    );
    assert_eq!(
        event::path_pattern(b"/run/user/1000/sess-3f2a9c1e8b.sock"),
        Bytes(b"/run/user/*/sess-*.sock".to_vec())
    );
    assert_eq!(
        event::path_pattern(b"/var/cache/0a1b2c3d4e5f/data.db"),
        Bytes(b"/var/cache/*/data.db".to_vec())
    );
    assert_eq!(
        event::path_pattern(b"/srv/cafe/beef"),
        Bytes(b"/srv/cafe/beef".to_vec())
    );
    assert_eq!(
        FdClass::of_link(b"/dev/null"),
        FdClass::Path(Bytes(b"/dev/null".to_vec()))
    );
    assert_eq!(FdClass::of_link(b"socket:[1]"), FdClass::Socket);
    assert_eq!(FdClass::of_link(b"pipe:[1]"), FdClass::Pipe);
    assert_eq!(
        FdClass::of_link(b"anon_inode:[eventfd]"),
        FdClass::Anon(Bytes(b"eventfd".to_vec()))
    );
}

#[test]
fn exit_status_from_the_wait_status() {
    let e = Exit {
        wait_status: Some(3 << 8),
    };
    assert_eq!(
        (e.code(), e.signal(), e.core_dumped()),
        (Some(3), None, false)
    );
    let k = Exit {
        wait_status: Some(9),
    };
    assert_eq!((k.code(), k.signal()), (None, Some(9)));
    let c = Exit {
        wait_status: Some(0x80 | 11),
    };
    assert_eq!((c.signal(), c.core_dumped()), (Some(11), true));
    let u = Exit { wait_status: None };
    assert_eq!((u.code(), u.signal()), (None, None));
}

fn sample(at_ms: u64, ticks: u64, rss: u64, rchar: u64, vol: u64) -> sample::Sample {
    sample::Sample {
        at_ms,
        comm: Bytes(b"x".to_vec()),
        state: TaskState::Sleeping,
        ppid: 1,
        kernel: false,
        threads: 1,
        start_ticks: 5,
        cpu_ticks: ticks,
        rss_bytes: rss,
        anon_bytes: Some(rss),
        faults: (0, 0),
        exit_code: None,
        ctxsw: Some((vol, 0)),
        io: Ok(crate::collect::IoCounters {
            rchar,
            ..Default::default()
        }),
        fds: Err(Failure::Gone),
        pos: BTreeMap::new(),
        ids: BTreeMap::new(),
        children: None,
        wchan: None,
    }
}

#[test]
fn rates_per_second() {
    let clock = Clock {
        ticks_per_second: 100,
        boot_time_unix: 0,
        uptime_centis: 0,
        page_size: 4096,
        sched_now_ms: None,
    };
    // 500 ms: 25 ticks (250 ms of CPU), 2 MiB read, 10 switches.
    let a = sample(1000, 100, 1 << 20, 0, 5);
    let b = sample(1500, 125, 3 << 20, 2 << 20, 15);
    let r = rates(&a, &b, &clock);
    assert_eq!(r.interval_ms, 500);
    assert!((r.cpu_percent - 50.0).abs() < 1e-9, "{}", r.cpu_percent);
    assert_eq!(r.rss_change, 2 << 20);
    assert_eq!(r.io_per_sec.unwrap().read, (4 << 20) as f64);
    assert_eq!(r.ctxsw_per_sec, Some((20.0, 0.0)));
}

/// This test process watched: a file opened between two steps is
/// reported with its fd number and decoded path; reading it moves its
/// position; closing it is reported.
#[test]
fn a_watcher_sees_this_process_open_read_and_close_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data");
    std::fs::write(&path, vec![7u8; 1 << 20]).unwrap();
    let root = ProcRoot::open("/proc").unwrap();
    let session = Session::default();
    let clock = Clock::read(&root).unwrap();
    let mut w = Watcher::open(
        &root,
        &session,
        clock,
        root.own_pid(),
        0,
        Options::default(),
    )
    .unwrap();
    let start = w.begin(false);
    assert!(
        matches!(start.first(), Some(Event::Started(_))),
        "{start:?}"
    );

    let mut f = std::fs::File::open(&path).unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&f);
    let ev = w.step(1000);
    let opened = ev
        .iter()
        .find_map(|e| match e {
            Event::FdOpened { entry, .. } if entry.fd == fd => Some(entry),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no fd {fd} opened in {ev:?}"));
    match &opened.detail {
        Detail::File { path: p, size, .. } => {
            assert_eq!(p.as_slice(), path.as_os_str().as_encoded_bytes());
            assert_eq!(*size, Some(1 << 20));
        }
        other => panic!("{other:?}"),
    }
    // Half the file read: 50 % of it, 512 KiB in one second.
    let mut half = vec![0u8; 1 << 19];
    std::io::Read::read_exact(&mut f, &mut half).unwrap();
    let ev = w.step(2000);
    let p = ev
        .iter()
        .find_map(|e| match e {
            Event::Progress(p) if p.fd == fd => Some(p),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no progress in {ev:?}"));
    assert_eq!(p.pos, 1 << 19);
    assert_eq!(p.size, Ok(1 << 20));
    assert_eq!(p.direction, Direction::Read);
    assert_eq!(p.percent, Some(50.0));
    assert_eq!(p.per_sec, Some((1 << 19) as f64));
    assert_eq!(p.eta_secs, Some(1.0));
    drop(f);
    let ev = w.step(3000);
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::FdClosed { entry, .. } if entry.fd == fd)),
        "{ev:?}"
    );
    let end = w.finish();
    match end.last() {
        Some(Event::Summary(s)) => {
            assert_eq!(s.samples, 4);
            assert_eq!(s.watched_ms, 3000);
            assert!(s.opened >= 1 && s.closed >= 1, "{s:?}");
        }
        other => panic!("{other:?}"),
    }
    assert!(w.is_done());
}

fn watcher() -> Watcher {
    let root = ProcRoot::open("/proc").unwrap();
    let session = Session::default();
    let clock = Clock::read(&root).unwrap();
    let mut w = Watcher::open(
        &root,
        &session,
        clock,
        root.own_pid(),
        0,
        Options::default(),
    )
    .unwrap();
    w.begin(false);
    w
}

fn progress_of(ev: &[Event], fd: i32) -> Option<&Progress> {
    ev.iter().find_map(|e| match e {
        Event::Progress(p) if p.fd == fd => Some(p),
        _ => None,
    })
}

/// A read-only fd whose file grows under it (appended to through another
/// fd) and is read past its old end is still a read, never a write.
#[test]
fn watch_a_read_only_fd_on_a_growing_file_reads() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    std::fs::write(&path, vec![1u8; 4096]).unwrap();
    let mut w = watcher();
    let mut r = std::fs::File::open(&path).unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&r);
    w.step(1000);
    let mut buf = vec![0u8; 4096];
    r.read_exact(&mut buf).unwrap();
    w.step(2000);
    let mut a = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    a.write_all(&[2u8; 4096]).unwrap();
    r.read_exact(&mut buf).unwrap();
    let ev = w.step(3000);
    let p = progress_of(&ev, fd).unwrap_or_else(|| panic!("no progress in {ev:?}"));
    assert_eq!((p.direction, p.pos), (Direction::Read, 8192), "{p:?}");
}

/// A file read with `pread` only: positions never move while the read
/// counter rises; that is said once.
#[test]
fn watch_pread_reads_say_positions_do_not_move() {
    use std::os::unix::fs::FileExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data");
    std::fs::write(&path, vec![1u8; 1 << 16]).unwrap();
    let mut w = watcher();
    let f = std::fs::File::open(&path).unwrap();
    let mut buf = vec![0u8; 4096];
    let mut said = 0;
    for i in 1..=6u64 {
        f.read_at(&mut buf, i * 4096).unwrap();
        let ev = w.step(i * 1000);
        said += ev
            .iter()
            .filter(|e| matches!(e, Event::PositionsStill { files } if *files >= 1))
            .count();
        assert!(
            !ev.iter().any(|e| matches!(e, Event::Progress(_))),
            "{ev:?}"
        );
    }
    assert_eq!(said, 1);
}

/// A socket past the decode cap was never looked up: it is not a
/// decoded socket "not in the tables", nor classed as one.
#[test]
fn watch_sockets_past_the_cap_are_undecoded() {
    let e = process::link_only(300, &Bytes(b"socket:[42]".to_vec()));
    assert!(e.undecoded_socket(), "{e:?}");
    assert!(!matches!(e.detail, Detail::Socket { .. }));
    assert_eq!(FdClass::of_entry(&e), FdClass::Undecoded);
    let p = process::link_only(301, &Bytes(b"pipe:[43]".to_vec()));
    assert!(!p.undecoded_socket());
    assert_eq!(FdClass::of_entry(&p), FdClass::Pipe);
}

/// A kernel thread (kthreadd, PID 2 when this runs in the host's PID
/// namespace) is never said to block in read(): its `syscall` file reads
/// `0 0x0…`, which is not a system call.
#[test]
fn watch_a_kernel_thread_is_not_blocked_in_read() {
    let root = ProcRoot::open("/proc").unwrap();
    let Ok(dir) = root.process(2) else { return };
    let mut b = Vec::new();
    let kernel = dir.read(c"stat", &mut b, 4096).is_ok()
        && procscope_parse::stat::Stat::parse(&b).is_ok_and(|s| s.is_kernel_thread());
    if !kernel {
        return;
    }
    let clock = Clock::read(&root).unwrap();
    let mut w = Watcher::open(&root, &Session::default(), clock, 2, 0, Options::default()).unwrap();
    let mut ev = w.begin(false);
    for i in 1..=3u64 {
        ev.extend(w.step(i * 1000));
    }
    assert!(
        !ev.iter()
            .any(|e| matches!(e, Event::Blocked(c) if c.nr.is_some())),
        "{ev:?}"
    );
}

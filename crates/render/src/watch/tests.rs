use super::*;
use procscope_model::bytes::Bytes;

#[test]
fn words() {
    assert_eq!(eta(45.4), "45s");
    assert_eq!(eta(350.0), "5m 50s");
    assert_eq!(eta(7500.0), "2h 05m");
    assert_eq!(eta(2.0 * 86_400.0 + 3.0 * 3600.0), "2d 3h");
    assert_eq!(rate(10.2), "10");
    assert_eq!(rate(2.46), "2.5");
    assert_eq!(byte_rate(4.0 * 1048576.0), "4.0M/s");
    assert_eq!(class_count(&FdClass::Unix, 1), "1 unix socket");
    assert_eq!(class_count(&FdClass::Unix, 3), "3 unix sockets");
    assert_eq!(
        class_name(&FdClass::Path(Bytes(b"/dev/null".to_vec()))),
        "/dev/null"
    );
    // Hostile bytes in a path are escaped.
    assert_eq!(
        class_name(&FdClass::Path(Bytes(b"/tmp/\x1b[31m".to_vec()))),
        "/tmp/\\e[31m"
    );
}

fn opened(fd: i32, link: &str) -> Event {
    let path = link.starts_with('/');
    Event::FdOpened {
        entry: Box::new(FdEntry {
            fd,
            link: Ok(Bytes(link.as_bytes().to_vec())),
            pos: None,
            flags: None,
            mnt_id: None,
            locks: Vec::new(),
            detail: if path {
                procscope_model::fds::Detail::File {
                    path: Bytes(link.as_bytes().to_vec()),
                    deleted: false,
                    unlinked: false,
                    nlink: None,
                    size: None,
                    kind: None,
                    mount_point: None,
                    fs_type: None,
                }
            } else {
                procscope_model::fds::Detail::Pipe { inode: 7 }
            },
            peers: Vec::new(),
            other_end: Vec::new(),
            file_id: None,
            file_locks: Vec::new(),
        }),
        class: if path {
            FdClass::Path(Bytes(link.as_bytes().to_vec()))
        } else {
            FdClass::Pipe
        },
        searched: false,
    }
}

/// Twelve fds at once: seven listed, the other five on one line by
/// class; another process's fds are listed on their own.
#[test]
fn many_fds_at_once_are_counted_by_class() {
    let mut ev: Vec<(i32, Event)> = (3..15)
        .map(|fd| {
            (
                42,
                opened(fd, if fd % 3 == 0 { "pipe:[7]" } else { "/dev/null" }),
            )
        })
        .collect();
    ev.push((43, opened(3, "/etc/hosts")));
    let text: Vec<String> = lines("12:00:00", &ev).iter().map(|l| l.text()).collect();
    assert_eq!(text.len(), 9, "{text:#?}");
    assert_eq!(text[0], "12:00:00      42 +fd       3 pipe pipe:[7]");
    assert_eq!(text[1], "12:00:00      42 +fd       4 file /dev/null");
    assert_eq!(
        text[7],
        "12:00:00      42 +fd       5 more opened: 4 /dev/null, 1 pipe (fds 10–14)"
    );
    assert_eq!(text[8], "12:00:00      43 +fd       3 file /etc/hosts");
}

#[test]
fn a_leak_in_words() {
    let l = Leak {
        metric: Metric::Fds,
        per_sec: 10.04,
        value: 153,
        from: 103,
        window_ms: 5000,
        growing: vec![
            (FdClass::Unix, 25, 5.0),
            (FdClass::Path(Bytes(b"/dev/null".to_vec())), 25, 5.0),
        ],
        limit: Some(1024),
        limit_eta_secs: Some(86.75),
    };
    assert_eq!(
        leak_text(&l),
        "fds +10/s: unix sockets and /dev/null, 153 of 1024 (limit in ~1m 27s)"
    );
    let r = Leak {
        metric: Metric::Rss,
        per_sec: 1048576.0,
        value: 12 << 20,
        from: 7 << 20,
        window_ms: 5000,
        growing: Vec::new(),
        limit: None,
        limit_eta_secs: None,
    };
    assert_eq!(leak_text(&r), "rss (anon) +1.0M/s: 12M now (+5.0M in 5s)");
}

#[test]
fn progress_in_words() {
    let p = Progress {
        fd: 3,
        path: Bytes(b"/data/big".to_vec()),
        direction: Direction::Read,
        pos: 1 << 30,
        size: Ok(2 << 30),
        per_sec: Some(4.0 * 1048576.0),
        percent: Some(50.0),
        eta_secs: Some(256.0),
    };
    assert_eq!(
        progress_text(&p, false),
        "fd 3 /data/big 50.0% (1.0G of 2.0G) at 4.0M/s, ETA 4m 16s"
    );
    let w = Progress {
        direction: Direction::Write,
        percent: None,
        eta_secs: None,
        ..p.clone()
    };
    assert_eq!(
        progress_text(&w, false),
        "fd 3 /data/big written to 1.0G at 4.0M/s"
    );
    let e = Exit {
        wait_status: Some(3 << 8),
    };
    assert_eq!(exit_text(&e), "with status 3");
    assert_eq!(
        exit_text(&Exit {
            wait_status: Some(9)
        }),
        "killed by SIGKILL"
    );
}

/// A socket known by its link only says it was not decoded, not that the
/// socket tables lack it; files written in place and fds moved both ways
/// say how far through the file they are.
#[test]
fn watch_undecoded_sockets_and_in_place_progress_in_words() {
    let Event::FdOpened { mut entry, .. } = opened(300, "socket:[42]") else {
        unreachable!()
    };
    entry.detail = procscope_model::fds::Detail::Other;
    let t = fd_text(&entry, false);
    assert_eq!(
        t,
        "socket socket:[42] (not decoded: more than 256 new fds this interval)"
    );
    assert_eq!(class_count(&FdClass::Undecoded, 2), "2 undecoded sockets");
    let p = Progress {
        fd: 3,
        path: Bytes(b"/db".to_vec()),
        direction: Direction::Write,
        pos: 1 << 20,
        size: Ok(4 << 20),
        per_sec: None,
        percent: Some(25.0),
        eta_secs: None,
    };
    assert_eq!(
        progress_text(&p, false),
        "fd 3 /db written to 1.0M of 4.0M (25.0%)"
    );
    let m = Progress {
        direction: Direction::Moving,
        ..p
    };
    assert_eq!(
        progress_text(&m, false),
        "fd 3 /db position moving: at 1.0M of 4.0M (25.0%)"
    );
}

/// A process with no fds (a kernel thread) says "0 fds", with nothing
/// after a colon.
#[test]
fn watch_no_fds_has_no_empty_list() {
    let s = procscope_model::watch::Started {
        comm: Bytes(b"kthreadd".to_vec()),
        cmdline: Ok(Bytes(Vec::new())),
        start_unix: 0,
        state: procscope_parse::stat::TaskState::Sleeping,
        threads: 1,
        rss_bytes: 0,
        fds: Ok(Vec::new()),
        fd_limit: Some(1024),
        appeared: false,
    };
    let t = started_text(&s);
    assert!(t.ends_with(", 0 fds of 1024"), "{t}");
}

//! `procscope fds` on a process holding one fd of every kind.

use crate::support::*;

#[test]
fn every_fd_kind_is_decoded_with_exact_values() {
    let dir = tempfile::tempdir().unwrap();
    let t = start_kit(&["fdzoo", dir.path().to_str().unwrap()]);
    let v = run(&["fds", "--json", &t.pid_s()]).json();
    let fds = v["processes"][0]["fds"].as_array().unwrap().clone();
    let of = |ty: &str| -> Vec<serde_json::Value> {
        fds.iter()
            .filter(|f| f["detail"]["type"] == ty)
            .cloned()
            .collect()
    };
    let path_of =
        |f: &serde_json::Value| f["detail"]["path"].as_str().unwrap_or_default().to_string();

    let append = of("file")
        .into_iter()
        .find(|f| path_of(f).ends_with("/append.log"))
        .unwrap();
    assert_eq!(append["pos"], 100);
    let flags = append["flags"].as_u64().unwrap();
    assert_eq!(flags & 3, 1, "O_WRONLY");
    assert_ne!(flags & 0o2000, 0, "O_APPEND");
    assert_eq!(
        append["detail"]["fs_type"].as_str().map(|s| !s.is_empty()),
        Some(true)
    );

    let deleted = of("file")
        .into_iter()
        .find(|f| path_of(f).ends_with("/deleted.bin"))
        .unwrap();
    assert_eq!(deleted["detail"]["deleted"], true);

    let locked = of("file")
        .into_iter()
        .find(|f| path_of(f).ends_with("/flock.lck"))
        .unwrap();
    let lock = locked["locks"][0].as_str().unwrap();
    assert!(
        lock.contains("FLOCK")
            && lock.contains("WRITE")
            && lock.contains(&format!(" {} ", t.pid())),
        "{lock}"
    );

    let ev = &of("eventfd")[0];
    assert_eq!(ev["detail"]["count"], 5);
    let evfd = ev["fd"].as_i64().unwrap();
    let pipes = of("pipe");
    let read_end = pipes
        .iter()
        .find(|p| p["flags"].as_u64().unwrap() & 3 == 0 && p["fd"].as_i64().unwrap() < 100)
        .unwrap();
    let watches = of("epoll")[0]["detail"]["watches"]
        .as_array()
        .unwrap()
        .clone();
    // (fd, events, what): EPOLLIN on the eventfd, EPOLLIN|EPOLLET on the pipe (the kernel adds ERR|HUP).
    // The kernel lists watches in its own order.
    let w_ev = watches
        .iter()
        .find(|w| w[0].as_i64() == Some(evfd))
        .unwrap();
    let w_pipe = watches.iter().find(|w| w[0] == read_end["fd"]).unwrap();
    assert_eq!(watches.len(), 2);
    assert_eq!(w_ev[1].as_u64().unwrap() & 0x8000_0001, 0x1);
    assert_eq!(w_pipe[1].as_u64().unwrap() & 0x8000_0001, 0x8000_0001);
    assert_eq!(w_ev[2], "anon_inode:[eventfd]");

    let tf = &of("timerfd")[0]["detail"];
    assert_eq!(tf["clockid"], 1);
    assert_eq!(tf["interval_ns"], 5_000_000_000i64);
    let next = tf["next_ns"].as_i64().unwrap();
    assert!(
        next > 990_000_000_000 && next <= 1_000_000_000_000,
        "{next}"
    );
    assert_eq!(
        of("signalfd")[0]["detail"]["sigmask"],
        (1u64 << 9) | (1u64 << 14)
    );
    assert_eq!(of("memfd")[0]["detail"]["name"], "zoo");
    let ino = &of("inotify")[0]["detail"]["watches"][0];
    assert_eq!(ino["mask"], 0x300);
    // The watched path, from the file handle.
    assert_eq!(
        ino["path"],
        dir.path().join("watched dir").to_str().unwrap()
    );
    // fanotify: the inode mark, its mask and path the same way.
    let fan = &of("fanotify")[0]["detail"]["watches"][0];
    assert_eq!(fan["mask"], 0x8, "FAN_CLOSE_WRITE: {fan}");
    assert_eq!(
        fan["path"],
        dir.path().join("watched dir").to_str().unwrap()
    );
    // ... and its marks on the directory's mount and whole filesystem,
    // placed with the process's mount table.
    let fd = &of("fanotify")[0]["detail"];
    assert_eq!(fd["init_flags"], 0, "FAN_CLASS_NOTIF: {fd}");
    let marks = fd["marks"].as_array().unwrap();
    let mp = String::from_utf8(
        std::process::Command::new("findmnt")
            .args(["-n", "-o", "TARGET", "-T"])
            .arg(dir.path())
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let dev = {
        use std::os::unix::fs::MetadataExt;
        let d = std::fs::metadata(dir.path()).unwrap().dev();
        (libc::major(d), libc::minor(d))
    };
    assert_eq!(marks.len(), 2, "{marks:?}");
    assert_eq!(
        (
            &marks[0]["kind"],
            &marks[0]["mask"],
            &marks[0]["mount_point"]
        ),
        (&"mount".into(), &0x20.into(), &mp.trim().into()),
        "FAN_OPEN on the mount: {marks:?}"
    );
    assert_eq!(
        (&marks[1]["kind"], &marks[1]["mask"], &marks[1]["device"]),
        (
            &"filesystem".into(),
            &0x2.into(),
            &serde_json::json!([dev.0, dev.1])
        ),
        "FAN_MODIFY on the filesystem: {marks:?}"
    );
    // An anonymous inode keeps what its fdinfo says.
    let uffd = of("anon")
        .into_iter()
        .find(|f| f["detail"]["name"] == "userfaultfd")
        .expect("the userfaultfd");
    let keys: Vec<&str> = uffd["detail"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|kv| kv[0].as_str().unwrap())
        .collect();
    assert!(
        keys.contains(&"pending") && keys.contains(&"API"),
        "{keys:?}"
    );
    assert!(ev["detail"]["id"].is_u64(), "eventfd-id: {ev}");

    // The children: one holds the other ends of a pipe and a socketpair
    // (and is the pidfd's process), one waits for the fcntl lock.
    let kids = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", t.pid())).unwrap();
    let kid = |name: &str| -> i64 {
        kids.split_whitespace()
            .find(|k| {
                std::fs::read_to_string(format!("/proc/{k}/comm"))
                    .unwrap()
                    .trim()
                    == name
            })
            .unwrap_or_else(|| panic!("no {name} among {kids}"))
            .parse()
            .unwrap()
    };
    let (child, waiter) = (kid("zoo-child"), kid("zoo-waiter"));
    let pidfd = &of("pidfd")[0]["detail"];
    assert_eq!(
        (pidfd["pid"].as_i64(), pidfd["comm"].as_str()),
        (Some(child), Some("zoo-child"))
    );
    // (stdout is a pipe the child shares too: skip the stdio fds.)
    let child_pipe = pipes
        .iter()
        .filter(|p| p["fd"].as_i64().unwrap() > 2)
        .find(|p| {
            p["peers"]
                .as_array()
                .is_some_and(|v| v.iter().any(|x| x["pid"] == child))
        })
        .expect("a pipe whose other end is in the child");
    assert_eq!(
        child_pipe["flags"].as_u64().unwrap() & 3,
        0,
        "our end reads: {child_pipe}"
    );
    assert_eq!(child_pipe["peers"][0]["mode"], "w");
    assert_eq!(child_pipe["peers"].as_array().unwrap().len(), 1);
    let pair = of("socket")
        .into_iter()
        .find(|s| s["detail"]["socket"]["state"] == "connected")
        .expect("the socketpair end");
    assert_eq!(pair["other_end"].as_array().unwrap().len(), 1, "{pair}");
    assert_eq!(pair["other_end"][0]["pid"], child);
    assert_eq!(pair["other_end"][0]["comm"], "zoo-child");
    // A netlink socket describes itself (no table has it).
    let nl = &of("socket")
        .into_iter()
        .find(|s| s["detail"]["socket"]["family"] == "other")
        .expect("the netlink socket")["detail"]["socket"];
    assert_eq!(
        (
            nl["family"].as_str(),
            nl["name"].as_str(),
            nl["protocol"].as_u64()
        ),
        (Some("other"), Some("netlink"), Some(0))
    );
    // The loopback TCP connection: each end's other end is the other fd here.
    let est: Vec<_> = of("socket")
        .into_iter()
        .filter(|s| s["detail"]["socket"]["state"] == "ESTABLISHED")
        .collect();
    assert_eq!(est.len(), 2);
    assert_eq!(est[0]["other_end"][0]["fd"], est[1]["fd"]);
    assert_eq!(est[1]["other_end"][0]["fd"], est[0]["fd"]);
    assert_eq!(est[0]["other_end"][0]["pid"], t.pid());
    // The fcntl lock: held here on bytes 0-99, the waiter queued.
    let fl = of("file")
        .into_iter()
        .find(|f| path_of(f).ends_with("/fcntl.lck"))
        .unwrap();
    let locks = fl["file_locks"].as_array().unwrap();
    assert_eq!(locks.len(), 2, "{locks:?}");
    let held = locks.iter().find(|l| l["waiting"] == false).unwrap();
    assert_eq!(
        (
            held["kind"].as_str(),
            held["access"].as_str(),
            held["pid"].as_i64(),
            held["start"].as_u64(),
            held["end"].as_u64()
        ),
        (
            Some("POSIX"),
            Some("WRITE"),
            Some(t.pid() as i64),
            Some(0),
            Some(99)
        )
    );
    let wait = locks.iter().find(|l| l["waiting"] == true).unwrap();
    assert_eq!(
        (wait["pid"].as_i64(), wait["comm"].as_str()),
        (Some(waiter), Some("zoo-waiter"))
    );
    // Deleted by link count; sizes of regular files.
    assert_eq!(deleted["detail"]["nlink"], 0);
    assert_eq!(append["detail"]["size"], 100);
    assert_eq!(append["detail"]["deleted"], false);

    let tcp = &of("socket")
        .into_iter()
        .find(|s| s["detail"]["socket"]["proto"] == "tcp")
        .unwrap()["detail"]["socket"];
    assert_eq!(
        (tcp["local"].as_str(), tcp["state"].as_str()),
        (Some("127.0.0.1"), Some("LISTEN"))
    );
    let ux = &of("socket")
        .into_iter()
        .find(|s| s["detail"]["socket"]["family"] == "unix")
        .unwrap()["detail"]["socket"];
    assert_eq!(ux["state"], "listening");
    assert_eq!(
        ux["path"].as_str().unwrap(),
        dir.path().join("zoo sock").to_str().unwrap()
    );

    // People: one line each, decoded, nothing raw.
    let out = run(&["fds", "-w", &t.pid_s()]).out();
    assert_terminal_safe(&out);
    for want in [
        "count 5",
        "CLOCK_MONOTONIC, next in 16m ",
        "every 5s",
        "SIGUSR1, SIGTERM",
        "memfd:zoo",
        "IN_CREATE|IN_DELETE on /",
        " LISTEN",
        "stream listening ",
        "/deleted.bin (deleted)",
        "EPOLLIN|EPOLLERR|EPOLLHUP|EPOLLET -> pipe:[",
        "locked: FLOCK WRITE by",
        "watched dir",
        "(zoo-child)",
        "waiting: POSIX WRITE 0-99 by",
        "ESTABLISHED; other end:",
        "stream connected (unnamed)",
        "netlink socket:[",
        "[100 B, on ",
        "FAN_CLASS_NOTIF, mount ",
        "): FAN_OPEN, filesystem ",
        "): FAN_MODIFY, inode: FAN_CLOSE_WRITE on /",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    let first = out.lines().next().unwrap();
    assert!(
        first.contains("1 eventfd")
            && first.contains("1 timerfd")
            && first.contains("% of RLIMIT_NOFILE"),
        "{first}"
    );
    assert!(out.contains(&format!("PID {child} (zoo-child)")), "{out}");
    assert!(
        out.contains(&format!("read end; written by {child} (zoo-child) fd")),
        "{out}"
    );
    assert!(
        out.contains(&format!("on {}", dir.path().join("watched dir").display())),
        "{out}"
    );
    // --no-peers: the same descriptions without the host-wide scan.
    let v = run(&["fds", "--json", "--no-peers", &t.pid_s()]).json();
    let quick = v["processes"][0]["fds"].as_array().unwrap().clone();
    assert_eq!(quick.len(), fds.len());
    assert!(
        quick
            .iter()
            .all(|f| f.get("peers").is_none() && f.get("other_end").is_none())
    );
    let listen = quick
        .iter()
        .find(|f| f["detail"]["socket"]["state"] == "LISTEN")
        .expect("the listener, described without peers");
    assert_eq!(listen["detail"]["socket"]["local"], "127.0.0.1");
    // Only some fds.
    let evs = ev["fd"].to_string();
    let one = run(&["fds", "--json", &t.pid_s(), &evs]).json();
    assert_eq!(one["processes"][0]["fds"].as_array().unwrap().len(), 1);
}

#[test]
fn who_has_files_ports_pipes_and_deleted_files() {
    let dir = tempfile::tempdir().unwrap();
    let t = start_kit(&["fdzoo", dir.path().to_str().unwrap()]);
    let pid = t.pid_s();
    let v = run(&["fds", "--json", &pid]).json();
    let fds = v["processes"][0]["fds"].as_array().unwrap().clone();
    let port = fds
        .iter()
        .find(|f| f["detail"]["socket"]["proto"] == "tcp")
        .unwrap()["detail"]["socket"]["local_port"]
        .clone();
    // The zoo's own pipe: the inode it holds twice (stdout is a pipe too).
    let pipe_inodes: Vec<serde_json::Value> = fds
        .iter()
        .filter(|f| f["detail"]["type"] == "pipe")
        .map(|f| f["detail"]["inode"].clone())
        .collect();
    let pipe = pipe_inodes
        .iter()
        .find(|i| pipe_inodes.iter().filter(|j| j == i).count() == 2)
        .unwrap()
        .clone();

    // A file, by path: the holder, its fd and mode.
    let lck = dir.path().join("flock.lck");
    let r = run(&["who-has", "--json", lck.to_str().unwrap()]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let h = r.json()["holders"].as_array().unwrap().clone();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0]["pid"].as_i64().unwrap().to_string(), pid);
    assert_eq!(
        (h[0]["mode"].as_str(), h[0]["user"].as_str()),
        (Some("rw"), Some("root"))
    );

    // A unix socket by the path it is bound at (its fd shows socket:[…]).
    let sock = dir.path().join("zoo sock");
    let r = run(&["who-has", "--json", sock.to_str().unwrap()]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let h = r.json()["holders"].as_array().unwrap().clone();
    assert_eq!(h.len(), 1, "{h:?}");
    assert_eq!(h[0]["pid"].as_i64().unwrap().to_string(), pid);
    assert!(h[0]["link"].as_str().unwrap().starts_with("socket:["));

    // Anything under the directory.
    let r = run(&["who-has", "--json", "--mount", dir.path().to_str().unwrap()]);
    let n = r.json()["holders"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["pid"].as_i64().unwrap().to_string() == pid)
        .count();
    assert!(n >= 3, "append.log, deleted.bin, flock.lck: {n}");

    // The TCP port.
    let r = run(&["who-has", "--json", &format!(":{port}")]);
    let h = r.json()["holders"].as_array().unwrap().clone();
    assert!(
        h.iter()
            .any(|h| h["pid"].as_i64().unwrap().to_string() == pid),
        "{h:?}"
    );
    let r = run(&["who-has", &format!("udp:{port}")]);
    assert!(!r.out().contains(&pid), "{}", r.out());

    // Both ends of the pipe, with their modes.
    let r = run(&["who-has", "--json", &format!("pipe:[{pipe}]")]);
    let h = r.json()["holders"].as_array().unwrap().clone();
    let mut modes: Vec<&str> = h
        .iter()
        .filter(|h| h["pid"].as_i64().unwrap().to_string() == pid)
        .map(|h| h["mode"].as_str().unwrap())
        .collect();
    modes.sort();
    assert_eq!(modes, vec!["r", "w"]);

    // Deleted but open, with the size (0 bytes here).
    let r = run(&["who-has", "--deleted"]);
    let ours = format!("{}/deleted.bin (deleted)", dir.path().display());
    let line = r
        .out()
        .lines()
        .find(|l| l.ends_with(&ours))
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("{}", r.out()));
    assert!(line.contains(" rw ") && line.contains(" 0 "), "{line}");
    assert!(line.trim_start().starts_with(&pid), "{line}");

    // No such file (and no deleted one of that name): an error.
    let r = run(&["who-has", "/nonexistent/procscope-nothing"]);
    assert_eq!((r.status, r.out().as_str()), (2, ""));
    let r = run(&["who-has"]);
    assert_eq!(r.status, 2);
}

#[test]
fn fds_all_with_filters() {
    let dir = tempfile::tempdir().unwrap();
    let t = start_kit(&["fdzoo", dir.path().to_str().unwrap()]);
    let pid = t.pid();
    let find = |args: &[&str]| -> Vec<serde_json::Value> {
        let mut a = vec!["fds", "--all", "--json"];
        a.extend_from_slice(args);
        let v = run(&a).json();
        v["processes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["pid"] == pid)
            .map(|p| p["fds"].as_array().unwrap().clone())
            .unwrap_or_default()
    };
    let d = find(&["--deleted"]);
    assert_eq!(d.len(), 1, "{d:?}");
    assert!(
        d[0]["detail"]["path"]
            .as_str()
            .unwrap()
            .ends_with("/deleted.bin")
    );
    let e = find(&["--type", "eventfd,timerfd", "-u", "root"]);
    let mut types: Vec<&str> = e
        .iter()
        .map(|f| f["detail"]["type"].as_str().unwrap())
        .collect();
    types.sort();
    assert_eq!(types, vec!["eventfd", "timerfd"]);
    let p = find(&["--path", dir.path().to_str().unwrap()]);
    assert_eq!(
        p.len(),
        4,
        "append.log, deleted.bin, flock.lck, fcntl.lck: {p:?}"
    );
    assert!(find(&["-u", "nobody"]).is_empty());
    // Text: one block per process, streamed; nothing raw reaches the terminal.
    let out = run(&["fds", "--all", "-w"]).out();
    assert_terminal_safe(&out);
    assert!(
        out.contains(&format!("PID {pid} (procscope-testk): ")),
        "{out}"
    );
    let r = run(&["fds", "--all", "--type", "no-such-type"]);
    assert_eq!(r.status, 1);
    assert!(
        r.stderr.contains("no fd matches the filters"),
        "{}",
        r.stderr
    );
}

#[test]
fn sockets_in_another_network_namespace() {
    // A listener on a port inside its own network namespace: invisible in
    // procscope's /proc/net/tcp, found through the process's own tables.
    let mut c = std::process::Command::new("unshare");
    c.args(["--net", testkit().to_str().unwrap(), "listen", "47931"]);
    let t = start(c);
    let r = run(&["who-has", "--json", ":47931"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let holders = r.json()["holders"].as_array().unwrap().clone();
    assert!(holders.iter().any(|h| h["pid"] == t.pid()), "{holders:?}");
    let v = run(&["fds", "--json", &t.pid_s()]).json();
    let fds = v["processes"][0]["fds"].as_array().unwrap().clone();
    let s = fds
        .iter()
        .find(|f| f["detail"]["type"] == "socket")
        .expect("the listener");
    assert_eq!(s["detail"]["socket"]["local_port"], 47931);
    assert_eq!(s["detail"]["socket"]["state"], "LISTEN");
    // A port nothing has, in any protocol (picked by the kernel, checked
    // free for TCP and UDP: on a busy host a fixed number may be in use).
    let free = (0..50)
        .find_map(|_| {
            let t = std::net::TcpListener::bind("0.0.0.0:0").ok()?;
            let port = t.local_addr().ok()?.port();
            std::net::UdpSocket::bind(("0.0.0.0", port))
                .ok()
                .map(|_| port)
        })
        .unwrap();
    assert_eq!(run(&["who-has", &format!(":{free}")]).status, 1);

    // A socketpair in another namespace: sock_diag is asked from inside it.
    let mut c = std::process::Command::new("unshare");
    c.args(["--net", testkit().to_str().unwrap(), "pair"]);
    let t = start(c);
    let v = run(&["fds", "--json", &t.pid_s()]).json();
    let fds = v["processes"][0]["fds"].as_array().unwrap().clone();
    let s = fds
        .iter()
        .find(|f| f["detail"]["socket"]["family"] == "unix")
        .expect("the pair");
    assert_eq!(s["other_end"][0]["comm"], "pair-child", "{s}");
}

/// A directory is used as a working directory, a program as an executable,
/// a library as a mapping: who-has names those users too (what keeps a
/// mount busy), with the use in the FD column.
#[test]
fn who_has_finds_working_directories_executables_and_mappings() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("a dir");
    std::fs::create_dir(&sub).unwrap();
    let mut c = std::process::Command::new(testkit());
    c.arg("sleep").current_dir(&sub);
    let t = start(c);
    let pid = u64::from(t.pid());
    let uses = |args: &[&str]| -> Vec<(String, Option<i64>, String)> {
        let r = run(args);
        assert_eq!(r.status, 0, "{args:?}: {}", r.stderr);
        r.json()["holders"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h["pid"] == pid)
            .map(|h| {
                (
                    h["use"].as_str().unwrap().to_string(),
                    h["fd"].as_i64(),
                    h["link"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let s = sub.to_str().unwrap().to_string();
    assert_eq!(
        uses(&["who-has", "--json", &s]),
        vec![("cwd".to_string(), None, s.clone())]
    );
    // Through a symlink, and relative with `..`: the same directory.
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&sub, &link).unwrap();
    assert_eq!(
        uses(&["who-has", "--json", link.to_str().unwrap()]),
        vec![("cwd".to_string(), None, s.clone())]
    );
    let dotted = format!("{}/../a dir/.", sub.to_str().unwrap());
    assert_eq!(
        uses(&["who-has", "--json", &dotted]),
        vec![("cwd".to_string(), None, s.clone())]
    );
    // Under a parent directory, with --mount only.
    let parent = dir.path().to_str().unwrap();
    assert_eq!(
        uses(&["who-has", "--json", "--mount", parent]),
        vec![("cwd".to_string(), None, s.clone())]
    );
    assert_eq!(run(&["who-has", parent]).status, 1);
    // The executable, once (it is mapped too).
    let exe = testkit().to_str().unwrap().to_string();
    assert_eq!(
        uses(&["who-has", "--json", &exe]),
        vec![("exe".to_string(), None, exe.clone())]
    );
    // A library it maps.
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let lib = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| p.contains("libc"))
        .expect("libc mapped")
        .to_string();
    assert_eq!(
        uses(&["who-has", "--json", &lib]),
        vec![("mem".to_string(), None, lib.clone())]
    );
    let out = run(&["who-has", &s]).out();
    assert!(out.contains(" cwd ") && out.contains("a dir"), "{out}");
}

/// A file deleted while only a mapping holds it keeps its space: who-has
/// --deleted names the mapping and its size, as it does open fds.
#[test]
fn who_has_deleted_finds_a_mapping_without_an_fd() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mapped data");
    let t = start_kit(&["map-deleted", file.to_str().unwrap(), "3145728"]);
    let r = run(&["who-has", "--json", "--deleted"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let mine: Vec<serde_json::Value> = r.json()["holders"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["pid"] == t.pid())
        .cloned()
        .collect();
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(mine[0]["use"], "mem");
    assert_eq!(mine[0]["fd"], serde_json::Value::Null);
    assert_eq!(mine[0]["size"], 3_145_728);
    assert_eq!(
        mine[0]["link"],
        format!("{} (deleted)", file.to_str().unwrap())
    );
    let out = run(&["who-has", "--deleted"]).out();
    assert!(out.contains(" mem ") && out.contains("3.0M"), "{out}");
}

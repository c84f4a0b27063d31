//! Who holds the other end: `fds --peers near` (the default) looks outward
//! from the process and reads every process only when the kernel says an
//! end is held by none of its relatives.

use crate::support::*;
use std::os::fd::OwnedFd;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn fd_json(v: &serde_json::Value, fd: i64) -> serde_json::Value {
    v["processes"][0]["fds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["fd"] == fd)
        .cloned()
        .unwrap_or_else(|| panic!("no fd {fd} in {v}"))
}

fn holders(f: &serde_json::Value, key: &str) -> Vec<(u64, i64, String)> {
    f[key]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| {
                    (
                        p["pid"].as_u64().unwrap(),
                        p["fd"].as_i64().unwrap(),
                        p["mode"].as_str().unwrap_or("?").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The socket fds of a process, from its fd links.
fn sock_fds(pid: u32) -> Vec<i64> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            let l = std::fs::read_link(e.path()).ok()?;
            l.to_string_lossy()
                .starts_with("socket:")
                .then(|| e.file_name().to_str()?.parse().ok())?
        })
        .collect()
}

/// Once the server `srv` has accepted `cli`'s connection (two socket fds),
/// `fds` on the client's socket names the server's accepted fd as the
/// other end, found by the near search among a handful of processes.
fn assert_client_finds_server_near(srv: &Orphan, cli: &Orphan) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while sock_fds(srv.pid).len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let srv_socks = sock_fds(srv.pid);
    assert_eq!(srv_socks.len(), 2, "{srv_socks:?}");
    let cfd = *sock_fds(cli.pid).first().unwrap();
    let v = run(&["fds", "--json", &cli.pid_s(), &cfd.to_string()]).json();
    let f = fd_json(&v, cfd);
    let ends = holders(&f, "other_end");
    assert_eq!(ends.len(), 1, "{f}");
    assert_eq!(ends[0].0, u64::from(srv.pid));
    assert!(srv_socks.contains(&ends[0].1), "{ends:?} {srv_socks:?}");
    let s = &v["processes"][0]["peer_search"];
    assert_eq!(s["scope"], "near", "{s}");
    assert!(s["processes"].as_u64().unwrap() < 10, "{s}");
}

fn ppid(pid: u32) -> u32 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &s[s.rfind(')').unwrap() + 2..];
    rest.split(' ').nth(1).unwrap().parse().unwrap()
}

fn children(pid: u32) -> Vec<u32> {
    let mut v: Vec<u32> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat")).is_ok_and(|_| ppid(*p) == pid)
        })
        .collect();
    v.sort_unstable();
    v
}

#[test]
fn a_pipeline_member_finds_its_sibling_without_reading_the_host() {
    let kit = testkit();
    let mut sh = Command::new("sh");
    sh.arg("-c").arg(format!(
        // The reader's own `ready` must not reach start()'s pipe, which
        // is closed after the first line.
        "{k} sleep | {k} sleep >/dev/null & echo ready; wait",
        k = kit.display()
    ));
    let t = start(sh);
    // The shell forked both ends of the pipeline and closed its copies.
    let deadline = Instant::now() + Duration::from_secs(10);
    let kids = loop {
        // Both forked and exec'd (a child is `sh` until its exec).
        let k = children(t.pid());
        let execd = k
            .iter()
            .all(|p| std::fs::read_link(format!("/proc/{p}/exe")).is_ok_and(|e| e == kit));
        if (k.len() == 2 && execd) || Instant::now() > deadline {
            break k;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(kids.len(), 2, "{kids:?}");
    let stdout_of = |p: u32| std::fs::read_link(format!("/proc/{p}/fd/1")).unwrap();
    let (writer, reader) = if stdout_of(kids[0]).to_string_lossy().starts_with("pipe:") {
        (kids[0], kids[1])
    } else {
        (kids[1], kids[0])
    };
    let v = run(&["fds", "--json", &reader.to_string(), "0"]).json();
    let f = fd_json(&v, 0);
    assert_eq!(
        holders(&f, "peers"),
        vec![(u64::from(writer), 1, "w".into())]
    );
    let s = &v["processes"][0]["peer_search"];
    assert_eq!(s["scope"], "near", "{s}");
    // Itself, the shell and its ancestors, the shell's other child: far
    // fewer than the host.
    let host = std::fs::read_dir("/proc")
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_str()
                .unwrap()
                .parse::<u32>()
                .is_ok()
        })
        .count();
    assert!(s["processes"].as_u64().unwrap() < 40, "{s} of {host}");
    assert!(s.get("widened_for_fd").is_none(), "{s}");

    let out = run(&["fds", &writer.to_string(), "1"]).out();
    assert!(
        out.contains(&format!(
            "write end; read by {reader} (procscope-testk) fd 0 r"
        )),
        "{out}"
    );
    assert!(out.contains("other ends looked for among"), "{out}");
    // --peers none: the same fd, nobody named, no search reported.
    let v = run(&["fds", "--json", "--peers", "none", &reader.to_string(), "0"]).json();
    assert_eq!(holders(&fd_json(&v, 0), "peers"), vec![]);
    assert!(v["processes"][0]["peer_search"].is_null());
    for k in kids {
        kill(k);
    }
}

/// `a | b &` from a shell that then exits: both are PID 1's children (or a
/// subreaper's) now, no longer anybody's siblings, but still one process
/// group — found there, without reading every process's fds.
#[test]
fn an_orphaned_pipeline_is_found_in_its_process_group() {
    use std::os::unix::process::CommandExt;
    let kit = testkit();
    let st = Command::new("sh")
        .arg("-c")
        .arg(format!("{k} sleep | {k} sleep &", k = kit.display()))
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let pgrp_of = |p: u32| -> Option<u32> {
        let s = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
        s[s.rfind(')')? + 2..].split(' ').nth(2)?.parse().ok()
    };
    // The shell is gone: find its group by the testkit processes in a
    // group of their own whose leader has exited.
    let deadline = Instant::now() + Duration::from_secs(10);
    let members = loop {
        let mut by_group: std::collections::HashMap<u32, Vec<u32>> = Default::default();
        for p in std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        {
            let exe = std::fs::read_link(format!("/proc/{p}/exe")).unwrap_or_default();
            if exe == kit {
                if let Some(g) =
                    pgrp_of(p).filter(|g| !std::path::Path::new(&format!("/proc/{g}")).exists())
                {
                    by_group.entry(g).or_default().push(p);
                }
            }
        }
        let found = by_group.into_values().find(|v| {
            v.len() == 2
                && v.iter()
                    .all(|p| std::fs::read_link(format!("/proc/{p}/fd/0")).is_ok())
        });
        if let Some(v) = found {
            let piped = |p: u32, fd: u32| {
                std::fs::read_link(format!("/proc/{p}/fd/{fd}"))
                    .is_ok_and(|l| l.to_string_lossy().starts_with("pipe:"))
            };
            if v.iter().any(|p| piped(*p, 1)) && v.iter().any(|p| piped(*p, 0)) {
                break v;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the orphaned pipeline did not appear"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let piped_out = |p: u32| {
        std::fs::read_link(format!("/proc/{p}/fd/1"))
            .is_ok_and(|l| l.to_string_lossy().starts_with("pipe:"))
    };
    let (writer, reader) = if piped_out(members[0]) {
        (members[0], members[1])
    } else {
        (members[1], members[0])
    };
    let v = run(&["fds", "--json", &reader.to_string(), "0"]).json();
    for p in &members {
        kill(*p);
    }
    assert_eq!(
        holders(&fd_json(&v, 0), "peers"),
        vec![(u64::from(writer), 1, "w".into())]
    );
    let s = &v["processes"][0]["peer_search"];
    assert_eq!(s["scope"], "near", "{s}");
}

/// The write end of T's standard input is held only by U, which is no
/// relative of T (its own session, its parent gone): the near search finds
/// nobody, the kernel says a writer is left, so every process is read.
#[test]
fn an_end_held_outside_the_family_widens_the_search_to_the_host() {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    let (r, w): (OwnedFd, OwnedFd) = (r, w);
    let t = start_orphan(&["sleep"], Stdio::from(r), Some(Stdio::null()));
    let u = start_orphan(&["sleep"], Stdio::null(), Some(Stdio::from(w)));
    // Both held now; the test keeps neither end (moved into the spawns).
    let v = run(&["fds", "--json", &t.pid_s(), "0"]).json();
    let f = fd_json(&v, 0);
    assert_eq!(
        holders(&f, "peers"),
        vec![(u64::from(u.pid), 1, "w".into())]
    );
    let s = &v["processes"][0]["peer_search"];
    let related = ppid(t.pid) == ppid(u.pid) && ppid(t.pid) > 1;
    if related {
        // A subreaper adopted both: they are siblings after all.
        assert_eq!(s["scope"], "near", "{s}");
    } else {
        assert_eq!(s["scope"], "widened", "{s}");
        assert_eq!(s["widened_for_fd"], 0, "{s}");
        let out = run(&["fds", &t.pid_s(), "0"]).out();
        assert!(
            out.contains("fd 0's other end is held by no related process"),
            "{out}"
        );
    }
    // The writer gone: the kernel says no writer is left, nothing is read
    // beyond the near processes.
    let upid = u.pid;
    drop(u);
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::path::Path::new(&format!("/proc/{upid}/fd")).exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let v = run(&["fds", "--json", &t.pid_s(), "0"]).json();
    assert_eq!(holders(&fd_json(&v, 0), "peers"), vec![]);
    assert_eq!(v["processes"][0]["peer_search"]["scope"], "near");
    let out = run(&["fds", &t.pid_s(), "0"]).out();
    assert!(out.contains("read end; no writer left"), "{out}");
}

/// A unix connection between two unrelated processes: the client's peer
/// socket is found in the server through SO_PEERCRED, without a host scan.
#[test]
fn a_unix_peer_is_found_through_its_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("srv sock");
    let p = path.to_str().unwrap();
    let srv = start_orphan(&["unix-serve", p], Stdio::null(), None);
    let cli = start_orphan(&["unix-connect", p], Stdio::null(), None);
    // The server has accepted once its fd count grows by one.
    assert_client_finds_server_near(&srv, &cli);
}

/// A FIFO is a pipe with a name: its type, its end, and who holds the
/// other end (matched by path, checked by inode) — found among siblings.
#[test]
fn a_fifo_names_its_other_end() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("a fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let kit = testkit();
    let mut sh = Command::new("sh");
    sh.arg("-c")
        .arg(format!(
            "{k} sleep < \"$1\" > /dev/null & {k} sleep > \"$1\" & echo ready; wait",
            k = kit.display()
        ))
        .arg("sh")
        .arg(&fifo);
    let t = start(sh);
    let deadline = Instant::now() + Duration::from_secs(10);
    let on = |p: u32, fd: u32| {
        std::fs::read_link(format!("/proc/{p}/fd/{fd}")).ok() == Some(fifo.clone())
    };
    let (reader, writer) = loop {
        let k = children(t.pid());
        let execd = k
            .iter()
            .all(|p| std::fs::read_link(format!("/proc/{p}/exe")).is_ok_and(|e| e == kit));
        let r = k.iter().copied().find(|p| on(*p, 0));
        let w = k.iter().copied().find(|p| on(*p, 1));
        if let (Some(r), Some(w), true) = (r, w, execd) {
            break (r, w);
        }
        assert!(Instant::now() < deadline, "the FIFO's ends did not open");
        std::thread::sleep(Duration::from_millis(20));
    };
    let v = run(&["fds", "--json", &reader.to_string(), "0"]).json();
    let f = fd_json(&v, 0);
    assert_eq!(f["detail"]["type"], "fifo", "{f}");
    assert_eq!(f["detail"]["path"], fifo.to_str().unwrap());
    assert_eq!(
        holders(&f, "peers"),
        vec![(u64::from(writer), 1, "w".into())]
    );
    assert_eq!(v["processes"][0]["peer_search"]["scope"], "near");
    let out = run(&["fds", &writer.to_string(), "1"]).out();
    assert!(
        out.contains("fifo w")
            && out.contains(&format!(
                "write end; read by {reader} (procscope-testk) fd 0 r"
            )),
        "{out}"
    );
    // Host-wide, FIFOs are found when asked for by type.
    let out = run(&["fds", "--all", "--type", "fifo", "-w"]).out();
    assert!(
        out.contains(&format!("PID {reader} ")) && out.contains(&format!("PID {writer} ")),
        "{out}"
    );
    kill(reader);
    kill(writer);
}

/// A TCP client connected to an unrelated local server (its own session,
/// its parent gone) in a cgroup of its own, as a systemd service or a
/// container would be: the server's socket records that cgroup, whose
/// processes are read before any other — no host-wide search.
#[test]
fn a_local_tcp_server_is_found_through_its_sockets_cgroup() {
    let cg = Cgroup::new("tcp-server");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let srv = start_orphan_in(&cg.dir, &["tcp-serve", &port]);
    let cli = start_orphan(&["tcp-connect", &port], Stdio::null(), None);
    assert_client_finds_server_near(&srv, &cli);
    drop((srv, cli));
}

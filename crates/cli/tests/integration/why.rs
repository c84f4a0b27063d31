//! `procscope why` against processes waiting on each other in known ways.

use crate::support::*;
use serde_json::Value;
use std::os::fd::OwnedFd;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn why(pid: u32) -> Value {
    let r = run(&["why", "--json", &pid.to_string()]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    r.json()["processes"][0].clone()
}

fn process(w: &Value, pid: u32) -> Value {
    w["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pid"] == pid)
        .unwrap_or_else(|| panic!("{pid} not followed: {w:#}"))
        .clone()
}

/// Waits until `pid`'s main thread is blocked in the system call `name`
/// (by number in /proc/PID/syscall: read 0, write 1, flock 73, wait4 61).
fn wait_syscall(pid: u32, nr: u32) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let s = std::fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
        if s.split_whitespace().next() == Some(&nr.to_string()) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{pid} never blocked in syscall {nr}: {s}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Spawns `c` reading `stdin` (and writing `stdout`); our copies of both
/// are closed when this returns (the pipes are O_CLOEXEC, so other tests'
/// children never inherit them).
fn spawn_with(mut c: Command, stdin: Option<OwnedFd>, stdout: Option<OwnedFd>) -> Target {
    c.stdin(stdin.map_or_else(Stdio::null, Stdio::from))
        .stdout(stdout.map_or_else(Stdio::null, Stdio::from))
        .stderr(Stdio::null());
    Target {
        child: c.spawn().unwrap(),
    }
}

fn spawn(mut c: Command) -> Target {
    c.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    Target {
        child: c.spawn().unwrap(),
    }
}

#[test]
fn a_flock_waiter_leads_to_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("the lock");
    let holder = start_kit(&["flock", file.to_str().unwrap()]);
    let mut c = Command::new("flock");
    c.arg(&file).arg("true");
    let waiter = spawn(c);
    wait_syscall(waiter.pid(), 73);
    let w = why(waiter.pid());
    let g = &process(&w, waiter.pid())["groups"][0];
    assert_eq!(g["wait"]["kind"], "lock");
    assert_eq!(g["wait"]["path"], file.to_str().unwrap());
    assert_eq!(g["wait"]["holders"][0]["pid"], holder.pid());
    assert_eq!(g["waits_for"], serde_json::json!([holder.pid()]));
    assert!(g["call"].as_str().unwrap().starts_with("flock(fd "), "{g}");
    // The holder sleeps: the chain ends there.
    let h = &process(&w, holder.pid())["groups"][0];
    assert_eq!(h["wait"]["kind"], "sleep");
    assert_eq!(w["chain"], serde_json::json!([waiter.pid(), holder.pid()]));
    let out = run(&["why", &waiter.pid_s()]).out();
    assert!(
        out.contains(&format!(
            "waiting for a lock on {} held by {} (procscope-testk)",
            file.display(),
            holder.pid()
        )),
        "{out}"
    );
    assert!(out.contains("sleeping by choice"), "{out}");
}

#[test]
fn an_fcntl_waiter_leads_to_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let zoo = start_kit(&["fdzoo", dir.path().to_str().unwrap()]);
    let kids = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", zoo.pid())).unwrap();
    let waiter: u32 = kids
        .split_whitespace()
        .find(|k| {
            std::fs::read_to_string(format!("/proc/{k}/comm"))
                .unwrap()
                .trim()
                == "zoo-waiter"
        })
        .unwrap()
        .parse()
        .unwrap();
    let w = why(waiter);
    let g = &process(&w, waiter)["groups"][0];
    assert_eq!(g["wait"]["kind"], "lock");
    assert_eq!(g["wait"]["holders"][0]["pid"], zoo.pid());
    assert!(g["call"].as_str().unwrap().contains("F_SETLKW"), "{g}");
    assert!(w["cycle"].is_null());
    // `stack` decodes the same call, the fd resolved with its lock holder.
    let out = run(&["stack", &waiter.to_string()]).out();
    let want = format!(
        "syscall fcntl(fd 3 → {} [locked by {} (procscope-testk)], F_SETLKW)",
        dir.path().join("fcntl.lck").display(),
        zoo.pid()
    );
    assert!(out.contains(&want), "{want} not in:\n{out}");

    // hung --over: the waiter has sat in fcntl without running; the zoo
    // itself sleeps by design (clock_nanosleep) and is left out.
    std::thread::sleep(Duration::from_millis(1200));
    let r = run_with(
        &["hung", "--over", "1s", "--window", "300ms", "--json"],
        &[],
        Duration::from_secs(20),
    );
    assert_eq!(r.status, 1, "{}", r.stderr);
    let v = r.json();
    let groups = v["groups"].as_array().unwrap();
    let tasks = |pid: u32| {
        groups
            .iter()
            .filter(|g| {
                g["tasks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|t| t["pid"] == pid)
            })
            .cloned()
            .collect::<Vec<_>>()
    };
    let g = tasks(waiter);
    assert_eq!(g.len(), 1, "{v:#}");
    assert_eq!(
        (g[0]["state"].as_str(), g[0]["syscall"].as_str()),
        (Some("S"), Some("fcntl"))
    );
    assert!(g[0]["idle_ms"].as_u64().unwrap() >= 1000);
    // The cause names the file and the holder (other tests' waiters in
    // the same state may share the group: their holders are named too).
    let cause = g[0]["cause"].as_str().unwrap();
    assert!(
        cause.starts_with("a file lock on ")
            && cause.contains(&format!("{} (procscope-testk)", zoo.pid())),
        "{:#}",
        g[0]
    );
    assert!(tasks(zoo.pid()).is_empty(), "{v:#}");
}

#[test]
fn a_writer_on_a_full_pipe_leads_to_its_stopped_reader() {
    let (r, wr): (OwnedFd, OwnedFd) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    let reader = spawn_with(Command::new("cat"), Some(r), None);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(reader.pid() as i32),
        nix::sys::signal::Signal::SIGSTOP,
    )
    .unwrap();
    let writer = spawn_with(Command::new("yes"), None, Some(wr));
    wait_syscall(writer.pid(), 1);
    let w = why(writer.pid());
    let g = &process(&w, writer.pid())["groups"][0];
    assert_eq!(g["wait"]["kind"], "pipe");
    assert_eq!(g["wait"]["end"], "write");
    assert_eq!(g["wait"]["other_end"][0]["pid"], reader.pid());
    assert_eq!(g["wait"]["other_end"][0]["fd"], 0);
    let r = &process(&w, reader.pid())["groups"][0];
    assert_eq!(r["wait"]["kind"], "stopped");
    assert_eq!(w["chain"], serde_json::json!([writer.pid(), reader.pid()]));
    let out = run(&["why", &writer.pid_s()]).out();
    assert!(
        out.contains(&format!(
            "the pipe is full: waiting for {} (cat) to read it",
            reader.pid()
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("resume it with kill -CONT {}", reader.pid())),
        "{out}"
    );
    assert!(out.contains("write(fd 1 → pipe:["), "{out}");
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(reader.pid() as i32),
        nix::sys::signal::Signal::SIGCONT,
    );
}

#[test]
fn two_processes_reading_each_others_pipes_are_a_deadlock() {
    let (r1, w1): (OwnedFd, OwnedFd) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    let (r2, w2): (OwnedFd, OwnedFd) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    // a reads pipe 1 and writes pipe 2; b reads pipe 2 and writes pipe 1.
    let a = spawn_with(Command::new("cat"), Some(r1), Some(w2));
    let b = spawn_with(Command::new("cat"), Some(r2), Some(w1));
    wait_syscall(a.pid(), 0);
    wait_syscall(b.pid(), 0);
    let w = why(a.pid());
    assert_eq!(
        w["cycle"],
        serde_json::json!([a.pid(), b.pid(), a.pid()]),
        "{w:#}"
    );
    let ga = &process(&w, a.pid())["groups"][0];
    assert_eq!(
        (ga["wait"]["kind"].as_str(), ga["wait"]["end"].as_str()),
        (Some("pipe"), Some("read"))
    );
    assert_eq!(ga["waits_for"], serde_json::json!([b.pid()]));
    let out = run(&["why", &a.pid_s()]).out();
    assert!(
        out.contains(&format!(
            "deadlock: cat ({0}) → cat ({1}) → cat ({0})",
            a.pid(),
            b.pid()
        )),
        "{out}"
    );
}

#[test]
fn a_reader_of_a_hung_fuse_file_leads_to_the_mount_and_its_daemon() {
    let fuse = HungFuse::mount();
    let reader = start_kit(&["read-hang", fuse.hang_file().to_str().unwrap()]);
    assert!(
        wait_all_threads(reader.pid(), 'D', Duration::from_secs(5)),
        "reader not in D"
    );
    let r = run_with(
        &["why", "--json", &reader.pid_s()],
        &[],
        Duration::from_secs(10),
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    let w = r.json()["processes"][0].clone();
    let g = &process(&w, reader.pid())["groups"][0];
    assert_eq!(g["state"], "D");
    assert_eq!(g["wait"]["kind"], "file", "{g}");
    assert_eq!(g["wait"]["mount_point"], fuse.dir.path().to_str().unwrap());
    assert!(
        g["wait"]["fs_type"].as_str().unwrap().starts_with("fuse"),
        "{g}"
    );
    let daemon = fuse.daemon_pid();
    assert!(
        g["wait"]["daemons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["pid"] == daemon),
        "{g}"
    );
    assert!(g["waits_for"].as_array().unwrap().contains(&daemon.into()));
    let out = run_with(&["why", &reader.pid_s()], &[], Duration::from_secs(10)).out();
    assert!(
        out.contains("the filesystem is not answering; FUSE daemon:"),
        "{out}"
    );
    drop(reader);
    drop(fuse);
}

#[test]
fn two_threads_deadlocked_on_mutexes_are_found_inside_the_process() {
    let t = start_kit(&["mutex-deadlock"]);
    let tid = |name: &str| -> u32 {
        std::fs::read_dir(format!("/proc/{}/task", t.pid()))
            .unwrap()
            .flatten()
            .find(|e| {
                std::fs::read_to_string(e.path().join("comm"))
                    .unwrap()
                    .trim()
                    == name
            })
            .unwrap()
            .file_name()
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    let (a, b) = (tid("lock-a"), tid("lock-b"));
    let w = why(t.pid());
    let p = process(&w, t.pid());
    let cycle: Vec<u64> = p["thread_cycle"]
        .as_array()
        .unwrap_or_else(|| panic!("no thread cycle: {p:#}"))
        .iter()
        .map(|x| x["tid"].as_u64().unwrap())
        .collect();
    let (a, b) = (u64::from(a), u64::from(b));
    assert!(cycle == [a, b, a] || cycle == [b, a, b], "{cycle:?}");
    let g = p["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["wait"]["kind"] == "mutex")
        .unwrap_or_else(|| panic!("{p:#}"))
        .clone();
    let owner = g["wait"]["owner"].as_u64().unwrap();
    assert!(owner == a || owner == b, "{g}");
    let out = run(&["why", &t.pid_s()]).out();
    assert!(out.contains("deadlock inside procscope-testk"), "{out}");
    assert!(
        out.contains("(lock-a)") && out.contains("(lock-b)"),
        "{out}"
    );
    // stack counts the two different futex addresses of the group.
    let v = run(&["stack", "--json", &t.pid_s()]).json();
    let fx = v["processes"][0]["groups"][0]["futexes"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(fx, 2, "{v:#}");
}

#[test]
fn a_mutex_waiter_leads_to_the_owning_thread_and_what_it_waits_for() {
    // The holder thread reads a pipe whose only writer is this test.
    let (r, w): (OwnedFd, OwnedFd) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    // (Not `start`: it gives the child /dev/null as stdin.)
    let mut c = Command::new(testkit());
    c.arg("mutex-pipe")
        .stdin(Stdio::from(r))
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = c.spawn().unwrap();
    drop(c);
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "ready");
    let t = Target { child };
    let out = run(&["why", &t.pid_s()]).out();
    let me = std::process::id();
    assert!(out.contains("waiting for a mutex (futex 0x"), "{out}");
    assert!(out.contains("held by thread"), "{out}");
    assert!(
        out.contains(&format!("waiting for data on a pipe written by {me} (")),
        "{out}"
    );
    // The verdict of the waiter's group continues into the holder thread.
    let line = out
        .lines()
        .find(|l| l.contains("waiting for a mutex") && l.contains("; thread "))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(line.contains("waiting for data on a pipe"), "{line}");
    drop(w);
}

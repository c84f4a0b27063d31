//! procscope against really hung targets: it must finish, and say why.

use crate::support::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A process whose memory lock is held by a thread stuck on a hung FUSE
/// page, with a second thread queued in mmap: `cat /proc/PID/cmdline` and
/// procps `ps` block on it.
pub(crate) struct MemLockHang {
    // Dropped first: killing the FUSE daemon aborts the connection, which
    // fails the stuck page fault. Only then can the target be killed and
    // reaped (a stuck thread delays the exit of its whole thread group).
    _fuse: HungFuse,
    pub(crate) target: Target,
}

pub(crate) fn mem_lock_hang() -> MemLockHang {
    let fuse = HungFuse::mount();
    let target = start_kit(&["mem-hang", fuse.hang_file().to_str().unwrap()]);
    // Both threads end up in D: the reader in filemap_fault, the main thread
    // in vm_mmap_pgoff.
    assert!(
        wait_all_threads(target.pid(), 'D', Duration::from_secs(5)),
        "mem-hang threads did not reach D state"
    );
    let cmdline = std::path::PathBuf::from(format!("/proc/{}/cmdline", target.pid()));
    assert!(
        read_blocks(&cmdline, Duration::from_secs(1)),
        "precondition: reading {} should block (the memory lock is held)",
        cmdline.display()
    );
    MemLockHang {
        _fuse: fuse,
        target,
    }
}

#[test]
fn ps_finishes_in_about_the_timeout_on_a_memory_lock_hang() {
    let h = mem_lock_hang();
    let pid = h.target.pid_s();

    // procps ps blocks on this process (it reads cmdline unguarded).
    if let Ok(mut ps) = Command::new("ps")
        .args(["-p", &pid, "-o", "pid,args"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        std::thread::sleep(Duration::from_millis(1500));
        let still_running = ps.try_wait().unwrap().is_none();
        let _ = ps.kill();
        let _ = ps.wait();
        assert!(
            still_running,
            "precondition: procps ps should hang on the target"
        );
    }

    // Every process on the host, with a 500 ms deadline.
    let r = run_with(
        &["--timeout", "500ms", "ps", "-w"],
        &[],
        Duration::from_secs(10),
    );
    assert_eq!(r.status, 0, "stderr: {}", r.stderr);
    assert!(r.took < Duration::from_millis(2500), "took {:?}", r.took);
    assert!(
        r.took >= Duration::from_millis(500),
        "took {:?}: the deadline was not waited for?",
        r.took
    );
    let out = r.out();
    let line = out
        .lines()
        .find(|l| l.split_whitespace().next() == Some(pid.as_str()))
        .unwrap_or_else(|| panic!("no row for {pid} in:\n{out}"));
    assert!(line.contains(" D "), "{line}");
    assert!(
        line.ends_with("[procscope-testk] <cmdline timed out: memory lock held>"),
        "{line}"
    );
    // (Other tests' memory-lock targets may be listed beside it.)
    assert!(
        r.stderr.contains(&format!("(PID {pid})"))
            || r.stderr.contains(&format!("(PID {pid},"))
            || r.stderr.contains(&format!(", {pid})"))
            || r.stderr.contains(&format!(", {pid},")),
        "stderr: {}",
        r.stderr
    );
    assert!(
        r.stderr.contains("could not be read within 500 ms"),
        "stderr: {}",
        r.stderr
    );
    // Other processes still have their command lines.
    assert!(out.lines().count() > 3);

    // JSON: the stat fields are there, the command line is a typed failure.
    let r = run(&["--timeout", "300ms", "ps", "--json", "-p", &pid]);
    assert_eq!(r.status, 0);
    let v = r.json();
    let p = &v["processes"][0];
    assert_eq!(p["pid"].as_i64().unwrap().to_string(), pid);
    assert_eq!(p["state"], "D");
    assert_eq!(p["comm"], "procscope-testk");
    assert_eq!(p["threads"], 2);
    assert_eq!(p["cmdline"]["error"]["reason"], "timed_out");
    assert_eq!(p["cmdline"]["error"]["after_ms"], 300);
    assert_eq!(v["timed_out"][0].as_i64().unwrap().to_string(), pid);

    // Per thread: both in D, the reader thread by name.
    let r = run(&[
        "--timeout",
        "300ms",
        "ps",
        "--threads",
        "-p",
        &pid,
        "-o",
        "tid,state,comm",
    ]);
    let out = r.out();
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(out.lines().any(|l| l.ends_with(" D mem-reader")), "{out}");
    assert!(
        out.lines().any(|l| l.ends_with(" D procscope-testk")),
        "{out}"
    );

    let me = std::process::id().to_string();
    // cmdline and env of the hung process: a typed answer after the deadline.
    for cmd in ["cmdline", "env"] {
        let r = run_with(
            &["--timeout", "300ms", cmd, &pid],
            &[],
            Duration::from_secs(5),
        );
        assert_eq!(r.status, 2, "{cmd}: {}", r.stderr);
        assert!(r.took < Duration::from_secs(2), "{cmd} took {:?}", r.took);
        let file = if cmd == "cmdline" {
            "cmdline"
        } else {
            "environ"
        };
        assert!(
            r.stderr.contains(&format!(
                "PID {pid} (procscope-testk): {file}: timed out after 300 ms"
            )),
            "{cmd}: {}",
            r.stderr
        );
    }

    // A pattern on comm needs no command line: no timeout, no warning.
    let r = run(&[
        "--timeout",
        "300ms",
        "ps",
        "--pids",
        "--ppid",
        &me,
        "-x",
        "mem-reader|procscope-testk",
    ]);
    assert!(r.out().lines().any(|l| l == pid), "{}", r.out());

    // -f needs every command line: the hung one falls back to comm.
    // (--ppid keeps other tests' processes out; every command line is still read.)
    let r = run_with(
        &[
            "--timeout",
            "300ms",
            "ps",
            "-f",
            "--pids",
            "--ppid",
            &me,
            "^procscope-testk$",
        ],
        &[],
        Duration::from_secs(5),
    );
    assert_eq!(r.out().trim(), pid);
    assert!(r.took < Duration::from_secs(2), "took {:?}", r.took);
}

#[test]
fn a_d_state_vfork_parent_is_listed_with_its_child() {
    let t = start_kit(&["vfork-d", "60"]);
    assert!(
        wait_all_threads(t.pid(), 'D', Duration::from_secs(5)),
        "vfork parent not in D"
    );
    let pid = t.pid_s();

    let r = run(&["ps", "--state", "D", "--pids"]);
    assert_eq!(r.status, 0);
    assert!(r.out().lines().any(|l| l == pid), "{}", r.out());

    let r = run(&["ps", "-p", &pid, "-o", "pid,state,comm"]);
    let w = pid.len().max(3);
    assert_eq!(
        r.out(),
        format!("{:>w$} S COMM\n{pid:>w$} D procscope-testk\n", "PID")
    );

    let r = run(&["ps", "--json", "-p", &pid]);
    let p = &r.json()["processes"][0];
    assert_eq!(p["state"], "D");
    assert_eq!(p["state_meaning"], "uninterruptible sleep");
    assert_eq!(p["cmdline"][1], "vfork-d");

    // The child (sleeping, state S) is found through the parent.
    let r = run(&["ps", "--children-of", &pid, "-o", "pid,ppid,state"]);
    let out = r.out();
    let rows: Vec<&str> = out.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{out}");
    let f: Vec<&str> = rows[0].split_whitespace().collect();
    assert_eq!(f[1], pid);
    assert_eq!(f[2], "S");
    let child: u32 = f[0].parse().unwrap();
    kill(child);
}

#[test]
fn hung_finds_a_stuck_fuse_reader_and_a_vfork_parent_and_names_the_causes() {
    let fuse = HungFuse::mount();
    let reader = start_kit(&["read-hang", fuse.hang_file().to_str().unwrap()]);
    let parent = start_kit(&["vfork-d", "60"]);
    assert!(
        wait_all_threads(reader.pid(), 'D', Duration::from_secs(5)),
        "reader not in D"
    );
    assert!(
        wait_all_threads(parent.pid(), 'D', Duration::from_secs(5)),
        "vfork parent not in D"
    );

    let r = run_with(
        &["hung", "--window", "400ms", "--json"],
        &[],
        Duration::from_secs(10),
    );
    assert_eq!(r.status, 1, "{}", r.stderr);
    let v = r.json();
    let groups = v["groups"].as_array().unwrap();
    let find = |pid: u32| {
        groups
            .iter()
            .find(|g| {
                g["tasks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|t| t["pid"] == pid)
            })
            .unwrap_or_else(|| panic!("PID {pid} not reported: {v:#}"))
    };
    let g = find(reader.pid());
    assert_eq!(g["syscall"], "read");
    // Its kernel stack shows only page-cache frames; the fd argument names
    // the FUSE mount.
    let mount = fuse.dir.path().to_str().unwrap();
    assert_eq!(
        g["cause"].as_str().unwrap(),
        format!("the FUSE filesystem at {mount} (fuse): its daemon is not answering"),
        "{g:#}"
    );
    assert_eq!(g["files"][0]["mount_point"], mount);
    assert_eq!(g["files"][0]["what"], fuse.hang_file().to_str().unwrap());
    // The human report names the mount, the file and what to run next.
    let r = run_with(&["hung", "--window", "400ms"], &[], Duration::from_secs(10));
    assert_eq!(r.status, 1, "{}", r.stderr);
    let out = r.out();
    assert_terminal_safe(&out);
    assert!(out.contains("task(s) stuck in D"), "{out}");
    assert!(
        out.contains(&format!("likely: the FUSE filesystem at {mount} (fuse)")),
        "{out}"
    );
    assert!(
        out.contains(&format!("on {}", fuse.hang_file().display())),
        "{out}"
    );
    assert!(
        out.contains(&format!("→ procscope why {}", reader.pid())),
        "{out}"
    );
    let g = find(parent.pid());
    assert_eq!(g["syscall"], "clone");
    assert!(
        g["cause"].as_str().unwrap().starts_with("a vfork parent"),
        "{g:#}"
    );
    // Kill the vfork child too (it sleeps 60 s holding the parent).
    let r = run(&["ps", "--pids", "--ppid", &parent.pid_s()]);
    if let Ok(c) = r.out().trim().parse::<u32>() {
        kill(c);
    }
    drop(reader);
    drop(fuse);
}

#[test]
fn show_completes_on_a_memory_lock_hang_and_says_what_timed_out() {
    let h = mem_lock_hang();
    let pid = h.target.pid_s();
    let r = run_with(
        &["--timeout", "500ms", "show", "--json", "--all", &pid],
        &[],
        Duration::from_secs(10),
    );
    assert_eq!(r.status, 0, "stderr: {}", r.stderr);
    assert!(r.took < Duration::from_millis(3000), "took {:?}", r.took);
    let p = r.json()["processes"][0].clone();
    // The memory-lock reads timed out, each saying so…
    for v in [
        &p["program"]["cmdline"],
        &p["memory"]["totals"],
        &p["memory"]["largest"],
        &p["maps"],
    ] {
        assert_eq!(v["error"]["reason"], "timed_out", "{v}");
    }
    // …and everything else is there.
    assert_eq!(p["state"]["sched"]["state"], "D");
    assert!(p["memory"]["counters"]["rss"].as_u64().is_some());
    assert!(p["limits"].as_array().is_some_and(|l| l.len() == 16));
    assert!(p["files"]["open"].as_u64().is_some(), "{}", p["files"]);
    assert!(
        r.stderr.contains("timed out"),
        "the timeout is summarised: {}",
        r.stderr
    );
    // The human page, too.
    let r = run_with(
        &["--timeout", "500ms", "show", &pid],
        &[],
        Duration::from_secs(10),
    );
    assert_eq!(r.status, 0, "stderr: {}", r.stderr);
    let out = r.out();
    assert!(
        out.contains("command        ? timed out after 500 ms"),
        "{out}"
    );
    assert!(
        out.contains("state          D (uninterruptible sleep), 2 threads"),
        "{out}"
    );
}

/// fds and who-has on a process stuck reading a hung FUSE file, whose
/// working directory is on that mount: nothing they do may reach the
/// filesystem (lsof's old trap), so they finish fast and still name the
/// file, the mount and the reader.
#[test]
fn fds_and_who_has_never_block_on_a_hung_fuse_mount() {
    let fuse = HungFuse::mount();
    let mut c = Command::new(testkit());
    c.args(["read-hang", fuse.hang_file().to_str().unwrap()])
        .current_dir(fuse.dir.path());
    let reader = start(c);
    assert!(
        wait_all_threads(reader.pid(), 'D', Duration::from_secs(5)),
        "reader not in D"
    );
    let hang = fuse.hang_file().to_str().unwrap().to_string();
    let mnt = fuse.dir.path().to_str().unwrap().to_string();
    let limit = Duration::from_secs(8);
    let timed = |args: &[&str]| {
        let t0 = Instant::now();
        let r = run_with(args, &[], limit);
        assert!(
            t0.elapsed() < Duration::from_secs(4),
            "{args:?} took {:?}",
            t0.elapsed()
        );
        r
    };

    let v = timed(&["fds", "--json", &reader.pid_s()]).json();
    let fds = v["processes"][0]["fds"].as_array().unwrap().clone();
    let f = fds
        .iter()
        .find(|f| f["detail"]["path"] == hang.as_str())
        .unwrap_or_else(|| panic!("no fd on the hung file: {v}"));
    assert_eq!(f["detail"]["type"], "file");
    assert!(
        f["detail"]["fs_type"].as_str().unwrap().starts_with("fuse"),
        "{f}"
    );
    assert_eq!(f["detail"]["mount_point"], mnt.as_str());

    let r = timed(&["who-has", "--json", "--mount", &mnt]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let mut uses: Vec<(String, String)> = r.json()["holders"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["pid"] == reader.pid())
        .map(|h| {
            (
                h["use"].as_str().unwrap().into(),
                h["link"].as_str().unwrap().into(),
            )
        })
        .collect();
    uses.sort();
    assert_eq!(
        uses,
        vec![
            ("cwd".to_string(), mnt.clone()),
            ("fd".to_string(), hang.clone())
        ]
    );
    let r = timed(&["who-has", "--json", &hang]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(
        r.json()["holders"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["pid"] == reader.pid() && h["use"] == "fd"),
        "{}",
        r.out()
    );
    let r = timed(&["fds", "--all", "--path", &mnt]);
    assert!(r.out().contains(&hang), "{}", r.out());
    let r = timed(&["fds", "--peers", "all", &reader.pid_s()]);
    assert_eq!(r.status, 0, "{}", r.stderr);
}

/// A thread asleep in clock_nanosleep beside threads stuck on the memory
/// lock: `stack` and `why` read its timespec from memory under the
/// deadline. That read must be abandonable — through `/proc/PID/mem`
/// (killable wait on the lock), not process_vm_readv (uninterruptible:
/// procscope could not even exit).
#[test]
fn stack_and_why_finish_when_a_sleepers_memory_is_locked() {
    let fuse = HungFuse::mount();
    let target = start_kit(&["mem-hang", fuse.hang_file().to_str().unwrap(), "sleeper"]);
    // Dropped in field order: the daemon first (which fails the stuck
    // reads), then the target (which can only exit after that).
    let h = MemLockHang {
        _fuse: fuse,
        target,
    };
    let target = &h.target;
    let pid = target.pid();
    let deadline = Instant::now() + Duration::from_secs(5);
    let in_d = || {
        std::fs::read_dir(format!("/proc/{pid}/task"))
            .map(|d| {
                d.filter_map(|t| {
                    let s = std::fs::read_to_string(t.ok()?.path().join("stat")).ok()?;
                    let st = s[s.rfind(')')? + 2..].chars().next()?;
                    (st == 'D').then_some(())
                })
                .count()
            })
            .unwrap_or(0)
    };
    while in_d() < 2 {
        assert!(
            Instant::now() < deadline,
            "mem-hang threads did not reach D"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    for args in [
        vec!["--timeout", "300ms", "stack", &target.pid_s()],
        vec!["--timeout", "300ms", "why", &target.pid_s()],
    ] {
        let r = run_with(&args, &[], Duration::from_secs(10));
        assert!(
            r.took < Duration::from_secs(5),
            "{args:?} took {:?}",
            r.took
        );
        assert_eq!(r.status, 0, "{args:?}: {}", r.stderr);
        assert!(r.out().contains("clock_nanosleep"), "{args:?}: {}", r.out());
    }
}

#[test]
fn why_and_hung_name_the_memory_lock_not_proc() {
    let h = mem_lock_hang();
    let pid = h.target.pid_s();
    let r = run_with(
        &["--timeout", "300ms", "why", "--json", &pid],
        &[],
        Duration::from_secs(10),
    );
    let v = r.json();
    let groups = v["processes"][0]["processes"][0]["groups"]
        .as_array()
        .unwrap()
        .clone();
    let verdicts: Vec<String> = groups
        .iter()
        .map(|g| g["verdict"].as_str().unwrap().to_string())
        .collect();
    let all = verdicts.join("\n");
    assert!(!all.contains("/proc"), "blames /proc:\n{all}");
    assert!(
        !all.contains("not answering: ") || all.contains("memory-map lock"),
        "{all}"
    );
    assert!(
        verdicts
            .iter()
            .any(|v| v.contains("holding its own memory-map lock while faulting in a page")),
        "the reader of /proc/PID/mem is the lock's holder:\n{all}"
    );
    assert!(
        verdicts
            .iter()
            .any(|v| v.contains("waiting for its memory-map lock, held by thread")),
        "the mmap caller waits for the lock:\n{all}"
    );
    let r = run_with(
        &["--timeout", "300ms", "hung", "--window", "300ms"],
        &[],
        Duration::from_secs(10),
    );
    let out = r.out();
    assert!(!out.contains("(proc)"), "{out}");
    assert!(out.contains("memory-map lock"), "{out}");
}

#[test]
fn hung_json_gives_paths_as_bytes_not_terminal_escapes() {
    // A FUSE mount whose path holds an escape sequence and a newline.
    let base = tempfile::tempdir().unwrap();
    let dir = base.path().join("x\u{1b}[31m\nred");
    std::fs::create_dir(&dir).unwrap();
    let daemon = start_kit(&["fuse-hang", dir.to_str().unwrap()]);
    let file = dir.join("hang");
    let reader = start_kit(&["read-hang", file.to_str().unwrap()]);
    assert!(
        wait_all_threads(reader.pid(), 'D', Duration::from_secs(5)),
        "reader not in D"
    );
    let r = run_with(
        &["hung", "--window", "300ms", "--json"],
        &[],
        Duration::from_secs(10),
    );
    let v = r.json();
    let files: Vec<&serde_json::Value> = v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| {
            g["tasks"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["pid"] == reader.pid())
        })
        .flat_map(|g| g["files"].as_array().unwrap())
        .collect();
    // (Readers of other tests' mounts may share the group.)
    let ours = files
        .iter()
        .find(|f| f["what"] == file.to_str().unwrap())
        .unwrap_or_else(|| panic!("no raw path among {files:#?}"));
    assert_eq!(ours["mount_point"], dir.to_str().unwrap(), "{v:#}");
    // The text output escapes them.
    let r = run_with(&["hung", "--window", "300ms"], &[], Duration::from_secs(10));
    assert_terminal_safe(&r.out());
    assert!(r.out().contains("x\\e[31m\\nred/hang"), "{}", r.out());
    drop(daemon);
    let _ = nix::mount::umount2(&dir, nix::mount::MntFlags::MNT_DETACH);
}

//! `procscope ps` against live processes with hostile names and arguments.

use crate::support::*;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::process::Command;

fn hex(b: &[u8]) -> String {
    b.iter().map(|c| format!("{c:02x}")).collect()
}

#[test]
fn hostile_comm_is_escaped_for_people_and_exact_in_json() {
    let cases: &[(&[u8], &str)] = &[
        (b") S 1 (x", ") S 1 (x"),
        (b"a\nb", "a\\nb"),
        (b"\x1b[31mRED", "\\e[31mRED"),
        (b"bad\xff\xfe", "bad\\xff\\xfe"),
        (b"tab\there", "tab\\there"),
        (b"back\\slash", "back\\\\slash"),
        ("rtl\u{202e}fdp".as_bytes(), "rtl\\u{202e}fdp"),
    ];
    for (name, shown) in cases {
        let t = start_kit(&["name", &hex(name)]);
        let r = run(&["ps", "-p", &t.pid_s(), "-o", "pid,comm,command"]);
        assert_eq!(r.status, 0);
        let out = r.out();
        assert_terminal_safe(&out);
        let row = out.lines().nth(1).unwrap();
        assert!(row.contains(&format!(" {shown} ")), "{name:?}: {row}");
        // The pattern matches the raw bytes, not the escaped text.
        let r = run(&["ps", "--json", "-p", &t.pid_s()]);
        let comm = &r.json()["processes"][0]["comm"];
        match std::str::from_utf8(name) {
            Ok(s) => assert_eq!(comm, s),
            Err(_) => {
                use base64::Engine as _;
                let b = base64::engine::general_purpose::STANDARD.encode(name);
                assert_eq!(comm["base64"], b);
            }
        }
    }
}

#[test]
fn hostile_argv_round_trips_through_json_and_is_safe_on_a_terminal() {
    let big = "A".repeat(100_000);
    let args: Vec<&[u8]> = vec![
        b"sleep",
        b"",
        b"line1\nline2",
        b"\xff\xfe",
        b"it's \"quoted\"",
        b"\x1b]0;title\x07",
        "\u{202e}evil".as_bytes(),
        b"\xc2\x9b31m",
        big.as_bytes(),
        b"",
    ];
    let mut c = Command::new(testkit());
    c.arg0("/usr/local/bin/hostile \x1b[2J");
    for a in &args {
        c.arg(OsStr::from_bytes(a));
    }
    let t = start(c);
    let pid = t.pid_s();

    let r = run(&["ps", "--json", "-p", &pid]);
    let v = r.json();
    let got = v["processes"][0]["cmdline"].as_array().unwrap().clone();
    assert_eq!(got.len(), args.len() + 1);
    assert_eq!(got[0], "/usr/local/bin/hostile \x1b[2J");
    for (g, want) in got[1..].iter().zip(&args) {
        match std::str::from_utf8(want) {
            Ok(s) => assert_eq!(g, s),
            Err(_) => {
                use base64::Engine as _;
                assert_eq!(
                    g["base64"],
                    base64::engine::general_purpose::STANDARD.encode(want)
                );
            }
        }
    }
    assert_eq!(v["processes"][0]["cmdline_shape"], "argv");

    // Human output: every hostile byte escaped, empty arguments visible.
    let r = run(&["ps", "-w", "-p", &pid, "-o", "command"]);
    let out = r.out();
    assert_terminal_safe(&out);
    let line = out.lines().nth(1).unwrap();
    let prefix = "/usr/local/bin/hostile \\e[2J sleep '' line1\\nline2 \\xff\\xfe it's \"quoted\" \\e]0;title\\x07 \\u{202e}evil \\u{9b}31m ";
    assert_eq!(line, format!("{prefix}{big} ''"));

    // Cut to the terminal's width when COLUMNS says so.
    let r = run_with(
        &["ps", "-p", &pid],
        &[("COLUMNS", "100")],
        std::time::Duration::from_secs(10),
    );
    for l in r.out().lines() {
        assert!(l.chars().count() <= 100, "{l}");
    }
    assert!(r.out().lines().nth(1).unwrap().ends_with('…'));

    // -f matches the raw bytes of the joined arguments. (--ppid keeps the
    // other tests' hostile processes, running in parallel, out.)
    let me = std::process::id().to_string();
    let r = run(&["ps", "-f", "--pids", "--ppid", &me, "(?s)line1\nline2 "]);
    assert_eq!(r.out().trim(), pid);
    let r = run(&[
        "ps",
        "-f",
        "--pids",
        "--ppid",
        &me,
        "-x",
        "(?s-u)/usr/local/bin/hostile \\x1b\\[2J sleep  line1.*",
    ]);
    assert_eq!(r.out().trim(), pid);
}

#[test]
fn threads_tree_sort_and_selection() {
    // A named process with three named threads.
    let t = start_kit(&["name", &hex(b"psc-threads"), "3"]);
    let pid = t.pid_s();
    let r = run(&["ps", "--threads", "-p", &pid, "-o", "pid,tid,comm"]);
    let out = r.out();
    let comms: Vec<&str> = out
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().last().unwrap())
        .collect();
    let mut sorted = comms.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        vec![
            "psc-threads",
            "psc-threads-0",
            "psc-threads-1",
            "psc-threads-2"
        ],
        "{out}"
    );
    assert!(
        out.lines()
            .nth(1)
            .unwrap()
            .starts_with(&format!("{pid:>w$} {pid:>w$} ", w = pid.len())),
        "{out}"
    );

    // pgrep semantics: -x exact on comm; regex otherwise; never ourselves.
    let r = run(&["ps", "--pids", "-x", "psc-threads"]);
    assert_eq!(r.out().trim(), pid);
    let r = run(&["ps", "--pids", "-x", "psc-thread"]);
    assert_eq!((r.status, r.out()), (1, String::new()));
    let r = run(&["ps", "--pids", "-i", "PSC-THR"]);
    assert_eq!(r.out().trim(), pid);
    // Other tests may run procscope at the same time: check by our own PID.
    let child = Command::new(procscope())
        .args(["ps", "--pids", "procscope$"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let own = child.id().to_string();
    let o = child.wait_with_output().unwrap();
    let listed = String::from_utf8(o.stdout).unwrap();
    assert!(
        !listed.lines().any(|l| l == own),
        "procscope matched itself ({own}): {listed}"
    );

    // A parent and child: the forest draws the child under the parent.
    let kit = testkit();
    let mut c = Command::new("sh");
    c.arg("-c").arg(format!(
        "'{}' sleep >/dev/null & exec '{}' sleep",
        kit.display(),
        kit.display()
    ));
    let parent = start(c);
    let me = std::process::id().to_string();
    let mut child_pid = String::new();
    for _ in 0..100 {
        let r = run(&["ps", "--pids", "--ppid", &parent.pid_s()]);
        if r.status == 0 {
            child_pid = r.out().trim().to_string();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(!child_pid.is_empty());
    let r = run(&["ps", "--tree", "--children-of", &me, "-o", "pid,comm"]);
    let out = r.out();
    let lines: Vec<&str> = out.lines().collect();
    let pi = lines
        .iter()
        .position(|l| {
            l.trim_start()
                .starts_with(&format!("{} procscope-testk", parent.pid_s()))
        })
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        lines[pi + 1]
            .trim_start()
            .starts_with(&format!("{child_pid}  └─ procscope-testk")),
        "{out}"
    );
    kill(child_pid.parse().unwrap());

    // --user by name and by number select the same processes.
    let by_name = run(&["ps", "--pids", "-u", "root", "-p", &pid]);
    let by_uid = run(&["ps", "--pids", "-u", "0", "-p", &pid]);
    assert_eq!(by_name.out(), by_uid.out());
    assert_eq!(by_name.out().trim(), pid);

    // --sort=-rss in JSON: non-increasing.
    let v = run(&["ps", "--json", "--sort=-rss"]).json();
    let rss: Vec<u64> = v["processes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["rss_bytes"].as_u64())
        .collect();
    assert!(rss.len() > 5);
    assert!(rss.windows(2).all(|w| w[0] >= w[1]), "{rss:?}");
}

#[test]
fn matches_the_procfs_crate_on_our_own_children() {
    let t = start_kit(&["name", &hex(b"oracle: a:b"), "2"]);
    // Every thread asleep first (a just-started thread may still run, and
    // the two reads below are not at the same instant).
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_secs(3) {
        let all_asleep = std::fs::read_dir(format!("/proc/{}/task", t.pid()))
            .unwrap()
            .flatten()
            .all(|e| {
                std::fs::read_to_string(e.path().join("stat"))
                    .unwrap_or_default()
                    .rsplit(')')
                    .next()
                    .is_some_and(|r| r.trim_start().starts_with('S'))
            });
        if all_asleep {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let v = run(&["ps", "--json", "-p", &t.pid_s()]).json();
    let p = &v["processes"][0];
    let oracle = procfs::process::Process::new(t.pid() as i32).unwrap();
    let st = oracle.stat().unwrap();
    assert_eq!(p["ppid"], st.ppid);
    assert_eq!(p["pgrp"], st.pgrp);
    assert_eq!(p["session"], st.session);
    assert_eq!(p["threads"], st.num_threads);
    assert_eq!(p["comm"], st.comm);
    assert_eq!(p["state"], st.state.to_string());
    assert_eq!(p["nice"], st.nice);
    assert_eq!(p["vsz_bytes"], st.vsize);
    let status = oracle.status().unwrap();
    assert_eq!(p["uid"], status.euid);
    let cmd = oracle.cmdline().unwrap();
    let ours: Vec<String> = p["cmdline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    assert_eq!(ours, cmd);
}

#[test]
fn hidepid_mounts_are_detected_and_said() {
    struct Unmount(tempfile::TempDir);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = nix::mount::umount2(self.0.path(), nix::mount::MntFlags::MNT_DETACH);
        }
    }
    let dir = tempfile::tempdir().unwrap();
    nix::mount::mount(
        Some("proc"),
        dir.path(),
        Some("proc"),
        nix::mount::MsFlags::empty(),
        Some("hidepid=invisible,subset=pid"),
    )
    .expect("mounting a private procfs (the tests run as root)");
    let m = Unmount(dir);
    let root = m.0.path().to_str().unwrap();

    // As nobody: only nobody's processes (procscope itself), and a warning
    // that says why. /proc/stat is hidden by subset=pid: times still work.
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(procscope())
        .args(["--proc-root", root, "ps", "-o", "pid,user,elapsed,comm"])
        .output()
        .expect("setpriv (util-linux)");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let rows: Vec<&str> = stdout.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{stdout}");
    assert!(rows[0].ends_with(" nobody   00:00 procscope"), "{stdout}");
    assert!(
        stderr.contains(&format!("{root} is mounted with hidepid=invisible,subset=pid: other users' processes are hidden from you; run as root")),
        "{stderr}"
    );

    // As root everything is visible and nothing is said.
    let r = run(&["--proc-root", root, "ps", "--pids"]);
    assert!(r.out().lines().count() > 5);
    assert_eq!(r.stderr, "");
}

#[test]
fn a_process_whose_leader_exited_is_alive_not_defunct() {
    let t = start_kit(&["leader-exit"]);
    let pid = t.pid_s();
    // The leader's own stat says Z; a live thread says S.
    let leader = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    assert!(leader.contains(") Z "), "{leader}");
    // The live thread prints `ready` just before it goes to sleep: wait
    // until it sleeps (on a busy host it can still be running).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let asleep = || {
        std::fs::read_dir(format!("/proc/{pid}/task"))
            .into_iter()
            .flatten()
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("stat")).ok())
            .any(|s| s.contains(") S "))
    };
    while !asleep() {
        assert!(
            std::time::Instant::now() < deadline,
            "the live thread never slept"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let r = run(&["ps", "-p", &pid, "-o", "pid,state,threads,command"]);
    let out = r.out();
    let row = out.lines().nth(1).unwrap();
    assert!(row.contains(" S   2 "), "{out}");
    assert!(row.ends_with("procscope-testkit leader-exit"), "{out}");
    let v = run(&["ps", "--json", "-p", &pid]).json();
    assert_eq!(v["processes"][0]["leader_exited"], true);
    assert_eq!(v["processes"][0]["cmdline"][1], "leader-exit");
    // Not a zombie for --state either.
    assert_eq!(run(&["ps", "--state", "Z", "-p", &pid]).status, 1);
}

#[test]
fn sort_takes_a_descending_key_as_the_next_word() {
    // `--sort -rss` (as ps users type it) and `--sort=-rss` are the same.
    let t = start_kit(&["sleep"]);
    let pids = format!("1,{}", t.pid_s());
    for args in [
        &["ps", "--pids", "-p", &pids, "--sort", "-pid"][..],
        &["ps", "--pids", "-p", &pids, "--sort=-pid"],
    ] {
        let r = run(args);
        assert_eq!(r.status, 0, "{args:?}: {}", r.stderr);
        assert_eq!(r.out(), format!("{}\n1\n", t.pid_s()), "{args:?}");
    }
    for args in [
        &["ps", "--json", "--sort", "-rss"][..],
        &["ps", "--json", "--sort=-rss"],
    ] {
        let r = run(args);
        assert_eq!(r.status, 0, "{args:?}: {}", r.stderr);
        let rss: Vec<u64> = r.json()["processes"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["rss_bytes"].as_u64())
            .collect();
        assert!(rss.len() > 5, "{args:?}");
        assert!(rss.windows(2).all(|w| w[0] >= w[1]), "{args:?}: {rss:?}");
    }
    // A key that is not one is still a usage error, with either form.
    let r = run(&["ps", "--sort", "-bogus"]);
    assert_eq!(r.status, 2, "{}", r.stderr);
}

#[test]
fn pri_priority_and_nice_mean_what_procps_says() {
    // One normal, one niced, one real-time, one idle and one batch task.
    let kit = testkit();
    let wrap = |pre: &[&str]| {
        let mut c = Command::new(pre[0]);
        c.args(&pre[1..]).arg(&kit).arg("sleep");
        start(c)
    };
    let targets = [
        start_kit(&["sleep"]),
        wrap(&["nice", "-n", "7"]),
        wrap(&["chrt", "-f", "50"]),
        wrap(&["chrt", "-i", "0"]),
        wrap(&["chrt", "-b", "0"]),
    ];
    let pids: Vec<String> = targets.iter().map(Target::pid_s).collect();
    let list = pids.join(",");
    let o = Command::new("ps")
        .args(["-o", "pid=,pri=,priority=,ni=", "-p", &list])
        .output()
        .expect("procps ps");
    let procps = String::from_utf8(o.stdout).unwrap();
    let r = run(&[
        "ps",
        "--no-header",
        "-o",
        "pid,pri,priority,nice",
        "-p",
        &list,
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let words = |s: &str| -> Vec<Vec<String>> {
        let mut v: Vec<Vec<String>> = s
            .lines()
            .map(|l| l.split_whitespace().map(str::to_string).collect())
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        words(&r.out()),
        words(&procps),
        "procscope:\n{}procps:\n{procps}",
        r.out()
    );
    assert_eq!(words(&procps).len(), 5, "{procps}");
    // The headers say which is which.
    let r = run(&["ps", "-o", "pri,priority,nice", "-p", &pids[2]]);
    let out = r.out();
    let mut lines = out.lines();
    assert_eq!(
        lines.next().unwrap().split_whitespace().collect::<Vec<_>>(),
        ["PRI", "PRIORITY", "NI"]
    );
    // Real-time priority 50: pri 90, the kernel's -51, no nice.
    assert_eq!(
        lines.next().unwrap().split_whitespace().collect::<Vec<_>>(),
        ["90", "-51", "-"]
    );
    // JSON keeps the kernel's numbers, with names beside them.
    let v = run(&["ps", "--json", "-p", &pids[2]]).json();
    let p = &v["processes"][0];
    assert_eq!(
        (
            &p["priority"],
            &p["pri"],
            &p["nice"],
            &p["policy"],
            &p["policy_name"]
        ),
        (
            &serde_json::json!(-51),
            &serde_json::json!(90),
            &serde_json::json!(0),
            &serde_json::json!(1),
            &serde_json::json!("SCHED_FIFO")
        )
    );
    // --sort -pri: the real-time task first.
    let r = run(&["ps", "--pids", "--sort", "-pri", "-p", &list]);
    assert_eq!(
        r.out().lines().next(),
        Some(pids[2].as_str()),
        "{}",
        r.out()
    );
}

//! `procscope stack` on threads in known states.

use crate::support::*;
use std::process::Command;
use std::time::Duration;

#[test]
fn threads_are_grouped_by_state_syscall_and_stack() {
    let t = start_kit(&["threads"]);
    let v = run(&["stack", "--json", &t.pid_s()]).json();
    let p = &v["processes"][0];
    assert_eq!(p["threads"], 12, "{p}");
    assert_eq!(p["abi"], "x86_64");
    let g = p["groups"].as_array().unwrap();
    // 8 waiters on one condition variable (futex), then the 3 sleepers with
    // the main thread (all in clock_nanosleep, same kernel stack).
    assert_eq!(g.len(), 2, "{p:#}");
    assert_eq!(g[0]["count"], 8);
    assert!(
        g[0]["names"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n.as_str().unwrap().starts_with("waiter-"))
    );
    assert_eq!(g[0]["state"], "S");
    assert_eq!(g[0]["syscall"]["name"], "futex");
    assert!(
        g[0]["stack"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["symbol"].as_str().unwrap().contains("futex")),
        "{:#}",
        g[0]
    );
    // All 8 wait on the one condition variable: one futex address, decoded.
    assert_eq!(g[0]["futexes"].as_array().unwrap().len(), 1, "{:#}", g[0]);
    assert_eq!(g[0]["futexes"][0]["threads"], 8);
    let call = g[0]["syscall"]["call"].as_str().unwrap();
    assert_eq!(
        call,
        format!(
            "futex({:#x}, FUTEX_WAIT_BITSET_PRIVATE)",
            g[0]["futexes"][0]["addr"].as_u64().unwrap()
        )
    );
    assert_eq!(g[1]["count"], 4);
    assert_eq!(g[1]["syscall"]["name"], "clock_nanosleep");
    // The sleepers asked for an hour (std's sleep): the timespec is read
    // from their memory, so the group says when the first one wakes.
    let wakes = g[1]["wakes_in_ms"].as_i64().unwrap();
    assert!(wakes > 3_500_000 && wakes <= 3_600_000, "{wakes}");
    assert_eq!(
        g[1]["syscall"]["call"],
        "clock_nanosleep(CLOCK_MONOTONIC, relative)"
    );
    assert_eq!(g[1]["tids"][0], t.pid());

    // --no-group: one block per thread.
    let v = run(&["stack", "--json", "--no-group", &t.pid_s()]).json();
    assert_eq!(v["processes"][0]["groups"].as_array().unwrap().len(), 12);

    // People: the group lines.
    let out = run(&["stack", &t.pid_s()]).out();
    assert_terminal_safe(&out);
    // (" for Ns" follows once the threads have slept a second or more.)
    assert!(out.contains("  8 × S (sleeping) in futex "), "{out}");
    assert!(
        out.contains("  4 × S (sleeping) in clock_nanosleep "),
        "{out}"
    );
    assert!(out.contains("      syscall futex(0x"), "{out}");
    // 59 min and some seconds, or 60 min when the threads started less
    // than half a minute ago.
    assert!(
        (out.contains("      wakes   in 5") || out.contains("      wakes   in 60 min"))
            && out.contains("(asked for 60 min)"),
        "{out}"
    );
}

#[test]
fn a_vfork_parent_in_d_state_shows_its_syscall_and_frames() {
    let t = start_kit(&["vfork-d", "60"]);
    assert!(wait_all_threads(t.pid(), 'D', Duration::from_secs(5)));
    let v = run(&["stack", "--json", &t.pid_s()]).json();
    let g = &v["processes"][0]["groups"][0];
    assert_eq!(g["state"], "D");
    // The testkit vforks with clone(CLONE_VM | CLONE_VFORK) on its own stack.
    assert_eq!(g["syscall"]["name"], "clone");
    let frames: Vec<&str> = g["stack"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["symbol"].as_str().unwrap())
        .collect();
    assert!(frames.contains(&"kernel_clone"), "{frames:?}");
    // The child sleeps; kill it too.
    let r = run(&["ps", "--pids", "--ppid", &t.pid_s()]);
    if let Ok(c) = r.out().trim().parse::<u32>() {
        kill(c);
    }
}

#[test]
fn without_privileges_everything_else_is_shown_and_the_missing_part_is_named() {
    let t = start_kit(&["sleep"]);
    let o = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(procscope())
        .args(["stack", &t.pid_s()])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    // Neither system calls nor kernel stacks could be read: exit 2, with
    // what could be read still shown.
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(out.contains("1 × S (sleeping) in ?(denied)"), "{out}");
    // The state still comes through; wchan reads as 0 without ptrace
    // rights (proc_pid_wchan()), and the ABI needs the exe link.
    assert!(
        out.contains("ABI unknown: denied: needs the same user as the process or CAP_SYS_PTRACE"),
        "{out}"
    );
    assert!(
        err.contains("kernel stacks: denied: needs CAP_SYS_ADMIN: run with sudo"),
        "{err}"
    );
    assert!(
        err.contains("system calls: denied: needs ptrace rights over the process"),
        "{err}"
    );
}

#[test]
fn kernel_threads_make_no_system_calls() {
    // kthreadd: its `syscall` file reads "0 0x0 …", which is not read(2).
    let v = run(&["stack", "--json", "2"]).json();
    let p = &v["processes"][0];
    assert_eq!(p["comm"], "kthreadd");
    assert_eq!(p["abi"]["error"]["reason"], "absent");
    assert_eq!(p["groups"][0]["syscall"]["error"]["reason"], "absent");
    let out = run(&["stack", "2"]).out();
    assert!(
        out.contains("kernel thread") && out.contains("in the kernel"),
        "{out}"
    );
    assert!(!out.contains("syscall_0"), "{out}");
    let w = run(&["why", "--json", "2"]).json();
    let g = &w["processes"][0]["processes"][0]["groups"][0];
    assert_eq!(g["wait"]["kind"], "kernel", "{g}");
}

#[test]
fn a_zombie_says_it_exited() {
    let t = start_kit(&["zombie"]);
    let kids = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", t.pid())).unwrap();
    let z = kids
        .split_whitespace()
        .next()
        .expect("the zombie")
        .to_string();
    let out = run(&["stack", &z]).out();
    assert!(out.contains(": 1 thread, zombie"), "{out}");
    assert!(out.contains("Z (zombie) in nothing (it exited)"), "{out}");
    assert!(
        out.contains("(exited: waiting for its parent to reap it)"),
        "{out}"
    );
    assert!(!out.contains("user space"), "{out}");
    let v = run(&["why", "--json", &z]).json();
    let g = &v["processes"][0]["processes"][0]["groups"][0];
    assert_eq!(g["wait"]["kind"], "zombie", "{g}");
}

#[test]
fn poll_select_and_epoll_calls_show_their_fds_and_timeouts() {
    let t = start_kit(&["waits"]);
    let pid = t.pid_s();
    // The call of each named thread, once all are in them.
    let calls = |v: &serde_json::Value| -> Vec<(String, String)> {
        v["processes"][0]["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                (
                    g["names"][0].as_str().unwrap_or("").to_string(),
                    g["syscall"]["call"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    };
    let mut v = serde_json::Value::Null;
    for _ in 0..100 {
        v = run(&["stack", "--json", "--no-group", &pid]).json();
        if calls(&v)
            .iter()
            .filter(|(n, c)| n.starts_with("t-") && c.contains("fd "))
            .count()
            == 6
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let call = |name: &str| -> String {
        calls(&v)
            .into_iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no thread {name}: {v:#}"))
            .1
    };
    let poll = call("t-poll");
    assert!(
        poll.starts_with("poll(fd 40 POLLIN → pipe:[")
            && poll.contains(" read end")
            && poll.contains(", fd 41 POLLIN|POLLPRI → eventfd")
            && poll.ends_with(", timeout 60 min)"),
        "{poll}"
    );
    let ppoll = call("t-ppoll");
    assert!(
        ppoll.starts_with("ppoll(fd 42 POLLIN → pipe:[") && ppoll.ends_with(", timeout 30 min)"),
        "{ppoll}"
    );
    let select = call("t-select");
    assert!(
        select.starts_with("select(read fd 43 → pipe:[") && select.ends_with(", timeout 15 min)"),
        "{select}"
    );
    let pselect = call("t-pselect6");
    assert!(
        pselect.starts_with("pselect6(read fd 43 → pipe:[") && pselect.ends_with(", no timeout)"),
        "{pselect}"
    );
    let ep = call("t-epwait");
    assert!(
        ep.starts_with("epoll_wait(fd 44 → epoll watching fd 40 pipe:[")
            && ep.ends_with(", no timeout)"),
        "{ep}"
    );
    let ep2 = call("t-epwait2");
    assert!(
        ep2.starts_with("epoll_pwait2(fd 44 → epoll watching fd 40 pipe:[")
            && ep2.ends_with(", timeout 60.0 s)"),
        "{ep2}"
    );
    // JSON: what was read from memory, numbers with their names.
    let g = v["processes"][0]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["names"][0] == "t-poll")
        .unwrap();
    assert_eq!(
        g["syscall"]["memory"]["polled"],
        serde_json::json!([
            {"fd": 40, "events": 1, "event_names": "POLLIN"},
            {"fd": 41, "events": 3, "event_names": "POLLIN|POLLPRI"}
        ])
    );
    let g = v["processes"][0]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["names"][0] == "t-ppoll")
        .unwrap();
    assert_eq!(
        g["syscall"]["memory"]["timeout"],
        serde_json::json!({"kind": "after", "ns": 1_800_000_000_000u64})
    );

    // why decodes the same calls, each fd resolved (one thread's view).
    let w = run(&["why", "--json", &pid]).json();
    let groups = w["processes"][0]["processes"][0]["groups"]
        .as_array()
        .unwrap()
        .clone();
    let why_calls: Vec<&str> = groups.iter().filter_map(|g| g["call"].as_str()).collect();
    for want in [
        "poll(fd 40 POLLIN → pipe:[",
        "select(read fd 43 → pipe:[",
        "epoll_wait(fd 44 → epoll watching fd 40 pipe:[",
    ] {
        assert!(
            why_calls.iter().any(|c| c.starts_with(want)),
            "{want} not in {why_calls:#?}"
        );
    }
    // People: the text says the same.
    let out = run(&["stack", "--no-group", &pid]).out();
    assert_terminal_safe(&out);
    assert!(
        out.contains("      syscall ppoll(fd 42 POLLIN → pipe:["),
        "{out}"
    );
}

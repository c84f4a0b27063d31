//! One rule for every command: 0 found, 1 nothing matched, 2 an error or
//! nothing readable — always with a message that says what to do.

use crate::support::*;
use std::process::Command;

/// procscope as nobody (uid 65534).
fn as_nobody(args: &[&str]) -> (i32, String, String) {
    let o = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(procscope())
        .args(args)
        .output()
        .expect("setpriv (util-linux)");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn nothing_readable_is_an_error_with_a_hint() {
    // A root process, looked at by nobody: its fds, system calls and
    // kernel stacks are all refused.
    let t = start_kit(&["sleep"]);
    let pid = t.pid_s();
    for cmd in [&["fds", pid.as_str()][..], &["stack", &pid], &["why", &pid]] {
        let (code, out, err) = as_nobody(cmd);
        assert_eq!(code, 2, "{cmd:?}: {out}{err}");
        let all = format!("{out}{err}");
        assert!(all.contains("denied"), "{cmd:?}: {all}");
        assert!(
            all.contains("sudo") || all.contains("same user"),
            "{cmd:?}: {all}"
        );
    }
}

#[test]
fn a_host_wide_listing_says_what_it_could_not_read() {
    let _t = start_kit(&["sleep"]);
    let (code, _out, err) = as_nobody(&["fds", "--all"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("not listed") && err.contains("denied"),
        "{err}"
    );
    let (_, out, _) = as_nobody(&["fds", "--all", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let unreadable = v["unreadable"].as_array().unwrap();
    assert!(!unreadable.is_empty());
    assert_eq!(
        unreadable[0]["error"]["reason"], "denied",
        "{:#}",
        unreadable[0]
    );
}

#[test]
fn nothing_matched_is_one_and_says_so() {
    let t = start_kit(&["exec", "1", "413d31", "78", "736c656570"]);
    let pid = t.pid_s();
    for cmd in [
        &["env", pid.as_str(), "NOPE"][..],
        &["fds", &pid, "99999"],
        &["ps", "-x", "no-such-process-name"],
    ] {
        let r = run(cmd);
        assert_eq!(r.status, 1, "{cmd:?}: {}{}", r.out(), r.stderr);
        assert!(!r.stderr.is_empty(), "{cmd:?}: silent");
    }
    let r = run(&["env", &pid, "A"]);
    assert_eq!((r.status, r.out()), (0, "A=1\n".to_string()));
}

#[test]
fn a_number_is_always_a_pid() {
    for (target, want) in [("0", "PIDs start at 1"), ("99999999999", "not a PID")] {
        for cmd in ["show", "cmdline", "fds", "stack"] {
            let r = run(&[cmd, target]);
            assert_eq!(r.status, 2, "{cmd} {target}: {}", r.out());
            assert!(r.stderr.contains(want), "{cmd} {target}: {}", r.stderr);
            assert!(r.out().is_empty(), "{cmd} {target}: {}", r.out());
        }
    }
}

#[test]
fn who_has_says_which_processes_it_could_not_look_into() {
    let _t = start_kit(&["sleep"]);
    let (code, _out, err) = as_nobody(&["who-has", "--deleted"]);
    assert!(code == 0 || code == 1, "{err}");
    assert!(
        err.contains("could not be read, so") && err.contains("denied"),
        "{err}"
    );
    let (_, out, _) = as_nobody(&["who-has", "--json", "/usr/bin/env"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(!v["unreadable"].as_array().unwrap().is_empty(), "{v:#}");
    // Kernel threads have no fds: not counted as unreadable.
    let kthreadd_listed = v["unreadable"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["pid"] == 2);
    assert!(!kthreadd_listed, "{v:#}");
}

#[test]
fn an_empty_target_is_an_error_not_every_process() {
    for cmd in ["show", "env", "repro", "cmdline", "fds", "stack", "why"] {
        let r = run(&[cmd, ""]);
        assert_eq!(r.status, 2, "{cmd}: {}", r.out());
        assert!(r.out().is_empty(), "{cmd}: {}", r.out());
        assert!(r.stderr.contains("empty TARGET"), "{cmd}: {}", r.stderr);
    }
}

#[test]
fn a_focused_command_that_can_read_nothing_exits_two() {
    let t = start_kit(&["sleep"]);
    let (code, out, err) = as_nobody(&["maps", &t.pid_s()]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(format!("{out}{err}").contains("denied"), "{out}{err}");
}

//! A process's facts as a whole: RSS as the kernel's exact counters give
//! it, and a state that accounts for every thread.

use crate::support::*;
use std::time::{Duration, Instant};

fn vm_rss_bytes(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = s
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .unwrap()
        .trim()
        .trim_end_matches(" kB")
        .trim()
        .parse()
        .unwrap();
    kb * 1024
}

#[test]
fn ps_rss_is_status_vmrss_not_the_approximate_stat_field() {
    // stat's field 24 is a per-CPU approximation since Linux 6.2; VmRSS is
    // the exact sum. Idle processes keep both steady, so they must match
    // VmRSS exactly, for each of a few (most differ from field 24).
    let kids: Vec<Target> = (0..4).map(|_| start_kit(&["sleep"])).collect();
    std::thread::sleep(Duration::from_millis(200));
    for t in &kids {
        let pid = t.pid_s();
        let want = vm_rss_bytes(t.pid());
        let v = run(&["ps", "--json", "-p", &pid]).json();
        assert_eq!(v["processes"][0]["rss_bytes"], want, "PID {pid}");
        let v = run(&["show", "--json", &pid, "-s", "memory"]).json();
        let doc = v.to_string();
        assert!(
            doc.contains(&want.to_string()),
            "show disagrees with VmRSS {want}: {doc}"
        );
        let text = run(&["ps", "-p", &pid, "-o", "pid,rss"]).out();
        let kib = text
            .lines()
            .nth(1)
            .unwrap()
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_string();
        assert!(!kib.is_empty(), "{text}");
    }
}

#[test]
fn a_process_whose_other_thread_is_in_d_is_a_d_process() {
    let fuse = HungFuse::mount();
    let t = start_kit(&["thread-read-hang", fuse.hang_file().to_str().unwrap()]);
    let pid = t.pid_s();
    // Wait for the reader thread (not the main thread) to reach D.
    let start = Instant::now();
    let reader_in_d = || {
        std::fs::read_dir(format!("/proc/{pid}/task"))
            .unwrap()
            .flatten()
            .any(|e| {
                let s = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
                s.rsplit(')')
                    .next()
                    .is_some_and(|r| r.trim_start().starts_with('D'))
            })
    };
    while !reader_in_d() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "reader thread not in D"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let leader_sleeps = || {
        let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        s.rsplit(')').next().unwrap().trim_start().starts_with('S')
    };
    while !leader_sleeps() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "precondition: the leader sleeps"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // ps --state D selects it, and says D with one blocked thread.
    let r = run(&["ps", "--state", "D", "--pids"]);
    assert!(r.out().lines().any(|l| l == pid), "{}", r.out());
    let v = run(&["ps", "--json", "-p", &pid]).json();
    assert_eq!(v["processes"][0]["state"], "D");
    assert_eq!(v["processes"][0]["blocked_threads"], 1);
    // show's state section says so too.
    let v = run(&["show", "--json", &pid, "-s", "state"]).json();
    let doc = v.to_string();
    assert!(doc.contains("\"state\":\"D\""), "{doc}");
    // With --threads each thread keeps its own state.
    let v = run(&["ps", "--json", "--threads", "-p", &pid]).json();
    let states: Vec<String> = v["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["state"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(states.len(), 2, "{v:#}");
    assert!(
        states.contains(&"D".to_string()) && states.contains(&"S".to_string()),
        "{states:?}"
    );
    drop(fuse);
}

#[test]
fn limits_of_every_process_reads_the_host_once_not_once_per_process() {
    // The nproc usage row counts the threads of the user's processes, and
    // the locks row counts /proc/locks entries: both are host-wide. With
    // N processes, `limits '.*'` must open O(N) files, not O(N²).
    let kids: Vec<Target> = (0..150).map(|_| start_kit(&["sleep"])).collect();
    let n = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .count();
    let trace = tempfile::NamedTempFile::new().unwrap();
    let o = std::process::Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=openat", "-o"])
        .arg(trace.path())
        .arg(procscope())
        .args(["limits", ".*"])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("strace (scripts/test.sh installs it)");
    assert!(o.success());
    let opens = std::fs::read_to_string(trace.path())
        .unwrap()
        .lines()
        .count();
    assert!(
        opens < 20 * n,
        "{opens} files opened for {n} processes: the host is rescanned per process"
    );
    drop(kids);
}

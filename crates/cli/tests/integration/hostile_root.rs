//! Crafted proc roots are hostile input: a FIFO, a device or a symlink in
//! place of any file must never block procscope (a FIFO's open or read
//! waits forever for a writer), and every command must finish and say
//! what it could not read.

use crate::support::*;
use std::fs;
use std::path::Path;
use std::time::Duration;

const PID: i32 = 7;

fn stat_line(pid: i32, state: char) -> String {
    format!(
        "{pid} (victim) {state} 1 {pid} {pid} 0 -1 4194560 0 0 0 0 10 5 0 0 20 0 2 0 500 10485760 100 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
    )
}

/// A whole proc tree for one process (PID 7, two threads) and PID 1, with
/// every file the commands read.
fn tree(r: &Path) {
    let w = |p: &str, b: &[u8]| {
        let p = r.join(p);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, b).unwrap();
    };
    w("stat", b"cpu  1 2 3 4 5 6 7 0 0 0\nbtime 1700000000\nprocesses 9\nprocs_running 1\nprocs_blocked 0\n");
    w("uptime", b"1000.00 1900.00\n");
    w("loadavg", b"0.00 0.01 0.05 1/90 100\n");
    w("meminfo", b"MemTotal: 1000 kB\nMemAvailable: 500 kB\n");
    w("locks", b"1: FLOCK  ADVISORY  WRITE 7 00:1a:42 0 EOF\n");
    w("sys/kernel/cap_last_cap", b"40\n");
    w("sys/kernel/pid_max", b"4194304\n");
    w(
        "net/unix",
        b"Num       RefCount Protocol Flags    Type St Inode Path\n",
    );
    w("net/tcp", b"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n");
    for pid in [1, PID] {
        let d = format!("{pid}");
        w(&format!("{d}/stat"), stat_line(pid, 'S').as_bytes());
        w(&format!("{d}/status"), b"Name:\tvictim\nState:\tS (sleeping)\nTgid:\t7\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nThreads:\t2\nVmRSS:\t400 kB\nSigBlk:\t0000000000000000\nCapEff:\t0000000000000000\n");
        w(&format!("{d}/comm"), b"victim\n");
        w(&format!("{d}/cmdline"), b"/bin/victim\0--flag\0");
        w(&format!("{d}/environ"), b"A=1\0B=2\0");
        w(&format!("{d}/io"), b"rchar: 1\nwchar: 2\nsyscr: 3\nsyscw: 4\nread_bytes: 0\nwrite_bytes: 0\ncancelled_write_bytes: 0\n");
        w(&format!("{d}/limits"), b"Limit                     Soft Limit           Hard Limit           Units     \nMax open files            1024                 4096                 files     \n");
        w(&format!("{d}/cgroup"), b"0::/system.slice/victim.service\n");
        w(
            &format!("{d}/mountinfo"),
            b"1 0 8:1 / / rw - ext4 /dev/sda1 rw\n",
        );
        w(
            &format!("{d}/maps"),
            b"00400000-00401000 r-xp 00000000 08:01 42 /bin/victim\n",
        );
        w(
            &format!("{d}/smaps_rollup"),
            b"00400000-00401000 ---p 00000000 00:00 0 [rollup]\nRss: 400 kB\nPss: 400 kB\n",
        );
        w(&format!("{d}/wchan"), b"do_select");
        w(
            &format!("{d}/syscall"),
            b"7 0x3 0x0 0x0 0x0 0x0 0x0 0x7ffd 0x7f00\n",
        );
        w(&format!("{d}/stack"), b"[<0>] do_select+0x1/0x2\n");
        w(
            &format!("{d}/fdinfo/3"),
            b"pos:\t0\nflags:\t02\nmnt_id:\t1\nino:\t42\n",
        );
        w(&format!("{d}/oom_score"), b"0\n");
        w(&format!("{d}/oom_score_adj"), b"0\n");
        for tid in [pid, pid + 1] {
            let t = format!("{d}/task/{tid}");
            w(&format!("{t}/stat"), stat_line(tid, 'S').as_bytes());
            w(
                &format!("{t}/status"),
                b"Name:\tvictim\nState:\tS (sleeping)\n",
            );
            w(&format!("{t}/comm"), b"victim\n");
            w(&format!("{t}/wchan"), b"do_select");
            w(
                &format!("{t}/syscall"),
                b"7 0x3 0x0 0x0 0x0 0x0 0x0 0x7ffd 0x7f00\n",
            );
            w(&format!("{t}/stack"), b"[<0>] do_select+0x1/0x2\n");
        }
        fs::create_dir_all(r.join(format!("{d}/fd"))).unwrap();
        std::os::unix::fs::symlink("/tmp/victim.log", r.join(format!("{d}/fd/3"))).unwrap();
    }
}

fn mkfifo(p: &Path) {
    let _ = fs::remove_file(p);
    nix::unistd::mkfifo(p, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
}

/// Every command that reads a fixture, with a short deadline.
const COMMANDS: &[&[&str]] = &[
    &["ps"],
    &["ps", "--threads"],
    &["ps", "-f", "victim"],
    &["cmdline", "7"],
    &["env", "7"],
    &["repro", "7"],
    &["show", "7"],
    &["show", "--all", "7"],
    &["limits", "7"],
    &["maps", "-x", "7"],
    &["caps", "7"],
    &["signals", "7"],
    &["cgroup", "7"],
    &["mounts", "7"],
    &["fds", "7"],
    &["fds", "--all"],
    &["who-has", "--deleted"],
    &["who-has", "/tmp/victim.log"],
    &["stack", "7"],
    &["why", "7"],
];

#[test]
fn a_fifo_in_place_of_any_file_never_blocks_a_command() {
    let files = [
        "stat",
        "uptime",
        "locks",
        "loadavg",
        "meminfo",
        "sys/kernel/cap_last_cap",
        "net/unix",
        "7/stat",
        "7/status",
        "7/comm",
        "7/cmdline",
        "7/environ",
        "7/io",
        "7/limits",
        "7/cgroup",
        "7/mountinfo",
        "7/maps",
        "7/smaps_rollup",
        "7/wchan",
        "7/syscall",
        "7/stack",
        "7/fdinfo/3",
        "7/task/8/stat",
        "7/task/8/status",
        "7/task/8/stack",
        "1/mountinfo",
        "1/stat",
    ];
    let mut failures = Vec::new();
    for f in files {
        let t = tempfile::tempdir().unwrap();
        tree(t.path());
        mkfifo(&t.path().join(f));
        let root = t.path().to_str().unwrap();
        for cmd in COMMANDS {
            let mut args = vec!["--proc-root", root, "--timeout", "200ms"];
            args.extend_from_slice(cmd);
            let r = run_with(&args, &[], Duration::from_secs(10));
            if !(0..=2).contains(&r.status) || r.took > Duration::from_secs(3) {
                failures.push(format!(
                    "{f}: {cmd:?}: exit {} after {:?}: {}",
                    r.status, r.took, r.stderr
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn millions_of_empty_entries_are_cut_not_turned_into_millions_of_values() {
    let t = tempfile::tempdir().unwrap();
    tree(t.path());
    // 16 MiB of NULs: 16 M empty arguments and environment entries.
    let nuls = vec![0u8; 16 << 20];
    fs::write(t.path().join("7/cmdline"), &nuls).unwrap();
    fs::write(t.path().join("7/environ"), &nuls).unwrap();
    let root = t.path().to_str().unwrap();
    let v = run(&["--proc-root", root, "--json", "show", "7", "-s", "program"]).json();
    let cmd = &v["processes"][0]["program"]["cmdline"];
    assert_eq!(cmd["args"].as_array().unwrap().len(), 65536, "{cmd:#}");
    assert_eq!(cmd["truncated"], true);
    let v = run(&["--proc-root", root, "--json", "env", "7"]).json();
    let p = &v["processes"][0];
    assert_eq!(p["environ"].as_array().unwrap().len(), 65536);
    assert_eq!(p["truncated"], true);
    let r = run(&["--proc-root", root, "env", "7"]);
    assert!(r.out().contains("empty entries"), "{}", r.out());
    assert!(r.out().lines().count() < 10, "{}", r.out().lines().count());
    let r = run(&["--proc-root", root, "--json", "repro", "7"]);
    assert!(r.status == 0 || r.status == 2, "{}", r.stderr);
}

//! A tree's host files (`.host/etc/passwd`, `.host/sys/fs/cgroup/…`) are
//! the only host files a fixture is answered from: never the live host's.

use crate::support::*;
use std::fs;
use std::path::Path;

fn process(root: &Path, pid: i32, uid: u32, cgroup: &str) {
    let d = root.join(pid.to_string());
    fs::create_dir_all(&d).unwrap();
    fs::write(
        d.join("stat"),
        format!("{pid} (worker) S 1 {pid} {pid} 0 -1 4194560 0 0 0 0 100 50 0 0 20 0 1 0 500 10485760 100 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"),
    )
    .unwrap();
    fs::write(
        d.join("status"),
        format!("Name:\tworker\nState:\tS (sleeping)\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\nGid:\t{uid}\t{uid}\t{uid}\t{uid}\nThreads:\t1\n"),
    )
    .unwrap();
    fs::write(d.join("cmdline"), format!("worker\0{pid}\0")).unwrap();
    fs::write(d.join("cgroup"), cgroup).unwrap();
}

/// PID 1 runs as UID 4242, PID 2 as UID 0 (which every live host names
/// `root`).
fn tree() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    fs::write(r.join("stat"), "cpu  1 2 3 4\nbtime 1700000000\n").unwrap();
    fs::write(r.join("uptime"), "1000.00 1900.00\n").unwrap();
    process(r, 1, 4242, "0::/init.scope\n");
    process(r, 2, 0, "0::/system.slice/web.service\n");
    t
}

fn ps_users(root: &Path) -> Run {
    run(&[
        "--proc-root",
        root.to_str().unwrap(),
        "ps",
        "-o",
        "pid,user,command",
    ])
}

#[test]
fn users_are_named_from_the_trees_own_passwd() {
    let t = tree();
    host_users(
        t.path(),
        "fixtureuser:x:4242:4242::/home/f:/bin/sh\n",
        "fixturegroup:x:4242:\n",
    );
    let r = ps_users(t.path());
    assert_eq!(r.status, 0, "{}", r.stderr);
    // UID 0 is not in the tree's passwd: numeric, not the live host's root.
    assert_eq!(
        r.out(),
        "PID USER        COMMAND\n  1 fixtureuser worker 1\n  2 0           worker 2\n"
    );
    // -u looks names up in the tree too.
    let r = run(&[
        "--proc-root",
        t.path().to_str().unwrap(),
        "ps",
        "-u",
        "fixtureuser",
        "-o",
        "pid",
    ]);
    assert_eq!(
        (r.status, r.out().as_str()),
        (0, "PID\n  1\n"),
        "{}",
        r.stderr
    );
    let r = run(&[
        "--proc-root",
        t.path().to_str().unwrap(),
        "ps",
        "-u",
        "root",
    ]);
    assert_eq!(r.status, 2, "{}", r.out());
    assert!(r.stderr.contains("unknown user `root`"), "{}", r.stderr);
    // show names the user and group from the tree.
    let r = run(&[
        "--proc-root",
        t.path().to_str().unwrap(),
        "--color",
        "never",
        "show",
        "-s",
        "identity",
        "1",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let out = r.out();
    assert!(
        out.contains("  user           fixtureuser (4242) (real = effective = saved = fs)\n")
            && out
                .contains("  group          fixturegroup (4242) (real = effective = saved = fs)\n"),
        "{out}"
    );
}

#[test]
fn a_tree_without_host_files_shows_numeric_ids() {
    let t = tree();
    let r = ps_users(t.path());
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(
        r.out(),
        "PID USER COMMAND\n  1 4242 worker 1\n  2 0    worker 2\n"
    );
    let r = run(&[
        "--proc-root",
        t.path().to_str().unwrap(),
        "--json",
        "show",
        "-s",
        "identity",
        "2",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let id = &r.json()["processes"][0]["identity"];
    for (k, v) in [("uid", "real"), ("uid", "effective"), ("gid", "real")] {
        assert_eq!(id[k][v]["id"], 0, "{id}");
        assert!(id[k][v]["name"].is_null(), "{id}");
    }
}

#[test]
fn a_fifo_at_the_trees_passwd_is_never_opened() {
    let t = tree();
    fs::create_dir_all(t.path().join(".host/etc")).unwrap();
    for f in ["passwd", "group"] {
        rustix::fs::mknodat(
            rustix::fs::CWD,
            t.path().join(".host/etc").join(f),
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
    }
    // run() fails the test if procscope does not finish in time.
    let r = ps_users(t.path());
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(
        r.out(),
        "PID USER COMMAND\n  1 4242 worker 1\n  2 0    worker 2\n"
    );
    let r = run(&["--proc-root", t.path().to_str().unwrap(), "show", "1"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
}

/// The tree's own mount table puts cgroup2 at /sys/fs/cgroup; the limits
/// are the tree's `.host/sys/fs/cgroup/…` files.
#[test]
fn cgroup_limits_come_from_the_trees_cgroupfs() {
    let t = tree();
    let r = t.path();
    fs::create_dir_all(r.join("self")).unwrap();
    fs::write(
        r.join("self/mountinfo"),
        "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n35 22 0:30 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n",
    )
    .unwrap();
    let show = || {
        run(&[
            "--proc-root",
            r.to_str().unwrap(),
            "--color",
            "never",
            "cgroup",
            "2",
        ])
    };
    let lines = |out: String| -> Vec<String> {
        out.lines()
            .filter(|l| {
                ["  memory ", "  cpu ", "  tasks "]
                    .iter()
                    .any(|k| l.starts_with(k))
            })
            .map(str::to_string)
            .collect()
    };
    // The live host has a cgroupfs; this tree has none.
    let no = show();
    assert_eq!(no.status, 0, "{}", no.stderr);
    assert_eq!(
        lines(no.out()),
        [
            "  memory         ? not provided by this kernel: /sys/fs/cgroup/system.slice/web.service/memory.max: not in this tree (it has no .host/ directory)",
            "  cpu            ? not provided by this kernel: /sys/fs/cgroup/system.slice/web.service/cpu.max: not in this tree (it has no .host/ directory)",
            "  tasks          ? not provided by this kernel: /sys/fs/cgroup/system.slice/web.service/pids.max: not in this tree (it has no .host/ directory)",
        ]
    );
    let cg = r.join(".host/sys/fs/cgroup/system.slice/web.service");
    fs::create_dir_all(&cg).unwrap();
    for (f, v) in [
        ("memory.max", "536870912\n"),
        ("memory.current", "134217728\n"),
        ("cpu.max", "50000 100000\n"),
        ("pids.max", "max\n"),
        ("pids.current", "7\n"),
    ] {
        fs::write(cg.join(f), v).unwrap();
    }
    let yes = show();
    assert_eq!(yes.status, 0, "{}", yes.stderr);
    // 128 MiB of 512 MiB; 50 ms of CPU per 100 ms; pids.max "max".
    assert_eq!(
        lines(yes.out()),
        [
            "  memory         128M of 512M (25%)",
            "  cpu            0.50 CPUs (50000 µs per 100000 µs)",
            "  tasks          7 (no limit)",
        ]
    );
    let json = run(&["--proc-root", r.to_str().unwrap(), "--json", "cgroup", "2"]);
    let usage = &json.json()["processes"][0]["cgroup"]["usage"];
    assert_eq!(usage["memory_max"], 536870912u64, "{usage}");
    assert_eq!(usage["memory_current"], 134217728u64, "{usage}");
    assert_eq!(usage["cpu_max"]["quota_us"], 50000, "{usage}");
    assert_eq!(usage["cpu_max"]["period_us"], 100000, "{usage}");
    assert!(usage["pids_max"].is_null(), "{usage}");
    assert_eq!(usage["pids_current"], 7, "{usage}");
}

/// who-has resolves a typed path with the tree's own links: `/var/run` is
/// `/run` on this tree only when its `.host/` says so (the live host's
/// `/var/run` link is never read for a tree).
#[test]
fn who_has_resolves_paths_inside_the_tree() {
    let t = tree();
    let r = t.path();
    let d = r.join("2/fd");
    fs::create_dir_all(&d).unwrap();
    std::os::unix::fs::symlink("/run/app/data", d.join("3")).unwrap();
    let who = || {
        run(&[
            "--proc-root",
            r.to_str().unwrap(),
            "--json",
            "who-has",
            "/var/run/app/data",
        ])
    };
    let pids = |run: &Run| -> Vec<i64> {
        run.json()["holders"]
            .as_array()
            .map(|a| a.iter().filter_map(|h| h["pid"].as_i64()).collect())
            .unwrap_or_default()
    };
    let no = who();
    assert_eq!(no.status, 1, "{}{}", no.out(), no.stderr);
    assert_eq!(pids(&no), Vec::<i64>::new());
    fs::create_dir_all(r.join(".host/run/app")).unwrap();
    fs::write(r.join(".host/run/app/data"), "x").unwrap();
    fs::create_dir_all(r.join(".host/var")).unwrap();
    std::os::unix::fs::symlink("/run", r.join(".host/var/run")).unwrap();
    let yes = who();
    assert_eq!(yes.status, 0, "{}{}", yes.out(), yes.stderr);
    assert_eq!(pids(&yes), vec![2]);
}

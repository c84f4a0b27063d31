//! `show` on fixture proc trees: container and pod cgroup layouts, a kernel
//! older than most status lines, and the human layout as a snapshot.

use crate::support::*;
use std::fs;
use std::path::Path;

const ID: &str = "4b8e6d1c4e2b7c0a9f3d5e6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708";

/// A 6.x-style status with every line `show` reads.
const STATUS: &str = "Name:\tworker\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t{PID}\nNgid:\t0\nPid:\t{PID}\nPPid:\t1\nTracerPid:\t0\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nFDSize:\t64\nGroups:\t0 \nNStgid:\t{PID}\t7\nNSpid:\t{PID}\t7\nNSpgid:\t{PID}\t7\nNSsid:\t{PID}\t7\nKthread:\t0\nVmPeak:\t   20000 kB\nVmSize:\t   18000 kB\nVmLck:\t       0 kB\nVmPin:\t       0 kB\nVmHWM:\t    5000 kB\nVmRSS:\t    4096 kB\nRssAnon:\t    1024 kB\nRssFile:\t    3072 kB\nRssShmem:\t       0 kB\nVmData:\t    2048 kB\nVmStk:\t     132 kB\nVmExe:\t     100 kB\nVmLib:\t    2000 kB\nVmPTE:\t      60 kB\nVmSwap:\t       0 kB\nThreads:\t1\nSigQ:\t0/31000\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\nSigBlk:\t0000000000010000\nSigIgn:\t0000000000001000\nSigCgt:\t0000000000004002\nCapInh:\t0000000000000000\nCapPrm:\t00000000a80425fb\nCapEff:\t00000000a80425fb\nCapBnd:\t00000000a80425fb\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2\nSeccomp_filters:\t1\nCpus_allowed_list:\t0-3\nMems_allowed_list:\t0\nvoluntary_ctxt_switches:\t150\nnonvoluntary_ctxt_switches:\t3\n";

/// A 3.10-era status: no CapAmb, NoNewPrivs, Seccomp_filters, NSpid, Rss*.
const OLD_STATUS: &str = "Name:\told\nState:\tS (sleeping)\nTgid:\t{PID}\nPid:\t{PID}\nPPid:\t1\nTracerPid:\t0\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t\nVmSize:\t    1000 kB\nVmRSS:\t     500 kB\nThreads:\t1\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\nSigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\nSigCgt:\t0000000000000000\nCapInh:\t0000000000000000\nCapPrm:\t0000001fffffffff\nCapEff:\t0000001fffffffff\nCapBnd:\t0000001fffffffff\nvoluntary_ctxt_switches:\t1\nnonvoluntary_ctxt_switches:\t0\n";

const LIMITS: &str = "Limit                     Soft Limit           Hard Limit           Units     \nMax cpu time              unlimited            unlimited            seconds   \nMax file size             unlimited            unlimited            bytes     \nMax data size             unlimited            unlimited            bytes     \nMax stack size            8388608              unlimited            bytes     \nMax core file size        0                    unlimited            bytes     \nMax resident set          unlimited            unlimited            bytes     \nMax processes             31000                31000                processes \nMax open files            4                    1024                 files     \nMax locked memory         8388608              8388608              bytes     \nMax address space         unlimited            unlimited            bytes     \nMax file locks            unlimited            unlimited            locks     \nMax pending signals       31000                31000                signals   \nMax msgqueue size         819200               819200               bytes     \nMax nice priority         0                    0                    \nMax realtime priority     0                    0                    \nMax realtime timeout      unlimited            unlimited            us        \n";

fn stat_line(pid: i32, comm: &str) -> String {
    format!(
        "{pid} ({comm}) S 1 {pid} {pid} 0 -1 4194560 500 0 3 0 150 50 0 0 20 0 1 0 50000 18432000 1024 18446744073709551615 1 1 0 0 0 0 0 4096 16386 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
    )
}

fn process(root: &Path, pid: i32, comm: &str, status: &str, cgroup: &str) {
    let d = root.join(pid.to_string());
    fs::create_dir_all(d.join("fd")).unwrap();
    fs::create_dir_all(d.join("fdinfo")).unwrap();
    fs::create_dir_all(d.join("ns")).unwrap();
    fs::create_dir_all(d.join("task").join(pid.to_string())).unwrap();
    let status = status.replace("{PID}", &pid.to_string());
    for (name, content) in [
        ("stat", stat_line(pid, comm)),
        ("status", status),
        ("cgroup", cgroup.to_string()),
        ("limits", LIMITS.to_string()),
        ("cmdline", format!("/usr/bin/{comm}\0--serve\0\0")),
        ("wchan", "ep_poll".into()),
        ("oom_score", "667\n".into()),
        ("oom_score_adj", "0\n".into()),
        (
            "io",
            "rchar: 4096\nwchar: 100\nsyscr: 10\nsyscw: 2\nread_bytes: 0\nwrite_bytes: 0\ncancelled_write_bytes: 0\n".into(),
        ),
        (
            "mountinfo",
            "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n30 22 0:5 / /mnt/with\\040space rw - tmpfs none rw\n".into(),
        ),
        (
            "smaps",
            "00400000-00500000 r-xp 00000000 08:01 12 /usr/bin/worker\nSize: 1024 kB\nRss: 800 kB\nPss: 400 kB\nShared_Clean: 600 kB\nPrivate_Clean: 100 kB\nPrivate_Dirty: 100 kB\nSwap: 0 kB\n7ffd0000-7ffd2000 rw-p 00000000 00:00 0 [stack]\nSize: 8 kB\nRss: 8 kB\nPss: 8 kB\nPrivate_Dirty: 8 kB\nAnonymous: 8 kB\nSwap: 0 kB\n".into(),
        ),
    ] {
        fs::write(d.join(name), content).unwrap();
    }
    std::os::unix::fs::symlink("/usr/bin/worker", d.join("exe")).unwrap();
    std::os::unix::fs::symlink("/srv", d.join("cwd")).unwrap();
    std::os::unix::fs::symlink("/", d.join("root")).unwrap();
    std::os::unix::fs::symlink("/dev/null", d.join("fd/0")).unwrap();
    std::os::unix::fs::symlink("/var/log/old.log (deleted)", d.join("fd/3")).unwrap();
    fs::write(
        d.join("fdinfo/0"),
        "pos:\t0\nflags:\t0100002\nmnt_id:\t22\n",
    )
    .unwrap();
    fs::write(
        d.join("fdinfo/3"),
        "pos:\t77\nflags:\t02100001\nmnt_id:\t22\n",
    )
    .unwrap();
    for (k, ino) in [
        ("mnt", 4026532200u64),
        ("pid", 4026532201),
        ("net", 4026531840),
    ] {
        std::os::unix::fs::symlink(format!("{k}:[{ino}]"), d.join("ns").join(k)).unwrap();
    }
}

fn tree() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    root_only_users(r);
    fs::write(r.join("stat"), "cpu  1 2 3 4\nbtime 1700000000\n").unwrap();
    fs::write(r.join("uptime"), "1000.00 1900.00\n").unwrap();
    fs::create_dir_all(r.join("sys/kernel")).unwrap();
    fs::write(r.join("sys/kernel/cap_last_cap"), "40\n").unwrap();
    process(r, 1, "init", STATUS, "0::/init.scope\n");
    let layouts = [
        (10, format!("0::/system.slice/docker-{ID}.scope\n")),
        (
            11,
            format!(
                "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0f1e2d3c_4b5a_6978_8a9b_0c1d2e3f4a5b.slice/cri-containerd-{ID}.scope\n"
            ),
        ),
        (
            12,
            format!(
                "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-podaa_bb.slice/crio-{ID}.scope\n"
            ),
        ),
        (13, format!("0::/kubepods/pod0f1e2d3c-4b5a/{ID}\n")),
        (14, format!("0::/machine.slice/libpod-{ID}.scope\n")),
        (15, "0::/system.slice/nginx.service\n".to_string()),
        (
            16,
            format!("12:memory:/docker/{ID}\n1:name=systemd:/docker/{ID}\n0::/\n"),
        ),
    ];
    for (pid, cg) in &layouts {
        process(r, *pid, "worker", STATUS, cg);
    }
    process(r, 20, "old", OLD_STATUS, "3:cpu,cpuacct:/\n");
    t
}

fn show(root: &Path, args: &[&str]) -> Run {
    let mut a = vec!["--proc-root", root.to_str().unwrap(), "--color", "never"];
    a.extend_from_slice(args);
    run(&a)
}

#[test]
fn containers_pods_and_units_recognised_from_cgroup_paths() {
    let t = tree();
    let owner = |pid: &str| {
        let r = show(t.path(), &["cgroup", "--json", pid]);
        assert_eq!(r.status, 0, "{}", r.stderr);
        r.json()["processes"][0]["cgroup"]["owner"].clone()
    };
    let o = owner("10");
    assert_eq!(
        (o["runtime"].as_str(), o["container_id"].as_str()),
        (Some("docker"), Some(ID))
    );
    assert_eq!(o["unit"], format!("docker-{ID}.scope"));
    let o = owner("11");
    assert_eq!(o["runtime"], "containerd");
    assert_eq!(o["pod_uid"], "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b");
    assert_eq!(o["qos_class"], "burstable");
    let o = owner("12");
    assert_eq!(
        (o["runtime"].as_str(), o["qos_class"].as_str()),
        (Some("cri-o"), Some("besteffort"))
    );
    let o = owner("13");
    assert_eq!(o["qos_class"], "guaranteed");
    assert_eq!(o["container_id"], ID);
    assert!(o["runtime"].is_null());
    assert_eq!(owner("14")["runtime"], "podman");
    let o = owner("15");
    assert_eq!(
        (o["unit"].as_str(), o["slice"].as_str()),
        (Some("nginx.service"), Some("system.slice"))
    );
    assert!(o["runtime"].is_null());
    // v1 hierarchies name the container when v2 says only "/".
    let o = owner("16");
    assert_eq!(o["runtime"], "docker");
    let out = show(t.path(), &["cgroup", "11"]).out();
    assert!(
        out.contains("container      containerd 4b8e6d1c4e2b"),
        "{out}"
    );
    assert!(
        out.contains(
            "kubernetes     pod 0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b, QoS class burstable"
        ),
        "{out}"
    );
    // No cgroup filesystem in a fixture tree: said, not invented.
    let r = show(t.path(), &["cgroup", "--json", "10"]);
    let u = &r.json()["processes"][0]["cgroup"]["usage"];
    assert_eq!(u["memory_max"]["error"]["reason"], "absent", "{u}");
}

#[test]
fn an_old_kernel_says_which_lines_it_lacks() {
    let t = tree();
    let r = show(t.path(), &["show", "--json", "--sample", "0", "20"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let p = &r.json()["processes"][0];
    let sec = &p["security"];
    assert_eq!(sec["ambient"]["error"]["reason"], "unsupported");
    assert!(
        sec["ambient"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("CapAmb")
    );
    assert_eq!(sec["no_new_privs"]["error"]["reason"], "unsupported");
    assert_eq!(sec["seccomp"]["error"]["reason"], "unsupported");
    // 37 capabilities (0-36) against cap_last_cap 40: not "all".
    assert_eq!(
        sec["effective"]["summary"],
        "all except cap_audit_read cap_perfmon cap_bpf cap_checkpoint_restore"
    );
    assert_eq!(p["identity"]["ns_pids"]["error"]["reason"], "unsupported");
    assert!(p["memory"]["counters"]["rss_anon"].is_null());
    let out = show(t.path(), &["show", "--sample", "0", "20"]).out();
    assert!(
        out.contains("ambient        ? not provided by this kernel: status line CapAmb (4.3+)"),
        "{out}"
    );
}

#[test]
fn dossier_layout_snapshot() {
    let t = tree();
    let r = show(t.path(), &["show", "--all", "--sample", "0", "10"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    // The start time is printed as an age against the fixture's uptime: stable.
    insta::assert_snapshot!("show_fixture_docker", r.out());
    let r = show(t.path(), &["show", "--json", "--sample", "0", "10"]);
    let p = &r.json()["processes"][0];
    assert_eq!(
        p["security"]["effective"]["names"]
            .as_array()
            .unwrap()
            .len(),
        14
    );
    assert_eq!(p["security"]["seccomp"], "filter");
    assert_eq!(
        p["signals"]["process"]["blocked"],
        serde_json::json!(["SIGCHLD"])
    );
    assert_eq!(
        p["signals"]["process"]["ignored"],
        serde_json::json!(["SIGPIPE"])
    );
    assert_eq!(
        p["signals"]["process"]["caught"],
        serde_json::json!(["SIGINT", "SIGTERM"])
    );
    assert_eq!(p["memory"]["totals"]["uss"], 208 * 1024);
    assert_eq!(p["files"]["notable"][0]["what"], "/var/log/old.log");
    assert_eq!(p["identity"]["ns_pids"], serde_json::json!([10, 7]));
}

/// stdout (escape codes made visible as `\e`), then stderr, with the exit
/// status: the whole text a person sees.
fn seen(root: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut a = vec!["--proc-root", root.to_str().unwrap(), "--timeout", "2s"];
    a.extend_from_slice(args);
    let r = run_with(&a, env, std::time::Duration::from_secs(20));
    let err = r.stderr.replace(root.to_str().unwrap(), "<ROOT>");
    format!(
        "$ procscope {}\n[exit {}]\n{}--- stderr\n{err}",
        args.join(" "),
        r.status,
        r.out().replace('\x1b', "\\e")
    )
}

/// A tree whose process 30 is marked everywhere `show` marks something: a
/// tracer, pending signals, a deleted executable, a command line too long
/// to show, the open-files limit reached, its own mount and PID namespaces
/// with a mount PID 1 lacks (and lacking one PID 1 has).
fn marked_tree() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    fs::write(r.join("stat"), "cpu  1 2 3 4\nbtime 1700000000\n").unwrap();
    fs::write(r.join("uptime"), "1000.00 1900.00\n").unwrap();
    fs::create_dir_all(r.join("sys/kernel")).unwrap();
    fs::write(r.join("sys/kernel/cap_last_cap"), "40\n").unwrap();
    root_only_users(r);
    process(r, 1, "init", STATUS, "0::/init.scope\n");
    let status = STATUS
        .replace("TracerPid:\t0", "TracerPid:\t4242")
        .replace("SigPnd:\t0000000000000000", "SigPnd:\t0000000000000200")
        .replace("SigQ:\t0/31000", "SigQ:\t1/31000");
    process(r, 30, "boxed", &status, "0::/system.slice/boxed.service\n");
    let d = r.join("30");
    let long: String = (0..40).map(|i| format!("--option-{i}\0")).collect();
    fs::write(d.join("cmdline"), format!("/usr/bin/boxed\0{long}")).unwrap();
    fs::remove_file(d.join("exe")).unwrap();
    std::os::unix::fs::symlink("/usr/bin/boxed (deleted)", d.join("exe")).unwrap();
    for fd in [1, 2] {
        std::os::unix::fs::symlink("/dev/null", d.join(format!("fd/{fd}"))).unwrap();
        fs::write(
            d.join(format!("fdinfo/{fd}")),
            "pos:\t0\nflags:\t0100002\nmnt_id:\t22\n",
        )
        .unwrap();
    }
    for (k, ino) in [("mnt", 4026532900u64), ("pid", 4026532901)] {
        fs::remove_file(d.join("ns").join(k)).unwrap();
        std::os::unix::fs::symlink(format!("{k}:[{ino}]"), d.join("ns").join(k)).unwrap();
    }
    fs::write(
        d.join("mountinfo"),
        "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n41 22 0:41 /srv/data /data rw - xfs /dev/sdb1 rw\n",
    )
    .unwrap();
    t
}

/// The exact text of `show` and the focused commands, with and without
/// colour: the bytes a terminal gets, including every escape code.
#[test]
fn show_text_golden_with_and_without_colour() {
    let t = tree();
    let m = marked_tree();
    for (name, root, args) in [
        (
            "show_golden_docker",
            t.path(),
            &["show", "--all", "--sample", "0", "10"][..],
        ),
        (
            "show_golden_old_kernel",
            t.path(),
            &["show", "--sample", "0", "20"],
        ),
        (
            "show_golden_marked",
            m.path(),
            &["show", "--all", "--sample", "0", "30"],
        ),
        (
            "show_golden_two",
            t.path(),
            &["show", "-s", "identity,files", "--sample", "0", "worker"],
        ),
        ("show_golden_limits", m.path(), &["limits", "30"]),
        ("show_golden_maps", t.path(), &["maps", "10"]),
        ("show_golden_maps_x", t.path(), &["maps", "-x", "10"]),
        ("show_golden_caps", t.path(), &["caps", "20"]),
        ("show_golden_signals", m.path(), &["signals", "30"]),
        ("show_golden_ns", m.path(), &["ns", "30"]),
        ("show_golden_cgroup", t.path(), &["cgroup", "16"]),
        ("show_golden_mounts", m.path(), &["mounts", "30"]),
    ] {
        for colour in ["never", "always"] {
            let mut a = vec!["--color", colour];
            a.extend_from_slice(args);
            insta::assert_snapshot!(format!("{name}_{colour}"), seen(root, &a, &[]));
        }
    }
}

/// Tables are cut to the terminal's width (`COLUMNS`), key/value lines are
/// not; `NO_COLOR` turns colour off when it is not forced.
#[test]
fn show_text_golden_narrow_and_no_color() {
    let t = tree();
    let m = marked_tree();
    insta::assert_snapshot!(
        "show_golden_narrow",
        seen(
            t.path(),
            &["--color", "always", "show", "--all", "--sample", "0", "10"],
            &[("COLUMNS", "50")]
        )
    );
    insta::assert_snapshot!(
        "show_golden_marked_no_color",
        seen(
            m.path(),
            &["show", "--all", "--sample", "0", "30"],
            &[("NO_COLOR", "1")]
        )
    );
}

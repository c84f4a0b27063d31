//! `show` and its focused commands against real processes with known
//! properties, started here.

use crate::support::*;
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

fn bash(script: &str, envs: &[(&str, &str)]) -> Target {
    let mut c = Command::new("bash");
    c.arg("-c").arg(script);
    for (k, v) in envs {
        c.env(k, v);
    }
    start(c)
}

fn prefixed(prefix: &[&str], script: &str) -> Target {
    let mut c = Command::new(prefix[0]);
    c.args(&prefix[1..]).arg("bash").arg("-c").arg(script);
    start(c)
}

/// The first (only) process of a JSON document.
fn process(r: &Run) -> Value {
    assert_eq!(r.status, 0, "{}", r.stderr);
    r.json()["processes"][0].clone()
}

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn status_line(pid: &str, key: &str) -> String {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:\t")))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn signals_by_name_with_the_threads_that_differ() {
    let t = start_kit(&["signals"]);
    let p = process(&run(&["signals", "--json", &t.pid_s()]));
    let s = &p["signals"]["process"];
    assert_eq!(names(&s["pending"]), ["SIGRTMIN+1"]);
    assert_eq!(names(&s["thread_pending"]), ["SIGUSR2"]);
    assert_eq!(names(&s["blocked"]), ["SIGUSR2", "SIGRTMIN+1"]);
    // Exactly the kernel's mask: SIGUSR1 set here, SIGPIPE by Rust's
    // runtime, and whatever the test runner left ignored across exec.
    let ign = u64::from_str_radix(&status_line(&t.pid_s(), "SigIgn"), 16).unwrap();
    let ignored = names(&s["ignored"]);
    assert_eq!(ignored.len(), ign.count_ones() as usize);
    assert!(ign & (1 << 9) != 0 && ignored.contains(&"SIGUSR1".into()));
    assert!(ignored.contains(&"SIGPIPE".into()) && !ignored.contains(&"SIGTERM".into()));
    let caught = names(&s["caught"]);
    assert!(caught.contains(&"SIGTERM".into()) && caught.contains(&"SIGRTMIN+3".into()));
    assert!(!caught.contains(&"SIGUSR1".into()));
    // Queued for the whole user: at least our two.
    assert!(s["queued"][0].as_u64().unwrap() >= 2, "{s}");
    let threads = p["signals"]["threads"].as_array().unwrap();
    assert_eq!(threads.len(), 1, "{threads:?}");
    assert_eq!(threads[0]["name"], "other-mask");
    assert_eq!(names(&threads[0]["pending"]), Vec::<String>::new());
    assert_eq!(names(&threads[0]["blocked"]), ["SIGRTMIN+1"]);

    let out = run(&["signals", &t.pid_s()]).out();
    assert!(
        out.contains("pending        SIGRTMIN+1 (for the process), SIGUSR2 (for the main thread)"),
        "{out}"
    );
    assert!(out.contains("blocked        SIGUSR2 SIGRTMIN+1"), "{out}");
    assert!(out.contains("other-mask"), "{out}");
}

#[test]
fn capabilities_by_name_after_dropping_some() {
    let own_bnd = u64::from_str_radix(&status_line("self", "CapBnd"), 16).unwrap();
    let t = prefixed(
        &[
            "setpriv",
            "--bounding-set=-net_raw,-sys_admin",
            "--inh-caps=-all",
            "--",
        ],
        "echo ready; exec sleep 1000",
    );
    let p = process(&run(&["caps", "--json", &t.pid_s()]));
    let sec = &p["security"];
    let bnd = names(&sec["bounding"]["names"]);
    assert!(!bnd.contains(&"cap_net_raw".into()) && !bnd.contains(&"cap_sys_admin".into()));
    let want = own_bnd & !(1 << 13) & !(1 << 21);
    assert_eq!(bnd.len(), want.count_ones() as usize);
    assert_eq!(sec["bounding"]["mask"], format!("{want:016x}"));
    let summary = sec["bounding"]["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("all except ") && summary.contains("cap_net_raw cap_sys_admin"),
        "{summary}"
    );
    // Root's effective set is cut by the bounding set across execve.
    assert!(!names(&sec["effective"]["names"]).contains(&"cap_sys_admin".into()));
    assert_eq!(sec["inheritable"]["summary"], "none");
    assert_eq!(sec["no_new_privs"], false);

    // An unprivileged user: no capabilities at all.
    let u = prefixed(
        &[
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
        ],
        "echo ready; exec sleep 1000",
    );
    let p = process(&run(&[
        "show",
        "--json",
        "-s",
        "security,identity",
        &u.pid_s(),
    ]));
    assert_eq!(p["security"]["effective"]["summary"], "none");
    assert_eq!(p["security"]["permitted"]["names"], serde_json::json!([]));
    assert_eq!(p["identity"]["uid"]["real"]["id"], 65534);
    assert_eq!(p["identity"]["uid"]["effective"]["id"], 65534);
    assert_eq!(p["identity"]["groups"], serde_json::json!([]));
    let out = run(&["caps", &t.pid_s()]).out();
    assert!(out.contains("bounding       all except"), "{out}");
}

#[test]
fn limits_with_usage_near_a_lowered_nofile() {
    // fds 0-6 open against a soft limit of 8 (hard 128); the dynamic
    // loader of sleep needs the eighth. Inherited fds (the test runner's)
    // are closed first.
    let t = bash(
        r#"for f in /proc/self/fd/*; do n=${f##*/}; [ "$n" -gt 2 ] && eval "exec $n>&-"; done 2>/dev/null
ulimit -Sn 8; ulimit -Hn 128; exec 3</dev/null 4</dev/null 5</dev/null 6</dev/null; echo ready; exec sleep 1000"#,
        &[],
    );
    let p = process(&run(&["limits", "--json", &t.pid_s()]));
    let rows = p["limits"].as_array().unwrap();
    let nofile = rows.iter().find(|r| r["resource"] == "nofile").unwrap();
    assert_eq!(nofile["soft"], 8);
    assert_eq!(nofile["hard"], 128);
    assert_eq!(nofile["usage"], 7);
    assert_eq!(nofile["near"], true);
    assert_eq!(nofile["name"], "Max open files");
    let stack = rows.iter().find(|r| r["resource"] == "stack").unwrap();
    assert!(stack["usage"].as_u64().unwrap() > 0);
    assert_eq!(rows.len(), 16);

    let p = process(&run(&["show", "--json", "-s", "files", &t.pid_s()]));
    assert_eq!(p["files"]["open"], 7);
    assert_eq!(p["files"]["soft_limit"], 8);
    let out = run(&["show", "-s", "files,limits", &t.pid_s()]).out();
    assert!(
        out.contains("open           7/8 — 87% of RLIMIT_NOFILE"),
        "{out}"
    );
    assert!(out.contains("near the limit"), "{out}");
}

fn ns_inode(pid: &str, kind: &str) -> u64 {
    let l = std::fs::read_link(format!("/proc/{pid}/ns/{kind}")).unwrap();
    let l = l.to_str().unwrap();
    l[l.find('[').unwrap() + 1..l.len() - 1].parse().unwrap()
}

#[test]
fn namespaces_and_mounts_of_an_unshared_process() {
    let dir = tempfile::tempdir().unwrap();
    let point = dir.path().join("dir with space");
    std::fs::create_dir(&point).unwrap();
    let mut c = Command::new("unshare");
    c.args(["--mount", "--uts", "--ipc", "--net", "bash", "-c"])
        .arg(r#"mount -t tmpfs -o size=1m "src with space" "$D" && echo ready && exec sleep 1000"#)
        .env("D", &point);
    let t = start(c);
    let pid = t.pid_s();
    let p = process(&run(&["ns", "--json", &pid]));
    let table = &p["namespaces"];
    for n in table["namespaces"].as_array().unwrap() {
        let kind = n["kind"].as_str().unwrap();
        assert_eq!(n["inode"], ns_inode(&pid, kind), "{kind}");
        let want = matches!(kind, "mnt" | "uts" | "ipc" | "net");
        assert_eq!(n["differs"], want, "{kind}: {n}");
    }
    let out = run(&["ns", &pid]).out();
    assert!(out.contains("4 namespace(s) differ"), "{out}");

    let p = process(&run(&["mounts", "--json", &pid]));
    let m = &p["mounts"];
    assert_eq!(m["same_namespace"], false);
    let mine = m["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["mount_point"] == point.to_str().unwrap())
        .unwrap_or_else(|| panic!("no tmpfs at {point:?}: {m}"));
    assert_eq!(mine["fs_type"], "tmpfs");
    assert_eq!(mine["source"], "src with space");
    assert_eq!(mine["only_here"], true);
    let out = run(&["mounts", &pid]).out();
    assert!(out.contains("src with space"), "{out}");
    assert!(out.contains("its own mount namespace"), "{out}");
}

#[test]
fn program_of_a_chrooted_process_and_a_deleted_executable() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let mut c = Command::new("unshare");
    c.args(["--mount", "bash", "-c"])
        .arg(r#"mount --bind / "$R" && echo ready && exec chroot "$R" sleep 1000"#)
        .env("R", &root);
    let t = start(c);
    std::thread::sleep(Duration::from_millis(200));
    let p = process(&run(&["show", "--json", "-s", "program", &t.pid_s()]));
    assert_eq!(p["program"]["root"], root.to_str().unwrap());
    // Another filesystem view: the path is not compared (no false "deleted").
    assert_eq!(p["program"]["exe_on_disk"], "unknown");
    let out = run(&["show", "-s", "program", &t.pid_s()]).out();
    assert!(out.contains("(chroot or another mount namespace)"), "{out}");

    let copy = dir.path().join("kit copy");
    std::fs::copy(testkit(), &copy).unwrap();
    let mut c = Command::new(&copy);
    c.arg("sleep");
    let k = start(c);
    let program = |k: &Target| {
        process(&run(&["show", "--json", "-s", "program", &k.pid_s()]))["program"].clone()
    };
    assert_eq!(program(&k)["exe_on_disk"], "same");
    std::fs::remove_file(&copy).unwrap();
    let p = program(&k);
    assert_eq!(p["exe"], copy.to_str().unwrap());
    assert_eq!(p["exe_on_disk"], "deleted");
    let out = run(&["show", "-s", "program", &k.pid_s()]).out();
    assert!(out.contains("deleted since it started"), "{out}");
    std::fs::copy(testkit(), &copy).unwrap();
    assert_eq!(program(&k)["exe_on_disk"], "replaced");
}

/// A new memory cgroup (v2 where the memory controller is there, else v1)
/// removed on drop.
struct MemCgroup {
    dir: std::path::PathBuf,
}

impl MemCgroup {
    fn new(limit: u64) -> MemCgroup {
        let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let mounts: Vec<(String, String, String)> = mi
            .lines()
            .filter_map(|l| {
                let (a, b) = l.split_once(" - ")?;
                let point = a.split(' ').nth(4)?.to_string();
                let mut f = b.split(' ');
                Some((point, f.next()?.to_string(), f.nth(1)?.to_string()))
            })
            .collect();
        let name = format!("procscope-test-{}", std::process::id());
        let v2 = mounts.iter().find(|(p, t, _)| {
            t == "cgroup2"
                && std::fs::read_to_string(format!("{p}/cgroup.subtree_control"))
                    .is_ok_and(|c| c.split_whitespace().any(|x| x == "memory"))
        });
        let (dir, file) = match v2 {
            Some((p, _, _)) => (format!("{p}/{name}"), "memory.max"),
            None => {
                let (p, _, _) = mounts
                    .iter()
                    .find(|(_, t, o)| t == "cgroup" && o.split(',').any(|x| x == "memory"))
                    .expect("no memory cgroup controller on this host");
                (format!("{p}/{name}"), "memory.limit_in_bytes")
            }
        };
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(format!("{dir}/{file}"), limit.to_string()).unwrap();
        MemCgroup { dir: dir.into() }
    }

    fn add(&self, pid: u32) {
        std::fs::write(self.dir.join("cgroup.procs"), pid.to_string()).unwrap();
    }
}

impl Drop for MemCgroup {
    fn drop(&mut self) {
        for _ in 0..50 {
            if std::fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn cgroup_limit_and_usage_of_a_process_in_a_new_cgroup() {
    let cg = MemCgroup::new(64 << 20);
    {
        let t = start_kit(&["sleep"]);
        cg.add(t.pid());
        let p = process(&run(&["cgroup", "--json", &t.pid_s()]));
        let c = &p["cgroup"];
        assert_eq!(c["usage"]["memory_max"], 64 << 20, "{c}");
        assert!(c["usage"]["memory_current"].as_u64().is_some(), "{c}");
        let name = cg.dir.file_name().unwrap().to_str().unwrap();
        assert!(
            c["lines"]
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l["path"] == format!("/{name}")),
            "{c}"
        );
        let out = run(&["cgroup", &t.pid_s()]).out();
        assert!(out.contains("of 64M"), "{out}");
    }
}

#[test]
fn kernel_threads_and_zombies_say_what_they_lack() {
    let p = process(&run(&["show", "--json", "--sample", "0", "2"]));
    assert_eq!(p["comm"], "kthreadd");
    assert_eq!(p["program"]["exe"]["error"]["reason"], "absent");
    assert_eq!(p["program"]["cmdline"]["error"]["reason"], "absent");
    assert_eq!(p["memory"]["counters"]["error"]["reason"], "absent");
    assert_eq!(p["identity"]["parents"], serde_json::json!([]));

    // A child that exited and is never reaped.
    let t = start_kit(&["zombie"]);
    let children =
        std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", t.pid())).unwrap();
    let z = children
        .split_whitespace()
        .next()
        .expect("the zombie child")
        .to_string();
    let r = run(&["show", "--json", "--sample", "0", &z]);
    let p = process(&r);
    assert_eq!(p["state"]["sched"]["state"], "Z");
    assert_eq!(p["program"]["exe"]["error"]["reason"], "absent");
    assert_eq!(
        p["identity"]["parents"].as_array().unwrap().last().unwrap()["pid"],
        t.pid()
    );
    let out = run(&["show", &z]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(out.out().contains("zombie"), "{}", out.out());
}

#[test]
fn show_of_self_started_process_has_every_section() {
    let t = start_kit(&["sleep"]);
    let r = run(&["show", "--json", "--all", &t.pid_s()]);
    let p = process(&r);
    for s in [
        "identity",
        "program",
        "state",
        "memory",
        "files",
        "io",
        "limits",
        "security",
        "signals",
        "namespaces",
        "cgroup",
        "maps",
        "mounts",
    ] {
        assert!(p.get(s).is_some(), "no {s} in {p}");
    }
    assert_eq!(p["program"]["cmdline"]["args"][1], "sleep");
    assert_eq!(
        p["identity"]["parents"].as_array().unwrap().last().unwrap()["pid"],
        std::process::id()
    );
    assert!(p["memory"]["totals"]["rss"].as_u64().unwrap() > 0);
    assert!(
        p["maps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["mapping"] == "[stack]")
    );
    assert!(p["state"]["cpu_percent"].as_f64().is_some());
    // Unknown sections are a usage error.
    assert_eq!(run(&["show", "-s", "nope", &t.pid_s()]).status, 2);
    // Nothing matched: a PID that was, but is no more.
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let gone_pid = gone.id().to_string();
    gone.wait().unwrap();
    assert_eq!(run(&["show", &gone_pid]).status, 1);
    // Not a PID at all: an error.
    assert_eq!(run(&["show", "999999999"]).status, 2);
    // maps -x has sizes per mapping; plain maps does not read smaps.
    let x = process(&run(&["maps", "-x", "--json", &t.pid_s()]));
    assert!(x["maps"][0]["rss"].is_u64());
    let plain = process(&run(&["maps", "--json", &t.pid_s()]));
    assert!(plain["maps"][0]["rss"].is_null());
    let with_maps = process(&run(&[
        "show",
        "--json",
        "--maps",
        "--sample",
        "0",
        &t.pid_s(),
    ]));
    assert!(with_maps["maps"][0]["rss"].is_u64() && with_maps.get("mounts").is_none());
}

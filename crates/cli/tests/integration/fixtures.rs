//! Hermetic tests on fixture proc trees (`--proc-root`).

use crate::support::*;
use std::fs;
use std::path::Path;

fn stat_line(
    pid: i32,
    comm: &[u8],
    state: char,
    ppid: i32,
    flags: u64,
    utime: u64,
    threads: i64,
    rss: i64,
) -> Vec<u8> {
    let mut v = format!("{pid} (").into_bytes();
    v.extend_from_slice(comm);
    v.extend_from_slice(
        format!(
            ") {state} {ppid} {pid} {pid} 0 -1 {flags} 0 0 0 0 {utime} 50 0 0 20 0 {threads} 0 500 10485760 {rss} 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
        )
        .as_bytes(),
    );
    v
}

fn proc_dir(root: &Path, pid: i32, files: &[(&str, &[u8])]) {
    let d = root.join(pid.to_string());
    fs::create_dir_all(&d).unwrap();
    for (name, content) in files {
        fs::write(d.join(name), content).unwrap();
    }
}

const UID0: &[u8] = b"Name:\tx\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n";

/// A proc tree with every kind of row (shared with the wire tests).
pub(crate) fn fixture() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    root_only_users(r);
    fs::write(
        r.join("stat"),
        b"cpu  1 2 3 4\nbtime 1700000000\nprocesses 9\n",
    )
    .unwrap();
    fs::write(r.join("uptime"), b"1000.00 1900.00\n").unwrap();
    proc_dir(
        r,
        1,
        &[
            ("stat", &stat_line(1, b"init", 'S', 0, 4194560, 100, 1, 100)),
            ("status", UID0),
            ("cmdline", b"/sbin/init\0splash\0"),
        ],
    );
    // Kernel thread: PF_KTHREAD, empty cmdline.
    proc_dir(
        r,
        2,
        &[
            ("stat", &stat_line(2, b"kthreadd", 'S', 0, 2129984, 0, 1, 0)),
            ("status", UID0),
            ("cmdline", b""),
        ],
    );
    // Zombie.
    proc_dir(
        r,
        3,
        &[
            (
                "stat",
                &stat_line(3, b"reaped-late", 'Z', 1, 4194308, 0, 1, 0),
            ),
            ("status", UID0),
            ("cmdline", b""),
        ],
    );
    // A comm that breaks naive stat parsing, and an empty last argument.
    proc_dir(
        r,
        4,
        &[
            (
                "stat",
                &stat_line(4, b") S 1 (x", 'S', 1, 4194304, 0, 1, 10),
            ),
            ("status", UID0),
            ("cmdline", b"sh\0-c\0\0"),
        ],
    );
    // Malformed stat: the row stays, with the reason.
    proc_dir(
        r,
        5,
        &[("stat", b"garbage"), ("status", UID0), ("cmdline", b"x\0")],
    );
    // A directory without files: the process went away mid-listing.
    proc_dir(r, 6, &[]);
    // status without a Uid line; an unknown UID; a padded rewritten title.
    proc_dir(
        r,
        7,
        &[
            ("stat", &stat_line(7, b"nouid", 'S', 1, 4194304, 0, 1, 10)),
            ("status", b"Name:\tnouid\n"),
            ("cmdline", b"nouid\0"),
        ],
    );
    proc_dir(
        r,
        8,
        &[
            ("stat", &stat_line(8, b"nginx", 'R', 1, 4194304, 0, 3, 10)),
            ("status", b"Uid:\t4242\t4242\t4242\t4242\n"),
            (
                "cmdline",
                b"nginx: worker process\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
            ),
        ],
    );
    proc_dir(
        r,
        9,
        &[
            ("stat", &stat_line(9, b"child", 'D', 8, 4194304, 0, 1, 10)),
            ("status", UID0),
            ("cmdline", b"child\0"),
        ],
    );
    t
}

#[test]
fn fixture_listing_is_exact() {
    let t = fixture();
    let root = t.path().to_str().unwrap();
    let r = run(&[
        "--proc-root",
        root,
        "ps",
        "-o",
        "pid,ppid,user,state,threads,rss,cpu,command",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let expected = "\
PID PPID USER S THR  RSS     TIME COMMAND
  1    0 root S   1 400K 00:00:01 /sbin/init splash
  2    0 root S   1    0 00:00:00 [kthreadd]
  3    1 root Z   1    0 00:00:00 [reaped-late] <defunct>
  4    1 root S   1  40K 00:00:00 sh -c ''
  5    ? root ?   ?    ?        ? x
  7    1 ?    S   1  40K 00:00:00 nouid
  8    1 4242 R   3  40K 00:00:00 nginx: worker process
  9    8 root D   1  40K 00:00:00 child
";
    // PID 6 vanished (no files): not listed, not a problem. PIDs 5 and 7
    // could not be read in part: `?` in the table, the reasons on stderr.
    assert_eq!(r.out(), expected);
    assert!(
        r.stderr
            .contains("PID 5: stat: malformed: stat: malformed: no `(` before comm"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("PID 7: status: malformed: status: no Uid line"),
        "{}",
        r.stderr
    );
}

#[test]
fn fixture_json_and_selection() {
    let t = fixture();
    let root = t.path().to_str().unwrap();
    let v = run(&["--proc-root", root, "ps", "--json"]).json();
    assert_eq!(v["procscope"], 2);
    assert_eq!(v["kind"], "ps");
    let procs = v["processes"].as_array().unwrap();
    let pids: Vec<i64> = procs.iter().map(|p| p["pid"].as_i64().unwrap()).collect();
    assert_eq!(pids, vec![1, 2, 3, 4, 5, 7, 8, 9]);
    assert_eq!(
        procs[0]["cmdline"],
        serde_json::json!(["/sbin/init", "splash"])
    );
    assert_eq!(procs[0]["cpu_time_ms"], 1500);
    assert_eq!(procs[0]["start_time_unix"], 1_700_000_005);
    assert_eq!(procs[0]["elapsed_secs"], 995);
    assert_eq!(procs[1]["kernel_thread"], true);
    assert_eq!(procs[1]["cmdline"], serde_json::json!([]));
    assert_eq!(procs[1]["cmdline_shape"], "empty");
    assert_eq!(procs[3]["comm"], ") S 1 (x");
    assert_eq!(procs[3]["cmdline"], serde_json::json!(["sh", "-c", ""]));
    assert_eq!(procs[4]["stat"]["error"]["reason"], "malformed");
    assert_eq!(procs[5]["uid"]["error"]["reason"], "malformed");
    assert_eq!(procs[6]["cmdline_shape"], "rewritten_padded");
    assert_eq!(procs[6]["uid"], 4242);
    assert!(procs[6].get("user").is_none());

    let pids = |args: &[&str]| -> String {
        let mut a = vec!["--proc-root", root, "ps", "--pids"];
        a.extend_from_slice(args);
        run(&a)
            .out()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(",")
    };
    assert_eq!(pids(&["--state", "D,Z"]), "3,9");
    assert_eq!(pids(&["--ppid", "1"]), "3,4,7,8");
    assert_eq!(pids(&["--children-of", "8"]), "9");
    assert_eq!(pids(&["-f", "worker process$"]), "8");
    assert_eq!(pids(&["-f", "^kthreadd$"]), "2");
    assert_eq!(pids(&["-x", "nginx", "-u", "4242"]), "8");
    assert_eq!(pids(&["-p", "9,1,77"]), "1,9");

    let r = run(&["--proc-root", root, "ps", "--tree", "-o", "pid,comm"]);
    let out = r.out();
    assert!(out.starts_with("PID COMM\n  1 init\n  3  ├─ reaped-late\n  4  ├─ ) S 1 (x\n  7  ├─ nouid\n  8  └─ nginx\n  9      └─ child\n  2 kthreadd\n"), "{out}");
}

#[test]
fn fixture_cmdline_explains_kernel_threads_zombies_and_rewritten_titles() {
    let t = fixture();
    let root = t.path().to_str().unwrap();
    let r = run(&["--proc-root", root, "cmdline", "2"]);
    assert_eq!(
        r.out(),
        "PID 2 (kthreadd): a kernel thread: it has no command line\n"
    );
    let r = run(&["--proc-root", root, "cmdline", "3"]);
    assert_eq!(
        r.out(),
        "PID 3 (reaped-late): a zombie (exited, not yet reaped): its command line is gone\n"
    );
    // The padded title: shown without its padding, and said.
    let r = run(&["--proc-root", root, "cmdline", "8"]);
    let out = r.out();
    assert!(out.contains("  [0] nginx: worker process\n"), "{out}");
    assert!(
        out.contains("rewrote its command line (setproctitle); 17 bytes of NUL padding not shown"),
        "{out}"
    );
    // --raw still gives every byte.
    let r = run(&["--proc-root", root, "cmdline", "--raw", "8"]);
    assert_eq!(
        r.stdout,
        b"nginx: worker process\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
    );
    // A pattern that matches several processes prints one block each.
    let r = run(&["--proc-root", root, "cmdline", "^(init|child)$"]);
    assert_eq!(r.out().matches("PID ").count(), 2, "{}", r.out());
    let r = run(&["--proc-root", root, "cmdline", "--raw", "^(init|child)$"]);
    assert_eq!(r.status, 2);
    assert!(
        r.stderr
            .contains("matches 2 processes (PIDs 1, 9): --raw needs one"),
        "{}",
        r.stderr
    );
    // A hex dump of each, under its title.
    let r = run(&["--proc-root", root, "cmdline", "--hex", "^(init|child)$"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(
        r.out().starts_with(
            "PID 1 (init):\n00000000: 2f73 6269 6e2f 696e 6974 0073 706c 6173  /sbin/init.splas\n"
        ),
        "{}",
        r.out()
    );
    assert!(r.out().contains("\n\nPID 9 ("), "{}", r.out());
    // environ missing in the fixture: gone between listing and reading.
    let r = run(&["--proc-root", root, "env", "--json", "1"]);
    assert_eq!(
        r.json()["processes"][0]["environ"]["error"]["reason"],
        "gone"
    );
}

#[test]
fn fixture_hung_reports_nothing_stuck_and_exits_0() {
    let t = fixture();
    // Give the sampled processes task directories (D only for PID 9).
    for pid in [1, 9] {
        let task = t.path().join(format!("{pid}/task/{pid}"));
        fs::create_dir_all(&task).unwrap();
        fs::copy(t.path().join(format!("{pid}/stat")), task.join("stat")).unwrap();
    }
    let root = t.path().to_str().unwrap();
    // PID 9's thread is in D in the fixture: it stays D at every sample.
    let r = run(&["--proc-root", root, "hung", "--window", "100ms", "--json"]);
    assert_eq!(r.status, 1, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["stuck"], 1);
    assert_eq!((&v["samples"], &v["samples_taken"]), (&5.into(), &5.into()));
    assert!(v["elapsed_ms"].as_u64().unwrap() >= 100, "{v}");
    // The report says how many samples were taken, over the time measured.
    let r = run(&["--proc-root", root, "hung", "--window", "300ms"]);
    assert_eq!(r.status, 1, "{}", r.stderr);
    let first = r.out().lines().next().unwrap().to_string();
    let took = first
        .strip_prefix("1 task(s) stuck in D (in D at all 5 samples over ")
        .and_then(|t| t.strip_suffix(" ms)"))
        .unwrap_or_else(|| panic!("{first}"));
    assert!(took.parse::<u64>().unwrap() >= 300, "{first}");
    // Once it is not in D any more, nothing is stuck: exit 0.
    let s = fs::read_to_string(t.path().join("9/task/9/stat"))
        .unwrap()
        .replace(") D ", ") S ");
    fs::write(t.path().join("9/task/9/stat"), s).unwrap();
    // Nothing in D at the first sample: sampling stops there, and says so
    // (it used to claim all 5 samples over the whole window).
    let r = run(&["--proc-root", root, "hung", "--window", "2s"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let out = r.out();
    let took = out
        .strip_prefix("nothing is stuck: no task was in D at the first sample (1 sample in ")
        .and_then(|t| t.strip_suffix(" ms)\n"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(took.parse::<u64>().unwrap() < 1000, "{out}");
    assert!(r.took < std::time::Duration::from_secs(2), "{:?}", r.took);
    let v = run(&["--proc-root", root, "hung", "--window", "2s", "--json"]).json();
    assert_eq!(
        (
            &v["samples"],
            &v["samples_taken"],
            &v["candidates_at_first_sample"]
        ),
        (&5.into(), &1.into(), &0.into())
    );
}

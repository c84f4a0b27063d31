//! `stack --user` against a C program built here without frame pointers
//! (ustack/target.c), whose threads sit at the bottom of known call
//! chains, and against the vfork parent and the memory-lock target: frames
//! innermost first with file:line, and afterwards no thread stopped,
//! traced, or with a signal pending.

use crate::support::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const SOURCE: &str = include_str!("ustack/target.c");

/// The C target, built with gcc -O2 -g -fomit-frame-pointer, running, with
/// its heartbeat file.
pub struct CTarget {
    pub target: Target,
    pub beats: PathBuf,
    _dir: tempfile::TempDir,
}

impl CTarget {
    pub fn pid(&self) -> u32 {
        self.target.pid()
    }

    /// The heartbeat's count (0 before its first write).
    pub fn beats(&self) -> u64 {
        std::fs::read_to_string(&self.beats)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }

    /// The TID of the thread named `name`.
    pub fn tid(&self, name: &str) -> u32 {
        self.find(name)
            .unwrap_or_else(|| panic!("no thread named {name}"))
    }

    /// The TID of the thread named `name`, once it has named itself.
    fn find(&self, name: &str) -> Option<u32> {
        tids(self.pid()).into_iter().find(|t| {
            std::fs::read_to_string(format!("/proc/{}/task/{t}/comm", self.pid()))
                .is_ok_and(|c| c.trim() == name)
        })
    }
}

/// The line of `target.c` with `MARK: what`.
pub fn line_of(what: &str) -> u32 {
    let mark = format!("MARK: {what} ");
    SOURCE
        .lines()
        .position(|l| l.contains(&mark))
        .map(|i| i as u32 + 1)
        .unwrap_or_else(|| panic!("no MARK {what} in target.c"))
}

pub fn tids(pid: u32) -> Vec<u32> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

pub fn task_stat_state(pid: u32, tid: u32) -> Option<char> {
    let s = std::fs::read(format!("/proc/{pid}/task/{tid}/stat")).ok()?;
    let close = s.iter().rposition(|&c| c == b')')?;
    s.get(close + 2).map(|c| *c as char)
}

fn wchan(pid: u32, tid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/wchan")).unwrap_or_default()
}

/// Builds and starts the C target; returns when the waiter waits on the
/// mutex, the holder reads its pipe and the heartbeat has beaten.
pub fn c_target() -> CTarget {
    c_target_with(&[], |_| {})
}

/// [`c_target`] built with extra gcc flags, and `fix` applied to the
/// executable before it starts.
pub fn c_target_with(flags: &[&str], fix: impl FnOnce(&Path)) -> CTarget {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("target.c");
    std::fs::write(&src, SOURCE).unwrap();
    let exe = dir.path().join("ustack-target");
    let out = Command::new("gcc")
        .args(["-O2", "-g", "-fomit-frame-pointer", "-pthread"])
        .args(flags)
        .arg("-o")
        .arg(&exe)
        .arg(&src)
        .output()
        .expect("gcc (apt-get install gcc)");
    assert!(
        out.status.success(),
        "gcc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    fix(&exe);
    let beats = dir.path().join("beats");
    let mut c = Command::new(&exe);
    c.arg(&beats);
    let t = CTarget {
        target: start(c),
        beats,
        _dir: dir,
    };
    let start = Instant::now();
    loop {
        // The threads name themselves after `ready`.
        let (Some(w), Some(h)) = (t.find("waiter"), t.find("holder")) else {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "threads never named"
            );
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        let ok = task_stat_state(t.pid(), w) == Some('S')
            && wchan(t.pid(), w).contains("futex")
            && task_stat_state(t.pid(), h) == Some('S')
            && wchan(t.pid(), h).contains("pipe")
            && t.beats() > 0;
        if ok {
            break t;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "target never settled"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Every thread of `pid` afterwards: not stopped (T/t), not traced, no
/// signal pending — per thread and for the process.
pub fn assert_untouched(pid: u32) {
    for tid in tids(pid) {
        let status = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status")).unwrap();
        let field = |k: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(k))
                .map(|v| v.trim().to_string())
                .unwrap_or_else(|| panic!("no {k} in status"))
        };
        let state = field("State:");
        assert!(
            !state.starts_with('T') && !state.starts_with('t'),
            "thread {tid} left {state}"
        );
        assert_eq!(field("TracerPid:"), "0", "thread {tid} left traced");
        assert_eq!(
            field("SigPnd:"),
            "0000000000000000",
            "thread {tid}: signal pending"
        );
        assert_eq!(
            field("ShdPnd:"),
            "0000000000000000",
            "thread {tid}: shared signal pending"
        );
    }
}

/// The `stack --json` group holding `tid`.
pub fn group_of(doc: &Value, tid: u32) -> &Value {
    doc["processes"][0]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["tids"].as_array().unwrap().iter().any(|t| t == tid))
        .unwrap_or_else(|| panic!("no group with {tid}"))
}

pub fn functions(group: &Value) -> Vec<String> {
    group["user"]["frames"]
        .as_array()
        .unwrap_or_else(|| panic!("no user frames: {}", group["user"]))
        .iter()
        .map(|f| f["function"].as_str().unwrap_or("?").to_string())
        .collect()
}

/// The frame of `function` in a group's user frames.
fn frame<'a>(group: &'a Value, function: &str) -> &'a Value {
    group["user"]["frames"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["function"] == function)
        .unwrap_or_else(|| panic!("no frame {function} in {:?}", functions(group)))
}

/// `want` appear in `have` in this order, one right after the other.
fn assert_chain(have: &[String], want: &[&str]) {
    let at = have
        .windows(want.len())
        .position(|w| w.iter().zip(want).all(|(a, b)| a == b));
    assert!(at.is_some(), "{want:?} not consecutive in {have:?}");
}

fn base(p: &Value) -> String {
    Path::new(p.as_str().unwrap_or(""))
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[test]
fn user_frames_name_every_function_innermost_first_with_file_and_line() {
    let t = c_target();
    let pid = t.pid().to_string();
    let before = t.beats();
    let r = run(&["stack", "--user", "--no-group", "--json", &pid]);
    let after = t.beats();
    assert_eq!(r.status, 0, "{}", r.stderr);
    let doc = r.json();

    // The mutex wait, three functions deep, under glibc's lock frames.
    let w = group_of(&doc, t.tid("waiter"));
    assert_eq!(w["user"]["how"], "syscall");
    let f = functions(w);
    assert_chain(&f, &["db_lock", "db_commit", "db_write", "waiter"]);
    let lock = f.iter().position(|x| x == "db_lock").unwrap();
    assert!(
        f[..lock].iter().any(|x| x.contains("lll_lock_wait"))
            && f[..lock].iter().any(|x| x.contains("pthread_mutex_lock")),
        "libc's lock frames missing above db_lock: {f:?}"
    );
    for (func, mark) in [
        ("db_lock", "mutex"),
        ("db_commit", "commit"),
        ("db_write", "write"),
    ] {
        let fr = frame(w, func);
        assert_eq!(base(&fr["file"]), "target.c", "{fr}");
        assert_eq!(fr["line"], line_of(mark), "{fr}");
        assert!(base(&fr["module"]) == "ustack-target", "{fr}");
        assert_eq!(fr["kind"], "user");
    }

    // The pipe read, two functions deep, under libc's read.
    let h = group_of(&doc, t.tid("holder"));
    let f = functions(h);
    assert_chain(&f, &["read_reply", "fetch_reply", "holder"]);
    assert!(f[0].contains("libc_read"), "{f:?}");
    assert_eq!(frame(h, "read_reply")["line"], line_of("read"));
    assert_eq!(frame(h, "fetch_reply")["line"], line_of("fetch"));
    // The outermost frame is glibc's clone3, and the walk knew it ended.
    assert_eq!(f.last().map(String::as_str), Some("clone3"), "{f:?}");
    assert_eq!(h["user"]["end"], "root");

    // The heartbeat was on a CPU: stopped alone, briefly, and beat on. On
    // a loaded machine it may not get a CPU within the 5 ms an interrupt is
    // given (it is then left alone, and says so): ask again a few times.
    let mut doc = doc;
    for _ in 0..5 {
        let b = group_of(&doc, t.tid("beat"));
        if b["user"]["how"] == "interrupted" {
            break;
        }
        let e = b["user"]["error"]["message"].as_str().unwrap_or_default();
        assert!(e.contains("did not stop within"), "{}", b["user"]);
        assert_untouched(t.pid());
        doc = run(&["stack", "--user", "--no-group", "--json", &pid]).json();
    }
    let b = group_of(&doc, t.tid("beat"));
    assert_eq!(b["user"]["how"], "interrupted", "{}", b["user"]);
    assert!(
        functions(b).iter().any(|x| x == "beat"),
        "{:?}",
        functions(b)
    );
    assert!(b["user"]["stopped_us"].as_u64().unwrap() < 50_000);
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        t.beats() > after && after >= before,
        "heartbeat stopped: {before} {after}"
    );
    assert_untouched(t.pid());

    // The text: function+offset (file:line) [module], under the kernel frames.
    let r = run(&["stack", "-u", &pid]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let out = r.out();
    let want = format!("(target.c:{}) [ustack-target]", line_of("mutex"));
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with("db_lock+0x"))
        .unwrap_or_else(|| panic!("no db_lock frame:\n{out}"));
    assert!(line.ends_with(&want), "{line}");
    let kernel = out
        .find("futex_do_wait")
        .or(out.find("futex_wait"))
        .unwrap();
    assert!(
        kernel < out.find("db_lock+0x").unwrap(),
        "kernel frames first:\n{out}"
    );
    assert!(
        out.contains("user  (not stopped: registers from its system call)"),
        "{out}"
    );
    assert_untouched(t.pid());
}

#[test]
fn many_runs_leave_nothing_stopped_traced_or_pending_and_the_heartbeat_beats() {
    let t = c_target();
    let pid = t.pid().to_string();
    let mut last = t.beats();
    for _ in 0..20 {
        let r = run(&["stack", "-u", "--json", &pid]);
        assert_eq!(r.status, 0, "{}", r.stderr);
        assert_untouched(t.pid());
    }
    std::thread::sleep(Duration::from_millis(50));
    assert!(t.beats() > last);
    last = t.beats();
    // The target still works: its threads are where they were.
    assert_eq!(task_stat_state(t.pid(), t.tid("waiter")), Some('S'));
    assert_eq!(task_stat_state(t.pid(), t.tid("beat")), Some('R'));
    std::thread::sleep(Duration::from_millis(50));
    assert!(t.beats() > last);
}

#[test]
fn a_vfork_parent_in_d_is_read_without_being_stopped_or_traced() {
    let t = start_kit(&["vfork-d", "30"]);
    let pid = t.pid();
    assert!(
        (0..250).any(|_| {
            std::thread::sleep(Duration::from_millis(20));
            task_stat_state(pid, pid) == Some('D')
        }),
        "vfork parent never reached D"
    );
    let r = run_with(
        &["--timeout", "1s", "stack", "-u", "--json", &pid.to_string()],
        &[],
        Duration::from_secs(10),
    );
    assert!(r.took < Duration::from_secs(5), "{:?}", r.took);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let doc = r.json();
    let g = group_of(&doc, pid);
    // In vfork, blocked in the system call: registers from `syscall`,
    // frames from its stack, nothing stopped.
    assert_eq!(g["user"]["how"], "syscall", "{}", g["user"]);
    // testkit's vfork is clone(CLONE_VM | CLONE_VFORK) from vfork_d.
    let f = functions(g);
    assert_chain(&f, &["clone", "procscope_testkit::vfork_d"]);
    assert_eq!(task_stat_state(pid, pid), Some('D'));
    assert_untouched(pid);
    // The child sleeps; kill it too.
    let r = run(&["ps", "--pids", "--ppid", &t.pid_s()]);
    if let Ok(c) = r.out().trim().parse::<u32>() {
        kill(c);
    }
}

/// The memory-lock target (as in hang.rs): the FUSE daemon is dropped
/// first, which fails the stuck page fault, then the target.
struct MemLockHang {
    _fuse: HungFuse,
    target: Target,
}

fn mem_lock_hang() -> MemLockHang {
    let fuse = HungFuse::mount();
    let target = start_kit(&["mem-hang", fuse.hang_file().to_str().unwrap()]);
    assert!(
        wait_all_threads(target.pid(), 'D', Duration::from_secs(5)),
        "mem-hang threads did not reach D state"
    );
    MemLockHang {
        _fuse: fuse,
        target,
    }
}

#[test]
fn the_memory_lock_target_is_answered_within_the_deadline_and_left_untraced() {
    let h = mem_lock_hang();
    let pid = h.target.pid();
    let r = run_with(
        &[
            "--timeout",
            "500ms",
            "stack",
            "-u",
            "--json",
            &pid.to_string(),
        ],
        &[],
        Duration::from_secs(10),
    );
    assert!(r.took < Duration::from_secs(4), "{:?}", r.took);
    // The kernel side is all there: an answer, not an error.
    assert_eq!(r.status, 0, "{}", r.stderr);
    let doc = r.json();
    for g in doc["processes"][0]["groups"].as_array().unwrap() {
        // Its memory cannot be read: each thread says so.
        assert_eq!(g["user"]["error"]["reason"], "timed_out", "{g:#}");
    }
    assert_untouched(pid);
    let r = run_with(
        &["--timeout", "500ms", "stack", "-u", &pid.to_string()],
        &[],
        Duration::from_secs(10),
    );
    assert!(
        r.out().contains("user    ? (timed out after 500 ms"),
        "{}",
        r.out()
    );
    assert_untouched(pid);
}

#[test]
fn why_names_where_the_mutex_waiter_waits_and_what_the_owner_does() {
    let t = c_target();
    let (waiter, holder) = (t.tid("waiter"), t.tid("holder"));
    let r = run(&["why", &t.pid().to_string()]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let out = r.out();
    let want = format!(
        "thread {waiter}: waits in db_lock (target.c:{}): waiting for a mutex",
        line_of("mutex")
    );
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with(&want))
        .unwrap_or_else(|| panic!("no verdict {want:?}:\n{out}"));
    let owner = format!(
        "held by thread {holder} (holder); thread {holder} (in read_reply (target.c:{})): waiting for data on a pipe",
        line_of("read")
    );
    assert!(line.contains(&owner), "{line}");
    let doc = run(&["why", "--json", &t.pid().to_string()]).json();
    let g = doc["processes"][0]["processes"][0]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["tids"][0] == waiter)
        .unwrap()
        .clone();
    assert_eq!(g["place"]["function"], "db_lock", "{g:#}");
    assert_eq!(g["place"]["line"], line_of("mutex"));
    assert_eq!(g["wait"]["owner"], holder);
    assert_untouched(t.pid());
}

#[test]
fn why_through_a_stuck_memory_lock_names_the_holder_the_file_the_mount_and_the_daemon() {
    let h = mem_lock_hang();
    let pid = h.target.pid();
    let reader = tids(pid)
        .into_iter()
        .find(|t| {
            std::fs::read_to_string(format!("/proc/{pid}/task/{t}/comm"))
                .is_ok_and(|c| c.trim() == "mem-reader")
        })
        .unwrap();
    let r = run_with(
        &["--timeout", "500ms", "why", "--json", &pid.to_string()],
        &[],
        Duration::from_secs(10),
    );
    assert!(r.took < Duration::from_secs(5), "{:?}", r.took);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let doc = r.json();
    let groups = doc["processes"][0]["processes"][0]["groups"]
        .as_array()
        .unwrap()
        .clone();
    let holder = groups.iter().find(|g| g["tids"][0] == reader).unwrap();
    let w = &holder["wait"];
    assert_eq!(w["kind"], "memory_lock_holder", "{holder:#}");
    assert_eq!(w["owner"], pid);
    let hang = h._fuse.hang_file();
    assert_eq!(w["files"][0]["path"], hang.to_str().unwrap(), "{w:#}");
    assert_eq!(
        w["files"][0]["mount_point"],
        h._fuse.dir.path().to_str().unwrap()
    );
    assert_eq!(w["daemons"][0]["pid"], h._fuse.daemon_pid());
    assert!(w["addr"].as_u64().unwrap() > 0);
    let waiter = groups.iter().find(|g| g["tids"][0] == pid).unwrap();
    assert_eq!(waiter["wait"]["kind"], "memory_lock_waiter", "{waiter:#}");
    assert_eq!(waiter["wait"]["holders"][0]["tid"], reader);

    let r = run_with(
        &["--timeout", "500ms", "why", &pid.to_string()],
        &[],
        Duration::from_secs(10),
    );
    let out = r.out();
    assert!(
        out.contains(&format!(
            "thread {pid}: waiting for its memory-map lock, held by thread {reader} (mem-reader)"
        )),
        "{out}"
    );
    let fd = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| std::fs::read_link(e.path()).is_ok_and(|l| l == hang))
        .map(|e| e.file_name().into_string().unwrap())
        .unwrap();
    assert!(
        out.contains(&format!(
            "of {} (fd {fd}, on {} (fuse))",
            hang.display(),
            h._fuse.dir.path().display()
        )),
        "{out}"
    );
    assert_untouched(pid);
}

#[test]
fn hung_names_the_memory_lock_holder_in_the_waiters_cause() {
    let h = mem_lock_hang();
    let pid = h.target.pid();
    let reader = tids(pid)
        .into_iter()
        .find(|t| {
            std::fs::read_to_string(format!("/proc/{pid}/task/{t}/comm"))
                .is_ok_and(|c| c.trim() == "mem-reader")
        })
        .unwrap();
    let r = run_with(
        &["--timeout", "500ms", "hung", "--window", "400ms", "--json"],
        &[],
        Duration::from_secs(15),
    );
    assert_eq!(r.status, 1, "{}", r.stderr);
    let v = r.json();
    let groups = v["groups"].as_array().unwrap();
    let find = |tid: u32| {
        groups
            .iter()
            .find(|g| {
                g["tasks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|t| t["tid"] == tid)
            })
            .unwrap_or_else(|| panic!("{tid} not reported: {v:#}"))
    };
    let waiter = find(pid);
    assert_eq!(
        waiter["cause"].as_str().unwrap(),
        format!(
            "waiting for the memory-map lock of PID {pid}, held by thread {reader} (stuck in a page fault: see its group)"
        ),
        "{waiter:#}"
    );
    let holder = find(reader);
    assert!(
        holder["cause"]
            .as_str()
            .unwrap()
            .ends_with(&format!("— the lock of PID {pid}")),
        "{holder:#}"
    );
}

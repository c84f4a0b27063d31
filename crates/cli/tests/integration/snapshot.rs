//! `procscope snapshot`, `--snapshot` and `diff`: snapshots of processes in
//! known states, read back after the processes are gone, give the answers
//! procscope gave live; hung processes are recorded as timed out; secrets
//! never reach the file; a damaged or hostile file is refused clearly.

use crate::support::*;
use serde_json::Value;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The children of `pid`.
fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|k| k.parse().ok())
        .collect()
}

/// Takes a snapshot of `pids` into `file`.
fn snap(file: &Path, extra: &[&str], pids: &[u32]) -> Run {
    let mut args: Vec<String> = vec!["snapshot".into(), "-o".into(), file.display().to_string()];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(pids.iter().map(u32::to_string));
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = run_with(&a, &[], Duration::from_secs(60));
    assert_eq!(r.status, 0, "snapshot: {}", r.stderr);
    r
}

/// Runs a command on the snapshot.
fn on(file: &Path, args: &[&str]) -> Run {
    let mut a = vec!["--snapshot", file.to_str().unwrap()];
    a.extend_from_slice(args);
    run_with(&a, &[], Duration::from_secs(30))
}

/// Drops what depends on when a document was made — ages, idle times,
/// elapsed times, timer countdowns, the `snapshot` member, proportional
/// memory (PSS and USS change as other processes map the same libraries)
/// — and how many
/// processes a peer search looked at (a snapshot of some processes holds
/// fewer to look at; the peers found are compared), and the PID of the
/// procscope that answered (namespaces are compared with its own).
fn timeless(v: &mut Value) {
    match v {
        Value::Object(m) => {
            // RLIMIT_NPROC's usage counts the user's threads on the whole
            // host (a snapshot of some processes counts only those), and
            // RLIMIT_SIGPENDING's the signals queued for the user now.
            if matches!(
                m.get("resource").and_then(Value::as_str),
                Some("nproc" | "sigpending")
            ) {
                m.remove("usage");
            }
            m.retain(|k, _| {
                !(k == "snapshot"
                    || k.contains("elapsed")
                    || k.contains("idle")
                    || k.contains("wakes_in")
                    || k == "next_ns"
                    || k == "peer_search"
                    || k == "memory_current"
                    || k == "reference_pid"
                    || k.starts_with("pss")
                    || k == "uss"
                    || k.ends_with("_age_secs")
                    || k == "age")
            });
            // A verdict counts a sleep down in words ("wakes in 60 min"),
            // and a minute boundary may fall between the two answers.
            if let Some(Value::String(s)) = m.get_mut("verdict") {
                *s = countdown().replace_all(s, "wakes in …").into_owned();
            }
            for x in m.values_mut() {
                timeless(x);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(timeless),
        _ => {}
    }
}

fn live_json(args: &[&str]) -> Value {
    let r = run(args);
    assert_eq!(r.status, 0, "{args:?}: {}", r.stderr);
    let mut v = r.json();
    timeless(&mut v);
    v
}

fn replay_json(file: &Path, args: &[&str]) -> Value {
    let r = on(file, args);
    assert_eq!(r.status, 0, "{args:?} on the snapshot: {}", r.stderr);
    let mut v = r.json();
    assert_eq!(
        v["snapshot"]["file"].as_str(),
        Some(file.to_str().unwrap()),
        "the document says where it comes from"
    );
    timeless(&mut v);
    v
}

/// "wakes in" and the countdown after it, up to the next `;` or `,`.
fn countdown() -> &'static regex::Regex {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| regex::Regex::new("wakes in [^;,]*").unwrap())
}

/// Asserts two documents are equal, showing the first difference.
fn same(what: &str, live: &Value, replayed: &Value) {
    if live != replayed {
        let (l, r) = (
            serde_json::to_string_pretty(live).unwrap(),
            serde_json::to_string_pretty(replayed).unwrap(),
        );
        let first = l
            .lines()
            .zip(r.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        let ctx = |s: &str| {
            s.lines()
                .skip(first.saturating_sub(8))
                .take(16)
                .collect::<Vec<_>>()
                .join("\n")
        };
        panic!(
            "{what}: the snapshot's answer differs from the live one at line {first}:\nlive:\n{}\nreplayed:\n{}",
            ctx(&l),
            ctx(&r)
        );
    }
}

/// Starts a testkit mode with nothing of the test runner's: stderr goes
/// nowhere and inherited fds (the runner's jobserver pipe, a lock file)
/// are closed. Their other holders (the runner, `flock`) are not in a
/// snapshot of the test's processes, so `fds` could not name them there.
fn start_quiet(args: &[&str]) -> Target {
    use std::os::unix::process::CommandExt;
    let mut c = std::process::Command::new(testkit());
    c.args(args);
    // SAFETY: close_range is async-signal-safe; fds 0-2 are kept.
    unsafe {
        c.pre_exec(|| {
            libc::close_range(3, u32::MAX, 0);
            Ok(())
        });
    }
    c.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let mut child = c.spawn().unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "ready");
    Target { child }
}

#[test]
fn a_zoo_and_waiting_threads_answer_from_the_snapshot_as_they_did_live() {
    let dir = tempfile::tempdir().unwrap();
    let zoo = start_quiet(&["fdzoo", dir.path().to_str().unwrap()]);
    let waits = start_quiet(&["waits"]);
    let threads = start_quiet(&["threads"]);
    let zp = zoo.pid_s();
    let waiter = children(zoo.pid())
        .into_iter()
        .find(|k| {
            std::fs::read_to_string(format!("/proc/{k}/comm"))
                .unwrap_or_default()
                .trim()
                == "zoo-waiter"
        })
        .expect("the zoo's lock waiter");
    assert!(wait_all_threads(threads.pid(), 'S', Duration::from_secs(5)));
    std::thread::sleep(Duration::from_millis(300));
    // Live answers, just before the snapshot.
    let (wp, tp, ws) = (waits.pid_s(), threads.pid_s(), waiter.to_string());
    let queries: Vec<Vec<&str>> = vec![
        vec!["fds", "--json", &zp],
        vec!["fds", "--json", &wp],
        vec!["stack", "--json", &wp],
        vec!["stack", "--json", &tp],
        vec!["stack", "--user", "--json", &tp],
        vec!["why", "--json", &ws],
        vec!["why", "--json", &tp],
        vec!["show", "--json", &zp],
        vec!["show", "--json", "-s", "files,limits,namespaces", &wp],
        vec!["cmdline", "--json", &zp],
    ];
    let live: Vec<Value> = queries.iter().map(|q| live_json(q)).collect();
    let env_live = run(&["env", "-0", &zp]);
    assert_eq!(env_live.status, 0);
    // The zoo, its children, the other targets and this test process
    // (which holds the other end of their stdout pipes).
    let mut pids = vec![zoo.pid(), waits.pid(), threads.pid(), std::process::id()];
    pids.extend(children(zoo.pid()));
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("zoo.psnap");
    snap(&file, &[], &pids);
    // Gone: the answers can only come from the file.
    drop((zoo, waits, threads));
    kill(waiter);
    std::thread::sleep(Duration::from_millis(100));
    for (q, l) in queries.iter().zip(&live) {
        let r = replay_json(&file, q);
        same(&q.join(" "), l, &r);
    }
    // Where the threads wait in their program came from the file too (and
    // was compared above): every group of the thread groups has a place.
    let why = replay_json(&file, &["why", "--json", &tp]);
    let groups = why["processes"][0]["processes"][0]["groups"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(!groups.is_empty(), "{why:#}");
    for g in &groups {
        assert!(g["place"]["function"].is_string(), "no place in {g:#}");
    }
    let env = on(&file, &["env", "-0", &zp]);
    assert_eq!(env.status, 0, "{}", env.stderr);
    assert_eq!(env.stdout, env_live.stdout, "env -0 differs");
    // Text says where the answers come from.
    let t = on(&file, &["stack", &tp]);
    assert!(
        t.stderr.contains("answers from the snapshot") && t.stderr.contains("taken"),
        "{}",
        t.stderr
    );
    assert!(t.out().contains("waiter-"), "{}", t.out());
}

#[test]
fn a_hung_fuse_reader_and_its_daemon_replay_why() {
    let fuse = HungFuse::mount();
    let reader = start_kit(&["read-hang", fuse.hang_file().to_str().unwrap()]);
    let pid = reader.pid();
    assert!(
        wait_all_threads(pid, 'D', Duration::from_secs(5)) || {
            std::thread::sleep(Duration::from_millis(300));
            true
        }
    );
    let q = ["why", "--json", &reader.pid_s()];
    let live = live_json(&q);
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("fuse.psnap");
    let r = snap(&file, &[], &[pid, fuse.daemon_pid(), std::process::id()]);
    assert!(r.took < Duration::from_secs(20), "took {:?}", r.took);
    // The daemon first (it fails the stuck read), then the reader.
    drop(fuse);
    drop(reader);
    same("why", &live, &replay_json(&file, &q));
}

/// A memory-lock hang: the FUSE daemon is dropped before the target.
struct MemLockHang {
    _fuse: HungFuse,
    target: Target,
}

#[test]
fn a_snapshot_next_to_a_stuck_memory_lock_finishes_and_says_timed_out() {
    let fuse = HungFuse::mount();
    let target = start_kit(&["mem-hang", fuse.hang_file().to_str().unwrap()]);
    let h = MemLockHang {
        _fuse: fuse,
        target,
    };
    let pid = h.target.pid();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !read_blocks(
        Path::new(&format!("/proc/{pid}/cmdline")),
        Duration::from_millis(300),
    ) {
        assert!(Instant::now() < deadline, "the memory lock never got stuck");
    }
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("hang.psnap");
    let t0 = Instant::now();
    let mut args = vec![
        "--timeout",
        "300ms",
        "snapshot",
        "-o",
        file.to_str().unwrap(),
    ];
    let ps = pid.to_string();
    let me = std::process::id().to_string();
    args.push(&ps);
    args.push(&me);
    let r = run_with(&args, &[], Duration::from_secs(30));
    assert_eq!(r.status, 0, "{}", r.stderr);
    // A few deadlines, not one per file.
    assert!(
        t0.elapsed() < Duration::from_secs(10),
        "took {:?}",
        t0.elapsed()
    );
    assert!(r.stderr.contains("timed out"), "{}", r.stderr);
    drop(h);
    // Read back: the command line says it timed out when taken.
    let c = on(&file, &["cmdline", "--json", &ps]);
    let v = c.json();
    assert_eq!(
        v["processes"][0]["argv"]["error"]["reason"], "timed_out",
        "{v:#}"
    );
    assert_eq!(v["processes"][0]["argv"]["error"]["after_ms"], 300);
    // Its stack was read (stack does not take the memory lock).
    let s = on(&file, &["stack", "--json", &ps]);
    assert_eq!(s.status, 0, "{}", s.stderr);
}

/// The decompressed bytes of a snapshot.
fn decompressed(file: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    zstd::Decoder::new(std::fs::File::open(file).unwrap())
        .unwrap()
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn redact_keeps_secrets_out_of_the_file_and_no_env_leaves_environments_out() {
    let secret = "tok-4b1d9e77c0ffee";
    let mut c = std::process::Command::new(testkit());
    c.args(["sleep"])
        .env("API_TOKEN", secret)
        .env("PLAIN_MARKER", "visible-1234");
    let t = start(c);
    let out = tempfile::tempdir().unwrap();
    let plain = out.path().join("plain.psnap");
    let red = out.path().join("red.psnap");
    let none = out.path().join("none.psnap");
    snap(&plain, &[], &[t.pid()]);
    snap(&red, &["--redact"], &[t.pid()]);
    snap(&none, &["--no-env"], &[t.pid()]);
    // The test can see the token when it is there…
    assert!(contains(&decompressed(&plain), secret.as_bytes()));
    // …and it is not in the redacted file, whose other values stay.
    let r = decompressed(&red);
    assert!(
        !contains(&r, secret.as_bytes()),
        "the token reached the file"
    );
    assert!(contains(&r, b"visible-1234"));
    assert!(contains(&r, b"API_TOKEN=<redacted: 8-31 bytes>"));
    let n = decompressed(&none);
    assert!(!contains(&n, secret.as_bytes()) && !contains(&n, b"visible-1234"));
    let e = on(&red, &["env", &t.pid_s(), "API_TOKEN"]);
    assert_eq!(e.status, 0, "{}", e.stderr);
    assert!(e.out().contains("<redacted: 8-31 bytes>"), "{}", e.out());
}

#[test]
fn diff_names_an_fd_leak_between_two_snapshots() {
    let t = start_kit(&["sleep"]);
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.psnap");
    let b = dir.path().join("b.psnap");
    let me = std::process::id();
    snap(&a, &[], &[t.pid(), me]);
    let leaked: Vec<std::fs::File> = (0..5)
        .map(|i| std::fs::File::create(dir.path().join(format!("leak-{i}.log"))).unwrap())
        .collect();
    snap(&b, &[], &[t.pid(), me]);
    let r = run(&["diff", "--json", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(r.status, 1, "differences: exit 1 ({})", r.stderr);
    let v = r.json();
    let mine = v["changed"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["pid"] == me)
        .unwrap_or_else(|| panic!("{v:#}"));
    let opened: Vec<&str> = mine["fds_opened"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["link"].as_str())
        .filter(|l| l.contains("leak-"))
        .collect();
    assert_eq!(opened.len(), 5, "{mine:#}");
    // The sleeping target did not change.
    assert!(
        !v["changed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["pid"] == t.pid()),
        "{v:#}"
    );
    let text = run(&["diff", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(text.status, 1);
    let out = text.out();
    let plus = out
        .lines()
        .filter(|l| l.trim_start().starts_with("+ fd ") && l.contains("leak-"))
        .count();
    assert_eq!(plus, 5, "{out}");
    assert!(text.out().contains("leak-3.log"), "{}", text.out());
    // A snapshot against itself: no differences, exit 0.
    let same = run(&["diff", a.to_str().unwrap(), a.to_str().unwrap()]);
    assert_eq!(same.status, 0, "{}", same.out());
    drop(leaked);
}

/// A snapshot built by hand: the format line, then `entries`.
fn crafted(dir: &Path, name: &str, entries: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> PathBuf {
    let mut b = tar::Builder::new(Vec::new());
    let line = b"procscope-snapshot 1\n";
    let mut h = tar::Header::new_gnu();
    h.set_size(line.len() as u64);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, ".procscope/format", &line[..])
        .unwrap();
    entries(&mut b);
    let raw = b.into_inner().unwrap();
    let p = dir.join(name);
    std::fs::write(&p, zstd::encode_all(&raw[..], 3).unwrap()).unwrap();
    p
}

fn refused(file: &Path, want: &str) {
    let r = on(file, &["ps"]);
    assert_eq!(r.status, 2, "{}: {}", file.display(), r.out());
    assert!(r.stderr.contains(want), "{}: {}", file.display(), r.stderr);
    assert!(r.took < Duration::from_secs(10));
}

#[test]
fn damaged_newer_or_hostile_snapshots_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    // A real one, cut in half.
    let t = start_kit(&["sleep"]);
    let good = dir.path().join("good.psnap");
    snap(&good, &[], &[t.pid()]);
    assert_eq!(on(&good, &["ps"]).status, 0);
    let bytes = std::fs::read(&good).unwrap();
    let cut = dir.path().join("cut.psnap");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    refused(&cut, "corrupted or truncated");
    let mut flipped = bytes.clone();
    let mid = flipped.len() / 2;
    for b in &mut flipped[mid..mid + 64] {
        *b ^= 0x5a;
    }
    let bad = dir.path().join("flipped.psnap");
    std::fs::write(&bad, &flipped).unwrap();
    refused(&bad, "corrupted or truncated");
    let junk = dir.path().join("junk.psnap");
    std::fs::write(&junk, b"hello, not a snapshot").unwrap();
    refused(&junk, "not a procscope snapshot");
    // A newer format.
    let newer = dir.path().join("newer.psnap");
    {
        let mut b = tar::Builder::new(Vec::new());
        let line = b"procscope-snapshot 99\n";
        let mut h = tar::Header::new_gnu();
        h.set_size(line.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, ".procscope/format", &line[..])
            .unwrap();
        let raw = b.into_inner().unwrap();
        std::fs::write(&newer, zstd::encode_all(&raw[..], 3).unwrap()).unwrap();
    }
    refused(&newer, "newer than this procscope reads");
    // `..`, an absolute path, a FIFO, a device, a stray symlink, a huge entry.
    let dotdot = crafted(dir.path(), "dotdot.psnap", |b| {
        let mut h = tar::Header::new_old();
        h.set_size(1);
        h.set_mode(0o644);
        {
            let name = &mut h.as_old_mut().name;
            let n = b"1/../../escape";
            name[..n.len()].copy_from_slice(n);
        }
        h.set_cksum();
        b.append(&h, &b"x"[..]).unwrap();
    });
    refused(&dotdot, "`..`");
    let fifo = crafted(dir.path(), "fifo.psnap", |b| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Fifo);
        h.set_size(0);
        h.set_mode(0o644);
        b.append_data(&mut h, "1/stat", std::io::empty()).unwrap();
    });
    refused(&fifo, "a FIFO");
    let dev = crafted(dir.path(), "dev.psnap", |b| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Char);
        h.set_size(0);
        h.set_mode(0o644);
        b.append_data(&mut h, "1/environ", std::io::empty())
            .unwrap();
    });
    refused(&dev, "a character device");
    let link = crafted(dir.path(), "link.psnap", |b| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_mode(0o777);
        b.append_link(&mut h, "1", "/proc/1").unwrap();
    });
    refused(&link, "a symbolic link where a proc tree has none");
    let huge = crafted(dir.path(), "huge.psnap", |b| {
        let mut h = tar::Header::new_gnu();
        h.set_path("1/cmdline").unwrap();
        h.set_size(1 << 40);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        // Only the header: the size alone is refused before reading.
        b.get_mut().extend_from_slice(h.as_bytes());
    });
    refused(&huge, "over the");
    // Nothing was written outside the private directory.
    assert!(!dir.path().join("escape").exists());
    assert!(!Path::new("/tmp/escape").exists());
}

/// A procscope killed while it read a snapshot leaves its unpacking
/// directory behind (tmpfs memory nothing else frees); the next one that
/// opens a snapshot removes it — and only it: not the directory of a
/// procscope still running, not a symbolic link posing under that name.
#[test]
fn a_killed_readers_unpacked_directory_is_removed_by_the_next_one() {
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("me.psnap");
    snap(&file, &[], &[std::process::id()]);
    let tmp = tempfile::tempdir().unwrap();
    // A PID nobody has now: a child that was reaped.
    let mut c = std::process::Command::new("true").spawn().unwrap();
    let dead = c.id();
    c.wait().unwrap();
    let stale = tmp
        .path()
        .join(format!("procscope-snapshot-{dead}.123-AbC123"));
    std::fs::create_dir_all(stale.join("1/task/1")).unwrap();
    std::fs::write(stale.join("1/task/1/stat"), b"1 (x) S").unwrap();
    // This test process stands for a procscope still reading.
    let me = std::process::id();
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let start = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .nth(19)
        .unwrap();
    let alive = tmp
        .path()
        .join(format!("procscope-snapshot-{me}.{start}-KeEp12"));
    std::fs::create_dir(&alive).unwrap();
    std::fs::write(alive.join("f"), b"x").unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::write(elsewhere.path().join("precious"), b"x").unwrap();
    let link = tmp
        .path()
        .join(format!("procscope-snapshot-{dead}.9-LiNk12"));
    std::os::unix::fs::symlink(elsewhere.path(), &link).unwrap();

    let mut a = vec!["--snapshot", file.to_str().unwrap(), "ps"];
    let me_s = me.to_string();
    a.extend(["-p", &me_s]);
    let r = run_with(
        &a,
        &[("TMPDIR", tmp.path().to_str().unwrap())],
        Duration::from_secs(30),
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(
        !stale.exists(),
        "the dead reader's directory is still there"
    );
    assert!(
        alive.join("f").exists(),
        "a running reader's directory was removed"
    );
    assert!(link.symlink_metadata().is_ok(), "the link was removed");
    assert!(elsewhere.path().join("precious").exists());
    // And its own directory is gone when it exits.
    let mut left: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    let mut want = vec![
        alive.file_name().unwrap().to_string_lossy().into_owned(),
        link.file_name().unwrap().to_string_lossy().into_owned(),
    ];
    want.sort();
    assert_eq!(left, want);
}

/// Crafted files the first adversarial review used: a second manifest, a
/// format number too large for any integer, a decompression bomb (1 GiB
/// of zeros in a few KB), a manifest whose strings would draw on the
/// terminal; and a FIFO given as the snapshot, with no writer.
#[test]
fn bombs_twins_huge_versions_fifos_and_terminal_tricks_are_refused_or_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let t = start_kit(&["sleep"]);
    let good = dir.path().join("good.psnap");
    snap(&good, &[], &[t.pid()]);
    // The real manifest and tape, to build variants of a valid file.
    let mut manifest = Vec::new();
    let mut live = Vec::new();
    let mut ar =
        tar::Archive::new(zstd::Decoder::new(std::fs::File::open(&good).unwrap()).unwrap());
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let p = e.path().unwrap().to_string_lossy().into_owned();
        if p == ".procscope/manifest.json" {
            std::io::Read::read_to_end(&mut e, &mut manifest).unwrap();
        } else if p == ".procscope/live.json" {
            std::io::Read::read_to_end(&mut e, &mut live).unwrap();
        }
    }
    assert!(!manifest.is_empty() && !live.is_empty());
    let add = |b: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, data).unwrap();
    };
    let twins = crafted(dir.path(), "twins.psnap", |b| {
        add(b, ".procscope/manifest.json", &manifest);
        add(b, ".procscope/manifest.json", &manifest);
    });
    refused(&twins, "a name given twice");
    // serve would stamp a past moment with each scrape's time.
    let r = on(&good, &["serve"]);
    assert_eq!(r.status, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("serve exports the live host"),
        "{}",
        r.stderr
    );
    let huge = dir.path().join("huge.psnap");
    {
        let mut b = tar::Builder::new(Vec::new());
        add(
            &mut b,
            ".procscope/format",
            b"procscope-snapshot 99999999999999999999999\n",
        );
        let raw = b.into_inner().unwrap();
        std::fs::write(&huge, zstd::encode_all(&raw[..], 3).unwrap()).unwrap();
    }
    refused(&huge, "newer than this procscope reads");
    let bomb = crafted(dir.path(), "bomb.psnap", |b| {
        add(b, "1/cmdline", &vec![0u8; 200 << 20]);
    });
    assert!(std::fs::metadata(&bomb).unwrap().len() < 200 << 10);
    refused(&bomb, "decompression bomb");
    // Strings of the manifest reach the terminal escaped.
    let mut m: Value = serde_json::from_slice(&manifest).unwrap();
    m["hostname"] = "evil\u{1b}[2J\nprocscope: fake line".into();
    m["kernel_release"] = "\u{202e}lave".into();
    m["taken_at"] = "not a date".into();
    let evil = serde_json::to_vec(&m).unwrap();
    let evil_file = crafted(dir.path(), "evil.psnap", |b| {
        add(b, ".procscope/manifest.json", &evil);
        add(b, ".procscope/live.json", &live);
    });
    let r = on(&evil_file, &["ps"]);
    assert!(r.status == 0 || r.status == 1, "{}", r.stderr);
    assert!(!r.stderr.contains("\nprocscope: fake line"), "{}", r.stderr);
    assert_terminal_safe(&r.stderr);
    assert!(!r.stderr.contains("not a date"), "{}", r.stderr);
    // A FIFO with no writer: refused at once, not waited on.
    let fifo = dir.path().join("fifo.psnap");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    refused(&fifo, "not a regular file");
}

/// `-o` onto a device (`/dev/null`, to time a run) writes into it: it must
/// not replace the device node with a regular file. `-o DIR` is an error.
/// A PID that does not exist matches nothing (exit 1), as a pattern would.
#[test]
fn snapshot_into_a_device_keeps_it_a_device_and_a_missing_pid_matches_nothing() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap();
    let null = dir.path().join("null");
    nix::sys::stat::mknod(
        &null,
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o666),
        nix::sys::stat::makedev(1, 3),
    )
    .expect("mknod (the tests run as root)");
    let me = std::process::id().to_string();
    let r = run(&["snapshot", "-o", null.to_str().unwrap(), &me]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let ft = std::fs::symlink_metadata(&null).unwrap().file_type();
    assert!(ft.is_char_device(), "{ft:?}");
    let r = run(&["snapshot", "-o", dir.path().to_str().unwrap(), &me]);
    assert_eq!(r.status, 2, "{}", r.stderr);
    assert!(r.stderr.contains("is a directory"), "{}", r.stderr);
    // A PID nobody has.
    let mut c = std::process::Command::new("true").spawn().unwrap();
    let dead = c.id().to_string();
    c.wait().unwrap();
    let out = dir.path().join("dead.psnap");
    let r = run(&["snapshot", "-o", out.to_str().unwrap(), &dead]);
    assert_eq!(r.status, 1, "{}", r.stderr);
    assert!(r.stderr.contains(&dead), "{}", r.stderr);
    assert!(!out.exists());
}

/// SIGTERM while a snapshot is being unpacked (here: half of it has come
/// through standard input) removes the unpacking directory, and procscope
/// still ends by SIGTERM.
#[test]
fn sigterm_while_unpacking_removes_the_unpacked_tree() {
    use std::io::Write;
    use std::os::unix::process::ExitStatusExt;
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("me.psnap");
    snap(&file, &[], &[std::process::id()]);
    let bytes = std::fs::read(&file).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(procscope())
        .args(["--snapshot", "-", "ps"])
        .env("TMPDIR", tmp.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&bytes[..bytes.len() / 2]).unwrap();
    stdin.flush().unwrap();
    let t0 = Instant::now();
    while std::fs::read_dir(tmp.path()).unwrap().next().is_none() {
        assert!(t0.elapsed() < Duration::from_secs(10), "never unpacked");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(100));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    drop(stdin);
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{status:?}");
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
/// Idle times ("idle", "wakes in") are a thread's `se.exec_start` measured
/// against "now" on the scheduler's clock, live and in a snapshot: against
/// `/proc/uptime`, which runs ahead of it on a VM (15 s on this one), a
/// replayed sleep read as that much longer idle.
#[test]
fn a_snapshots_idle_times_are_measured_on_the_clock_live_uses() {
    let t = start_kit(&["sleep"]);
    assert!(wait_all_threads(t.pid(), 'S', Duration::from_secs(5)));
    std::thread::sleep(Duration::from_millis(300));
    let pid = t.pid_s();
    let q = ["stack", "--json", pid.as_str()];
    let group = |v: &Value| v["processes"][0]["groups"][0].clone();
    let r = run(&q);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let live = group(&r.json());
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("idle.psnap");
    let t0 = Instant::now();
    snap(&file, &[], &[t.pid()]);
    let between = u64::try_from(t0.elapsed().as_millis()).unwrap();
    drop(t);
    let r = on(&file, &q);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let replayed = group(&r.json());
    let idle = |g: &Value| g["idle_ms"].as_u64().unwrap_or_else(|| panic!("{g:#}"));
    let (l, s) = (idle(&live), idle(&replayed));
    // The snapshot was taken a moment after the live answer: its idle
    // time is about that much longer, no more. ("Now" is a running
    // thread's last accounting on the scheduler's clock, live and when
    // the snapshot is taken: either may lag by a few hundred ms on a
    // loaded VM. Against uptime it was 15 s more here.)
    assert!(
        s + 1000 >= l && s <= l + between + 1000,
        "live idle {l} ms, replayed {s} ms (snapshot took {between} ms)"
    );
    if let (Some(l), Some(s)) = (
        live["wakes_in_ms"].as_u64(),
        replayed["wakes_in_ms"].as_u64(),
    ) {
        assert!(
            l + 1000 >= s && l <= s + between + 1000,
            "live wakes in {l} ms, replayed {s} ms"
        );
    }
}

/// A sleep until an absolute time (python's `time.sleep` is
/// `clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME)`) is counted down from
/// the clocks when the snapshot was taken, not when it is read: read 2.5 s
/// later, it still wakes in what it did then.
#[test]
fn an_absolute_sleep_counts_down_from_when_the_snapshot_was_taken() {
    let t = start({
        let mut c = std::process::Command::new("python3");
        c.args([
            "-c",
            "import sys, time; print('ready', flush=True); time.sleep(300)",
        ]);
        c
    });
    assert!(wait_all_threads(t.pid(), 'S', Duration::from_secs(5)));
    std::thread::sleep(Duration::from_millis(200));
    let pid = t.pid_s();
    let q = ["stack", "--json", pid.as_str()];
    let wakes = |v: &Value| {
        let g = &v["processes"][0]["groups"][0];
        g["wakes_in_ms"].as_u64().unwrap_or_else(|| panic!("{g:#}"))
    };
    let r = run(&q);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let live = wakes(&r.json());
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("abs.psnap");
    let t0 = Instant::now();
    snap(&file, &[], &[t.pid()]);
    let between = u64::try_from(t0.elapsed().as_millis()).unwrap();
    drop(t);
    std::thread::sleep(Duration::from_millis(2500));
    let r = on(&file, &q);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let replayed = wakes(&r.json());
    assert!(
        replayed <= live + 200 && replayed + between + 1000 >= live,
        "live wakes in {live} ms, replayed {replayed} ms (snapshot took {between} ms)"
    );
}

/// `hung` on a snapshot of a memory-lock hang: the procscope that took it
/// (whose reader was stuck on the target's command line) is no answer, the
/// stuck calls are named as live, and it says one moment was looked at.
#[test]
fn hung_on_a_snapshot_is_one_moment_without_its_taker_and_names_the_calls() {
    let h = crate::hang::mem_lock_hang();
    let pid = h.target.pid();
    // The test process is in the snapshot too (the target's parent) and
    // has a thread stuck: the one that saw the target's memory lock stuck.
    let me = std::process::id();
    // (PID, TID, system call) of the stuck threads of the target and of
    // this test process.
    let ours = |v: &Value| -> Vec<(u64, u64, String)> {
        let mut out = Vec::new();
        for g in v["groups"].as_array().unwrap() {
            for t in g["tasks"].as_array().unwrap() {
                let p = t["pid"].as_u64().unwrap();
                if p == u64::from(pid) || p == u64::from(me) {
                    out.push((
                        p,
                        t["tid"].as_u64().unwrap(),
                        g["syscall"].as_str().unwrap().to_string(),
                    ));
                }
            }
        }
        out.sort();
        out
    };
    let live = run_with(
        &["--timeout", "300ms", "hung", "--window", "300ms", "--json"],
        &[],
        Duration::from_secs(10),
    );
    assert_eq!(live.status, 1, "{}", live.stderr);
    let live = ours(&live.json());
    assert_eq!(
        live.iter().filter(|t| t.0 == u64::from(pid)).count(),
        2,
        "{live:?}"
    );
    assert!(
        live.iter().all(|(_, _, c)| !c.starts_with("syscall_")),
        "{live:?}"
    );
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("sick.psnap");
    let ps = pid.to_string();
    let r = run_with(
        &[
            "--timeout",
            "300ms",
            "snapshot",
            "-o",
            file.to_str().unwrap(),
            &ps,
        ],
        &[],
        Duration::from_secs(30),
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    drop(h);
    let r = on(&file, &["hung", "--json"]);
    assert_eq!(r.status, 1, "{}", r.stderr);
    let v = r.json();
    // What was stuck live, with the same call names, and nothing else:
    // not the procscope that took the snapshot (its reader was stuck on
    // the target's command line).
    assert_eq!(ours(&v), live, "{v:#}");
    assert_eq!(v["stuck"], live.len(), "{v:#}");
    assert_eq!(
        (
            &v["at_snapshot"],
            &v["samples_taken"],
            &v["samples"],
            &v["window_ms"]
        ),
        (&Value::Bool(true), &1.into(), &1.into(), &0.into())
    );
    let t = on(&file, &["hung"]);
    assert_eq!(t.status, 1, "{}", t.stderr);
    assert!(
        t.out().contains(&format!(
            "{} task(s) stuck in D (in D when the snapshot was taken: 1 sample)",
            live.len()
        )),
        "{}",
        t.out()
    );
    assert!(!t.out().contains("samples over"), "{}", t.out());
    assert!(!t.out().contains("(procscope)"), "{}", t.out());
    // `ps --state D` lists the target, not the procscope that took it.
    let p = on(&file, &["ps", "--state", "D", "--json"]);
    let pv = p.json();
    let pids: Vec<Value> = pv["processes"]
        .as_array()
        .unwrap_or_else(|| panic!("{pv:#}"))
        .iter()
        .map(|r| r["pid"].clone())
        .collect();
    let mut want: Vec<Value> = live.iter().map(|t| Value::from(t.0)).collect();
    want.dedup();
    assert!(pids.iter().all(|p| want.contains(p)), "{pv:#}");
    assert!(pids.contains(&Value::from(pid)), "{pv:#}");
}

/// The listening TCP port of `pid`: a LISTEN socket of its namespace's
/// table whose inode is one of its fds.
fn listening_port(pid: u32) -> u16 {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| {
            let l = std::fs::read_link(e.ok()?.path()).ok()?;
            let l = l.to_str()?.to_string();
            Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
        })
        .collect();
    let tcp = std::fs::read_to_string(format!("/proc/{pid}/net/tcp")).unwrap();
    tcp.lines()
        .skip(1)
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.get(3) == Some(&"0A") && inodes.iter().any(|i| Some(&i.as_str()) == f.get(9)))
                .then(|| u16::from_str_radix(f[1].rsplit(':').next().unwrap(), 16).unwrap())
        })
        .expect("a listening socket")
}

/// `who-has` on a snapshot answers from the snapshot: a path is never
/// looked up on the host reading it (a FIFO, a file, /dev/null), a port is
/// found in the snapshot's own network tables — the holders live named.
#[test]
fn who_has_on_a_snapshot_finds_paths_and_ports_as_live() {
    let zd = tempfile::tempdir().unwrap();
    let kd = tempfile::tempdir().unwrap();
    let zoo = start_quiet(&["fdzoo", zd.path().to_str().unwrap()]);
    let kinds = start_quiet(&["fdkinds", kd.path().to_str().unwrap()]);
    let port = format!(":{}", listening_port(zoo.pid()));
    let fifo = kd.path().join("fifo").display().to_string();
    let log = zd.path().join("append.log").display().to_string();
    let queries: Vec<Vec<&str>> = vec![
        vec!["who-has", "--json", &fifo],
        vec!["who-has", "--json", &log],
        vec!["who-has", "--json", &port],
    ];
    let holders = |v: &Value| v["holders"].clone();
    let live: Vec<Value> = queries.iter().map(|q| holders(&live_json(q))).collect();
    for (q, l) in queries.iter().zip(&live) {
        assert!(
            l.as_array().is_some_and(|a| !a.is_empty()),
            "{q:?} live: {l:#}"
        );
    }
    let mut pids = vec![zoo.pid(), kinds.pid(), std::process::id()];
    pids.extend(children(zoo.pid()));
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("zoo.psnap");
    snap(&file, &[], &pids);
    let waiter = children(zoo.pid());
    drop((zoo, kinds));
    waiter.into_iter().for_each(kill);
    // The paths are gone from this host too: the snapshot alone answers.
    drop((zd, kd));
    for (q, l) in queries.iter().zip(&live) {
        let r = holders(&replay_json(&file, q));
        same(&q.join(" "), l, &r);
    }
    let t = on(&file, &["who-has", &fifo]);
    assert_eq!(t.status, 0, "{}", t.stderr);
    assert!(
        t.out().contains("fdkinds") || t.out().contains("procscope-testk"),
        "{}",
        t.out()
    );
}

/// Files cut at `--max-file` are answered as cut (`env`, `cmdline`,
/// `show`), at the cap exactly; an environment left out by `--no-env` is
/// said to be, not "gone".
#[test]
fn cut_and_left_out_files_are_answered_as_such() {
    let a = "A".repeat(50_000);
    let b = "B".repeat(50_000);
    let mut c = std::process::Command::new(testkit());
    c.args(["sleep", &a, &b])
        .env("BIG", "x".repeat(100_000))
        .env("TOKEN", "hunter9zz");
    let t = start(c);
    let pid = t.pid_s();
    let out = tempfile::tempdir().unwrap();
    let big = out.path().join("big.psnap");
    let none = out.path().join("none.psnap");
    snap(&big, &["--max-file", "64K"], &[t.pid()]);
    snap(&none, &["--no-env"], &[t.pid()]);
    drop(t);
    // Stored at the cap exactly (the byte read past it to see that the
    // file goes on is not kept).
    let raw = decompressed(&big);
    let mut ar = tar::Archive::new(&raw[..]);
    let mut sizes = std::collections::BTreeMap::new();
    for e in ar.entries().unwrap() {
        let e = e.unwrap();
        let p = e.path().unwrap().display().to_string();
        if p == format!("{pid}/environ") || p == format!("{pid}/cmdline") {
            sizes.insert(p, e.header().size().unwrap());
        }
    }
    assert_eq!(
        sizes.values().copied().collect::<Vec<_>>(),
        vec![65536, 65536],
        "{sizes:?}"
    );
    let e = on(&big, &["env", "--json", &pid]);
    assert_eq!(e.status, 0, "{}", e.stderr);
    assert_eq!(e.json()["processes"][0]["truncated"], true, "{}", e.out());
    let e = on(&big, &["env", &pid]);
    assert_eq!(e.status, 0, "{}", e.stderr);
    assert!(
        e.stderr
            .contains("environ cut at 65536 bytes when the snapshot was taken"),
        "{}",
        e.stderr
    );
    let c = on(&big, &["cmdline", "--json", &pid]);
    assert_eq!(c.json()["processes"][0]["truncated"], true, "{}", c.out());
    let c = on(&big, &["cmdline", &pid]);
    assert!(
        c.out()
            .contains("note: cut at 65536 bytes when the snapshot was taken"),
        "{}",
        c.out()
    );
    assert!(!c.out().contains("setproctitle"), "{}", c.out());
    let s = on(&big, &["show", &pid]);
    assert!(
        s.out()
            .contains(&format!("the whole command line: procscope cmdline {pid}")),
        "{}",
        s.out()
    );
    // --no-env: said, not "gone".
    let e = on(&none, &["env", &pid]);
    assert!(
        e.stderr
            .contains("environ: not available: not in the snapshot (taken with --no-env)"),
        "{}",
        e.stderr
    );
    assert!(!e.stderr.contains("gone"), "{}", e.stderr);
    let j = on(&none, &["env", "--json", &pid]).json();
    assert_eq!(
        j["processes"][0]["environ"]["error"]["reason"], "absent",
        "{j:#}"
    );
}

//! `procscope watch` against processes that leak, read and exit at known
//! rates, a process whose memory lock is stuck, and a pattern.

use crate::support::*;
use procscope_render::wire::watch::{Event, Line};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Every line of a `--json` run, deserialized into the wire type (unknown
/// members refused).
fn lines(r: &Run) -> Vec<Line> {
    r.out()
        .lines()
        .map(|l| serde_json::from_str::<Line>(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn within(got: f64, want: f64, tolerance: f64) -> bool {
    (got - want).abs() <= want * tolerance
}

/// fds +10/s (alternately /dev/null and unix sockets) and RSS +1 MiB/s,
/// named within 20 %; every JSON line parses, and each opened fd carries
/// its number and the link the kernel shows for it.
#[test]
fn leaks_are_named_with_their_rates() {
    let t = start_kit(&["watch-leak"]);
    let pid = t.pid_s();
    let r = run_with(
        &[
            "watch",
            &pid,
            "--json",
            "--interval",
            "500ms",
            "--for",
            "7s",
        ],
        &[],
        Duration::from_secs(20),
    );
    assert_eq!(r.status, 0, "stderr: {}", r.stderr);
    assert!(
        r.took >= Duration::from_secs(7) && r.took < Duration::from_secs(10),
        "took {:?}",
        r.took
    );
    let ls = lines(&r);
    assert!(ls.iter().all(|l| l.procscope == 2 && l.kind == "watch"));
    assert!(matches!(
        ls.first().map(|l| &l.event),
        Some(Event::Started(_))
    ));
    match ls.last().map(|l| &l.event) {
        Some(Event::Ended(e)) => assert_eq!(e.reason, "time_up"),
        other => panic!("{other:?}"),
    }
    // Opened fds: numbers and links, as the kernel has them now.
    let mut opened = 0;
    for l in &ls {
        if let Event::FdOpened(f) = &l.event {
            opened += 1;
            assert_eq!(f.decoded.fd, f.fd);
            let link = std::fs::read_link(format!("/proc/{pid}/fd/{}", f.fd)).unwrap();
            let got = f.decoded.link.ok().and_then(|b| b.decode()).unwrap();
            assert_eq!(got, link.as_os_str().as_encoded_bytes(), "{f:?}");
            let want = if got == b"/dev/null" { "path" } else { "unix" };
            assert_eq!(f.class.kind, want, "{f:?}");
        }
    }
    assert!((60..=80).contains(&opened), "{opened} fds opened in 7 s");
    // Leak lines were printed as they were found.
    let kinds: Vec<&str> = ls
        .iter()
        .filter_map(|l| match &l.event {
            Event::Leak(k) => Some(k.metric.as_str()),
            _ => None,
        })
        .collect();
    assert!(
        kinds.contains(&"fds") && kinds.contains(&"rss_bytes"),
        "{kinds:?}"
    );
    // The summary's estimates are over the whole window.
    let s = ls
        .iter()
        .find_map(|l| match &l.event {
            Event::Summary(s) => Some(s),
            _ => None,
        })
        .unwrap();
    let fds = s.leaks.iter().find(|l| l.metric == "fds").unwrap();
    assert!(within(fds.per_sec, 10.0, 0.2), "{fds:?}");
    let names: Vec<String> = fds
        .growing
        .iter()
        .map(|g| {
            g.class
                .name
                .as_ref()
                .and_then(|n| n.decode())
                .map_or(g.class.kind.clone(), |n| String::from_utf8(n).unwrap())
        })
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.contains(&"unix".into()) && names.contains(&"/dev/null".into()));
    let limit = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let soft: u64 = limit
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(fds.limit, Some(soft));
    let eta = fds.limit_eta_secs.unwrap();
    assert!(
        within(eta, (soft - fds.value) as f64 / fds.per_sec, 0.01),
        "{fds:?}"
    );
    let rss = s.leaks.iter().find(|l| l.metric == "rss_bytes").unwrap();
    assert!(within(rss.per_sec, 1048576.0, 0.2), "{rss:?}");
    assert_eq!(s.fds_closed, 0);
    assert_eq!(s.fds_opened, opened);

    // The same in words.
    let r = run(&["watch", &pid, "--interval", "500ms", "--for", "3s"]);
    assert_eq!(r.status, 0, "stderr: {}", r.stderr);
    let out = r.out();
    assert_terminal_safe(&out);
    let leak = out
        .lines()
        .find(|l| l.contains(" LEAK ") && l.contains("fds +"))
        .unwrap_or_else(|| panic!("no fd leak line in:\n{out}"));
    assert!(
        leak.contains("/dev/null") && leak.contains("unix sockets") && leak.contains(" of "),
        "{leak}"
    );
    assert!(
        out.lines()
            .any(|l| l.contains(" +fd ") && l.contains("/dev/null")),
        "{out}"
    );
    assert!(out.lines().last().unwrap().contains(" summary "), "{out}");
}

/// A file read at 4 MiB/s: the rate within 25 %, percent of its size and
/// an ETA that agree with where it is.
#[test]
fn progress_through_a_file_read_at_a_fixed_rate() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big");
    let size: u64 = 256 << 20;
    std::fs::File::create(&file).unwrap().set_len(size).unwrap();
    let t = start_kit(&["watch-read", file.to_str().unwrap(), "4194304"]);
    let pid = t.pid_s();
    let r = run(&[
        "watch",
        &pid,
        "--json",
        "--interval",
        "500ms",
        "--for",
        "4s",
    ]);
    assert_eq!(r.status, 0, "stderr: {}", r.stderr);
    let ls = lines(&r);
    let progress: Vec<_> = ls
        .iter()
        .filter_map(|l| match &l.event {
            Event::Progress(p) => Some(p),
            _ => None,
        })
        .collect();
    assert!(progress.len() >= 6, "{progress:?}");
    let p = progress.last().unwrap();
    assert_eq!(p.direction, "read");
    assert_eq!(p.size.ok(), Some(&size));
    assert_eq!(
        p.path.decode().unwrap(),
        file.as_os_str().as_encoded_bytes()
    );
    let rate = p.bytes_per_sec.unwrap();
    assert!(within(rate, 4194304.0, 0.25), "{p:?}");
    let pct = p.percent.unwrap();
    assert!(
        (pct - p.pos as f64 / size as f64 * 100.0).abs() < 1e-6 && pct > 0.0,
        "{p:?}"
    );
    let eta = p.eta_secs.unwrap();
    assert!(within(eta, (size - p.pos) as f64 / rate, 0.01), "{p:?}");
    // The fd's position, read by the test: where the watch said (it moved
    // on since, at 4 MiB/s).
    let info = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{}", p.fd)).unwrap();
    let pos: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("pos:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(pos >= p.pos && pos - p.pos < 8 << 20, "{pos} vs {}", p.pos);

    let r = run(&["watch", &pid, "--for", "2s"]);
    let out = r.out();
    let line = out
        .lines()
        .find(|l| l.contains(" read ") && l.contains(file.to_str().unwrap()))
        .unwrap_or_else(|| panic!("no progress line in:\n{out}"));
    assert!(
        line.contains("% (") && line.contains(" of 256M)") && line.contains("/s, ETA "),
        "{line}"
    );
}

/// A process whose memory lock is stuck: the command line times out and
/// the line says so, the watch keeps its interval and ends on time.
#[test]
fn a_memory_lock_hang_never_stalls_the_watch() {
    let h = crate::hang::mem_lock_hang();
    let pid = h.target.pid_s();
    let r = run_with(
        &[
            "--timeout",
            "500ms",
            "watch",
            &pid,
            "--interval",
            "500ms",
            "--for",
            "3s",
        ],
        &[],
        Duration::from_secs(15),
    );
    assert_eq!(r.status, 0, "stderr: {}", r.stderr);
    assert!(
        r.took >= Duration::from_secs(3) && r.took < Duration::from_millis(4500),
        "took {:?}",
        r.took
    );
    let out = r.out();
    let first = out.lines().next().unwrap();
    assert!(
        first.contains(" watching procscope-testk (<cmdline timed out after 500 ms"),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.contains(" TIMEOUT ") && l.contains("cmdline: timed out after 500 ms")),
        "{out}"
    );
    // A sample every 500 ms (the first took the 500 ms deadline, so the
    // tick at 500 ms was skipped, not caught up), the last at the deadline.
    let summary = out.lines().last().unwrap();
    assert!(
        summary.contains("(6 samples)") || summary.contains("(7 samples)"),
        "{out}"
    );

    let r = run_with(
        &["--timeout", "300ms", "watch", &pid, "--json", "--for", "1s"],
        &[],
        Duration::from_secs(10),
    );
    assert_eq!(r.status, 0, "stderr: {}", r.stderr);
    let ls = lines(&r);
    let t = ls
        .iter()
        .find_map(|l| match &l.event {
            Event::TimedOut(t) => Some(t),
            _ => None,
        })
        .unwrap();
    assert_eq!(t.what, vec!["cmdline".to_string()]);
    assert_eq!(
        (t.error.reason.as_str(), t.error.after_ms),
        ("timed_out", Some(300))
    );
    match &ls.first().unwrap().event {
        Event::Started(s) => {
            assert_eq!(s.state, "D");
            assert_eq!(s.cmdline.err().unwrap().reason, "timed_out");
        }
        other => panic!("{other:?}"),
    }
}

/// A process that exits while watched: its exit status, from the zombie,
/// ends the watch (before --for), with exit code 0.
#[test]
fn an_exit_ends_the_watch_with_its_status() {
    let t = start_kit(&["watch-exit", "1000", "3"]);
    let pid = t.pid_s();
    let r = run(&["watch", &pid, "--interval", "200ms", "--for", "10s"]);
    assert_eq!(r.status, 0, "stderr: {}", r.stderr);
    assert!(r.took < Duration::from_secs(4), "took {:?}", r.took);
    let out = r.out();
    assert!(
        out.lines()
            .any(|l| l.contains(" exited ") && l.ends_with("with status 3")),
        "{out}"
    );
    assert!(
        out.lines()
            .last()
            .unwrap()
            .ends_with("; exited with status 3"),
        "{out}"
    );
    // A zombie watched from the start says the same at once.
    let r = run(&["watch", &pid, "--json"]);
    assert_eq!(r.status, 0);
    let ls = lines(&r);
    let x = ls
        .iter()
        .find_map(|l| match &l.event {
            Event::Exited(x) => Some(x),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        (x.exit_code, x.wait_status, x.signal),
        (Some(3), Some(3 << 8), None)
    );
    match &ls.last().unwrap().event {
        Event::Ended(e) => assert_eq!(e.reason, "exited"),
        other => panic!("{other:?}"),
    }
    // Colour only when asked (or on a terminal), never with NO_COLOR.
    let plain = run(&["watch", &pid]);
    assert!(!plain.stdout.contains(&0x1b), "{}", plain.out());
    let forced = run(&["--color", "always", "watch", &pid]);
    assert!(
        forced
            .out()
            .contains("\x1b[1mexited   \x1b[0m with status 3"),
        "{:?}",
        forced.out()
    );
    let never = run_with(
        &["watch", &pid],
        &[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")],
        Duration::from_secs(10),
    );
    assert!(!never.stdout.contains(&0x1b));
    drop(t);
    // Nothing there: exit status 1.
    let none = (2..32768)
        .rev()
        .find(|p| !std::path::Path::new(&format!("/proc/{p}")).exists())
        .unwrap()
        .to_string();
    let r = run(&["watch", &none, "--for", "1s"]);
    assert_eq!(r.status, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("no process matches `{none}`")),
        "{}",
        r.stderr
    );
}

/// A pattern: no match at first (said once), then a process that appears
/// is followed, and its death by SIGKILL is named. Its hostile name is
/// escaped.
#[test]
fn a_pattern_follows_a_process_that_appears() {
    let name = format!("pw{}\x1b[1m", std::process::id() % 100_000);
    let hex: String = name.bytes().map(|b| format!("{b:02x}")).collect();
    let pattern = format!("^pw{}", std::process::id() % 100_000);
    let mut child = Command::new(procscope())
        .args(["watch", &pattern, "--interval", "200ms", "--for", "4s"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines() {
            let Ok(l) = l else { break };
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(3)).unwrap();
    assert!(
        first.contains(" waiting ") && first.contains("no process matches"),
        "{first}"
    );
    let mut t = start_kit(&["name", &hex]);
    let mut got = vec![first];
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until && !got.iter().any(|l| l.contains(" appeared: ")) {
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(100)) {
            got.push(l);
        }
    }
    // Killed, not reaped: a zombie with its wait status.
    kill(t.pid());
    while let Ok(l) = rx.recv_timeout(Duration::from_secs(6)) {
        got.push(l);
    }
    let status = child.wait().unwrap();
    let _ = t.child.wait();
    kill(pid);
    let all = got.join("\n");
    assert!(status.success(), "{status:?}\n{all}");
    assert_terminal_safe(&all);
    let tp = t.pid().to_string();
    let appeared = got
        .iter()
        .find(|l| l.contains(" appeared: "))
        .unwrap_or_else(|| panic!("{all}"));
    assert!(
        appeared.contains(&tp)
            && appeared.contains(&format!(
                " appeared: pw{}\\e[1m (",
                std::process::id() % 100_000
            )),
        "{appeared}"
    );
    assert!(
        got.iter()
            .any(|l| l.contains(&tp) && l.contains(" exited ") && l.ends_with("killed by SIGKILL")),
        "{all}"
    );
}

/// `| head`: a closed output ends the watch quietly, with 0.
#[test]
fn a_closed_output_ends_quietly() {
    let t = start_kit(&["watch-leak"]);
    let mut child = Command::new(procscope())
        .args(["watch", &t.pid_s(), "--interval", "200ms"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert!(line.contains(" watching "), "{line}");
    drop(out);
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(5) {
            kill(child.id());
            panic!("watch did not end after its output closed");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(status.success(), "{status:?} {err}");
    assert!(err.is_empty(), "{err}");
}

/// A reader stuck in D on a hung FUSE file: the watch samples it on time,
/// says where it is blocked, and ends at --for.
#[test]
fn a_reader_on_a_hung_fuse_file_is_watched_on_time() {
    let fuse = HungFuse::mount();
    let reader = start_kit(&["read-hang", fuse.hang_file().to_str().unwrap()]);
    assert!(
        wait_all_threads(reader.pid(), 'D', Duration::from_secs(5)),
        "reader not in D"
    );
    let pid = reader.pid_s();
    let r = run_with(
        &[
            "--timeout",
            "300ms",
            "watch",
            &pid,
            "--interval",
            "250ms",
            "--for",
            "2s",
        ],
        &[],
        Duration::from_secs(10),
    );
    // Killed first: its read fails once the daemon is gone.
    drop(reader);
    drop(fuse);
    assert_eq!(r.status, 0, "stderr: {}", r.stderr);
    assert!(
        r.took >= Duration::from_secs(2) && r.took < Duration::from_secs(3),
        "took {:?}",
        r.took
    );
    let out = r.out();
    assert!(
        out.lines()
            .next()
            .unwrap()
            .contains(" — D (uninterruptible sleep), 1 thread,"),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.contains(" blocked ") && l.contains("in read() (wchan ")),
        "{out}"
    );
    assert!(out.lines().last().unwrap().contains("(9 samples)"), "{out}");
}

/// Ctrl-C (SIGINT) and SIGTERM end the watch at once, with the summary.
#[test]
fn a_signal_ends_the_watch_with_its_summary() {
    let t = start_kit(&["sleep"]);
    for (sig, json) in [
        (nix::sys::signal::Signal::SIGINT, false),
        (nix::sys::signal::Signal::SIGTERM, true),
    ] {
        let mut args = vec!["watch".to_string(), t.pid_s()];
        if json {
            args.push("--json".into());
        }
        let child = Command::new(procscope())
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Between the samples at 1 s and 2 s of the watch's own clock.
        std::thread::sleep(Duration::from_millis(1700));
        let sent = Instant::now();
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            sent.elapsed() < Duration::from_millis(500),
            "{:?}",
            sent.elapsed()
        );
        assert!(out.status.success(), "{:?}", out);
        let text = String::from_utf8(out.stdout).unwrap();
        let last = text.lines().last().unwrap();
        if json {
            let l: Line = serde_json::from_str(last).unwrap();
            match l.event {
                Event::Ended(e) => assert_eq!(e.reason, "interrupted"),
                other => panic!("{other:?}"),
            }
            assert!(
                text.contains(r#""type":"summary","watched_ms":1"#),
                "{text}"
            );
        } else {
            assert!(
                last.contains(" summary ") && last.contains("(2 samples)"),
                "{text}"
            );
        }
    }
}

/// Threads and child processes that only grow, +5/s each, named within
/// 20 %.
#[test]
fn thread_and_child_leaks_are_named() {
    let t = start_kit(&["watch-grow"]);
    let pid = t.pid_s();
    let r = run(&[
        "watch",
        &pid,
        "--json",
        "--interval",
        "500ms",
        "--for",
        "5s",
    ]);
    // The children die with it (PR_SET_PDEATHSIG).
    drop(t);
    assert_eq!(r.status, 0, "stderr: {}", r.stderr);
    let ls = lines(&r);
    let s = ls
        .iter()
        .find_map(|l| match &l.event {
            Event::Summary(s) => Some(s),
            _ => None,
        })
        .unwrap();
    for metric in ["threads", "children"] {
        let l = s
            .leaks
            .iter()
            .find(|l| l.metric == metric)
            .unwrap_or_else(|| panic!("no {metric} leak in {:?}", s.leaks));
        assert!(within(l.per_sec, 5.0, 0.2), "{l:?}");
        assert!(l.value > l.from && l.growing.is_empty(), "{l:?}");
    }
    assert!(s.threads.to >= s.threads.from + 20, "{:?}", s.threads);
    assert!(
        ls.iter()
            .any(|l| matches!(&l.event, Event::Threads(c) if c.to > c.from))
    );
}

/// `--for` ends the watch on time while a read of the process is stuck:
/// a step's deadline is the shorter of --timeout and the time left, and
/// with --timeout 0 (no deadline) --for and SIGINT still end it.
#[test]
fn watch_for_and_signals_end_a_watch_stuck_in_a_read() {
    let h = crate::hang::mem_lock_hang();
    let pid = h.target.pid_s();
    for timeout in ["5s", "0"] {
        let r = run_with(
            &["--timeout", timeout, "watch", &pid, "--for", "2s"],
            &[],
            Duration::from_secs(15),
        );
        assert_eq!(r.status, 0, "--timeout {timeout}: {}", r.stderr);
        assert!(
            r.took >= Duration::from_secs(2) && r.took < Duration::from_millis(3200),
            "--timeout {timeout}: took {:?}",
            r.took
        );
    }
    let mut child = Command::new(procscope())
        .args(["--timeout", "0", "watch", &pid])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    let sent = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    // Never left behind: killed if the signal did not end it.
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if sent.elapsed() > Duration::from_secs(5) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("SIGINT did not end a watch with --timeout 0");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        sent.elapsed() < Duration::from_millis(800),
        "{:?}",
        sent.elapsed()
    );
    assert!(status.success(), "{status:?}");
}

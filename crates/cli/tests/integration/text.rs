//! `procscope cmdline` and `procscope env` on processes started with exact,
//! hostile bytes.

use crate::support::*;
use std::process::Command;

fn hex(b: &[u8]) -> String {
    b.iter().map(|c| format!("{c:02x}")).collect()
}

/// Starts the testkit through `execve` with exactly `argv` and `envp`.
fn exact(argv: &[&[u8]], envp: &[&[u8]]) -> Target {
    let mut c = Command::new(testkit());
    c.arg("exec").arg(envp.len().to_string());
    for e in envp {
        c.arg(hex(e));
    }
    for a in argv {
        // Long runs of one byte go as `*HH:N` (see the testkit's exec mode).
        if a.len() > 1000 && a.iter().all(|&b| b == a[0]) {
            c.arg(format!("*{:02x}:{}", a[0], a.len()));
        } else {
            c.arg(hex(a));
        }
    }
    start(c)
}

fn big() -> Vec<u8> {
    vec![b'A'; 100_000]
}

fn hostile() -> Target {
    let big = big();
    exact(
        &[
            b"/usr/local/bin/hostile \x1b[2J",
            b"sleep",
            b"",
            b"line1\nline2",
            b"\xff\xfe",
            b"it's \"quoted\" $HOME `x` \\",
            "\u{202e}evil".as_bytes(),
            &big,
            b"",
        ],
        &[
            b"DUP=first",
            b"DUP=second",
            b"NOEQUALSSIGN",
            b"EMPTY=",
            b"MULTILINE=line1\nline2",
            b"ESCAPE=\x1b[31mred\x1b[0m",
            b"API_TOKEN=tok-123",
            b"DB_PASSWORD=pw-456",
            b"DATABASE_URL=postgres://user:hunter2@db/x",
            b"BAD\xffKEY=v\xfe",
            b"LC_ALL=C",
            b"LC_TIME=C.UTF-8",
        ],
    )
}

#[test]
fn cmdline_raw_is_byte_identical_and_shell_round_trips() {
    let t = hostile();
    let pid = t.pid_s();
    let file = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let r = run(&["cmdline", "--raw", &pid]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(r.stdout == file, "--raw differs from /proc/{pid}/cmdline");

    // The shell line, run by bash, gives a program byte-identical argv.
    let line = run(&["cmdline", "--shell", &pid]).out();
    assert_eq!(line.lines().count(), 1, "{line}");
    assert_terminal_safe(&line);
    let again = {
        let mut c = Command::new("bash");
        c.arg("-c").arg(line.trim_end());
        start(c)
    };
    let copy = std::fs::read(format!("/proc/{}/cmdline", again.pid())).unwrap();
    assert!(
        copy == file,
        "bash -c \"$(procscope cmdline --shell)\" changed the arguments:\n{line}"
    );

    // People: one escaped argument per line, empty ones visible, argv[0] flagged.
    let r = run(&["cmdline", &pid]);
    let out = r.out();
    assert_terminal_safe(&out);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with(&format!("PID {pid} (exe)  exe /")),
        "{out}"
    );
    assert_eq!(
        lines[1],
        "  [0] /usr/local/bin/hostile \\e[2J  <- argv[0] is not the executable's name"
    );
    assert_eq!(lines[2], "  [1] sleep");
    assert_eq!(lines[3], "  [2] ''");
    assert_eq!(lines[4], "  [3] line1\\nline2");
    assert_eq!(lines[5], "  [4] \\xff\\xfe");
    assert_eq!(lines[6], "  [5] it's \"quoted\" $HOME `x` \\\\");
    assert_eq!(lines[7], "  [6] \\u{202e}evil");
    assert_eq!(lines[8].len(), "  [7] ".len() + 100_000);
    assert_eq!(lines[9], "  [8] ''");
    assert_eq!(lines.len(), 10);

    // Hex dump like xxd.
    let r = run(&["cmdline", "--hex", &pid]);
    assert!(
        r.out()
            .starts_with("00000000: 2f75 7372 2f6c 6f63 616c 2f62 696e 2f68  /usr/local/bin/h\n"),
        "{}",
        &r.out()[..100]
    );

    // JSON: every argument exactly.
    let v = run(&["cmdline", "--json", &pid]).json();
    let argv = v["processes"][0]["argv"].as_array().unwrap();
    assert_eq!(argv.len(), 9);
    assert_eq!(argv[2], "");
    assert_eq!(argv[4]["base64"], "//4=");
    assert_eq!(v["processes"][0]["shape"], "argv");
}

#[test]
fn env_is_exact_flags_duplicates_and_round_trips_through_export() {
    let t = hostile();
    let pid = t.pid_s();
    let file = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    let r = run(&["env", "-0", &pid]);
    assert!(r.stdout == file, "--raw differs from /proc/{pid}/environ");

    let out = run(&["env", &pid]).out();
    assert_terminal_safe(&out);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "DUP=first");
    assert_eq!(
        lines[1],
        "DUP=second  # duplicate: getenv() returns an earlier DUP"
    );
    assert_eq!(lines[2], "NOEQUALSSIGN  # no '=': not a variable");
    assert_eq!(lines[3], "EMPTY=");
    assert_eq!(lines[4], "MULTILINE=line1\\nline2");
    assert_eq!(lines[5], "ESCAPE=\\e[31mred\\e[0m");
    assert_eq!(lines[9], "BAD\\xffKEY=v\\xfe");

    // Names and globs, sorted.
    let out = run(&["env", "--sort", &pid, "LC_*", "DUP"]).out();
    assert_eq!(
        out,
        "DUP=first\nDUP=second  # duplicate: getenv() returns an earlier DUP\nLC_ALL=C\nLC_TIME=C.UTF-8\n"
    );

    // --redact: keys and URL passwords, keeping the length class.
    let out = run(&[
        "env",
        "--redact",
        &pid,
        "API_TOKEN",
        "DB_PASSWORD",
        "DATABASE_URL",
        "LC_ALL",
    ])
    .out();
    assert_eq!(
        out,
        "API_TOKEN=<redacted: 1-7 bytes>\nDB_PASSWORD=<redacted: 1-7 bytes>\nDATABASE_URL=postgres://user:<redacted: 1-7 bytes>@db/x\nLC_ALL=C\n"
    );
    let out = run(&["env", "--redact", "--redact-key", "LC_*", &pid, "LC_ALL"]).out();
    assert_eq!(out, "LC_ALL=<redacted: 1-7 bytes>\n");

    // --export, sourced by bash, gives what getenv() sees, byte for byte.
    let exported = run(&["env", "--export", &pid]).out();
    assert_terminal_safe(&exported);
    let script = format!("{exported}\nenv -0");
    let o = Command::new("env")
        .args(["-i", "bash", "--noprofile", "--norc", "-c", &script])
        .output()
        .unwrap();
    let got: Vec<&[u8]> = o
        .stdout
        .split(|&c| c == 0)
        .filter(|e| !e.is_empty())
        .collect();
    for want in [
        &b"DUP=first"[..],
        b"EMPTY=",
        b"MULTILINE=line1\nline2",
        b"ESCAPE=\x1b[31mred\x1b[0m",
        b"API_TOKEN=tok-123",
        b"LC_TIME=C.UTF-8",
    ] {
        assert!(
            got.contains(&want),
            "{:?} missing after sourcing:\n{exported}",
            String::from_utf8_lossy(want)
        );
    }
    assert!(!got.contains(&&b"DUP=second"[..]));
    assert!(exported.contains("# entry without '=', skipped: NOEQUALSSIGN"));
    assert!(exported.contains("# not a shell name, skipped: BAD\\xffKEY"));

    // JSON with duplicates flagged and bytes exact.
    let v = run(&["env", "--json", &pid]).json();
    let e = v["processes"][0]["environ"].as_array().unwrap();
    assert_eq!(e[1]["duplicate"], true);
    assert_eq!(e[2]["value"], serde_json::Value::Null);
    assert_eq!(e[9]["key"]["base64"], "QkFE/0tFWQ==");

    // --diff against a file of KEY=value lines.
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), "DUP=first\nLC_ALL=POSIX\nGONE=1\n").unwrap();
    let out = run(&[
        "env",
        "--diff",
        f.path().to_str().unwrap(),
        &pid,
        "DUP",
        "LC_ALL",
        "EMPTY",
    ])
    .out();
    assert!(out.contains("~ LC_ALL=C  (other: POSIX)\n"), "{out}");
    assert!(out.contains("+ EMPTY=\n"), "{out}");
    assert!(out.contains("- GONE=1\n"), "{out}");
    assert!(out.contains("(1 identical)"), "{out}");
}

#[test]
fn kernel_threads_denied_and_missing_targets_say_why() {
    let r = run(&["cmdline", "2"]);
    assert_eq!(r.status, 0);
    assert_eq!(
        r.out(),
        "PID 2 (kthreadd): a kernel thread: it has no command line\n"
    );
    let r = run(&["cmdline", "--shell", "2"]);
    assert_eq!(r.status, 2);
    let r = run(&["env", "2"]);
    assert_eq!(
        (r.status, r.out().as_str()),
        (
            0,
            "PID 2 (kthreadd): a kernel thread: it has no environment\n"
        )
    );
    let r = run(&["cmdline", "no-such-process-xyz"]);
    assert_eq!(r.status, 1);
    assert!(
        r.stderr
            .contains("no process matches `no-such-process-xyz`")
    );

    // Another user's environment: denied, and what would allow it.
    let t = start_kit(&["sleep"]);
    let o = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(procscope())
        .args(["env", &t.pid_s()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("environ: denied: needs the same user as the process or CAP_SYS_PTRACE: run as that user or with sudo (it runs as uid 0)"),
        "{err}"
    );
}

#[test]
fn repro_starts_the_same_program_with_identical_argv_environment_and_cwd() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path().join("work dir\nwith newline");
    std::fs::create_dir(&cwd).unwrap();
    let envp: &[&[u8]] = &[
        b"DUP=first",
        b"PLAIN=1",
        b"EMPTY=",
        b"MULTI=a\nb",
        b"ESC=\x1b]0;t\x07",
        b"BIN=\xff\xfe",
        b"DUP=second",
        b"NOEQ",
        b"QUOTE=it's $HOME",
    ];
    let argv: &[&[u8]] = &[b"custom argv0 \x1b[1m", b"sleep", b"", b"x y", b"\xff", b""];
    let mut c = Command::new(testkit());
    c.current_dir(&cwd).arg("exec").arg(envp.len().to_string());
    for e in envp {
        c.arg(hex(e));
    }
    for a in argv {
        c.arg(hex(a));
    }
    let t = start(c);
    let snippet = run(&["repro", &t.pid_s()]);
    assert_eq!(snippet.status, 0, "{}", snippet.stderr);
    let s = snippet.out();
    assert_terminal_safe(&s);
    assert!(
        s.starts_with(&format!(
            "#!/bin/bash\n# procscope repro of PID {} (exe), user root (uid 0)\n",
            t.pid()
        )),
        "{s}"
    );
    assert!(s.contains("# limits (soft/hard): nofile "), "{s}");
    assert!(s.contains("# cgroup: "), "{s}");
    assert!(
        s.contains("left out: duplicate DUP=second; entry without a name or '=' NOEQ"),
        "{s}"
    );

    let mut b = Command::new("bash");
    b.arg("-c").arg(&s);
    let again = start(b);
    let read = |pid: u32, f: &str| std::fs::read(format!("/proc/{pid}/{f}")).unwrap();
    assert!(
        read(again.pid(), "cmdline") == read(t.pid(), "cmdline"),
        "argv differs:\n{s}"
    );
    let want: Vec<u8> = [
        &b"DUP=first"[..],
        b"PLAIN=1",
        b"EMPTY=",
        b"MULTI=a\nb",
        b"ESC=\x1b]0;t\x07",
        b"BIN=\xff\xfe",
        b"QUOTE=it's $HOME",
    ]
    .iter()
    .flat_map(|e| e.iter().copied().chain([0]))
    .collect();
    assert!(
        read(again.pid(), "environ") == want,
        "environment differs:\n{s}"
    );
    let cwd_again = std::fs::read_link(format!("/proc/{}/cwd", again.pid())).unwrap();
    assert_eq!(cwd_again, cwd);

    // --redact masks secrets in the snippet too.
    let r = run(&["repro", "--redact", &t.pid_s()]);
    assert!(
        r.out()
            .contains("# note: secret-looking values are redacted")
    );

    // --json: the same script, and its parts with bytes exact.
    let r = run(&["repro", "--json", &t.pid_s()]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!((&v["procscope"], &v["kind"]), (&2.into(), &"repro".into()));
    let p = &v["processes"][0];
    assert_eq!(p["pid"], t.pid());
    // (The text output starts with the one #!/bin/bash line for all.)
    assert_eq!(
        p["script"].as_str().unwrap(),
        s.strip_prefix("#!/bin/bash\n").unwrap()
    );
    assert_eq!(p["cwd"].as_str().unwrap(), cwd.to_str().unwrap());
    assert_eq!(p["exec_via"], "perl");
    assert!(
        p["program"]
            .as_str()
            .unwrap()
            .ends_with("procscope-testkit"),
        "{p}"
    );
    let argv = p["argv"].as_array().unwrap();
    assert_eq!(argv.len(), 6);
    assert_eq!(argv[0], "custom argv0 \u{1b}[1m");
    assert_eq!((&argv[2], &argv[4]["base64"]), (&"".into(), &"/w==".into()));
    let env = p["environment"].as_array().unwrap();
    let keys: Vec<&str> = env.iter().map(|e| e["key"].as_str().unwrap()).collect();
    assert_eq!(
        keys,
        ["DUP", "PLAIN", "EMPTY", "MULTI", "ESC", "BIN", "QUOTE"]
    );
    assert_eq!(env[0]["value"], "first");
    assert_eq!(env[5]["value"]["base64"], "//4=");
    assert_eq!(
        p["left_out"],
        serde_json::json!([
            {"reason": "duplicate", "entry": "DUP=second"},
            {"reason": "no_name", "entry": "NOEQ"}
        ])
    );
    assert!(
        p["notes"].as_array().unwrap().iter().any(|n| n
            .as_str()
            .unwrap()
            .starts_with("not reproducible with env(1)")),
        "{p}"
    );
    assert_eq!(
        (&p["redacted"], &p["truncated"]),
        (&false.into(), &false.into())
    );
    let v = run(&["repro", "--json", "--redact", &t.pid_s()]).json();
    assert_eq!(v["processes"][0]["redacted"], true);
    // Nothing to start: the script is an error object, exit 2.
    let r = run(&["repro", "--json", "2"]);
    assert_eq!(r.status, 2, "{}", r.stderr);
    assert_eq!(
        r.json()["processes"][0]["script"]["error"]["reason"],
        "absent"
    );
}

#[test]
fn repro_says_when_the_executable_was_replaced_or_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("kit");
    std::fs::copy(testkit(), &exe).unwrap();
    let t = start({
        let mut c = Command::new(&exe);
        c.arg("sleep");
        c
    });
    let s = run(&["repro", &t.pid_s()]).out();
    assert!(!s.contains("# note: the executable"), "{s}");
    // Replace it the way upgrades do: a new file renamed over the path.
    let new = dir.path().join("kit.new");
    std::fs::copy(testkit(), &new).unwrap();
    std::fs::rename(&new, &exe).unwrap();
    let s = run(&["repro", &t.pid_s()]).out();
    assert!(
        s.contains(&format!(
            "# note: the executable {} was replaced on disk since the process started",
            exe.display()
        )),
        "{s}"
    );
    std::fs::remove_file(&exe).unwrap();
    let s = run(&["repro", &t.pid_s()]).out();
    assert!(
        s.contains(&format!(
            "# note: the executable {} was deleted since the process started",
            exe.display()
        )),
        "{s}"
    );
}

#[test]
fn env_diff_against_another_process_and_our_own_environment() {
    let start_env = |vars: &[(&str, &str)]| {
        let mut c = std::process::Command::new(testkit());
        c.env_clear().arg("sleep");
        for (k, v) in vars {
            c.env(k, v);
        }
        start(c)
    };
    let a = start_env(&[("A", "1"), ("B", "2"), ("ONLY_A", "x")]);
    let b = start_env(&[("A", "1"), ("B", "3"), ("C", "4")]);
    // b compared with a: B changed, C added, ONLY_A removed, A the same.
    let out = run(&["env", "--diff", &a.pid_s(), &b.pid_s()]).out();
    assert!(out.contains("~ B=3  (other: 2)\n"), "{out}");
    assert!(out.contains("+ C=4\n"), "{out}");
    assert!(out.contains("- ONLY_A=x\n"), "{out}");
    assert!(out.contains("(1 identical)"), "{out}");
    // `-`: procscope's own environment (set here for the run).
    let r = run_with(
        &["env", "--diff", "-", &b.pid_s(), "A", "B"],
        &[("A", "1"), ("B", "9")],
        std::time::Duration::from_secs(20),
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    let out = r.out();
    assert!(out.contains("~ B=3  (other: 9)\n"), "{out}");
    assert!(out.contains("(1 identical)"), "{out}");
    // A pattern that matches several processes is refused with a hint.
    let r = run(&["env", "--diff", "procscope-testk", &b.pid_s()]);
    assert_eq!(r.status, 2, "{}", r.stderr);
    assert!(r.stderr.contains("give a PID"), "{}", r.stderr);
}

#[test]
fn cmdline_hex_dumps_every_match_under_a_title() {
    // Two processes with one unique name: the README's `cmdline --hex nginx`.
    let name = format!("hx{}", std::process::id());
    let a = start_kit(&["name", &hex(name.as_bytes())]);
    let b = start_kit(&["name", &hex(name.as_bytes())]);
    let pattern = format!("^{name}$");
    let r = run(&["cmdline", "--hex", &pattern]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let out = r.out();
    assert_terminal_safe(&out);
    let (lo, hi) = (a.pid().min(b.pid()), a.pid().max(b.pid()));
    let blocks: Vec<&str> = out.split("\n\n").collect();
    assert_eq!(blocks.len(), 2, "{out}");
    for (block, pid) in blocks.iter().zip([lo, hi]) {
        let mut lines = block.lines();
        assert_eq!(
            lines.next(),
            Some(format!("PID {pid} ({name}):").as_str()),
            "{out}"
        );
        let dump: String = lines.collect::<Vec<_>>().join("\n");
        assert!(dump.starts_with("00000000: "), "{out}");
        let file = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
        // The dump's text column, reassembled, is the command line.
        let text: String = dump.lines().map(|l| &l[51..]).collect();
        let want: String = file
            .iter()
            .map(|&c| {
                if (0x20..0x7f).contains(&c) {
                    c as char
                } else {
                    '.'
                }
            })
            .collect();
        assert_eq!(text, want, "{out}");
    }
    // The exact bytes of several processes would run together: one only.
    let r = run(&["cmdline", "--raw", &pattern]);
    assert_eq!(r.status, 2);
    assert!(
        r.stderr.contains("--raw needs one; give a PID"),
        "{}",
        r.stderr
    );
}

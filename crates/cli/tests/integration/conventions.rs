//! Unix conventions: exit codes, pipes, colours, help, completions, man.

use crate::support::*;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn exit_codes() {
    let r = run(&["ps", "no-process-is-named-like-this-xyz"]);
    assert_eq!(
        (r.status, r.out().as_str(), r.stderr.as_str()),
        (
            1,
            "",
            "procscope: warning: no process matches the selection\n"
        )
    );
    // --pids is for scripts: silent, like pgrep.
    let r = run(&["ps", "--pids", "no-process-is-named-like-this-xyz"]);
    assert_eq!((r.status, r.out().as_str(), r.stderr.as_str()), (1, "", ""));
    let r = run(&["ps", "--json", "no-process-is-named-like-this-xyz"]);
    assert_eq!(r.status, 1);
    assert_eq!(r.json()["processes"], serde_json::json!([]));
    let r = run(&["ps", "("]);
    assert_eq!(r.status, 2);
    assert!(r.stderr.contains("invalid pattern `(`"), "{}", r.stderr);
    let r = run(&["ps", "-u", "no-such-user-procscope"]);
    assert_eq!(r.status, 2);
    assert!(
        r.stderr.contains("unknown user `no-such-user-procscope`"),
        "{}",
        r.stderr
    );
    let r = run(&["ps", "-o", "pid,bogus"]);
    assert_eq!(r.status, 2);
    assert!(
        r.stderr.contains("unknown column `bogus` (known: pid"),
        "{}",
        r.stderr
    );
    let r = run(&["ps", "--sort", "bogus"]);
    assert_eq!(r.status, 2);
    let r = run(&["ps", "--state", "Q"]);
    assert_eq!(r.status, 2);
    let r = run(&["--proc-root", "/nonexistent-proc", "ps"]);
    assert_eq!(r.status, 2);
    assert!(
        r.stderr
            .contains("cannot open the proc root /nonexistent-proc"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("--proc-root"), "{}", r.stderr);
    let r = run(&["--timeout", "soon", "ps"]);
    assert_eq!(r.status, 2);
    let r = run(&["frobnicate"]);
    assert_eq!(r.status, 2);
}

/// Runs procscope with `args`, reads the first `keep` bytes of its output
/// and closes the pipe (`| head -c KEEP`; 0: before it writes anything,
/// like `| head -0`). Its exit code and standard error.
fn pipe_closed_after(args: &[&str], keep: usize) -> (Option<i32>, String) {
    let mut child = Command::new(procscope())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut first = vec![0u8; keep];
    out.read_exact(&mut first).unwrap();
    drop(out);
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (child.wait().unwrap().code(), err)
}

#[test]
fn a_closed_pipe_is_a_clean_exit() {
    // Streamed rows (default), a collected table (--threads), and JSON.
    for args in [
        &["ps", "-w"][..],
        &["ps", "--threads", "-w"],
        &["ps", "--json"],
    ] {
        let (code, err) = pipe_closed_after(args, 0);
        assert_eq!(code, Some(0), "{args:?}: stderr: {err}");
        assert_eq!(err, "", "{args:?}");
    }
}

/// `| head -c 100` on a long JSON document: the pipe closes while
/// serde_json is writing it, whose error is not an io::Error (it was
/// "error: Broken pipe", exit 2).
#[test]
fn a_pipe_closed_in_the_middle_of_a_document_is_a_clean_exit() {
    for args in [&["stack", "--json", "."][..], &["fds", "--json", "--all"]] {
        let (code, err) = pipe_closed_after(args, 100);
        assert_eq!(code, Some(0), "{args:?}: stderr: {err}");
        assert_eq!(err.matches("Broken pipe").count(), 0, "{args:?}: {err}");
    }
}

#[test]
fn colours_only_when_asked_or_on_a_terminal() {
    let plain = run(&["ps", "-p", "1"]);
    assert!(!plain.stdout.contains(&0x1b), "colour on a pipe");
    let forced = run(&["--color", "always", "ps", "-p", "1"]);
    assert!(forced.out().starts_with("\x1b[1m"), "{:?}", forced.out());
    let never = run_with(
        &["ps", "-p", "1"],
        &[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")],
        Duration::from_secs(10),
    );
    assert!(!never.stdout.contains(&0x1b));
}

#[test]
fn help_completions_and_man_page() {
    let r = run(&["--help"]);
    assert_eq!(r.status, 0);
    assert!(r.out().contains("Examples:"));
    let r = run(&["ps", "--help"]);
    assert!(r.out().contains("procscope ps --state D,Z --tree"));
    assert!(
        r.out()
            .contains("Exit status: 0 when something matched, 1 when nothing did, 2 on errors.")
    );
    for shell in ["bash", "zsh", "fish"] {
        let r = run(&["completions", shell]);
        assert_eq!(r.status, 0);
        assert!(r.out().contains("procscope"), "{shell}");
        assert!(r.out().contains("children-of"), "{shell}");
    }
    let r = run(&["man"]);
    assert!(
        r.out().starts_with(".ie \\n(.g .ds Aq") || r.out().starts_with(".TH"),
        "{}",
        &r.out()[..100]
    );
    assert!(r.out().contains(".TH procscope-ps"));
    assert!(r.out().contains("children\\-of"));
    assert!(r.out().contains(".SH EXAMPLES"));
    assert!(!r.out().contains(".SH EXTRA"));
}

/// The subcommands `procscope --help` lists.
fn subcommands() -> Vec<String> {
    let help = run(&["--help"]).out();
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn man_out_writes_one_valid_page_per_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man1");
    let r = run(&["man", "--out", out.to_str().unwrap()]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let subs = subcommands();
    assert!(
        subs.len() >= 19 && subs.contains(&"who-has".to_string()),
        "{subs:?}"
    );
    let mut want: Vec<String> = subs.iter().map(|s| format!("procscope-{s}.1")).collect();
    want.push("procscope.1".into());
    want.sort();
    let mut got: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    got.sort();
    assert_eq!(got, want);
    // The paths written, one per line.
    assert_eq!(r.out().lines().count(), want.len());
    let groff = Command::new("groff").arg("-v").output().is_ok();
    for f in &want {
        let path = out.join(f);
        let page = std::fs::read_to_string(&path).unwrap();
        let name = f.trim_end_matches(".1");
        // One page: one title, its own name, the sections in order.
        assert_eq!(page.matches(".TH ").count(), 1, "{f}");
        assert!(page.contains(&format!(".TH {name} 1 ")), "{f}");
        let sections: Vec<&str> = page
            .lines()
            .filter_map(|l| l.strip_prefix(".SH "))
            .map(|s| s.trim_matches('"'))
            .collect();
        let at = |s: &str| sections.iter().position(|x| *x == s);
        for s in ["NAME", "SYNOPSIS", "DESCRIPTION", "EXIT STATUS", "SEE ALSO"] {
            assert!(at(s).is_some(), "{f}: no {s} in {sections:?}");
        }
        assert!(
            at("NAME") < at("SYNOPSIS") && at("SYNOPSIS") < at("DESCRIPTION"),
            "{f}"
        );
        assert!(!sections.contains(&"EXTRA"), "{f}: {sections:?}");
        assert!(page.is_ascii(), "{f}");
        let has_examples = name == "procscope"
            || run(&[name.trim_start_matches("procscope-"), "--help"])
                .out()
                .contains("Examples:");
        assert_eq!(at("EXAMPLES").is_some(), has_examples, "{f}: {sections:?}");
        if groff {
            // groff with every warning on: nothing to say about any page.
            let o = Command::new("groff")
                .args(["-man", "-Tutf8", "-ww", "-z"])
                .arg(&path)
                .output()
                .unwrap();
            assert!(
                o.status.success() && o.stderr.is_empty(),
                "{f}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
    if groff {
        // Rendered: the examples under EXAMPLES, not EXTRA.
        let o = Command::new("groff")
            .args(["-man", "-Tascii", "-P", "-cbou"])
            .arg(out.join("procscope-ps.1"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        let ex = text.find("\nEXAMPLES\n").expect("an EXAMPLES section");
        assert!(
            text[ex..].contains("procscope ps --state D,Z --tree"),
            "{text}"
        );
        assert!(!text.contains("EXTRA"), "{text}");
    }
}

#[test]
fn readme_points_only_at_files_in_the_repository() {
    let top = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(top.join("README.md")).unwrap();
    // Markdown link targets and `code` spans that name a file by path.
    let mut paths: Vec<&str> = Vec::new();
    for part in readme.split("](").skip(1) {
        paths.extend(part.split(')').next());
    }
    for (i, part) in readme.split('`').enumerate() {
        let looks_like_file = part.contains('/')
            && !part.contains(' ')
            && [".md", ".rs", ".sh", ".c", ".py", ".toml"]
                .iter()
                .any(|e| part.ends_with(e));
        if i % 2 == 1 && looks_like_file {
            paths.push(part);
        }
    }
    assert!(paths.contains(&"docs/json.md"), "{paths:?}");
    for p in paths.iter().filter(|p| !p.starts_with("http")) {
        assert!(
            !p.starts_with(".."),
            "README points outside the repository: {p}"
        );
        assert!(top.join(p).exists(), "README points at a missing file: {p}");
    }
    // The first command builds a release binary: the README says how long.
    let first = readme
        .lines()
        .skip_while(|l| !l.starts_with("cargo run --release"))
        .take(2)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(first.contains("minutes"), "{first}");
}

#[test]
fn bash_completion_offers_words_pids_and_users_not_file_names() {
    let script = run(&["completions", "bash"]).out();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("script.bash"), &script).unwrap();
    // A file that must never be offered where a value is not a path.
    std::fs::write(dir.path().join("zz-file"), "").unwrap();
    let t = start_kit(&["sleep"]);
    let pid = t.pid_s();
    // Each case: the words typed so far, the last one being completed.
    let cases: &[&[&str]] = &[
        &["fds", "--type", ""],
        &["show", "-s", ""],
        &["show", "--section", "na"],
        &["ps", "-p", &pid],
        &["ps", "--children-of", &pid],
        &["stack", &pid],
        &["why", &pid],
        &["fds", &pid],
        &["ps", "--timeout", ""],
        &["hung", "--over", ""],
        &["ps", "-u", "roo"],
        &["fds", "--path", "zz"],
    ];
    let mut body = String::from(
        "source ./script.bash\n\
         t() { COMP_WORDS=(procscope \"$@\"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMPREPLY=();\n\
               _procscope procscope \"${COMP_WORDS[COMP_CWORD]}\" \"${COMP_WORDS[COMP_CWORD-1]}\" 2>/dev/null;\n\
               printf '%s|' \"${COMPREPLY[@]}\"; echo; }\n",
    );
    for c in cases {
        body.push('t');
        for w in *c {
            body.push_str(&format!(" '{w}'"));
        }
        body.push('\n');
    }
    let o = Command::new("bash")
        .arg("-c")
        .arg(&body)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8(o.stdout).unwrap();
    let got: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split('|').filter(|w| !w.is_empty()).collect())
        .collect();
    assert_eq!(got.len(), cases.len(), "{out}");
    let of = |i: usize| -> &Vec<&str> { &got[i] };
    for (i, c) in cases.iter().enumerate() {
        if c[1] != "--path" {
            assert!(
                !of(i).contains(&"zz-file"),
                "{c:?} offers file names: {:?}",
                of(i)
            );
        }
    }
    for w in [
        "file", "fifo", "chr", "dir", "memfd", "tcp", "udp", "socket",
    ] {
        assert!(of(0).contains(&w), "fds --type: {:?}", of(0));
    }
    assert_eq!(
        of(1),
        &[
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
            "mounts"
        ]
    );
    assert_eq!(of(2), &["namespaces"]);
    for (c, words) in cases.iter().zip(&got).take(8).skip(3) {
        assert!(words.contains(&pid.as_str()), "{c:?}: {words:?}");
        assert!(
            words.iter().all(|w| w.starts_with(pid.as_str())),
            "{words:?}"
        );
    }
    // Durations: nothing to offer (what was typed stays).
    assert!(of(8).iter().all(|w| w.is_empty()), "{:?}", of(8));
    assert!(of(9).iter().all(|w| w.is_empty()), "{:?}", of(9));
    assert_eq!(of(10), &["root"]);
    // Paths still complete as paths.
    assert_eq!(of(11), &["zz-file"]);
}

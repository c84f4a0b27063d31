//! Generated shell is executed, as users do, against processes whose
//! arguments, environment and executable path were chosen to take it over:
//! `repro`, `cmdline --shell` and `env --export` must run exactly the
//! intended program and nothing the target's bytes choose.

use crate::support::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn hex(b: &[u8]) -> String {
    b.iter().map(|c| format!("{c:02x}")).collect()
}

/// A directory of fake programs, each of which creates `marker` (named
/// like every helper a generated script might look up through PATH).
struct Trap {
    dir: tempfile::TempDir,
    marker: PathBuf,
}

impl Trap {
    fn new() -> Trap {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("PWNED");
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        for name in [
            "env",
            "perl",
            "sleep",
            "touch",
            "sh",
            "bash",
            "exec",
            "cd",
            "procscope-testkit",
        ] {
            let p = bin.join(name);
            std::fs::write(
                &p,
                format!("#!/bin/sh\necho \"$0 $*\" >> '{}'\n", marker.display()),
            )
            .unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        // A shell startup file and perl module that would also touch it.
        std::fs::write(
            dir.path().join("rc"),
            format!("echo rc >> '{}'\n", marker.display()),
        )
        .unwrap();
        Trap { dir, marker }
    }

    fn bin(&self) -> String {
        self.dir.path().join("bin").display().to_string()
    }

    fn rc(&self) -> String {
        self.dir.path().join("rc").display().to_string()
    }

    /// Environment entries that try every way in.
    fn env(&self) -> Vec<Vec<u8>> {
        let m = self.marker.display();
        vec![
            format!("PATH={}", self.bin()).into_bytes(),
            format!("BASH_ENV={}", self.rc()).into_bytes(),
            format!("ENV={}", self.rc()).into_bytes(),
            format!("PROMPT_COMMAND=echo prompt >> '{m}'").into_bytes(),
            format!("PS1=$(echo ps1 >> '{m}')> ").into_bytes(),
            format!("PS0=$(echo ps0 >> '{m}')").into_bytes(),
            format!("PERL5OPT=-Mstrict;system(q{{echo perl >> {m}}})").into_bytes(),
            b"IFS=/".to_vec(),
            b"SAFE=kept value".to_vec(),
            b"GIT_CONFIG_COUNT=1".to_vec(),
            b"GIT_CONFIG_KEY_0=core.fsmonitor".to_vec(),
            format!("GIT_CONFIG_VALUE_0=echo git >> '{m}'; false").into_bytes(),
            format!("PYTHONUSERBASE={}", self.dir.path().display()).into_bytes(),
            b"POSIXLY_CORRECT=1".to_vec(),
            b"UID=5".to_vec(),
            b"X=$(touch nowhere)".to_vec(),
        ]
    }

    fn assert_untouched(&self, what: &str) {
        let got = std::fs::read_to_string(&self.marker).unwrap_or_default();
        assert!(got.is_empty(), "{what} ran what the target chose:\n{got}");
    }
}

/// Starts `exe` through `execve` with exactly `argv` and `envp` (the
/// testkit's `exec` mode re-executes /proc/self/exe, i.e. `exe`).
fn exact(exe: &Path, argv: &[&[u8]], envp: &[Vec<u8>]) -> Target {
    let mut c = Command::new(exe);
    c.arg("exec").arg(envp.len().to_string());
    for e in envp {
        c.arg(hex(e));
    }
    for a in argv {
        c.arg(hex(a));
    }
    start(c)
}

fn read(pid: u32, f: &str) -> Vec<u8> {
    std::fs::read(format!("/proc/{pid}/{f}")).unwrap()
}

/// Runs `script` with bash under a PATH of traps, as `bash -c`.
fn run_script(script: &str, trap: &Trap) -> Target {
    let mut b = Command::new("/bin/bash");
    b.arg("-c").arg(script).env_clear().env("PATH", trap.bin());
    start(b)
}

#[test]
fn repro_runs_the_executable_even_when_its_path_argv_and_environment_are_hostile() {
    let trap = Trap::new();
    // The executable's path holds '=' (env(1) would take it for an
    // assignment) and spaces; argv[0] is not its path (perl sets it) and
    // looks like an assignment; argv goes on like a command.
    let dir = trap.dir.path().join("a=b c");
    std::fs::create_dir(&dir).unwrap();
    let exe = dir.join("prog=x");
    std::fs::copy(testkit(), &exe).unwrap();
    let marker = trap.marker.display().to_string();
    for argv0 in [
        exe.as_os_str().as_encoded_bytes(),
        b"X=1".as_slice(),
        b"perl",
    ] {
        let argv: &[&[u8]] = &[argv0, b"sleep", b"touch", marker.as_bytes()];
        let t = exact(&exe, argv, &trap.env());
        let r = run(&["repro", &t.pid_s()]);
        assert_eq!(r.status, 0, "{}", r.stderr);
        let s = r.out();
        assert_terminal_safe(&s);
        let again = run_script(&s, &trap);
        trap.assert_untouched(&format!(
            "repro (argv[0] {:?}):\n{s}",
            String::from_utf8_lossy(argv0)
        ));
        assert_eq!(
            std::fs::read_link(format!("/proc/{}/exe", again.pid())).unwrap(),
            exe,
            "{s}"
        );
        assert!(
            read(again.pid(), "cmdline") == read(t.pid(), "cmdline"),
            "argv differs:\n{s}"
        );
        assert!(
            read(again.pid(), "environ") == read(t.pid(), "environ"),
            "environment differs:\n{s}"
        );
    }
}

#[test]
fn cmdline_shell_runs_no_argument_as_a_command_when_the_executable_is_unreadable() {
    let trap = Trap::new();
    let marker = trap.marker.display().to_string();
    // As nobody, the root-owned process's exe link is unreadable, so the
    // line has only argv to go on: "X=1" must stay the program's name, not
    // become an assignment that makes "sleep" (a trap) the command; "eval"
    // must not be bash's builtin.
    for argv0 in [&b"X=1"[..], b"eval", b"%1"] {
        let argv: &[&[u8]] = &[argv0, b"sleep", b"touch", marker.as_bytes()];
        let t = exact(&testkit(), argv, &[b"A=1".to_vec()]);
        let o = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(procscope())
            .args(["cmdline", "--shell", &t.pid_s()])
            .output()
            .expect("setpriv (util-linux)");
        let line = String::from_utf8(o.stdout).unwrap();
        assert!(!line.is_empty(), "{}", String::from_utf8_lossy(&o.stderr));
        let st = Command::new("/bin/bash")
            .arg("-c")
            .arg(&line)
            .env_clear()
            .env("PATH", trap.bin())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert_eq!(
            st.code(),
            Some(127),
            "{line}: the program X=1 does not exist"
        );
        trap.assert_untouched(&format!("cmdline --shell: {line}"));
    }
}

#[test]
fn env_export_sourced_by_an_interactive_shell_runs_nothing_of_the_target() {
    let trap = Trap::new();
    let t = exact(&testkit(), &[b"x", b"sleep"], &trap.env());
    let r = run(&["env", "--export", &t.pid_s()]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let exported = r.out();
    assert_terminal_safe(&exported);
    assert!(
        exported.contains("# UID skipped: read-only in bash"),
        "{exported}"
    );
    for k in [
        "PROMPT_COMMAND",
        "PS0",
        "PS1",
        "BASH_ENV",
        "ENV",
        "IFS",
        "PATH",
        "PERL5OPT",
        "GIT_CONFIG_COUNT",
        "GIT_CONFIG_VALUE_0",
        "PYTHONUSERBASE",
        "POSIXLY_CORRECT",
    ] {
        assert!(
            exported.contains(&format!("# {k} left out: ")),
            "{k}:\n{exported}"
        );
    }
    assert!(r.stderr.contains("--unsafe-vars"), "{}", r.stderr);
    let source = |text: &str| {
        let f = trap.dir.path().join("env.sh");
        std::fs::write(&f, text).unwrap();
        // An interactive bash: it prompts (PS0/PS1, PROMPT_COMMAND) after
        // sourcing, and runs a command with a word split by IFS.
        let mut b = Command::new("/bin/bash")
            .args(["--norc", "--noprofile", "-i"])
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("PS1", "$ ")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        let script = format!(
            ". '{}'\necho \"SAFE=$SAFE X=$X\"\nls /nonexistent-dir\nexit\n",
            f.display()
        );
        b.stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        let o = b.wait_with_output().unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let out = source(&exported);
    assert!(out.contains("SAFE=kept value X=$(touch nowhere)"), "{out}");
    trap.assert_untouched(&format!("env --export, sourced:\n{exported}"));
    // The check can fail: with --unsafe-vars the same shell is taken over.
    let all = run(&["env", "--export", "--unsafe-vars", &t.pid_s()]).out();
    source(&all);
    let got = std::fs::read_to_string(&trap.marker).unwrap_or_default();
    assert!(
        got.contains("prompt"),
        "--unsafe-vars exported PROMPT_COMMAND: {got:?}\n{all}"
    );
}

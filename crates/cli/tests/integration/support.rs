//! Test helpers: running procscope with a hard deadline, starting testkit
//! targets that are always killed, and a hung FUSE filesystem that is always
//! released.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The procscope binary under test.
pub fn procscope() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_procscope"))
}

/// The testkit binary (built by `cargo test --workspace`).
pub fn testkit() -> PathBuf {
    let p = procscope().with_file_name("procscope-testkit");
    assert!(
        p.exists(),
        "{} is missing: run the tests with --workspace (scripts/test.sh does)",
        p.display()
    );
    p
}

/// The result of running procscope.
pub struct Run {
    pub status: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
    pub took: Duration,
}

impl Run {
    pub fn out(&self) -> String {
        String::from_utf8(self.stdout.clone()).expect("procscope printed invalid UTF-8")
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.stdout)
            .unwrap_or_else(|e| panic!("bad JSON ({e}): {}", self.out()))
    }
}

/// Runs procscope with `args`, killing it (and failing) after `limit`.
pub fn run_with(args: &[&str], env: &[(&str, &str)], limit: Duration) -> Run {
    let mut cmd = Command::new(procscope());
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.env_remove("COLUMNS")
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let start = Instant::now();
    let child = cmd.spawn().expect("spawn procscope");
    let (tx, rx) = mpsc::channel();
    let pid = child.id();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out: Output = match rx.recv_timeout(limit) {
        Ok(o) => o.expect("wait procscope"),
        Err(_) => {
            kill(pid);
            panic!("procscope {args:?} did not finish within {limit:?}: it hung");
        }
    };
    Run {
        status: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        took: start.elapsed(),
    }
}

/// Runs procscope with a 20 s hard limit.
pub fn run(args: &[&str]) -> Run {
    run_with(args, &[], Duration::from_secs(20))
}

pub fn kill(pid: u32) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    );
}

/// A child process that is SIGKILLed and reaped when dropped.
pub struct Target {
    pub child: Child,
}

impl Target {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn pid_s(&self) -> String {
        self.child.id().to_string()
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `cmd` and waits (up to 10 s) for it to print `ready`.
pub fn start(mut cmd: Command) -> Target {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = cmd.spawn().expect("spawn target");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let t = Target { child };
    match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(l) if l.trim() == "ready" => t,
        other => panic!("target did not become ready: {other:?}"),
    }
}

/// Starts a testkit mode.
pub fn start_kit(args: &[&str]) -> Target {
    let mut c = Command::new(testkit());
    c.args(args);
    start(c)
}

/// Waits until every thread of `pid` is in state `want` (up to `limit`).
pub fn wait_all_threads(pid: u32, want: char, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        let tasks: Vec<u32> = std::fs::read_dir(format!("/proc/{pid}/task"))
            .map(|d| {
                d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        let all = !tasks.is_empty()
            && tasks.iter().all(|t| {
                std::fs::read(format!("/proc/{pid}/task/{t}/stat"))
                    .ok()
                    .and_then(|s| {
                        let close = s.iter().rposition(|&c| c == b')')?;
                        s.get(close + 2).copied()
                    })
                    .is_some_and(|c| c as char == want)
            });
        if all {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// True if reading `path` does not finish within `limit`. The reading
/// thread is left behind (it is released when the hung filesystem is).
pub fn read_blocks(path: &Path, limit: Duration) -> bool {
    let (tx, rx) = mpsc::channel();
    let p = path.to_path_buf();
    std::thread::spawn(move || {
        let _ = tx.send(std::fs::read(p).map(|v| v.len()));
    });
    rx.recv_timeout(limit).is_err()
}

/// A FUSE filesystem whose file `hang` never answers a read. Dropping it
/// kills the daemon (which aborts the connection and fails every waiting
/// reader) and detaches the mount, so a failed test never leaves a hang.
pub struct HungFuse {
    pub dir: tempfile::TempDir,
    daemon: Option<Target>,
}

impl HungFuse {
    pub fn mount() -> HungFuse {
        assert!(
            Path::new("/dev/fuse").exists(),
            "/dev/fuse is missing: the hang tests need FUSE (scripts/test.sh installs fuse3)"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let daemon = start_kit(&["fuse-hang", dir.path().to_str().expect("utf8 path")]);
        HungFuse {
            dir,
            daemon: Some(daemon),
        }
    }

    pub fn hang_file(&self) -> PathBuf {
        self.dir.path().join("hang")
    }

    pub fn daemon_pid(&self) -> u32 {
        self.daemon.as_ref().map_or(0, Target::pid)
    }
}

impl Drop for HungFuse {
    fn drop(&mut self) {
        drop(self.daemon.take());
        let _ = nix::mount::umount2(self.dir.path(), nix::mount::MntFlags::MNT_DETACH);
    }
}

/// Asserts that text printed for a terminal holds no raw control character,
/// C1 control or bidi override (newlines between lines are fine).
pub fn assert_terminal_safe(s: &str) {
    for c in s.chars() {
        let u = u32::from(c);
        let bad = (c.is_control() && c != '\n')
            || (0x80..=0x9f).contains(&u)
            || matches!(u, 0x061c | 0x200b..=0x200f | 0x2028..=0x202e | 0x2060..=0x2069 | 0xfeff);
        assert!(!bad, "raw {c:?} (U+{u:04X}) reached the terminal in:\n{s}");
    }
}

/// A process started by `procscope-testkit orphan`: in a session of its
/// own, its parent gone. SIGKILLed when dropped.
pub struct Orphan {
    pub pid: u32,
}

impl Orphan {
    pub fn pid_s(&self) -> String {
        self.pid.to_string()
    }
}

impl Drop for Orphan {
    fn drop(&mut self) {
        kill(self.pid);
    }
}

/// Starts testkit mode `args` as an orphan with these standard input and
/// output; waits (up to 10 s) for its PID, and for `ready` on its output
/// when `stdout` is `None` (a pipe read here).
pub fn start_orphan(args: &[&str], stdin: Stdio, stdout: Option<Stdio>) -> Orphan {
    let mut c = Command::new(testkit());
    c.arg("orphan").args(args);
    launch_orphan(c, stdin, stdout)
}

/// [`start_orphan`] in the cgroup (v2) directory `cgroup`: the launcher
/// moves itself there first, so the orphan and everything it creates
/// (sockets record their creator's cgroup) belong to it.
pub fn start_orphan_in(cgroup: &Path, args: &[&str]) -> Orphan {
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg("echo $$ > \"$0\" && exec \"$@\"")
        .arg(cgroup.join("cgroup.procs"))
        .arg(testkit())
        .arg("orphan")
        .args(args);
    launch_orphan(c, Stdio::null(), None)
}

fn launch_orphan(mut c: Command, stdin: Stdio, stdout: Option<Stdio>) -> Orphan {
    let wait_ready = stdout.is_none();
    let mut launcher = c
        .stdin(stdin)
        .stdout(stdout.unwrap_or_else(Stdio::piped))
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn orphan");
    let err = launcher.stderr.take().expect("stderr");
    let out = launcher.stdout.take();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(err).read_line(&mut line);
        let mut ready = String::new();
        if let Some(o) = out {
            let _ = BufReader::new(o).read_line(&mut ready);
        }
        let _ = tx.send((line, ready));
    });
    let (line, ready) = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("orphan did not start");
    let _ = launcher.wait();
    let o = Orphan {
        pid: line.trim().parse().expect("orphan pid"),
    };
    assert!(
        !wait_ready || ready.trim() == "ready",
        "not ready: {ready:?}"
    );
    o
}

/// A fresh cgroup (v2) directory, removed (once empty) when dropped.
pub struct Cgroup {
    pub dir: PathBuf,
}

impl Cgroup {
    /// Creates `procscope-test-PID-NAME` under the cgroup2 mount.
    pub fn new(name: &str) -> Cgroup {
        let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let mount = mi
            .lines()
            .find(|l| l.contains(" - cgroup2 "))
            .and_then(|l| l.split(' ').nth(4))
            .expect("a cgroup2 mount (the cgroup tests need one)")
            .to_string();
        let dir =
            PathBuf::from(mount).join(format!("procscope-test-{}-{name}", std::process::id()));
        std::fs::create_dir(&dir).expect("create a cgroup (needs root)");
        Cgroup { dir }
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        let until = Instant::now() + Duration::from_secs(5);
        while std::fs::remove_dir(&self.dir).is_err() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Gives a fixture tree its host's user and group databases
/// (`.host/etc/passwd`, `.host/etc/group`): names of a tree come from the
/// tree, never from the host the tests run on. The fixtures name UID and
/// GID 0 `root`, as the output they were recorded with did.
pub fn host_users(root: &Path, passwd: &str, group: &str) {
    let etc = root.join(".host/etc");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::write(etc.join("passwd"), passwd).unwrap();
    std::fs::write(etc.join("group"), group).unwrap();
}

/// [`host_users`] with only `root` (0).
pub fn root_only_users(root: &Path) {
    host_users(root, "root:x:0:0:root:/root:/bin/bash\n", "root:x:0:\n");
}

//! `procscope top` end to end, in a real terminal (tmux): filter to a known
//! process, open it, see its threads by name and its fds; the same next to
//! a process whose memory lock is stuck (the table comes up and answers
//! the filter within two seconds, the stuck row is marked); `q` restores
//! the terminal.

use crate::support::*;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// A tmux server of its own (no user config), killed when dropped.
struct Tmux {
    _dir: tempfile::TempDir,
    sock: PathBuf,
}

impl Tmux {
    /// Starts `procscope top ARGS` in a 160×40 terminal; the pane stays
    /// after it exits so the restored screen can be looked at.
    fn top(args: &[&str]) -> Tmux {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("tmux.sock");
        let t = Tmux { _dir: dir, sock };
        let mut cmd = vec![
            "-f".to_string(),
            "/dev/null".into(),
            "new-session".into(),
            "-d".into(),
            "-s".into(),
            "t".into(),
            "-x".into(),
            "160".into(),
            "-y".into(),
            "40".into(),
            "env".into(),
            "TERM=xterm-256color".into(),
            procscope().to_str().unwrap().into(),
            "top".into(),
        ];
        cmd.extend(args.iter().map(|s| s.to_string()));
        t.tmux(&cmd.iter().map(String::as_str).collect::<Vec<_>>());
        t.tmux(&["set-option", "-t", "t", "remain-on-exit", "on"]);
        t
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&self.sock)
            .args(args)
            .output()
            .expect("tmux (scripts/test.sh installs it)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "t"])
    }

    fn keys(&self, keys: &[&str]) {
        for k in keys {
            self.tmux(&["send-keys", "-t", "t", k]);
        }
    }

    fn literal(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "t", "-l", text]);
    }

    /// Waits up to `limit` for the screen to satisfy `ok`; the screen and
    /// how long it took.
    fn wait(&self, limit: Duration, ok: impl Fn(&str) -> bool) -> (String, Duration) {
        let t0 = Instant::now();
        loop {
            let s = self.screen();
            if ok(&s) || t0.elapsed() > limit {
                return (s, t0.elapsed());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `q`, then the terminal is back: the program exited, the alternate
    /// screen and mouse reporting are off.
    fn quit_and_check_restored(&self) {
        let pid: i32 = self
            .tmux(&["display-message", "-p", "-t", "t", "#{pane_pid}"])
            .trim()
            .parse()
            .unwrap();
        self.keys(&["q"]);
        let t0 = Instant::now();
        loop {
            let v = self.tmux(&[
                "display-message",
                "-p",
                "-t",
                "t",
                "#{pane_dead} #{alternate_on} #{mouse_any_flag} #{pane_dead_status}",
            ]);
            let f: Vec<&str> = v.split_whitespace().collect();
            // Exited with 0; or exited (gone, or a zombie tmux has not
            // reaped yet: tmux sometimes leaves a pane's process unreaped
            // for a long while once its pty closed, and then has no status
            // to show).
            let gone = match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
                Err(_) => true,
                Ok(s) => s
                    .rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().next())
                    .is_some_and(|st| st == "Z"),
            };
            if f == ["1", "0", "0", "0"] || (f == ["1", "0", "0"] && gone) {
                return;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(5),
                "terminal not restored after q (dead, alternate, mouse, status): {v} (process gone: {gone})\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The table's row of `pid`.
fn row(screen: &str, pid: u32) -> Option<String> {
    let p = pid.to_string();
    screen
        .lines()
        .find(|l| l.split_whitespace().next() == Some(p.as_str()))
        .map(str::to_owned)
}

#[test]
fn filter_open_see_threads_by_name_and_fds_then_q_restores() {
    let target = start_kit(&["name", &hex(b"tuitarget"), "3"]);
    let pid = target.pid();
    let t = Tmux::top(&["--interval", "500ms"]);
    let (s, _) = t.wait(Duration::from_secs(5), |s| s.contains("COMMAND"));
    assert!(s.contains("COMMAND"), "no table:\n{s}");
    t.keys(&["/"]);
    t.literal("^tuitarget$");
    t.keys(&["Enter"]);
    let (s, _) = t.wait(Duration::from_secs(3), |s| {
        row(s, pid).is_some() && s.contains("1 shown")
    });
    assert!(
        row(&s, pid).is_some() && s.contains("1 shown"),
        "filter:\n{s}"
    );
    t.keys(&["Enter"]);
    let (s, _) = t.wait(Duration::from_secs(5), |s| s.contains("Identity"));
    assert!(
        s.contains("Why") && s.contains("(tuitarget)"),
        "overview:\n{s}"
    );
    t.keys(&["2"]);
    let (s, _) = t.wait(Duration::from_secs(5), |s| s.contains("tuitarget-2"));
    for n in ["4 threads", "tuitarget-0", "tuitarget-1", "tuitarget-2"] {
        assert!(s.contains(n), "{n} missing in the threads tab:\n{s}");
    }
    t.keys(&["3"]);
    let (s, _) = t.wait(Duration::from_secs(5), |s| s.contains("open fds"));
    assert!(s.contains("/dev/null"), "stdin is /dev/null:\n{s}");
    assert!(s.contains("pipe"), "stdout is a pipe to this test:\n{s}");
    t.keys(&["Escape"]);
    let (s, _) = t.wait(Duration::from_secs(3), |s| s.contains("COMMAND"));
    assert!(row(&s, pid).is_some(), "back to the table:\n{s}");
    t.quit_and_check_restored();
}

#[test]
fn next_to_a_stuck_memory_lock_the_table_answers_and_marks_the_row() {
    // Dropped in this order whatever happens: the FUSE daemon first (the
    // stuck page fault fails only when its connection is gone), and only
    // then can the target die.
    struct Hung {
        fuse: Option<HungFuse>,
        target: Option<Target>,
    }
    impl Drop for Hung {
        fn drop(&mut self) {
            drop(self.fuse.take());
            drop(self.target.take());
        }
    }
    let fuse = HungFuse::mount();
    let target = start_kit(&["mem-hang", fuse.hang_file().to_str().unwrap()]);
    let pid = target.pid();
    let _hung = Hung {
        fuse: Some(fuse),
        target: Some(target),
    };
    assert!(
        wait_all_threads(pid, 'D', Duration::from_secs(5)),
        "mem-hang threads did not reach D state"
    );
    let t = Tmux::top(&["--interval", "500ms", "--timeout", "300ms"]);
    let (s, took) = t.wait(Duration::from_secs(2), |s| s.contains("COMMAND"));
    assert!(s.contains("COMMAND"), "no table within {took:?}:\n{s}");
    // Filter to the testkit processes (the FUSE daemon and the target,
    // and any other test's).
    t.keys(&["/"]);
    t.literal("^procscope-testk");
    t.keys(&["Enter"]);
    let (s, took) = t.wait(Duration::from_secs(2), |s| {
        s.contains(" shown") && row(s, pid).is_some_and(|r| r.contains("timed out"))
    });
    let r = row(&s, pid).unwrap_or_default();
    assert!(
        r.contains("D!") && r.contains("timed out: cmdl"),
        "filter not answered, or the stuck row not marked, within {took:?}:\n{s}"
    );
    // Still refreshing and answering keys: sort by PID and back.
    t.keys(&["N"]);
    let (s, _) = t.wait(Duration::from_secs(2), |s| s.contains("PID▲"));
    assert!(s.contains("PID▲"), "{s}");
    t.quit_and_check_restored();
}

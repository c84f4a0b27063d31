//! A target that swaps its fd numbers under procscope: between procscope
//! listing fd 50 as a pipe and copying it (`pidfd_getfd`), fd 50 becomes a
//! file on a FUSE filesystem that never answers FLUSH to anybody else.
//! Closing such a copy in procscope's own process waits uninterruptibly:
//! procscope would never exit, even on SIGKILL. The copies must be made
//! and closed only in a helper process that can be abandoned.

use crate::support::*;
use std::time::Duration;

struct Flipper {
    target: Target,
    dir: tempfile::TempDir,
}

impl Drop for Flipper {
    fn drop(&mut self) {
        // SIGTERM: the flipper closes the file itself and exits, which
        // ends the connection: every FLUSH still waiting (in stray
        // helpers) fails, and they exit.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.target.pid() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.target.child.wait();
        let _ = nix::mount::umount2(self.dir.path(), nix::mount::MntFlags::MNT_DETACH);
    }
}

/// procscope's helper processes whose close of a copied file waits for a
/// FUSE FLUSH (their exit is stuck; their fd table is already gone).
fn helpers_stuck_on_flush() -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        let stack = std::fs::read_to_string(format!("/proc/{pid}/stack")).unwrap_or_default();
        if comm.trim() == "procscope-help" && stack.contains("fuse_flush") {
            out.push(pid);
        }
    }
    out
}

#[test]
fn a_target_swapping_fds_for_a_file_that_never_flushes_cannot_make_procscope_unkillable() {
    let dir = tempfile::tempdir().unwrap();
    let target = start_kit(&["fd-flip", dir.path().to_str().unwrap()]);
    let f = Flipper { target, dir };
    let pid = f.target.pid_s();
    // `fds PID` copies the pipe and socket fds to ask the kernel about
    // their other ends and addresses; `why` asks about the pipe too.
    for i in 0..24 {
        let args: &[&str] = if i % 3 == 2 {
            &["--timeout", "300ms", "why", &pid]
        } else {
            &["--timeout", "300ms", "fds", &pid, "50", "51"]
        };
        // run_with fails the test if procscope does not exit in time.
        let r = run_with(args, &[], Duration::from_secs(10));
        assert!(
            r.status == 0 || r.status == 1,
            "{args:?}: {} {}",
            r.status,
            r.stderr
        );
        if i % 3 != 2 {
            let out = r.out();
            assert!(out.lines().any(|l| l.starts_with("50 ")), "{out}");
            assert!(out.lines().any(|l| l.starts_with("51 ")), "{out}");
        }
    }
    // The swap did hit: some copies were of the FUSE file, and their close
    // is stuck — in abandoned helpers, not in procscope (every run above
    // exited).
    let stuck = helpers_stuck_on_flush();
    assert!(
        !stuck.is_empty(),
        "no copy of the FUSE file was ever made: the race was not exercised"
    );
    // Stuck helpers outlive the runs that made them: the cap (8) holds
    // across runs, so 24 runs leave at most a few more than that (a run
    // counts them once, when it starts).
    assert!(
        stuck.len() <= 10,
        "{} helpers stuck: no cap across runs",
        stuck.len()
    );
    drop(f);
    // Once the filesystem is gone, so are the helpers.
    let t = std::time::Instant::now();
    while !helpers_stuck_on_flush().is_empty() && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(helpers_stuck_on_flush(), Vec::<u32>::new());
}

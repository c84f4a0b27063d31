//! A fake proc tree for model tests: processes with the files the model
//! reads, written to a temporary directory that a [`ProcRoot`] opens.

use procscope_read::ProcRoot;
use std::fs;
use std::path::{Path, PathBuf};

/// A temporary proc tree.
pub(crate) struct FakeProc {
    dir: tempfile::TempDir,
}

/// One fake process being written.
pub(crate) struct FakePid<'a> {
    base: PathBuf,
    pid: i32,
    _tree: &'a FakeProc,
}

impl FakeProc {
    /// An empty tree with the host files (`stat`, `uptime`, `meminfo`,
    /// `loadavg`, and the user database `.host/etc/passwd` and
    /// `.host/etc/group` naming UID and GID 0 `root`: a tree's names come
    /// from the tree, never from the host the tests run on).
    pub fn new() -> FakeProc {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let f = FakeProc { dir };
        f.host_file(
            "stat",
            "cpu  100 0 50 1000 10 0 0 0 0 0\ncpu0 100 0 50 1000 10 0 0 0 0 0\nctxt 5000\nbtime 1700000000\nprocesses 99\nprocs_running 1\nprocs_blocked 0\n",
        );
        f.host_file("uptime", "1000.00 900.00\n");
        f.host_file(
            "meminfo",
            "MemTotal:       1000000 kB\nMemFree:         500000 kB\nMemAvailable:    600000 kB\nSwapTotal:            0 kB\nSwapFree:             0 kB\n",
        );
        f.host_file("loadavg", "0.50 0.25 0.10 1/100 999\n");
        f.host_file(".host/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
        f.host_file(".host/etc/group", "root:x:0:\n");
        f
    }

    /// Writes a file at the root of the tree.
    pub fn host_file(&self, name: &str, content: &str) {
        write(&self.dir.path().join(name), content.as_bytes());
    }

    /// The directory of process `pid`.
    pub fn process_dir(&self, pid: i32) -> PathBuf {
        self.dir.path().join(pid.to_string())
    }

    /// Opens the tree.
    pub fn root(&self) -> ProcRoot {
        ProcRoot::open(self.dir.path()).unwrap_or_else(|e| panic!("open: {e}"))
    }

    /// A process with a `stat` line (state, start ticks, user and system
    /// ticks, threads) and a `status` with UID `uid` and `rss_kb`.
    pub fn process(&self, pid: i32, comm: &str, state: char, start: u64) -> FakePid<'_> {
        let base = self.dir.path().join(pid.to_string());
        fs::create_dir_all(base.join("fd")).unwrap_or_else(|e| panic!("mkdir: {e}"));
        let p = FakePid {
            base,
            pid,
            _tree: self,
        };
        p.stat(comm, state, start, 0, 0, 1);
        p.file(
            "status",
            &format!("Name:\t{comm}\nUid:\t0\t0\t0\t0\nVmRSS:\t    1024 kB\nvoluntary_ctxt_switches:\t5\nnonvoluntary_ctxt_switches:\t1\n"),
        );
        p
    }
}

impl FakePid<'_> {
    /// Rewrites `stat`.
    pub fn stat(
        &self,
        comm: &str,
        state: char,
        start: u64,
        utime: u64,
        stime: u64,
        threads: i64,
    ) -> &Self {
        let pid = self.pid;
        self.file(
            "stat",
            &format!(
                "{pid} ({comm}) {state} 1 {pid} {pid} 0 -1 4194304 7 0 0 0 {utime} {stime} 0 0 20 0 {threads} 0 {start} 4096000 256 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n"
            ),
        );
        self
    }

    /// Writes `name` (relative to the process directory).
    pub fn file(&self, name: &str, content: &str) -> &Self {
        self.bytes(name, content.as_bytes())
    }

    /// Writes `name` with raw bytes.
    pub fn bytes(&self, name: &str, content: &[u8]) -> &Self {
        write(&self.base.join(name), content);
        self
    }

    /// Adds a thread with its own `stat` in `state`.
    pub fn thread(&self, tid: i32, comm: &str, state: char, start: u64) -> &Self {
        let d = self.base.join("task").join(tid.to_string());
        fs::create_dir_all(&d).unwrap_or_else(|e| panic!("mkdir: {e}"));
        write(
            &d.join("stat"),
            format!(
                "{tid} ({comm}) {state} 1 {pid} {pid} 0 -1 4194304 0 0 0 0 0 0 0 0 20 0 1 0 {start} 0 0 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n",
                pid = self.pid
            )
            .as_bytes(),
        );
        self
    }

    /// Adds an fd (a symlink to `target`).
    pub fn fd(&self, fd: i32, target: &str) -> &Self {
        let _ = std::os::unix::fs::symlink(target, self.base.join("fd").join(fd.to_string()));
        self
    }

    /// Adds a symlink `name` → `target` (e.g. `exe`).
    pub fn link(&self, name: &str, target: &str) -> &Self {
        let p = self.base.join(name);
        let _ = fs::remove_file(&p);
        let _ = std::os::unix::fs::symlink(target, p);
        self
    }
}

fn write(p: &Path, b: &[u8]) {
    if let Some(d) = p.parent() {
        let _ = fs::create_dir_all(d);
    }
    fs::write(p, b).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
}

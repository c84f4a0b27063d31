//! A procfs file kept open across collections and read again from the
//! start: no path lookup, no open, no close per refresh.
//!
//! A `/proc/PID/stat` opened once answers a `pread` at offset 0 with fresh
//! values every time (procfs regenerates a seq_file record on a read from
//! its start), and with `ESRCH` once the process is reaped — never with a
//! later process that reuses the PID: the open file is tied to the task
//! it was opened for. That makes a kept `stat` both the cheapest refresh
//! (one syscall instead of five) and an identity check.
//!
//! Only for a live procfs root: procfs files cannot block a reader on a
//! target's locks for the records kept here (`stat`), and a crafted tree's
//! files are never kept open. Each kept file costs one fd and about a page
//! of kernel memory (the seq_file buffer); the caller budgets them.

use crate::root::read_with;
use crate::{FileRead, Outcome};
use rustix::fd::OwnedFd;

/// An open procfs record file, read again from its start on demand.
#[derive(Debug)]
pub struct Kept {
    fd: OwnedFd,
    name: &'static [u8],
}

impl Kept {
    /// Wraps `fd`, opened on the procfs file `name` (for errors).
    pub(crate) fn new(fd: OwnedFd, name: &'static [u8]) -> Self {
        Kept { fd, name }
    }

    /// Reads the file again from its start into `buf` (cleared first), at
    /// most `cap` bytes. `Err(Gone)` once the process was reaped.
    pub fn reread(&self, buf: &mut Vec<u8>, cap: usize) -> Outcome<FileRead> {
        read_with(self.name, buf, cap, |buf, at| {
            rustix::io::pread(&self.fd, rustix::buffer::spare_capacity(buf), at)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use crate::ProcRoot;

    #[test]
    fn a_kept_stat_reads_fresh_values_and_goes_when_the_process_is_reaped() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = i32::try_from(child.id()).unwrap();
        let root = ProcRoot::open("/proc").unwrap();
        let kept = root.process(pid).unwrap().keep(c"stat").unwrap();
        let mut buf = Vec::new();
        kept.reread(&mut buf, 4096).unwrap();
        let first = procscope_parse::stat::Stat::parse(&buf).unwrap();
        assert_eq!(first.pid, pid);
        // Stop it: the kept file must show the new state, not the first.
        rustix::process::kill_process(
            rustix::process::Pid::from_raw(pid).unwrap(),
            rustix::process::Signal::STOP,
        )
        .unwrap();
        let mut stopped = false;
        for _ in 0..200 {
            kept.reread(&mut buf, 4096).unwrap();
            if procscope_parse::stat::Stat::parse(&buf)
                .unwrap()
                .state
                .letter()
                == 'T'
            {
                stopped = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(stopped, "the kept stat never showed the stopped state");
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(kept.reread(&mut buf, 4096), Err(crate::Failure::Gone));
    }

    #[test]
    fn a_tree_keeps_nothing_open() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("7")).unwrap();
        std::fs::write(dir.path().join("7/stat"), b"7 (x) S 1 7 7 0 -1 0").unwrap();
        let root = ProcRoot::open(dir.path()).unwrap();
        assert!(root.process(7).unwrap().keep(c"stat").is_err());
    }
}

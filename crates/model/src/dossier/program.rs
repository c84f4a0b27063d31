//! What the process runs: executable, cwd, root, command line.

use super::{Risky, Source};
use crate::bytes::Bytes;
use crate::process::ser_outcome;
use crate::target::ExeOnDisk;
use procscope_read::{Failure, Outcome};
use serde::Serialize;

/// The executable compared with what is at its path now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnDisk {
    /// The file at the path is the one running.
    Same,
    /// Another file is at the path (upgraded or rebuilt since start).
    Replaced,
    /// Nothing is at the path (deleted since start).
    Deleted,
    /// Could not tell (not permitted, timed out, no mapping found).
    Unknown,
}

/// The command line as read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Args {
    /// Every argument, exactly (empty ones included).
    pub args: Vec<Bytes>,
    /// Longer than the read cap; `procscope cmdline` shows it all.
    pub truncated: bool,
}

/// The program section.
#[derive(Debug, Clone, Serialize)]
pub struct Program {
    /// The executable (`exe` link, without ` (deleted)`).
    #[serde(serialize_with = "ser_outcome")]
    pub exe: Outcome<Bytes>,
    /// Whether the running file is the one at its path now.
    pub exe_on_disk: OnDisk,
    /// Working directory.
    #[serde(serialize_with = "ser_outcome")]
    pub cwd: Outcome<Bytes>,
    /// Root directory (not `/` under chroot or in a container's mount
    /// namespace, as seen from here).
    #[serde(serialize_with = "ser_outcome")]
    pub root: Outcome<Bytes>,
    /// The command line.
    #[serde(serialize_with = "ser_outcome")]
    pub cmdline: Outcome<Args>,
}

pub(crate) fn read(src: &Source<'_>, risky: &Risky) -> Program {
    let link = src.dir.readlink(c"exe");
    let why_none = match &src.stat {
        Ok(s) if s.kernel_thread => Some("kernel thread"),
        Ok(s) if s.state == procscope_parse::stat::TaskState::Zombie => {
            Some("zombie: its memory is already released")
        }
        _ => None,
    };
    let kernel_thread = why_none.is_some();
    let exe_on_disk = match (&link, risky.exe_on_disk) {
        (_, Some(ExeOnDisk::Same)) => OnDisk::Same,
        (_, Some(ExeOnDisk::Replaced)) => OnDisk::Replaced,
        (_, Some(ExeOnDisk::Missing)) => OnDisk::Deleted,
        _ => OnDisk::Unknown,
    };
    let exe = link.map(|l| Bytes(crate::target::exe_path(&l).0.to_vec()));
    // Kernel threads (and zombies) have no executable, memory or command
    // line: ENOENT / ESRCH on those files does not mean the process is gone.
    let none = |what: &str| Failure::Absent {
        what: format!("{what} ({})", why_none.unwrap_or_default()),
    };
    let fix = |o: Outcome<Bytes>, what: &str| match o {
        Err(Failure::Gone) if kernel_thread => Err(none(what)),
        o => o,
    };
    let cmdline = match &risky.cmdline {
        Some(Ok(c)) if kernel_thread && c.raw.is_empty() => Err(none("command line")),
        Some(Ok(c)) => Ok(Args {
            args: c
                .view()
                .args()
                .take(procscope_read::cap::ENTRIES)
                .map(Bytes::from)
                .collect(),
            truncated: c.truncated || c.view().args().nth(procscope_read::cap::ENTRIES).is_some(),
        }),
        Some(Err(Failure::Gone)) if kernel_thread => Err(none("command line")),
        Some(Err(f)) => Err(f.clone()),
        None => Err(Failure::Unsupported {
            what: "command line not read".into(),
        }),
    };
    Program {
        exe: fix(exe, "executable"),
        exe_on_disk,
        cwd: src.dir.readlink(c"cwd").map(Bytes),
        root: src.dir.readlink(c"root").map(Bytes),
        cmdline,
    }
}

//! The header of a process's fd listing: its name, owner and fd limit,
//! and the small reads it needs (shared with the lock holders' names).

use crate::bytes::Bytes;
use procscope_read::ProcDir;

/// What the header of a process's fd listing says besides the fds: its
/// name, owner and how many fds it may open.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Header {
    /// The process name.
    pub comm: Bytes,
    /// Its effective UID, when `status` could be read.
    pub uid: Option<u32>,
    /// Its soft `RLIMIT_NOFILE` (`None`: unlimited or not read).
    pub nofile_soft: Option<u64>,
}

impl Header {
    /// Reads `status`, `comm` and `limits` of `dir`.
    pub fn read(dir: &ProcDir) -> Header {
        let mut buf = Vec::new();
        let uid = owner(dir, &mut buf);
        let comm = dir
            .read(c"comm", &mut buf, 4096)
            .map(|_| Bytes::from(procscope_parse::comm::parse(&buf)))
            .unwrap_or_default();
        let nofile_soft = dir.read(c"limits", &mut buf, 64 * 1024).ok().and_then(|_| {
            let l = procscope_parse::limits::Limits::parse(&buf).ok()?;
            match l.get(procscope_parse::limits::Resource::Nofile)?.soft {
                procscope_parse::limits::LimitValue::Value(v) => Some(v),
                procscope_parse::limits::LimitValue::Unlimited => None,
            }
        });
        Header {
            comm,
            uid,
            nofile_soft,
        }
    }
}

/// The effective UID of the process of `dir`, from its `status`.
pub fn owner(dir: &ProcDir, buf: &mut Vec<u8>) -> Option<u32> {
    dir.read(c"status", buf, 64 * 1024)
        .ok()
        .and_then(|_| procscope_parse::status::uid(buf))
        .map(|i| i.effective)
}

/// The name of process `pid` (a lock holder's), when it can be read.
pub fn comm_of(root: &procscope_read::ProcRoot, pid: i32) -> Option<Bytes> {
    let mut b = Vec::new();
    root.process(pid)
        .and_then(|d| d.read(c"comm", &mut b, 4096))
        .ok()
        .map(|_| Bytes::from(procscope_parse::comm::parse(&b)))
}

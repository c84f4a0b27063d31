//! Namespaces, each compared with PID 1's: a process in a container differs
//! in most of them. When PID 1's cannot be read (it is not dumpable, or a
//! sandbox denies it), procscope's own namespaces are the reference, and
//! the output says so.

use super::Source;
use crate::process::ser_outcome;
use procscope_read::{Failure, Outcome};
use serde::Serialize;

/// The namespace kinds of `/proc/PID/ns`, in `lsns` order.
pub const KINDS: [&str; 10] = [
    "mnt",
    "uts",
    "ipc",
    "pid",
    "pid_for_children",
    "net",
    "user",
    "cgroup",
    "time",
    "time_for_children",
];

/// One namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Namespace {
    /// `net`, `mnt`, …
    pub kind: &'static str,
    /// Its inode number (what `lsns` shows).
    #[serde(serialize_with = "ser_outcome")]
    pub inode: Outcome<u64>,
    /// The reference process's, for comparison.
    #[serde(serialize_with = "ser_outcome")]
    pub reference_inode: Outcome<u64>,
    /// Differs from the reference's (`None`: cannot tell).
    pub differs: Option<bool>,
}

/// Every namespace and what it was compared with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Table {
    /// The process compared with: 1, or procscope's own PID when PID 1's
    /// namespaces are not readable.
    pub reference_pid: i32,
    /// One row per kind.
    pub namespaces: Vec<Namespace>,
}

/// Parses a namespace link (`net:[4026531840]`).
pub fn link_inode(link: &[u8]) -> Option<u64> {
    let (_, rest) = procscope_parse::num::split_once(link, b'[')?;
    procscope_parse::num::dec_u64(rest.strip_suffix(b"]")?)
}

fn links(dir: Outcome<procscope_read::ProcDir>) -> Vec<Outcome<u64>> {
    KINDS
        .iter()
        .map(|k| {
            let d = dir.as_ref().map_err(Clone::clone)?;
            let name = format!("ns/{k}\0");
            let name = std::ffi::CStr::from_bytes_with_nul(name.as_bytes())
                .map_err(|e| Failure::malformed("ns", e))?;
            let l = d.readlink(name)?;
            link_inode(&l).ok_or_else(|| Failure::malformed("ns link", "no [inode]"))
        })
        .collect()
}

/// Links that are missing while others of the same process were read are
/// kinds this kernel does not have (`time` before 5.6, `cgroup` before 4.6).
fn mark_missing(v: &mut [Outcome<u64>]) {
    if v.iter().any(Result::is_ok) {
        for (o, k) in v.iter_mut().zip(KINDS) {
            if matches!(o, Err(Failure::Gone)) {
                *o = Err(Failure::Unsupported {
                    what: format!("{k} namespace"),
                });
            }
        }
    }
}

pub(crate) fn read(src: &Source<'_>) -> Outcome<Table> {
    let mut mine = links(Ok(src.dir.clone()));
    if mine.iter().all(|o| matches!(o, Err(Failure::Gone))) {
        // Zombies and exited processes have no namespaces left.
        return Err(Failure::Gone);
    }
    mark_missing(&mut mine);
    let mut reference_pid = 1;
    let mut init = links(src.root.process(1));
    if init.iter().all(Result::is_err) {
        let own = src.root.own_pid();
        if own > 0 && own != src.dir.pid() {
            let mut o = links(src.root.process(own));
            if o.iter().any(Result::is_ok) {
                reference_pid = own;
                init = std::mem::take(&mut o);
            }
        }
    }
    mark_missing(&mut init);
    Ok(Table {
        reference_pid,
        namespaces: KINDS
            .iter()
            .zip(mine)
            .zip(init)
            .map(|((kind, inode), reference_inode)| Namespace {
                kind,
                differs: match (&inode, &reference_inode) {
                    (Ok(a), Ok(b)) => Some(a != b),
                    _ => None,
                },
                inode,
                reference_inode,
            })
            .collect(),
    })
}

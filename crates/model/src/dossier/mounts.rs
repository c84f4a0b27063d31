//! The process's mount table, escapes decoded, compared with PID 1's (or
//! procscope's own when PID 1's is not readable).

use super::Source;
use crate::bytes::Bytes;
use crate::process::ser_outcome;
use procscope_parse::mountinfo::{self, Mount};
use procscope_read::{Failure, Outcome};
use serde::Serialize;
use std::collections::HashSet;

/// One mount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MountRow {
    /// Mount ID.
    pub id: u64,
    /// Parent mount ID.
    pub parent: u64,
    /// Mount point.
    pub mount_point: Bytes,
    /// Root of the mount within its filesystem (not `/` for bind mounts).
    pub root: Bytes,
    /// Filesystem type.
    pub fs_type: Bytes,
    /// Source.
    pub source: Bytes,
    /// Per-mount options.
    pub options: Bytes,
    /// Superblock options.
    pub super_options: Bytes,
    /// Propagation (`shared:1 master:2`).
    pub propagation: Bytes,
    /// Not in the reference's table (same point, type, source and root).
    pub only_here: bool,
}

/// The mounts section.
#[derive(Debug, Clone, Serialize)]
pub struct Mounts {
    /// The process compared with: 1, or procscope itself when PID 1's
    /// mount table is not readable.
    pub reference_pid: i32,
    /// Same mount namespace as the reference (`None`: cannot tell).
    pub same_namespace: Option<bool>,
    /// Its mounts, in the kernel's order.
    #[serde(serialize_with = "ser_outcome")]
    pub mounts: Outcome<Vec<MountRow>>,
    /// The reference's mounts this process does not have.
    #[serde(serialize_with = "ser_outcome")]
    pub only_in_reference: Outcome<Vec<MountRow>>,
}

type Key = (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>);

fn key(m: &Mount) -> Key {
    (
        m.mount_point.clone(),
        m.fs_type.clone(),
        m.source.clone(),
        m.root.clone(),
    )
}

fn row(m: &Mount, only_here: bool) -> MountRow {
    MountRow {
        id: m.mount_id,
        parent: m.parent_id,
        mount_point: Bytes(m.mount_point.clone()),
        root: Bytes(m.root.clone()),
        fs_type: Bytes(m.fs_type.clone()),
        source: Bytes(m.source.clone()),
        options: Bytes(m.mount_options.clone()),
        super_options: Bytes(m.super_options.clone()),
        propagation: Bytes(m.optional.join(&b' ')),
        only_here,
    }
}

fn table(dir: &procscope_read::ProcDir) -> Outcome<Vec<Mount>> {
    let mut b = Vec::new();
    dir.read(c"mountinfo", &mut b, procscope_read::cap::MOUNTINFO)?;
    mountinfo::parse(&b).map_err(|e| Failure::malformed("mountinfo", e))
}

pub(crate) fn read(src: &Source<'_>) -> Mounts {
    let mine = table(src.dir);
    let ns = |d: &procscope_read::ProcDir| d.readlink(c"ns/mnt").ok();
    // PID 1 when both its table and its namespace link are readable, else
    // procscope itself (PID 1 may be undumpable, or hidden by a sandbox).
    let mut reference_pid = 1;
    let mut reference = src.root.process(1).and_then(|d| Ok((ns(&d), table(&d)?)));
    let own = src.root.own_pid();
    if !matches!(reference, Ok((Some(_), _))) && own > 0 && own != src.dir.pid() {
        if let Ok(d) = src.root.process(own) {
            if let (Some(n), Ok(t)) = (ns(&d), table(&d)) {
                reference_pid = own;
                reference = Ok((Some(n), t));
            }
        }
    }
    let same = match (
        ns(src.dir),
        reference.as_ref().ok().and_then(|r| r.0.clone()),
    ) {
        (Some(a), Some(b)) => Some(a == b),
        _ => None,
    };
    let init = reference.map(|r| r.1);
    let init_keys: Option<HashSet<Key>> = init.as_ref().ok().map(|v| v.iter().map(key).collect());
    let mine_keys: HashSet<Key> = mine.iter().flatten().map(key).collect();
    Mounts {
        reference_pid,
        same_namespace: same,
        mounts: mine.as_ref().map_err(Clone::clone).map(|v| {
            v.iter()
                .map(|m| row(m, init_keys.as_ref().is_some_and(|k| !k.contains(&key(m)))))
                .collect()
        }),
        only_in_reference: init.map(|v| {
            if mine_keys.is_empty() {
                return Vec::new();
            }
            v.iter()
                .filter(|m| !mine_keys.contains(&key(m)))
                .map(|m| row(m, false))
                .collect()
        }),
    }
}

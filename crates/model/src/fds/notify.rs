//! inotify instances and fanotify groups: their watches and marks from
//! fdinfo, placed with the process's mount table, and watched paths
//! recovered from file handles. lsfd's `inotify` and `fanotify` parts.

use super::{Detail, FdEntry, MountBrief, split_dev};
use crate::bytes::Bytes;
use crate::process::ser_opt_outcome;
use procscope_read::{Failure, Outcome, Session};
use serde::Serialize;
use std::collections::HashMap;

/// A fanotify mark on a whole mount or filesystem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FanotifyMark {
    /// On a mount or on a whole filesystem.
    pub kind: MarkKind,
    /// The mount's ID (mount marks).
    pub mnt_id: Option<u64>,
    /// The filesystem's device (`major`, `minor`; filesystem marks).
    pub device: Option<(u64, u64)>,
    /// `FAN_*` event mask.
    pub mask: u64,
    /// Events ignored.
    pub ignored_mask: u64,
    /// Where it is mounted, from the process's mountinfo (for a filesystem,
    /// one of its mounts).
    pub mount_point: Option<Bytes>,
    /// Filesystem type.
    pub fs_type: Option<Bytes>,
}

/// What a fanotify mark that is not on one inode covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MarkKind {
    /// One mount (`FAN_MARK_MOUNT`): the mount's ID is known.
    Mount,
    /// A whole filesystem (`FAN_MARK_FILESYSTEM`): its device is known.
    Filesystem,
}

/// One inotify watch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InotifyWatch {
    /// Watch descriptor.
    pub wd: u64,
    /// Watched inode.
    pub inode: u64,
    /// Its device (`major:minor`).
    pub device: (u64, u64),
    /// `IN_*` mask.
    pub mask: u64,
    /// The watched path, resolved from the file handle (see
    /// [`super::resolve_peers`]), or why not.
    #[serde(serialize_with = "ser_opt_outcome")]
    pub path: Option<Outcome<Bytes>>,
    /// File handle type and bytes (hex), as fdinfo gives them.
    #[serde(skip)]
    pub handle: Option<(u64, Vec<u8>)>,
}

/// Resolves inotify watch paths from their file handles, in one guarded
/// call for the whole process.
pub(super) fn resolve_inotify(
    root: &procscope_read::ProcRoot,
    pid: i32,
    entries: &mut [FdEntry],
    session: &Session,
) {
    let wanted: Vec<(u64, u64, i32, Vec<u8>)> = entries
        .iter()
        .flat_map(|e| match &e.detail {
            Detail::Inotify { watches } | Detail::Fanotify { watches, .. } => watches
                .iter()
                .filter_map(|w| {
                    let (t, h) = w.handle.clone()?;
                    Some((w.device.0, w.device.1, i32::try_from(t).ok()?, h))
                })
                .collect(),
            _ => Vec::new(),
        })
        .collect();
    if wanted.is_empty() {
        return;
    }
    let Ok(dir) = root.process(pid) else { return };
    let r = session.once(Some(procscope_read::Target::pid(pid)), move || {
        let mut b = Vec::new();
        dir.read(c"mountinfo", &mut b, procscope_read::cap::MOUNTINFO)?;
        let mounts = procscope_parse::mountinfo::parse(&b)
            .map_err(|e| Failure::malformed("mountinfo", e))?;
        Ok(wanted
            .into_iter()
            .map(|(ma, mi, t, h)| {
                // A mount of that filesystem's root, else any of it.
                let dev = (
                    u32::try_from(ma).unwrap_or(0),
                    u32::try_from(mi).unwrap_or(0),
                );
                let m = mounts
                    .iter()
                    .filter(|m| m.dev == dev)
                    .min_by_key(|m| m.root != b"/");
                let path = match m {
                    // A handle lookup there asks the server or daemon, and
                    // a thread stuck on it could not be abandoned.
                    Some(m) if procscope_parse::mountinfo::may_hang(&m.fs_type) => {
                        Err(Failure::Unsupported {
                            what: format!(
                                "looking a handle up on {} (a filesystem that may hang)",
                                String::from_utf8_lossy(&m.fs_type)
                            ),
                        })
                    }
                    Some(m) => procscope_read::handle::path_of(&dir, &m.mount_point, t, &h),
                    None => Err(Failure::Absent {
                        what: format!("no mount of device {ma}:{mi} in its mount table"),
                    }),
                };
                ((ma, mi, h), path)
            })
            .collect::<Vec<_>>())
    });
    let found = match r {
        Ok(v) => v,
        Err(f) => {
            // Every watch gets the same reason (timed out, denied, …).
            for e in entries.iter_mut() {
                if let Detail::Inotify { watches } | Detail::Fanotify { watches, .. } =
                    &mut e.detail
                {
                    for w in watches.iter_mut().filter(|w| w.handle.is_some()) {
                        w.path = Some(Err(f.clone()));
                    }
                }
            }
            return;
        }
    };
    for e in entries.iter_mut() {
        if let Detail::Inotify { watches } | Detail::Fanotify { watches, .. } = &mut e.detail {
            for w in watches.iter_mut() {
                let Some((_, h)) = &w.handle else { continue };
                if let Some((_, p)) = found
                    .iter()
                    .find(|((ma, mi, fh), _)| (*ma, *mi) == w.device && fh == h)
                {
                    w.path = Some(p.clone().map(Bytes));
                }
            }
        }
    }
}

/// inotify watches or fanotify inode marks as parsed from fdinfo.
pub(super) fn watches(w: &[procscope_parse::fdinfo::InotifyWatch<'_>]) -> Vec<InotifyWatch> {
    w.iter()
        .map(|w| InotifyWatch {
            wd: w.wd.unwrap_or(0),
            inode: w.ino,
            device: split_dev(w.sdev),
            mask: w.mask,
            path: None,
            handle: w
                .fhandle_type
                .zip(w.f_handle.and_then(procscope_read::handle::parse_hex)),
        })
        .collect()
}

/// A fanotify group's mount and filesystem marks, placed with the
/// process's mount table.
pub(super) fn fanotify_marks(
    f: &procscope_parse::fdinfo::Fanotify<'_>,
    mounts: &HashMap<u64, MountBrief>,
) -> Vec<FanotifyMark> {
    let mount = f.mounts.iter().map(|m| {
        let at = m.mnt_id.and_then(|id| mounts.get(&id));
        FanotifyMark {
            kind: MarkKind::Mount,
            mnt_id: m.mnt_id,
            device: at.map(|a| (u64::from(a.2.0), u64::from(a.2.1))),
            mask: m.mask,
            ignored_mask: m.ignored_mask,
            mount_point: at.map(|a| a.0.clone()),
            fs_type: at.map(|a| a.1.clone()),
        }
    });
    let fs = f.filesystems.iter().map(|m| {
        let dev = m.sdev.map(split_dev);
        // One of its mounts: the shortest mount point (its most general).
        let at = dev.and_then(|(ma, mi)| {
            mounts
                .iter()
                .filter(|(_, b)| (u64::from(b.2.0), u64::from(b.2.1)) == (ma, mi))
                .min_by_key(|(id, b)| (b.0.0.len(), **id))
                .map(|(id, b)| (*id, b))
        });
        FanotifyMark {
            kind: MarkKind::Filesystem,
            mnt_id: at.map(|a| a.0),
            device: dev,
            mask: m.mask,
            ignored_mask: m.ignored_mask,
            mount_point: at.map(|a| a.1.0.clone()),
            fs_type: at.map(|a| a.1.1.clone()),
        }
    });
    mount.chain(fs).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mark_kinds_keep_their_json_names() {
        assert_eq!(
            serde_json::to_string(&MarkKind::Mount).unwrap(),
            "\"mount\""
        );
        assert_eq!(
            serde_json::to_string(&MarkKind::Filesystem).unwrap(),
            "\"filesystem\""
        );
    }
}

//! Paths and memfds: what a stat of an open file adds to its fd — its
//! kind, link count and size — and the locks `/proc/locks` records on it.
//! Both the single process view and the host-wide listing use these, so a
//! FIFO, a device or a lock reads the same in either. lsfd's `file.c`.

use super::{Detail, FdEntry};
use crate::bytes::Bytes;
use procscope_read::{FdStat, ProcDir, ProcRoot, Session};
use serde::Serialize;
use std::collections::HashMap;

/// What kind of file a path fd refers to, from the file type bits of its
/// stat (`S_IFMT`). A FIFO is not one: it becomes [`Detail::Fifo`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    /// A regular file.
    Regular,
    /// A directory.
    Directory,
    /// A character device (`/dev/null`, a tty).
    CharDevice,
    /// A block device.
    BlockDevice,
    /// A symbolic link (an `O_PATH|O_NOFOLLOW` fd).
    Symlink,
    /// A unix socket's file (an `O_PATH` fd on it).
    Socket,
}

impl FileKind {
    /// The kind of `S_IFMT` bits; `None` for a FIFO or unknown bits.
    pub fn from_file_type(t: u32) -> Option<FileKind> {
        Some(match t & 0o170_000 {
            0o100_000 => FileKind::Regular,
            0o040_000 => FileKind::Directory,
            0o020_000 => FileKind::CharDevice,
            0o060_000 => FileKind::BlockDevice,
            0o120_000 => FileKind::Symlink,
            0o140_000 => FileKind::Socket,
            _ => return None,
        })
    }

    /// The short name of tables and `--type` (lsof's REG, DIR, CHR, …):
    /// `file`, `dir`, `chr`, `blk`, `link`, `sock`.
    pub fn type_name(self) -> &'static str {
        match self {
            FileKind::Regular => "file",
            FileKind::Directory => "dir",
            FileKind::CharDevice => "chr",
            FileKind::BlockDevice => "blk",
            FileKind::Symlink => "link",
            FileKind::Socket => "sock",
        }
    }
}

/// The fds a stat tells more about: paths (kind, links, size) and memfds
/// (size).
fn wanted(entries: &[FdEntry]) -> Vec<i32> {
    entries
        .iter()
        .filter(|e| matches!(e.detail, Detail::File { .. } | Detail::Memfd { .. }))
        .map(|e| e.fd)
        .collect()
}

/// Stats the files and memfds of `entries` through their fd links
/// ([`ProcDir::fd_stat`]: from the kernel's cache, never opening them).
/// A stat may still wait on a network filesystem: call this from a
/// deadline-guarded context ([`stat_files`] is the guarded form).
pub fn file_stats(dir: &ProcDir, entries: &[FdEntry]) -> HashMap<i32, FdStat> {
    wanted(entries)
        .into_iter()
        .filter_map(|fd| Some((fd, dir.fd_stat(fd).ok()?)))
        .collect()
}

/// Puts what the stats say into `entries`: a file's link count, size (of a
/// regular file), kind and whether it is deleted (no link left); a FIFO
/// becomes [`Detail::Fifo`] (a pipe with a name: its ends and holders as a
/// pipe's); a memfd's size.
pub fn apply_stats(entries: &mut [FdEntry], stats: &HashMap<i32, FdStat>) {
    for e in entries.iter_mut() {
        let Some(st) = stats.get(&e.fd) else { continue };
        match &mut e.detail {
            Detail::File {
                path,
                deleted,
                nlink,
                size,
                kind,
                mount_point,
                fs_type,
                ..
            } => {
                if st.fifo {
                    e.detail = Detail::Fifo {
                        path: std::mem::take(path),
                        inode: st.ino,
                        mount_point: mount_point.take(),
                        fs_type: fs_type.take(),
                    };
                    continue;
                }
                *nlink = Some(st.nlink);
                *deleted = st.nlink == 0;
                *size = st.regular.then_some(st.size);
                *kind = FileKind::from_file_type(st.file_type);
            }
            Detail::Memfd { size, .. } => *size = Some(st.size),
            _ => {}
        }
    }
}

/// Link counts, sizes and kinds of the open files, which are FIFOs, and
/// the sizes of memfds, in one guarded call for the process (see
/// [`file_stats`]). Part of [`super::resolve_peers`].
pub fn stat_files(root: &ProcRoot, pid: i32, entries: &mut [FdEntry], session: &Session) {
    if wanted(entries).is_empty() {
        return;
    }
    let Ok(dir) = root.process(pid) else { return };
    let probe: Vec<FdEntry> = entries
        .iter()
        .filter(|e| matches!(e.detail, Detail::File { .. } | Detail::Memfd { .. }))
        .cloned()
        .collect();
    if let Ok(stats) = session.once(Some(procscope_read::Target::pid(pid)), move || {
        Ok(file_stats(&dir, &probe))
    }) {
        apply_stats(entries, &stats);
    }
}

/// A lock on a file, from /proc/locks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileLock {
    /// `FLOCK`, `POSIX`, `OFDLCK`, `LEASE`.
    pub kind: Bytes,
    /// `READ` or `WRITE`.
    pub access: Bytes,
    /// `ADVISORY` or `MANDATORY`.
    pub mode: Bytes,
    /// The process holding (or waiting for) it (-1 for OFD locks).
    pub pid: i64,
    /// Its name.
    pub comm: Option<Bytes>,
    /// First byte.
    pub start: u64,
    /// Last byte (`None`: to the end of the file).
    pub end: Option<u64>,
    /// True for a process blocked waiting for this lock.
    pub waiting: bool,
}

impl FileLock {
    /// An fdinfo `lock:` line (the format of /proc/locks), decoded; the
    /// holder's name is not known from it.
    pub fn from_fdinfo(line: &Bytes) -> Option<FileLock> {
        let l = procscope_parse::locks::parse_line(line.as_slice())?;
        Some(FileLock {
            kind: l.kind.into(),
            access: l.access.into(),
            mode: l.mode.into(),
            pid: l.pid,
            comm: None,
            start: l.start,
            end: l.end,
            waiting: l.waiter,
        })
    }
}

/// One row of `/proc/locks`, owned.
#[derive(Debug, Clone)]
struct Row {
    dev_ino: (u64, u64, u64),
    lock: FileLock,
}

/// The locks of `/proc/locks`, read once: a host-wide listing matches every
/// process's files against one read.
#[derive(Debug, Clone, Default)]
pub struct LockTable {
    rows: Vec<Row>,
}

impl LockTable {
    /// Reads and parses `/proc/locks` (`None` when it cannot be read).
    pub fn read(root: &ProcRoot) -> Option<LockTable> {
        let mut b = Vec::new();
        root.read(c"locks", &mut b, procscope_read::cap::LOCKS)
            .ok()?;
        let rows = procscope_parse::locks::parse(&b)
            .into_iter()
            .map(|l| Row {
                dev_ino: l.dev_ino,
                lock: FileLock {
                    kind: Bytes::from(l.kind),
                    access: Bytes::from(l.access),
                    mode: Bytes::from(l.mode),
                    pid: l.pid,
                    comm: None,
                    start: l.start,
                    end: l.end,
                    waiting: l.waiter,
                },
            })
            .collect();
        Some(LockTable { rows })
    }

    /// [`LockTable::read`], only when some entry is a file it could match.
    pub fn read_for(root: &ProcRoot, entries: &[FdEntry]) -> Option<LockTable> {
        entries
            .iter()
            .any(|e| e.file_id.is_some())
            .then(|| LockTable::read(root))
            .flatten()
    }

    /// Fills each file's [`FdEntry::file_locks`]: every lock on it (by device
    /// and inode), holders and waiters, with `comm(pid)` as their names.
    pub fn attach(&self, entries: &mut [FdEntry], comm: &mut dyn FnMut(i32) -> Option<Bytes>) {
        for e in entries.iter_mut() {
            let Some(id) = e.file_id else { continue };
            for r in self.rows.iter().filter(|r| r.dev_ino == id) {
                let mut l = r.lock.clone();
                l.comm = i32::try_from(l.pid)
                    .ok()
                    .filter(|p| *p > 0)
                    .and_then(&mut *comm);
                e.file_locks.push(l);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_kinds_from_mode_bits() {
        assert_eq!(FileKind::from_file_type(0o100_000), Some(FileKind::Regular));
        assert_eq!(
            FileKind::from_file_type(0o020_000).map(FileKind::type_name),
            Some("chr")
        );
        assert_eq!(
            FileKind::from_file_type(0o040_000).map(FileKind::type_name),
            Some("dir")
        );
        assert_eq!(
            FileKind::from_file_type(0o060_000).map(FileKind::type_name),
            Some("blk")
        );
        assert_eq!(FileKind::from_file_type(0o010_000), None);
    }
}

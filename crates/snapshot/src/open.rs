//! Reading a snapshot: hostile input, unpacked into a private directory
//! that procscope then reads as a proc tree.
//!
//! Every entry is checked before anything is written: a relative name
//! without `..`, `.` or empty components; only regular files, directories,
//! symbolic links where a proc tree has links (`fd/N`, `ns/*`, `exe`,
//! `cwd`, `root`, `map_files/*` — their text is read, never followed) and
//! hard links to a file already unpacked; no FIFO, device or anything
//! else. Sizes are capped per entry and in total, before they are read.
//! Directories are walked with `openat2(RESOLVE_BENEATH |
//! RESOLVE_NO_SYMLINKS)` and files created `O_EXCL | O_NOFOLLOW`, so no
//! entry can write outside the directory or through a link.

use crate::format::{self, Manifest};
use procscope_read::tape::Records;
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{AtFlags, Mode, OFlags, ResolveFlags};
use std::collections::HashSet;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Caps on what a snapshot may unpack to.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes of one entry.
    pub max_entry: u64,
    /// Bytes of all entries.
    pub max_total: u64,
    /// Number of entries.
    pub max_entries: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entry: 256 << 20,
            max_total: 8 << 30,
            max_entries: 4_000_000,
        }
    }
}

/// Why a snapshot could not be read (the message says what to do).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct OpenError(pub String);

/// An unpacked snapshot. The directory is removed when this is dropped.
#[derive(Debug)]
pub struct Opened {
    /// The private directory (mode 0700) holding the tree.
    pub dir: tempfile::TempDir,
    /// The manifest.
    pub manifest: Manifest,
    /// The recorded live-only answers.
    pub records: Records,
}

/// Opens the snapshot at `path` (`-`: standard input).
pub fn open(path: &Path, limits: Limits) -> Result<Opened, OpenError> {
    open_telling(path, limits, &mut |_| {})
}

/// [`open`], telling `made` the unpacking directory as soon as it exists
/// (before the long unpacking): a caller that removes it when a signal
/// ends the process can register it.
pub fn open_telling(
    path: &Path,
    limits: Limits,
    made: &mut dyn FnMut(&Path),
) -> Result<Opened, OpenError> {
    let name = path.display().to_string();
    if path == Path::new("-") {
        return open_reader_telling(std::io::stdin().lock(), "standard input", limits, made);
    }
    // Non-blocking: opening a FIFO with no writer would wait for one
    // forever (the type is checked on the open file, not the name, so it
    // cannot change in between).
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| OpenError(format!("cannot open the snapshot {name}: {e}")))?;
    // Never a FIFO or device given as a snapshot: a regular file only
    // (standard input is the way to stream one).
    if !f.metadata().is_ok_and(|m| m.is_file()) {
        return Err(OpenError(format!(
            "{name} is not a regular file (use `-` to read a snapshot from standard input)"
        )));
    }
    // Reads of a regular file do not block: back to blocking mode is not
    // needed, but say so explicitly for the reader that follows.
    let _ = rustix::fs::fcntl_setfl(&f, OFlags::empty());
    open_reader_telling(std::io::BufReader::new(f), &name, limits, made)
}

fn corrupt(name: &str, e: impl std::fmt::Display) -> OpenError {
    OpenError(format!(
        "{name}: corrupted or truncated snapshot ({e}); copy it again or take a new one"
    ))
}

fn hostile(name: &str, path: &[u8], why: &str) -> OpenError {
    OpenError(format!(
        "{name}: refused entry `{}`: {why} (procscope never writes one: the file was altered or is not a procscope snapshot)",
        String::from_utf8_lossy(path).escape_debug()
    ))
}

/// Checks an entry's name; returns it without a trailing `/`.
fn check_path(p: &[u8]) -> Result<&[u8], &'static str> {
    let p = p.strip_suffix(b"/").unwrap_or(p);
    if p.is_empty() {
        return Err("an empty name");
    }
    if p.starts_with(b"/") {
        return Err("an absolute path");
    }
    if p.contains(&0) {
        return Err("a NUL byte in the name");
    }
    if p.len() > 4096 {
        return Err("a name longer than PATH_MAX");
    }
    let mut depth = 0;
    for c in p.split(|&b| b == b'/') {
        depth += 1;
        match c {
            b"" => return Err("an empty path component"),
            b"." | b".." => return Err("a `.` or `..` path component"),
            _ => {}
        }
    }
    if depth > 64 {
        return Err("a path nested too deep");
    }
    Ok(p)
}

/// Whether a proc tree has a link at `p`.
fn link_allowed(p: &[u8]) -> bool {
    let mut parts = p.rsplitn(3, |&b| b == b'/');
    let last = parts.next().unwrap_or_default();
    let parent = parts.next().unwrap_or_default();
    matches!(parent, b"fd" | b"ns" | b"map_files")
        || matches!(last, b"exe" | b"cwd" | b"root" | b"self" | b"thread-self")
}

fn split_last(p: &[u8]) -> (&[u8], &[u8]) {
    match p.iter().rposition(|&b| b == b'/') {
        Some(i) => (
            p.get(..i).unwrap_or_default(),
            p.get(i + 1..).unwrap_or_default(),
        ),
        None => (&b""[..], p),
    }
}

/// The unpacking directory and the last parent directory opened.
struct Tree {
    root: OwnedFd,
    last: Option<(Vec<u8>, OwnedFd)>,
}

impl Tree {
    /// Opens (creating as needed) the directory `dir` under the root,
    /// never through a link.
    fn dir(&mut self, dir: &[u8]) -> rustix::io::Result<rustix::fd::BorrowedFd<'_>> {
        if self.last.as_ref().is_none_or(|(p, _)| p != dir) {
            let mut cur = rustix::fs::openat(
                &self.root,
                c".",
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            for c in dir.split(|&b| b == b'/').filter(|c| !c.is_empty()) {
                let open = |d: &OwnedFd| {
                    rustix::fs::openat2(
                        d,
                        c,
                        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
                        Mode::empty(),
                        ResolveFlags::BENEATH
                            | ResolveFlags::NO_SYMLINKS
                            | ResolveFlags::NO_MAGICLINKS,
                    )
                };
                cur = match open(&cur) {
                    Ok(fd) => fd,
                    Err(rustix::io::Errno::NOENT) => {
                        rustix::fs::mkdirat(&cur, c, Mode::from_raw_mode(0o755))?;
                        open(&cur)?
                    }
                    Err(e) => return Err(e),
                };
            }
            self.last = Some((dir.to_vec(), cur));
        }
        match &self.last {
            Some((_, fd)) => Ok(fd.as_fd()),
            None => Err(rustix::io::Errno::NOENT),
        }
    }
}

/// Reads a snapshot from `r` (`name` for messages).
pub fn open_reader(r: impl Read, name: &str, limits: Limits) -> Result<Opened, OpenError> {
    open_reader_telling(r, name, limits, &mut |_| {})
}

fn open_reader_telling(
    r: impl Read,
    name: &str,
    limits: Limits,
    made: &mut dyn FnMut(&Path),
) -> Result<Opened, OpenError> {
    let read = std::rc::Rc::new(std::cell::Cell::new(0u64));
    let r = Counted {
        inner: r,
        n: read.clone(),
    };
    let dec = zstd::Decoder::new(r).map_err(|e| corrupt(name, e))?;
    let mut ar = tar::Archive::new(dec);
    let under = unpack_dir();
    sweep(&under);
    let dir = tempfile::Builder::new()
        .prefix(&format!("{PREFIX}{}-", owner_tag(std::process::id())))
        .tempdir_in(&under)
        .map_err(|e| OpenError(format!("cannot make a private directory to read {name} in: {e} (set TMPDIR to a writable directory)")))?;
    let root = rustix::fs::open(
        dir.path(),
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| OpenError(format!("cannot open {}: {e}", dir.path().display())))?;
    made(dir.path());
    let mut tree = Tree { root, last: None };
    let room = rustix::fs::statvfs(dir.path())
        .map(|v| v.f_bavail.saturating_mul(v.f_frsize) / 2)
        .unwrap_or(u64::MAX);
    let mut manifest: Option<Manifest> = None;
    let mut records: Option<Records> = None;
    let mut regular: HashSet<Vec<u8>> = HashSet::new();
    let mut total: u64 = 0;
    let entries = ar.entries().map_err(|e| corrupt(name, e))?;
    for (i, entry) in entries.enumerate() {
        let mut entry = entry.map_err(|e| {
            if i == 0 {
                OpenError(format!(
                    "{name} is not a procscope snapshot (not a zstd-compressed tar: {e})"
                ))
            } else {
                corrupt(name, e)
            }
        })?;
        if i as u64 >= limits.max_entries {
            return Err(OpenError(format!(
                "{name}: more than {} entries; refused",
                limits.max_entries
            )));
        }
        let raw = entry.path_bytes().into_owned();
        let path = check_path(&raw)
            .map_err(|why| hostile(name, &raw, why))?
            .to_vec();
        let kind = entry.header().entry_type();
        let size = entry.header().size().map_err(|e| corrupt(name, e))?;
        if i == 0 {
            check_format(name, &path, kind, &mut entry)?;
            continue;
        }
        if size > limits.max_entry {
            return Err(OpenError(format!(
                "{name}: entry `{}` is {size} bytes, over the {} byte cap per entry; refused",
                String::from_utf8_lossy(&path),
                limits.max_entry
            )));
        }
        total = total.saturating_add(size);
        if total > limits.max_total {
            return Err(OpenError(format!(
                "{name}: unpacks to more than {} bytes; refused",
                limits.max_total
            )));
        }
        // /proc text compresses about 40 times: a file that claims to
        // unpack to far more than that is a decompression bomb (a 64 KiB
        // file unpacking to 1 GiB). The slack lets one highly repetitive
        // file (a long command line of one byte) through.
        let allowed = RATIO_SLACK.saturating_add(read.get().saturating_mul(MAX_RATIO));
        if total > allowed {
            return Err(OpenError(format!(
                "{name}: unpacks to more than {MAX_RATIO} times its size (a decompression bomb, or not a procscope snapshot); refused"
            )));
        }
        // The unpacking directory is usually tmpfs (memory): a small file
        // that decompresses to gigabytes must not fill it. Checked against
        // what is free there now, keeping half of it for everyone else.
        if total > room {
            return Err(OpenError(format!(
                "{name}: unpacks to more than {room} bytes, over half the free space in {} \
                 (set TMPDIR to a directory with more room)",
                under.display()
            )));
        }
        let io = |e: std::io::Error| corrupt(name, e);
        let sys = |e: rustix::io::Errno| match e {
            rustix::io::Errno::EXIST => hostile(name, &path, "a name given twice"),
            rustix::io::Errno::LOOP | rustix::io::Errno::XDEV | rustix::io::Errno::NOTDIR => {
                hostile(name, &path, "a path through a link or a file")
            }
            e => OpenError(format!(
                "{name}: cannot unpack `{}`: {e}",
                String::from_utf8_lossy(&path)
            )),
        };
        match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                if path == format::MANIFEST_ENTRY.as_bytes() {
                    if manifest.is_some() {
                        return Err(hostile(name, &path, "a name given twice"));
                    }
                    let b = read_all(&mut entry, size).map_err(io)?;
                    manifest = Some(serde_json::from_slice(&b).map_err(|e| corrupt(name, e))?);
                    continue;
                }
                if path == format::LIVE_ENTRY.as_bytes() {
                    if records.is_some() {
                        return Err(hostile(name, &path, "a name given twice"));
                    }
                    let b = read_all(&mut entry, size).map_err(io)?;
                    records = Some(serde_json::from_slice(&b).map_err(|e| corrupt(name, e))?);
                    continue;
                }
                let (parent, last) = split_last(&path);
                let d = tree.dir(parent).map_err(sys)?;
                let fd = rustix::fs::openat(
                    d,
                    last,
                    OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o644),
                )
                .map_err(sys)?;
                let mut f = std::fs::File::from(fd);
                let n = std::io::copy(&mut (&mut entry).take(size), &mut f).map_err(io)?;
                if n != size {
                    return Err(corrupt(name, "an entry ends early"));
                }
                regular.insert(path);
            }
            tar::EntryType::Directory => {
                tree.dir(&path).map_err(sys)?;
            }
            tar::EntryType::Symlink => {
                if !link_allowed(&path) {
                    return Err(hostile(
                        name,
                        &path,
                        "a symbolic link where a proc tree has none",
                    ));
                }
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| corrupt(name, "a link without a target"))?
                    .into_owned();
                if target.contains(&0) || target.len() > 8192 {
                    return Err(hostile(name, &path, "a link text no kernel gives"));
                }
                let (parent, last) = split_last(&path);
                let d = tree.dir(parent).map_err(sys)?;
                rustix::fs::symlinkat(target.as_slice(), d, last).map_err(sys)?;
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| corrupt(name, "a hard link without a target"))?
                    .into_owned();
                let t = check_path(&target)
                    .map_err(|why| hostile(name, &path, why))?
                    .to_vec();
                if !regular.contains(&t) {
                    return Err(hostile(
                        name,
                        &path,
                        "a hard link to a file not unpacked before it",
                    ));
                }
                let (tp, tl) = split_last(&t);
                let tdir = tree.dir(tp).map_err(sys)?;
                let tdir = rustix::io::dup(tdir).map_err(sys)?;
                let (parent, last) = split_last(&path);
                let d = tree.dir(parent).map_err(sys)?;
                rustix::fs::linkat(&tdir, tl, d, last, AtFlags::empty()).map_err(sys)?;
            }
            other => {
                let what = match other {
                    tar::EntryType::Fifo => "a FIFO",
                    tar::EntryType::Char => "a character device",
                    tar::EntryType::Block => "a block device",
                    _ => "an entry type procscope does not write",
                };
                return Err(hostile(name, &path, what));
            }
        }
    }
    let (Some(manifest), Some(records)) = (manifest, records) else {
        return Err(corrupt(
            name,
            "it ends before its manifest and recorded answers",
        ));
    };
    Ok(Opened {
        dir,
        manifest,
        records,
    })
}

/// Where snapshots are unpacked: `TMPDIR` when set, else `/dev/shm` (a
/// tmpfs: a whole-host snapshot is ~100,000 small files, which a disk
/// filesystem takes 30 times longer to create and remove — measured 104 s
/// against 2.9 s), else the system's temporary directory.
fn unpack_dir() -> std::path::PathBuf {
    if std::env::var_os("TMPDIR").is_none() {
        let shm = Path::new("/dev/shm");
        let tmpfs = rustix::fs::statfs(shm).is_ok_and(|s| {
            #[allow(clippy::unnecessary_cast)]
            let t = s.f_type as i64;
            t == 0x0102_1994
        });
        if tmpfs && rustix::fs::access(shm, rustix::fs::Access::WRITE_OK).is_ok() {
            return shm.to_path_buf();
        }
    }
    std::env::temp_dir()
}

/// At most this many bytes unpacked per compressed byte read so far…
const MAX_RATIO: u64 = 1000;

/// …beyond this many.
const RATIO_SLACK: u64 = 64 << 20;

/// A reader that counts the bytes read through it.
struct Counted<R> {
    inner: R,
    n: std::rc::Rc<std::cell::Cell<u64>>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n.set(self.n.get().saturating_add(k as u64));
        Ok(k)
    }
}

/// The start of an unpacking directory's name; the owner's tag follows.
const PREFIX: &str = "procscope-snapshot-";

/// `PID.STARTTIME` of a live process (its start time in clock ticks after
/// boot tells it from a later process given the same PID), or `PID.?`.
fn owner_tag(pid: u32) -> String {
    // Through the reader, like every /proc read (`stat` never waits on
    // the process's locks).
    let mut b = Vec::new();
    let start = procscope_read::ProcRoot::open("/proc")
        .ok()
        .and_then(|root| root.process(i32::try_from(pid).ok()?).ok())
        .and_then(|dir| dir.read(c"stat", &mut b, 4096).ok())
        .and_then(|_| {
            procscope_parse::stat::Stat::parse(&b)
                .ok()
                .map(|s| s.starttime_ticks)
        })
        .map_or_else(|| "?".to_string(), |t| t.to_string());
    format!("{pid}.{start}")
}

/// Removes unpacking directories left by a procscope that was killed
/// before it could remove its own (a whole-host snapshot unpacks to a few
/// hundred MB of tmpfs, which nothing else would free until a reboot):
/// each is named after its owner's PID and start time, and one whose
/// owner is no longer running is removed. Only a real directory owned by
/// this user is touched (`/dev/shm` is writable by everyone: a symbolic
/// link or someone else's directory under that name is left alone), and
/// `remove_dir_all` does not follow links inside it.
fn sweep(under: &Path) {
    let Ok(entries) = std::fs::read_dir(under) else {
        return;
    };
    let me = rustix::process::geteuid().as_raw();
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(PREFIX)) else {
            continue;
        };
        // `PID.START-random`: the tag is everything before the last '-'.
        let Some((tag, _)) = rest.rsplit_once('-') else {
            continue;
        };
        let Some(pid) = tag.split_once('.').and_then(|(p, _)| p.parse::<u32>().ok()) else {
            continue;
        };
        if owner_tag(pid) == tag {
            continue;
        }
        let path = e.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() && std::os::unix::fs::MetadataExt::uid(&meta) == me {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

fn read_all(r: &mut impl Read, size: u64) -> std::io::Result<Vec<u8>> {
    let mut b = Vec::with_capacity(usize::try_from(size.min(1 << 24)).unwrap_or(0));
    r.take(size).read_to_end(&mut b)?;
    Ok(b)
}

/// The first entry must say `procscope-snapshot N` with N this procscope
/// reads.
fn check_format(
    name: &str,
    path: &[u8],
    kind: tar::EntryType,
    entry: &mut impl Read,
) -> Result<(), OpenError> {
    let not = || {
        OpenError(format!(
            "{name} is not a procscope snapshot (it does not start with {}); take one with `procscope snapshot -o FILE`",
            format::FORMAT_ENTRY
        ))
    };
    if path != format::FORMAT_ENTRY.as_bytes() || kind != tar::EntryType::Regular {
        return Err(not());
    }
    let b = read_all(entry, 64).map_err(|e| corrupt(name, e))?;
    let text = String::from_utf8_lossy(&b);
    let v = text
        .trim()
        .strip_prefix("procscope-snapshot ")
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(not)?;
    // A number too large for u32 is a newer format too, not "not a
    // snapshot".
    if v.parse::<u32>().map_or(true, |v| v > format::FORMAT) {
        return Err(OpenError(format!(
            "{name} is snapshot format {}, newer than this procscope reads (format {}): read it with a newer procscope",
            v.get(..12).unwrap_or(v),
            format::FORMAT
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_leave_the_tree_are_refused() {
        assert_eq!(check_path(b"12/fd/3"), Ok(&b"12/fd/3"[..]));
        assert_eq!(check_path(b"12/fd/"), Ok(&b"12/fd"[..]));
        assert!(check_path(b"/etc/passwd").is_err());
        assert!(check_path(b"12/../../x").is_err());
        assert!(check_path(b"./12").is_err());
        assert!(check_path(b"12//x").is_err());
        assert!(check_path(b"").is_err());
        assert!(link_allowed(b"12/fd/3"));
        assert!(link_allowed(b"12/task/13/ns/net"));
        assert!(link_allowed(b"12/exe"));
        assert!(!link_allowed(b"12/stat"));
        assert!(!link_allowed(b"12"));
    }
}

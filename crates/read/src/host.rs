//! The host's own files, outside `/proc`, as a proc root sees them: the
//! user and group databases (`/etc/passwd`, `/etc/group`), cgroupfs
//! (`/sys/fs/cgroup/…`), executables and other paths whose identity is
//! compared with what a process holds.
//!
//! Which host a value belongs to follows the proc root, so that a fixture
//! tree or a copied snapshot answers the same on every machine:
//!
//! - **A live procfs root**: the real paths of the machine procscope runs
//!   on (`/etc/passwd`, `/sys/fs/cgroup/…`).
//! - **Any other tree** (a fixture, a copied `/proc`, a snapshot): the
//!   files under [`HOST_DIR`] inside the tree, at the same path —
//!   `<root>/.host/etc/passwd`, `<root>/.host/etc/group`,
//!   `<root>/.host/sys/fs/cgroup/<cgroup path>/memory.max`, and for
//!   identities `<root>/.host/<path of the executable>`. Paths are looked
//!   up with `openat2(RESOLVE_IN_ROOT)` under `.host`: a symlink in the
//!   tree (even an absolute one, or `..`) cannot lead out of it. A tree
//!   without `.host` answers [`Failure::Unsupported`] ("not in this tree"),
//!   a missing file [`Failure::Absent`]: never a value of the live host.
//!
//! Every read is capped and refuses anything but a regular file, opened
//! non-blocking (a FIFO planted at `/etc/passwd` or in a tree is never
//! waited on). cgroupfs and sysfs files are regular files too.

use crate::failure::{Failure, Outcome};
use crate::root::{FdStat, FileRead};
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{Mode, OFlags, ResolveFlags};
use std::ffi::CString;
use std::sync::Arc;

/// The directory inside a non-procfs proc tree that holds the host's files
/// (`.host/etc/passwd`, `.host/sys/fs/cgroup/…`).
pub const HOST_DIR: &std::ffi::CStr = c".host";

/// The host files that belong to one proc root (see the module docs).
/// Cheap to clone; can be moved to a worker thread.
#[derive(Debug, Clone)]
pub struct HostFiles {
    /// The proc tree's directory (for `.host`); unused for a live root.
    tree: Arc<OwnedFd>,
    live: bool,
    /// Recorded or replayed `stat` answers ([`crate::tape`]).
    tape: Option<Arc<crate::tape::Tape>>,
}

/// How a lookup reaches a host path.
enum Place {
    /// The real path (live root).
    Real(CString),
    /// `.host` of the tree, and the path relative to it.
    InTree(OwnedFd, CString),
}

impl HostFiles {
    pub(crate) fn new(
        tree: Arc<OwnedFd>,
        live: bool,
        tape: Option<Arc<crate::tape::Tape>>,
    ) -> Self {
        HostFiles { tree, live, tape }
    }

    /// True when these are the real files of the machine procscope runs
    /// on (the proc root is a live procfs).
    pub fn is_live(&self) -> bool {
        self.live
    }

    /// Where `path` (absolute, as the host names it) is for this root.
    fn place(&self, path: &[u8]) -> Outcome<Place> {
        if !path.starts_with(b"/") {
            return Err(Failure::malformed(
                &String::from_utf8_lossy(path),
                "a host path must be absolute",
            ));
        }
        let c = |p: &[u8]| {
            CString::new(p).map_err(|_| {
                Failure::malformed(&String::from_utf8_lossy(path), "NUL byte in a path")
            })
        };
        if self.live {
            return c(path).map(Place::Real);
        }
        let dir = rustix::fs::openat(
            self.tree.as_fd(),
            HOST_DIR,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::empty(),
        )
        .map_err(|e| match e {
            rustix::io::Errno::NOENT | rustix::io::Errno::NOTDIR | rustix::io::Errno::LOOP => {
                not_in_tree(path)
            }
            e => host_errno(e, path, false),
        })?;
        let rel = without_leading_slashes(path);
        let rel = if rel.is_empty() { &b"."[..] } else { rel };
        Ok(Place::InTree(dir, c(rel)?))
    }

    /// Opens `path` with `flags`: the real path, or inside `.host` without
    /// leaving it.
    fn open(&self, path: &[u8], flags: OFlags) -> Outcome<OwnedFd> {
        let r = match self.place(path)? {
            Place::Real(p) => rustix::fs::open(p.as_c_str(), flags, Mode::empty()),
            Place::InTree(dir, rel) => rustix::fs::openat2(
                &dir,
                rel.as_c_str(),
                flags,
                Mode::empty(),
                ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
            ),
        };
        r.map_err(|e| match e {
            // openat2 is Linux 5.6: without it a tree's links could not
            // be kept inside, so nothing is looked up there.
            rustix::io::Errno::NOSYS => Failure::Unsupported {
                what: "openat2(2) (Linux 5.6), to read host files inside a tree".into(),
            },
            e => host_errno(e, path, !self.live),
        })
    }

    /// Reads the host file `path` (absolute) into `buf` (cleared first), at
    /// most `cap` bytes. Only a regular file is read.
    pub fn read(&self, path: &[u8], buf: &mut Vec<u8>, cap: usize) -> Outcome<FileRead> {
        buf.clear();
        let fd = self.open(
            path,
            OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK,
        )?;
        crate::root::regular_only(&fd, path, "among the host's files")?;
        crate::root::read_fd(&fd, path, buf, cap)
    }

    /// The identity and kind of the host file at `path` (absolute),
    /// following symlinks, from what the kernel already knows
    /// (`AT_STATX_DONT_SYNC`). Nothing is opened for reading (an `O_PATH`
    /// handle does not open a FIFO or a device). On a live root, check
    /// [`HostFiles::may_hang`] first and call this from a deadline-guarded
    /// thread: the path may lie on a network filesystem.
    pub fn stat(&self, path: &[u8]) -> Outcome<FdStat> {
        let key = || String::from_utf8_lossy(path).into_owned();
        if let Some(rec) = self.tape.as_ref().and_then(|t| t.replayed()) {
            if let Some(a) = rec.host_stat.get(&key()) {
                return a.clone();
            }
        }
        let r = self.stat_here(path);
        if let Some(t) = &self.tape {
            t.write(|rec| {
                rec.host_stat.insert(key(), r.clone());
            });
        }
        r
    }

    fn stat_here(&self, path: &[u8]) -> Outcome<FdStat> {
        match self.place(path)? {
            Place::Real(p) => crate::root::stat_at(rustix::fs::CWD, p.as_bytes())
                .map_err(|f| errno_failure(f, path, false)),
            Place::InTree(..) => {
                let fd = self.open(path, OFlags::PATH | OFlags::CLOEXEC)?;
                crate::root::statx_with(fd.as_fd(), b"", rustix::fs::AtFlags::EMPTY_PATH)
                    .map_err(|f| errno_failure(f, path, true))
            }
        }
    }

    /// Whether anything is at `path` (see [`HostFiles::stat`]).
    pub fn exists(&self, path: &[u8]) -> bool {
        self.stat(path).is_ok()
    }

    /// The target of the symbolic link at `path` (absolute; links on the
    /// way are followed, the last component is not). `Err(Absent)` when
    /// nothing is there; [`Failure::Malformed`] when it is not a link.
    pub fn readlink(&self, path: &[u8]) -> Outcome<Vec<u8>> {
        match self.place(path)? {
            Place::Real(p) => rustix::fs::readlinkat(rustix::fs::CWD, p.as_c_str(), Vec::new())
                .map(|t| t.into_bytes())
                .map_err(|e| link_errno(e, path, false)),
            Place::InTree(..) => {
                let fd = self.open(path, OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC)?;
                // The file is open: ENOENT from an empty path is the
                // kernel's way of saying "not a link" here.
                rustix::fs::readlinkat(&fd, c"", Vec::new())
                    .map(|t| t.into_bytes())
                    .map_err(|e| match e {
                        rustix::io::Errno::NOENT => {
                            link_errno(rustix::io::Errno::INVAL, path, true)
                        }
                        e => link_errno(e, path, true),
                    })
            }
        }
    }

    /// The name of user `uid` from the host's name service (NSS:
    /// `getpwuid_r`), for users `/etc/passwd` does not list. May block on a
    /// network directory: call it from a deadline-guarded thread. Only the
    /// live host has a name service: a tree answers
    /// [`Failure::Unsupported`] (its `.host/etc/passwd` is all it knows).
    pub fn nss_user_name(&self, uid: u32) -> Outcome<Option<Vec<u8>>> {
        self.nss()?;
        Ok(crate::nss::user_name(uid))
    }

    /// [`HostFiles::nss_user_name`] for groups (`getgrgid_r`).
    pub fn nss_group_name(&self, gid: u32) -> Outcome<Option<Vec<u8>>> {
        self.nss()?;
        Ok(crate::nss::group_name(gid))
    }

    /// The UID of the user called `name` from the host's name service
    /// (`getpwnam_r`); as [`HostFiles::nss_user_name`].
    pub fn nss_uid(&self, name: &[u8]) -> Outcome<Option<u32>> {
        self.nss()?;
        Ok(crate::nss::uid_of(name))
    }

    /// Refuses NSS for a tree.
    fn nss(&self) -> Outcome<()> {
        if self.live {
            return Ok(());
        }
        Err(Failure::Unsupported {
            what: "the host's name service (this proc root is a fixture or a copy)".into(),
        })
    }

    /// Whether looking `path` up may reach a filesystem that can hang
    /// (FUSE, network, automount): for a live root, in procscope's own
    /// mount namespace ([`crate::realpath::may_hang_here`]); a tree's
    /// lookups stay inside the tree, where every other read of that root
    /// goes too.
    pub fn may_hang(&self, path: &[u8]) -> bool {
        self.live && crate::realpath::may_hang_here(path)
    }
}

/// `path` with its leading slashes taken off (relative to `.host`).
fn without_leading_slashes(path: &[u8]) -> &[u8] {
    let n = path.iter().take_while(|&&c| c == b'/').count();
    path.get(n..).unwrap_or_default()
}

/// A tree without host files.
fn not_in_tree(path: &[u8]) -> Failure {
    Failure::Unsupported {
        what: format!(
            "{}: not in this tree (it has no {}/ directory)",
            String::from_utf8_lossy(path),
            HOST_DIR.to_string_lossy()
        ),
    }
}

/// An errno of a host lookup: nothing there is [`Failure::Absent`] (not
/// "process gone"), a refusal needs privilege.
fn host_errno(e: rustix::io::Errno, path: &[u8], tree: bool) -> Failure {
    use rustix::io::Errno;
    let name = String::from_utf8_lossy(path);
    match e {
        Errno::NOENT | Errno::NOTDIR => Failure::Absent {
            what: if tree {
                format!("{name} (not in this tree)")
            } else {
                format!("{name} (no such file)")
            },
        },
        Errno::ACCESS | Errno::PERM => Failure::Denied {
            need: crate::Need::Privilege,
        },
        e => Failure::from_errno(e, path),
    }
}

/// [`host_errno`] of `readlink`, whose `EINVAL` says "not a link".
fn link_errno(e: rustix::io::Errno, path: &[u8], tree: bool) -> Failure {
    if e == rustix::io::Errno::INVAL {
        return Failure::malformed(&String::from_utf8_lossy(path), "not a symbolic link");
    }
    host_errno(e, path, tree)
}

/// [`host_errno`] for a failure already mapped by the process-file rules.
fn errno_failure(f: Failure, path: &[u8], tree: bool) -> Failure {
    match f {
        Failure::Gone => host_errno(rustix::io::Errno::NOENT, path, tree),
        Failure::Denied { .. } => host_errno(rustix::io::Errno::ACCESS, path, tree),
        f => f,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ProcRoot;
    use std::fs;

    fn tree_with_host() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        fs::create_dir_all(t.path().join(".host/etc")).unwrap();
        fs::write(
            t.path().join(".host/etc/passwd"),
            b"fixtureuser:x:4242:4242::/:/x\n",
        )
        .unwrap();
        t
    }

    #[test]
    fn a_tree_answers_from_its_own_host_dir() {
        let t = tree_with_host();
        let host = ProcRoot::open(t.path()).unwrap().host();
        assert!(!host.is_live());
        let mut b = Vec::new();
        let r = host.read(b"/etc/passwd", &mut b, 1024).unwrap();
        assert_eq!((r.len, r.truncated), (30, false));
        assert_eq!(b, b"fixtureuser:x:4242:4242::/:/x\n");
        let r = host.read(b"//etc/passwd", &mut b, 11).unwrap();
        assert_eq!((r.len, r.truncated), (11, true));
        assert_eq!(b, b"fixtureuser");
        let st = host.stat(b"/etc/passwd").unwrap();
        assert_eq!((st.regular, st.size), (true, 30));
        assert!(host.stat(b"/etc").unwrap().dir);
        assert!(!host.may_hang(b"/etc/passwd"));
        // A tree never asks the live host's name service.
        assert!(matches!(
            host.nss_user_name(0),
            Err(Failure::Unsupported { .. })
        ));
        assert!(matches!(
            host.nss_group_name(0),
            Err(Failure::Unsupported { .. })
        ));
        assert!(matches!(
            host.nss_uid(b"root"),
            Err(Failure::Unsupported { .. })
        ));
    }

    #[test]
    fn links_in_a_tree_stay_in_the_tree() {
        let t = tree_with_host();
        let etc = t.path().join(".host/etc");
        // Absolute, and climbing above the tree: both land inside `.host`.
        std::os::unix::fs::symlink("/etc/passwd", etc.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../../../../../../etc/passwd", etc.join("up")).unwrap();
        let host = ProcRoot::open(t.path()).unwrap().host();
        let mut b = Vec::new();
        for p in [&b"/etc/abs"[..], b"/etc/up", b"/../../etc/passwd"] {
            host.read(p, &mut b, 1024).unwrap();
            assert_eq!(b, b"fixtureuser:x:4242:4242::/:/x\n", "{p:?}");
        }
        assert_eq!(host.readlink(b"/etc/abs").unwrap(), b"/etc/passwd");
        assert!(matches!(
            host.readlink(b"/etc/passwd"),
            Err(Failure::Malformed { .. })
        ));
        // /etc/hostname exists on the live host, never in this tree.
        assert_eq!(
            host.read(b"/etc/hostname", &mut b, 1024),
            Err(Failure::Absent {
                what: "/etc/hostname (not in this tree)".into()
            })
        );
        assert!(!host.exists(b"/etc/hostname"));
        assert!(matches!(
            host.read(b"etc/passwd", &mut b, 1024),
            Err(Failure::Malformed { .. })
        ));
    }

    #[test]
    fn a_tree_without_host_files_never_answers_with_the_live_ones() {
        let t = tempfile::tempdir().unwrap();
        let host = ProcRoot::open(t.path()).unwrap().host();
        let mut b = Vec::new();
        let no = Err(Failure::Unsupported {
            what: "/etc/passwd: not in this tree (it has no .host/ directory)".into(),
        });
        assert_eq!(host.read(b"/etc/passwd", &mut b, 1024), no);
        assert!(b.is_empty());
        assert!(matches!(
            host.stat(b"/etc/passwd"),
            Err(Failure::Unsupported { .. })
        ));
        // `.host` as a link to the live root is not followed.
        std::os::unix::fs::symlink("/", t.path().join(".host")).unwrap();
        let host = ProcRoot::open(t.path()).unwrap().host();
        assert_eq!(host.read(b"/etc/passwd", &mut b, 1024), no);
    }

    #[test]
    fn a_fifo_is_never_opened_for_reading() {
        let t = tempfile::tempdir().unwrap();
        fs::create_dir_all(t.path().join(".host/etc")).unwrap();
        let fifo = t.path().join(".host/etc/passwd");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let host = ProcRoot::open(t.path()).unwrap().host();
        let mut b = Vec::new();
        // Returns at once (a blocking open would wait for a writer).
        assert!(matches!(
            host.read(b"/etc/passwd", &mut b, 1024),
            Err(Failure::Malformed { .. })
        ));
        assert!(host.stat(b"/etc/passwd").unwrap().fifo);
    }

    #[test]
    fn the_live_root_reads_the_real_files() {
        let host = ProcRoot::open("/proc").unwrap().host();
        assert!(host.is_live());
        let mut b = Vec::new();
        host.read(b"/etc/passwd", &mut b, 16 << 20).unwrap();
        assert_eq!(b, fs::read("/etc/passwd").unwrap());
        assert!(host.stat(b"/").unwrap().dir);
        assert!(matches!(
            host.stat(b"/nonexistent-procscope-path"),
            Err(Failure::Absent { .. })
        ));
        assert!(!host.may_hang(b"/etc/passwd"));
        assert_eq!(host.nss_user_name(0), Ok(Some(b"root".to_vec())));
        assert_eq!(host.nss_uid(b"root"), Ok(Some(0)));
    }
}

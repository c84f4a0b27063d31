//! Resolving the symlinks of a path the user typed (`/var/run/x` names
//! `/run/x`, as the kernel prints fd links) without ever looking anything
//! up on a filesystem that may hang: component by component with
//! `readlink(2)`, giving up — the path stays as typed — as soon as a step
//! would enter a FUSE, network or automount filesystem
//! ([`procscope_parse::mountinfo::may_hang`]). A lookup stuck there could
//! not even be abandoned: the thread waits uninterruptibly, and the process
//! cannot exit until the server answers.

use crate::{Failure, Outcome, ProcDir};

/// `.` and `..` taken out and slashes collapsed, without asking the
/// filesystem (`/a/./b/../c/` → `/a/c`).
pub fn lexical(p: &[u8]) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for c in p.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    let mut out = Vec::with_capacity(p.len());
    for c in parts {
        out.push(b'/');
        out.extend_from_slice(c);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    out
}

/// Symlinks followed at most (the kernel's own limit is 40).
const MAX_HOPS: usize = 40;

/// `path` (absolute) with its symlinks resolved, `.` and `..` applied, as
/// procscope's process `me` sees the tree. `Ok(None)`: a step would have
/// entered a filesystem that may hang, or a loop; the caller keeps the
/// path as typed.
pub fn resolve(me: &ProcDir, path: &[u8]) -> Outcome<Option<Vec<u8>>> {
    let mut b = Vec::new();
    me.read(c"mountinfo", &mut b, crate::cap::MOUNTINFO)?;
    let mounts: Vec<(Vec<u8>, bool)> = procscope_parse::mountinfo::parse(&b)
        .map_err(|e| Failure::malformed("mountinfo", e))?
        .into_iter()
        .map(|m| {
            let risky = procscope_parse::mountinfo::may_hang(&m.fs_type);
            (m.mount_point, risky)
        })
        .collect();
    Ok(resolve_with(path, &mounts, |p| {
        rustix::fs::readlinkat(rustix::fs::CWD, p, Vec::new())
            .ok()
            .map(|t| t.into_bytes())
    }))
}

/// [`resolve`] among a tree's own host files ([`crate::HostFiles`] of a
/// fixture or a copy: `.host/`), whose links are read inside the tree and
/// never on the live host. `None` on a loop, and for the live host's
/// files (whose lookups need [`resolve`]'s mount checks).
pub fn resolve_in_tree(host: &crate::HostFiles, path: &[u8]) -> Option<Vec<u8>> {
    if host.is_live() {
        return None;
    }
    resolve_with(path, &[], |p| host.readlink(p.to_bytes()).ok())
}

/// Whether looking up `path` (absolute) in procscope's own mount namespace
/// may reach a filesystem that can hang: it or one of its parents lies on
/// one. True when the mount table cannot be read — the caller then does
/// not look.
///
/// "Here" is procscope's own process, whose lookups these are: its mount
/// table is read from the host's own `/proc/self`, whatever proc root a
/// command reads (a fixture has no mount table of this process; a tree's
/// host files are looked up inside the tree, see
/// [`crate::HostFiles::may_hang`]).
pub fn may_hang_here(path: &[u8]) -> bool {
    let Ok(root) = crate::ProcRoot::open("/proc") else {
        return true;
    };
    match root.process(root.own_pid()) {
        Ok(me) => may_hang_in(&me, path),
        Err(_) => true,
    }
}

/// [`may_hang_here`] in the mount namespace of process `dir` (`path` as
/// that process sees it).
pub fn may_hang_in(dir: &ProcDir, path: &[u8]) -> bool {
    let mut b = Vec::new();
    let read = dir.read(c"mountinfo", &mut b, crate::cap::MOUNTINFO);
    let Ok(mounts) = read.and_then(|_| {
        procscope_parse::mountinfo::parse(&b).map_err(|e| Failure::malformed("mountinfo", e))
    }) else {
        return true;
    };
    let mounts: Vec<(Vec<u8>, bool)> = mounts
        .into_iter()
        .map(|m| {
            let r = procscope_parse::mountinfo::may_hang(&m.fs_type);
            (m.mount_point, r)
        })
        .collect();
    let mut prefix = Vec::new();
    for c in path.split(|&c| c == b'/').filter(|c| !c.is_empty()) {
        prefix.push(b'/');
        prefix.extend_from_slice(c);
        if risky(&prefix, &mounts) {
            return true;
        }
    }
    risky(b"/", &mounts)
}

/// Whether looking up `p` may reach a filesystem that can hang: the mount
/// it lies on (the longest mount point that is a prefix of it) is such a
/// filesystem, or one is mounted below it on the way (an automount point).
fn risky(p: &[u8], mounts: &[(Vec<u8>, bool)]) -> bool {
    let under =
        |mp: &[u8]| mp == b"/" || p == mp || (p.starts_with(mp) && p.get(mp.len()) == Some(&b'/'));
    mounts
        .iter()
        .filter(|(mp, _)| under(mp))
        .max_by_key(|(mp, _)| mp.len())
        .is_some_and(|(_, r)| *r)
}

/// [`resolve`] with the mount table and `readlink` given (for tests).
fn resolve_with(
    path: &[u8],
    mounts: &[(Vec<u8>, bool)],
    readlink: impl Fn(&std::ffi::CStr) -> Option<Vec<u8>>,
) -> Option<Vec<u8>> {
    let mut todo: std::collections::VecDeque<Vec<u8>> = path
        .split(|&c| c == b'/')
        .filter(|c| !c.is_empty())
        .map(<[u8]>::to_vec)
        .collect();
    let mut done: Vec<Vec<u8>> = Vec::new();
    let join = |parts: &[Vec<u8>]| -> Vec<u8> {
        let mut s = Vec::new();
        for p in parts {
            s.push(b'/');
            s.extend_from_slice(p);
        }
        if s.is_empty() {
            s.push(b'/');
        }
        s
    };
    let mut hops = 0usize;
    while let Some(c) = todo.pop_front() {
        match c.as_slice() {
            b"." => continue,
            b".." => {
                done.pop();
                continue;
            }
            _ => {}
        }
        let parent = join(&done);
        done.push(c);
        let here = join(&done);
        if risky(&parent, mounts) || risky(&here, mounts) {
            return None;
        }
        let Ok(cpath) = std::ffi::CString::new(here) else {
            return None;
        };
        if let Some(target) = readlink(&cpath) {
            hops = hops.saturating_add(1);
            if hops > MAX_HOPS {
                return None;
            }
            done.pop();
            if target.starts_with(b"/") {
                done.clear();
            }
            for t in target.split(|&c| c == b'/').filter(|c| !c.is_empty()).rev() {
                todo.push_front(t.to_vec());
            }
        }
    }
    Some(join(&done))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links<'a>(
        table: &'a [(&'a str, &'a str)],
    ) -> impl Fn(&std::ffi::CStr) -> Option<Vec<u8>> + 'a {
        move |p| {
            table
                .iter()
                .find(|(from, _)| from.as_bytes() == p.to_bytes())
                .map(|(_, to)| to.as_bytes().to_vec())
        }
    }

    #[test]
    fn paths_are_normalized_without_the_filesystem() {
        assert_eq!(lexical(b"/a/./b/../c/"), b"/a/c");
        assert_eq!(lexical(b"/../.."), b"/");
        assert_eq!(lexical(b"//a//b"), b"/a/b");
        assert_eq!(lexical(b"/tmp/rel dir/"), b"/tmp/rel dir");
    }

    #[test]
    fn procfs_and_the_root_do_not_hang_here() {
        // This host's / and /proc are local; the hung-FUSE integration
        // tests cover the other side.
        assert!(!may_hang_here(b"/proc/self/status"));
        assert!(!may_hang_here(b"/"));
    }

    #[test]
    fn follows_links_relative_and_absolute() {
        let mounts = vec![(b"/".to_vec(), false)];
        let t = [("/var/run", "/run"), ("/a/b", "../c/d"), ("/loop", "/loop")];
        let r = |p: &str| resolve_with(p.as_bytes(), &mounts, links(&t));
        assert_eq!(
            r("/var/run/docker.sock").as_deref(),
            Some(&b"/run/docker.sock"[..])
        );
        assert_eq!(r("/a/b/e").as_deref(), Some(&b"/c/d/e"[..]));
        assert_eq!(r("/x/./y/../z").as_deref(), Some(&b"/x/z"[..]));
        assert_eq!(r("/").as_deref(), Some(&b"/"[..]));
        assert_eq!(r("/loop/x"), None);
    }

    #[test]
    fn never_looks_into_a_filesystem_that_may_hang() {
        let mounts = vec![
            (b"/".to_vec(), false),
            (b"/mnt/nfs".to_vec(), true),
            (b"/mnt/nfs/local".to_vec(), false),
        ];
        let asked = std::cell::RefCell::new(Vec::new());
        let rl = |p: &std::ffi::CStr| {
            asked.borrow_mut().push(p.to_bytes().to_vec());
            if p.to_bytes() == b"/link" {
                Some(b"/mnt/nfs/x".to_vec())
            } else {
                None
            }
        };
        assert_eq!(resolve_with(b"/mnt/nfs/a", &mounts, rl), None);
        assert_eq!(resolve_with(b"/link/y", &mounts, rl), None);
        assert!(
            asked.borrow().iter().all(|p| !p.starts_with(b"/mnt/nfs")),
            "{:?}",
            asked.borrow()
        );
        assert_eq!(
            resolve_with(b"/mnt/other", &mounts, rl).as_deref(),
            Some(&b"/mnt/other"[..])
        );
    }
}

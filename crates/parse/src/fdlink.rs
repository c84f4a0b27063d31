//! What a `readlink` of `/proc/PID/fd/N` says the fd is.
//!
//! `socket:[INODE]`, `pipe:[INODE]`, `anon_inode:[eventfd]` (or without
//! brackets: `anon_inode:inotify`, `anon_inode:bpf-map`), `/memfd:NAME
//! (deleted)`, or a path, which may end in ` (deleted)` — ambiguous with a
//! file really named so (settle it with the link count).

/// The kind of an fd, from its link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FdLink<'a> {
    /// A socket with this inode.
    Socket(u64),
    /// A pipe (or FIFO opened through pipefs) with this inode.
    Pipe(u64),
    /// An anonymous inode: `eventfd`, `eventpoll`, `inotify`, `timerfd`,
    /// `signalfd`, `pidfd`, `io_uring`, `bpf-map`, `perf_event`, …
    Anon(&'a [u8]),
    /// A memfd with this name.
    Memfd(&'a [u8]),
    /// A path; `deleted_suffix` when it ends in ` (deleted)` (stripped).
    Path {
        /// The path.
        path: &'a [u8],
        /// The link ended in ` (deleted)`.
        deleted_suffix: bool,
    },
    /// Anything else (`net:[…]`, `mnt:[…]` namespace links, future kinds).
    Other(&'a [u8]),
}

fn bracket_ino(rest: &[u8]) -> Option<u64> {
    crate::num::dec_u64(rest.strip_prefix(b"[")?.strip_suffix(b"]")?)
}

/// Classifies a link target.
pub fn classify(link: &[u8]) -> FdLink<'_> {
    if let Some(i) = link.strip_prefix(b"socket:").and_then(bracket_ino) {
        return FdLink::Socket(i);
    }
    if let Some(i) = link.strip_prefix(b"pipe:").and_then(bracket_ino) {
        return FdLink::Pipe(i);
    }
    if let Some(rest) = link.strip_prefix(b"anon_inode:") {
        let name = rest
            .strip_prefix(b"[")
            .and_then(|r| r.strip_suffix(b"]"))
            .unwrap_or(rest);
        return FdLink::Anon(name);
    }
    if let Some(rest) = link.strip_prefix(b"/memfd:") {
        return FdLink::Memfd(rest.strip_suffix(b" (deleted)").unwrap_or(rest));
    }
    if link.starts_with(b"/") {
        return match link.strip_suffix(b" (deleted)") {
            Some(p) => FdLink::Path {
                path: p,
                deleted_suffix: true,
            },
            None => FdLink::Path {
                path: link,
                deleted_suffix: false,
            },
        };
    }
    FdLink::Other(link)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(classify(b"socket:[1571871]"), FdLink::Socket(1571871));
        assert_eq!(classify(b"pipe:[1571865]"), FdLink::Pipe(1571865));
        assert_eq!(classify(b"anon_inode:[eventfd]"), FdLink::Anon(b"eventfd"));
        assert_eq!(classify(b"anon_inode:inotify"), FdLink::Anon(b"inotify"));
        assert_eq!(classify(b"anon_inode:bpf-map"), FdLink::Anon(b"bpf-map"));
        assert_eq!(
            classify(b"/memfd:drillmemfd (deleted)"),
            FdLink::Memfd(b"drillmemfd")
        );
        assert_eq!(
            classify(b"/tmp/x (deleted)"),
            FdLink::Path {
                path: b"/tmp/x",
                deleted_suffix: true
            }
        );
        assert_eq!(
            classify(b"/tmp/with space"),
            FdLink::Path {
                path: b"/tmp/with space",
                deleted_suffix: false
            }
        );
        assert_eq!(classify(b"socket:[x]"), FdLink::Other(b"socket:[x]"));
        assert_eq!(
            classify(b"net:[4026531840]"),
            FdLink::Other(b"net:[4026531840]")
        );
        for s in [
            "epoll",
            "eventfd",
            "file",
            "file_deleted",
            "inotify",
            "memfd",
            "pidfd",
            "pipe",
            "signalfd",
            "tcp",
            "timerfd",
            "unix_listen",
        ] {
            let l = std::fs::read(format!(
                "{}/tests/samples/fdinfo/{s}.link",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap();
            assert!(
                !matches!(classify(l.trim_ascii_end()), FdLink::Other(_)),
                "{s}"
            );
        }
    }
}

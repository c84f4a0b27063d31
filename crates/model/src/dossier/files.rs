//! Open files in brief: how many of each type against the soft limit, and
//! the few that matter most (deleted files, listening sockets).

use super::Source;
use crate::bytes::Bytes;
use crate::fds::{Detail, SocketDesc};
use crate::process::ser_outcome;
use procscope_parse::limits::Resource;
use procscope_read::{Failure, Outcome};
use serde::Serialize;

/// A descriptor worth naming in the dossier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notable {
    /// The fd.
    pub fd: i32,
    /// `deleted` or `listening`.
    pub why: &'static str,
    /// What it is (path, or `tcp 0.0.0.0:80`, or a unix path).
    pub what: Bytes,
}

/// Counts and notable fds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Open fds.
    pub open: usize,
    /// `RLIMIT_NOFILE` soft limit (`None`: unlimited or unreadable).
    pub soft_limit: Option<u64>,
    /// Count per type, largest first.
    pub by_type: Vec<(String, usize)>,
    /// Deleted files and listening sockets.
    pub notable: Vec<Notable>,
}

/// The files section.
#[derive(Debug, Clone, Serialize)]
pub struct Files(#[serde(serialize_with = "ser_outcome")] pub Outcome<Summary>);

/// At most this many notable fds are listed.
pub const NOTABLE: usize = 12;

pub(crate) fn read(src: &Source<'_>, limits: &Outcome<Vec<u8>>) -> Files {
    let soft_limit = super::limits::soft(limits, Resource::Nofile);
    let kernel_thread = src.stat.as_ref().is_ok_and(|s| s.kernel_thread);
    let r = crate::fds::read(src.dir, &[]).map(|fds| {
        let mut counts: Vec<(String, usize)> = Vec::new();
        let mut notable = Vec::new();
        for f in &fds {
            let t = f.detail.type_name();
            match counts.iter_mut().find(|(n, _)| n == t) {
                Some((_, c)) => *c += 1,
                None => counts.push((t.to_string(), 1)),
            }
            if let Some(n) = notable_of(f.fd, &f.detail) {
                notable.push(n);
            }
        }
        counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        notable.truncate(NOTABLE);
        Summary {
            open: fds.len(),
            soft_limit,
            by_type: counts,
            notable,
        }
    });
    Files(match r {
        Err(Failure::Gone) if kernel_thread => Err(Failure::Absent {
            what: "file descriptors (kernel thread)".into(),
        }),
        r => r,
    })
}

fn notable_of(fd: i32, d: &Detail) -> Option<Notable> {
    let (why, what) = match d {
        Detail::File {
            path,
            deleted: true,
            ..
        } => ("deleted", path.clone()),
        Detail::Socket {
            socket:
                Some(SocketDesc::Inet {
                    proto,
                    local,
                    local_port,
                    state: crate::fds::InetState::Listen,
                    ..
                }),
            ..
        } => (
            "listening",
            Bytes(
                format!(
                    "{} {}",
                    proto.name(),
                    crate::fds::addr_port(local, *local_port)
                )
                .into_bytes(),
            ),
        ),
        Detail::Socket {
            socket:
                Some(SocketDesc::Unix {
                    path,
                    state: crate::fds::UnixState::Listening,
                    ..
                }),
            ..
        } => {
            let mut w = b"unix ".to_vec();
            w.extend_from_slice(path.as_ref().map_or(&b"(unnamed)"[..], |p| p.as_slice()));
            ("listening", Bytes(w))
        }
        _ => return None,
    };
    Some(Notable { fd, why, what })
}

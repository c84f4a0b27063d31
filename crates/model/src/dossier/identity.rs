//! Who the process is: parents, session, users and groups, start time.

use super::Source;
use crate::bytes::Bytes;
use crate::process::ser_outcome;
use procscope_read::{Failure, Outcome};
use serde::Serialize;

/// An ID with its name, when one is known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamedId {
    /// Numeric ID.
    pub id: u32,
    /// Name from passwd/group or NSS.
    pub name: Option<Bytes>,
}

/// Real, effective, saved and filesystem IDs with names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdSet {
    /// Real.
    pub real: NamedId,
    /// Effective (what permission checks use).
    pub effective: NamedId,
    /// Saved set-ID.
    pub saved: NamedId,
    /// Filesystem.
    pub filesystem: NamedId,
}

/// One ancestor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ancestor {
    /// Its PID.
    pub pid: i32,
    /// Its name, or why it could not be read.
    #[serde(serialize_with = "ser_outcome")]
    pub comm: Outcome<Bytes>,
}

/// The identity section.
#[derive(Debug, Clone, Serialize)]
pub struct Identity {
    /// Process ID.
    pub pid: i32,
    /// Ancestors, outermost (PID 1 or the namespace's init) first, ending
    /// with the parent.
    #[serde(serialize_with = "ser_outcome")]
    pub parents: Outcome<Vec<Ancestor>>,
    /// Session ID.
    #[serde(serialize_with = "ser_outcome")]
    pub session: Outcome<i32>,
    /// Process group ID.
    #[serde(serialize_with = "ser_outcome")]
    pub pgrp: Outcome<i32>,
    /// Controlling terminal (device number, 0 = none).
    #[serde(serialize_with = "ser_outcome")]
    pub tty_nr: Outcome<i32>,
    /// PIDs in each nested PID namespace, outermost first (`NSpid`).
    #[serde(serialize_with = "ser_outcome")]
    pub ns_pids: Outcome<Vec<i32>>,
    /// User IDs.
    #[serde(serialize_with = "ser_outcome")]
    pub uid: Outcome<IdSet>,
    /// Group IDs.
    #[serde(serialize_with = "ser_outcome")]
    pub gid: Outcome<IdSet>,
    /// Supplementary groups.
    #[serde(serialize_with = "ser_outcome")]
    pub groups: Outcome<Vec<NamedId>>,
    /// The tracing process (`TracerPid`), 0 when not traced.
    #[serde(serialize_with = "ser_outcome")]
    pub tracer_pid: Outcome<i32>,
    /// Start, seconds since the epoch.
    #[serde(serialize_with = "ser_outcome")]
    pub start_time_unix: Outcome<u64>,
    /// Seconds since start.
    #[serde(serialize_with = "ser_outcome")]
    pub elapsed_secs: Outcome<u64>,
}

/// How far up the parent chain to go (a loop cannot happen in a consistent
/// snapshot, but PIDs are reused while we walk).
const MAX_DEPTH: usize = 128;

pub(crate) fn read(src: &Source<'_>) -> Identity {
    let stat = src.stat.as_ref().map_err(Clone::clone);
    let status = src.status();
    let (uids, gids, groups) = match status {
        Ok(s) => (s.uid, s.gid, s.groups.clone()),
        Err(_) => (None, None, None),
    };
    let mut want_u = Vec::new();
    let mut want_g = Vec::new();
    if let Some(u) = uids {
        want_u.extend([u.real, u.effective, u.saved, u.filesystem]);
    }
    if let Some(g) = gids {
        want_g.extend([g.real, g.effective, g.saved, g.filesystem]);
    }
    want_g.extend(groups.iter().flatten().copied());
    let unames = crate::users::resolve(src.root, want_u, src.session);
    let gnames = crate::users::resolve_groups(src.root, want_g, src.session);
    let named = |names: &std::collections::HashMap<u32, Bytes>, id: u32| NamedId {
        id,
        name: names.get(&id).cloned(),
    };
    let set = |ids: procscope_parse::status::Ids, names| IdSet {
        real: named(names, ids.real),
        effective: named(names, ids.effective),
        saved: named(names, ids.saved),
        filesystem: named(names, ids.filesystem),
    };
    Identity {
        pid: src.dir.pid(),
        parents: stat.clone().map(|s| parents(src, s.ppid)),
        session: stat.clone().map(|s| s.session),
        pgrp: stat.clone().map(|s| s.pgrp),
        tty_nr: stat.clone().map(|s| s.tty_nr),
        ns_pids: src.line("NSpid (4.1+)", |s| s.ns_pid.clone()),
        uid: src.line("Uid", |s| s.uid).map(|u| set(u, &unames)),
        gid: src.line("Gid", |s| s.gid).map(|g| set(g, &gnames)),
        groups: src
            .line("Groups", |s| s.groups.clone())
            .map(|v| v.into_iter().map(|g| named(&gnames, g)).collect()),
        tracer_pid: src.line("TracerPid", |s| s.tracer_pid),
        start_time_unix: stat.clone().map(|s| s.start_time_unix),
        elapsed_secs: stat.map(|s| s.elapsed_secs),
    }
}

/// Walks `ppid` links up to PID 0; each ancestor's `stat` is read once.
fn parents(src: &Source<'_>, mut ppid: i32) -> Vec<Ancestor> {
    let mut chain = Vec::new();
    let mut buf = Vec::with_capacity(1024);
    let mut seen = std::collections::HashSet::new();
    seen.insert(src.dir.pid());
    while ppid > 0 && chain.len() < MAX_DEPTH && seen.insert(ppid) {
        let read = src.root.process(ppid).and_then(|d| {
            d.read(c"stat", &mut buf, 64 * 1024)?;
            let s = procscope_parse::stat::Stat::parse(&buf)
                .map_err(|e| Failure::malformed("stat", e))?;
            Ok((Bytes(s.comm.to_vec()), s.ppid))
        });
        match read {
            Ok((comm, next)) => {
                chain.push(Ancestor {
                    pid: ppid,
                    comm: Ok(comm),
                });
                ppid = next;
            }
            Err(f) => {
                chain.push(Ancestor {
                    pid: ppid,
                    comm: Err(f),
                });
                break;
            }
        }
    }
    chain.reverse();
    chain
}

//! A process's relatives: where the other ends of its pipes and sockets
//! nearly always are. Pipes and socketpairs reach other processes by
//! `fork` (a pipeline's commands are siblings under one shell, in one
//! process group and session; a daemon's helpers are its children) and are
//! rarely passed further, so `fds PID` looks among these before it reads
//! every process on the host.

use procscope_read::ProcRoot;
use procscope_read::guard::{Ctx, Session};
use std::collections::{HashMap, HashSet};

/// Longest parent chain followed (PID namespaces nest a few levels; a
/// longer chain is a loop or a race with PID reuse).
const MAX_DEPTH: usize = 64;

/// At most this many relatives are searched: past it, the host-wide scan
/// costs about the same and is complete.
pub const MAX_RELATED: usize = 1024;

/// A session or process group larger than this is not "a job" (PID 1's
/// session holds every daemon that never called `setsid`); it is left out.
const MAX_GROUP: usize = 256;

/// The fields of `stat` that place a process among others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Row {
    pid: i32,
    ppid: i32,
    pgrp: i32,
    session: i32,
}

fn stat_of(root: &ProcRoot, pid: i32, buf: &mut Vec<u8>) -> Option<Row> {
    let dir = root.process(pid).ok()?;
    dir.read(c"stat", buf, 64 * 1024).ok()?;
    let s = procscope_parse::stat::Stat::parse(buf).ok()?;
    Some(Row {
        pid,
        ppid: s.ppid,
        pgrp: s.pgrp,
        session: s.session,
    })
}

/// The parent, grandparent, … of `pid`, up to PID 1 (included), from each
/// one's `stat`: no scan.
pub fn ancestors(root: &ProcRoot, pid: i32) -> Vec<i32> {
    let mut buf = Vec::with_capacity(1024);
    let mut out = Vec::new();
    let mut seen = HashSet::from([pid]);
    let mut next = stat_of(root, pid, &mut buf).map(|s| s.ppid);
    while let Some(p) = next.filter(|p| *p > 0) {
        if out.len() >= MAX_DEPTH || !seen.insert(p) {
            break;
        }
        out.push(p);
        next = stat_of(root, p, &mut buf).map(|s| s.ppid);
    }
    out
}

/// The children of `pid`, from each of its threads' `task/TID/children`
/// (a child belongs to the thread that forked it). `None` when the kernel
/// has no such file (built without `CONFIG_PROC_CHILDREN`) or the process
/// is gone.
pub fn children(root: &ProcRoot, pid: i32) -> Option<Vec<i32>> {
    let dir = root.process(pid).ok()?;
    let mut out = Vec::new();
    let mut buf = Vec::new();
    let mut any = false;
    for tid in dir.tids().ok()? {
        let Ok(name) = std::ffi::CString::new(format!("task/{tid}/children")) else {
            continue;
        };
        if dir
            .read(&name, &mut buf, procscope_read::cap::RECORD)
            .is_ok()
        {
            any = true;
            out.extend(
                procscope_parse::num::words(&buf)
                    .filter_map(procscope_parse::num::dec_i64)
                    .filter_map(|c| i32::try_from(c).ok()),
            );
        }
    }
    any.then_some(out)
}

/// Relatives found by [`related`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Related {
    /// Their PIDs, nearest first, at most [`MAX_RELATED`].
    pub pids: Vec<i32>,
    /// Whether the members of the process group and session are included
    /// (they need a read of every process's `stat`).
    pub groups: bool,
}

/// `pid`'s relatives other than its ancestors, nearest first: its
/// descendants, its siblings and their descendants (unless its parent is
/// PID 1 or 0, whose children are the whole host, or has more than 256
/// children); with `groups`, also the other members of its process group
/// and session (unless either has more than 256 members or is PID 1's).
/// Without `groups`, from the `children` files when the kernel has them:
/// the cost follows the family. Otherwise one read of every process's
/// `stat`, which always gives the groups too.
pub fn related(root: &ProcRoot, session: &Session, pid: i32, groups: bool) -> Related {
    if !groups {
        if let Some(pids) = related_by_children(root, pid) {
            return Related {
                pids,
                groups: false,
            };
        }
    }
    let Ok(pids) = root.pids() else {
        return Related::default();
    };
    let r2 = root.clone();
    let mut rows: Vec<Row> = Vec::with_capacity(pids.len());
    session.run_ordered(
        pids,
        move |p: i32, _ctx: &Ctx<(), Option<Row>>| {
            let mut buf = Vec::with_capacity(512);
            stat_of(&r2, p, &mut buf)
        },
        |_, f| {
            if let Ok(Some(row)) = f.rest {
                rows.push(row);
            }
        },
    );
    Related {
        pids: pick(pid, &rows),
        groups: true,
    }
}

/// [`related`] from the `children` files; `None` without them.
fn related_by_children(root: &ProcRoot, pid: i32) -> Option<Vec<i32>> {
    let mine = children(root, pid)?;
    let mut seen = HashSet::from([pid]);
    let mut out = Vec::new();
    let mut walk = |start: Vec<i32>, out: &mut Vec<i32>| {
        let mut queue: std::collections::VecDeque<i32> = start.into();
        while let Some(p) = queue.pop_front() {
            if out.len() >= MAX_RELATED {
                return;
            }
            if seen.insert(p) {
                out.push(p);
                queue.extend(children(root, p).unwrap_or_default());
            }
        }
    };
    walk(mine, &mut out);
    let mut buf = Vec::new();
    if let Some(ppid) = stat_of(root, pid, &mut buf)
        .map(|r| r.ppid)
        .filter(|p| *p > 1)
    {
        let siblings = children(root, ppid).unwrap_or_default();
        if siblings.len() <= MAX_GROUP {
            walk(siblings, &mut out);
        }
    }
    Some(out)
}

/// [`related`] on already-read rows.
fn pick(pid: i32, rows: &[Row]) -> Vec<i32> {
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    for r in rows {
        children.entry(r.ppid).or_default().push(r.pid);
    }
    let me = rows.iter().find(|r| r.pid == pid).copied();
    let mut out = Vec::new();
    let mut seen = HashSet::from([pid]);
    let mut add = |p: i32, out: &mut Vec<i32>| {
        if out.len() < MAX_RELATED && seen.insert(p) {
            out.push(p);
        }
    };
    // Descendants of `top`, breadth first.
    let subtree = |top: i32| -> Vec<i32> {
        let mut v = Vec::new();
        let mut queue = std::collections::VecDeque::from([top]);
        let mut guard_seen = HashSet::from([top]);
        while let Some(p) = queue.pop_front() {
            for &c in children.get(&p).map(Vec::as_slice).unwrap_or(&[]) {
                if v.len() < MAX_RELATED && guard_seen.insert(c) {
                    v.push(c);
                    queue.push_back(c);
                }
            }
        }
        v
    };
    for p in subtree(pid) {
        add(p, &mut out);
    }
    let Some(me) = me else {
        return out;
    };
    if me.ppid > 1 && children.get(&me.ppid).map_or(0, Vec::len) <= MAX_GROUP {
        for p in subtree(me.ppid) {
            add(p, &mut out);
        }
    }
    for (key, session) in [(me.pgrp, false), (me.session, true)] {
        if key <= 1 {
            continue;
        }
        let members: Vec<i32> = rows
            .iter()
            .filter(|r| if session { r.session } else { r.pgrp } == key)
            .map(|r| r.pid)
            .collect();
        if members.len() <= MAX_GROUP {
            for p in members {
                add(p, &mut out);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(v: &[(i32, (i32, i32, i32))]) -> Vec<Row> {
        v.iter()
            .map(|&(pid, (ppid, pgrp, session))| Row {
                pid,
                ppid,
                pgrp,
                session,
            })
            .collect()
    }

    #[test]
    fn relatives_of_a_pipeline_member() {
        // 1 ─ 100 (sshd, own session) ─ 200 (bash, session 200)
        //        200 ─ 300 (yes, pgrp 300) and 301 (cat, pgrp 300) ─ 400
        //     1 ─ 500 (a daemon, session 500)
        let rows = rows(&[
            (1, (0, 1, 1)),
            (100, (1, 100, 100)),
            (200, (100, 200, 200)),
            (300, (200, 300, 200)),
            (301, (200, 300, 200)),
            (400, (301, 300, 200)),
            (500, (1, 500, 500)),
            (501, (500, 500, 500)),
        ]);
        assert_eq!(pick(300, &rows), vec![301, 400, 200]);
        assert_eq!(pick(301, &rows), vec![400, 300, 200]);
        // A daemon under PID 1: its own tree and session, not PID 1's
        // other children.
        assert_eq!(pick(500, &rows), vec![501]);
        // PID 1's children are not its relatives.
        assert!(pick(100, &rows).iter().all(|p| *p != 500));
        // Unknown PID: nothing.
        assert_eq!(pick(999, &rows), Vec::<i32>::new());
    }

    #[test]
    fn cycles_in_ppid_do_not_loop() {
        let rows = rows(&[(10, (11, 10, 10)), (11, (10, 10, 10))]);
        assert_eq!(pick(10, &rows), vec![11]);
    }

    #[test]
    fn a_huge_session_is_left_out() {
        let mut v: Vec<(i32, (i32, i32, i32))> = (2..2000).map(|p| (p, (1, p, 7))).collect();
        v.push((7, (1, 7, 7)));
        let rows = rows(&v);
        assert!(pick(7, &rows).is_empty());
    }

    #[test]
    fn children_files_give_this_tests_children_and_relatives() {
        let root = ProcRoot::open("/proc").unwrap();
        let mut a = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let mut b = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let me = root.own_pid();
        let (pa, pb) = (a.id() as i32, b.id() as i32);
        let kids = children(&root, me).unwrap();
        assert!(kids.contains(&pa) && kids.contains(&pb), "{kids:?}");
        // a's relatives: its sibling b (both children of this test).
        for groups in [false, true] {
            let rel = related(&root, &Session::default(), pa, groups);
            assert!(rel.pids.contains(&pb), "{rel:?}");
            assert!(!rel.pids.contains(&pa), "{rel:?}");
            assert_eq!(rel.groups, groups);
        }
        let _ = (a.kill(), b.kill(), a.wait(), b.wait());
    }

    #[test]
    fn ancestors_of_this_test_reach_pid_1() {
        let root = ProcRoot::open("/proc").unwrap();
        let a = ancestors(&root, root.own_pid());
        assert_eq!(a.last(), Some(&1), "{a:?}");
        assert_eq!(
            a.first().copied(),
            Some(std::os::unix::process::parent_id() as i32)
        );
    }
}

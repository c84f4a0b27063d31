//! The process forest (`ps f`, `pstree`).

use crate::process::ProcessRow;
use std::collections::{HashMap, HashSet};

/// One line of the forest, in display order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeLine {
    /// Index into the rows given to [`forest`].
    pub index: usize,
    /// For each ancestor level below the root: does that ancestor have
    /// later siblings (so a vertical guide continues)? At most
    /// [`MAX_GUIDES`] levels are kept; `depth` tells the real depth.
    pub guides: Vec<bool>,
    /// Depth below the root (0 for roots).
    pub depth: usize,
    /// True if this is the last child of its parent.
    pub last: bool,
}

/// Guides kept per line: deeper nesting is still ordered correctly but
/// drawn flat, so a hostile chain of nested processes costs linear memory.
pub const MAX_GUIDES: usize = 64;

/// Orders rows as a forest: each root (a row whose parent is not among the
/// rows), then its children depth-first, siblings in the rows' order.
/// PID cycles (possible across PID namespaces or a recycled PID) are cut.
pub fn forest(rows: &[ProcessRow]) -> Vec<TreeLine> {
    let pids: HashMap<i32, usize> = rows.iter().enumerate().map(|(i, r)| (r.pid, i)).collect();
    let mut children: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut roots = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        match r.ppid().and_then(|p| pids.get(&p)).copied() {
            Some(parent) if parent != i => children.entry(parent).or_default().push(i),
            _ => roots.push(i),
        }
    }
    let mut out = Vec::with_capacity(rows.len());
    let mut seen = HashSet::new();
    let n = roots.len();
    for (k, &root) in roots.iter().enumerate() {
        walk(root, k + 1 == n, &children, &mut seen, &mut out);
    }
    // Rows only reachable through a cycle: show them as roots.
    for i in 0..rows.len() {
        if !seen.contains(&i) {
            walk(i, true, &children, &mut seen, &mut out);
        }
    }
    out
}

/// Depth-first walk with an explicit stack: a hostile chain of thousands of
/// nested processes must not overflow the call stack.
fn walk(
    root: usize,
    root_last: bool,
    children: &HashMap<usize, Vec<usize>>,
    seen: &mut HashSet<usize>,
    out: &mut Vec<TreeLine>,
) {
    // (row, guides of its line, last among siblings, depth)
    let mut stack: Vec<(usize, Vec<bool>, bool, usize)> = vec![(root, Vec::new(), root_last, 0)];
    while let Some((i, guides, last, depth)) = stack.pop() {
        if !seen.insert(i) {
            continue;
        }
        let kids = children.get(&i).map(Vec::as_slice).unwrap_or_default();
        let mut child_guides = guides.clone();
        if depth > 0 && child_guides.len() < MAX_GUIDES {
            child_guides.push(!last);
        }
        let n = kids.len();
        // Push in reverse so the first child is visited first.
        for (k, &c) in kids.iter().enumerate().rev() {
            stack.push((c, child_guides.clone(), k + 1 == n, depth + 1));
        }
        out.push(TreeLine {
            index: i,
            guides,
            last,
            depth,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::StatInfo;
    use procscope_parse::stat::TaskState;

    fn row(pid: i32, ppid: i32) -> ProcessRow {
        ProcessRow {
            pid,
            tid: None,
            stat: Ok(StatInfo {
                comm: crate::bytes::Bytes(b"x".to_vec()),
                state: TaskState::Sleeping,
                ppid,
                pgrp: pid,
                session: pid,
                tty_nr: 0,
                threads: 1,
                rss_bytes: 0,
                vsz_bytes: 0,
                cpu_time_ms: 0,
                start_time_unix: 0,
                elapsed_secs: 0,
                nice: 0,
                priority: 20,
                policy: None,
                kernel_thread: false,
                start_ticks: 0,
                leader_exited: false,
                blocked_threads: 0,
            }),
            uid: None,
            user: None,
            cmdline: None,
            handle: None,
        }
    }

    #[test]
    fn order_and_guides() {
        // 1 ─┬─ 2 ─── 4
        //    └─ 3
        let rows = vec![row(1, 0), row(2, 1), row(3, 1), row(4, 2)];
        let f = forest(&rows);
        let order: Vec<i32> = f.iter().map(|l| rows[l.index].pid).collect();
        assert_eq!(order, vec![1, 2, 4, 3]);
        assert_eq!(f[1].guides, Vec::<bool>::new());
        assert!(!f[1].last);
        assert_eq!(f[2].guides, vec![true]);
        assert!(f[2].last);
        assert!(f[3].last);
    }

    #[test]
    fn cycles_and_deep_chains() {
        let rows = vec![row(5, 6), row(6, 5)];
        assert_eq!(forest(&rows).len(), 2);
        let deep: Vec<ProcessRow> = (1..50_000).map(|p| row(p, p - 1)).collect();
        let f = forest(&deep);
        assert_eq!(f.len(), deep.len());
        assert_eq!(f.last().unwrap().index, deep.len() - 1);
        assert_eq!(f.last().unwrap().depth, deep.len() - 1);
        assert!(f.iter().all(|l| l.guides.len() <= MAX_GUIDES));
    }
}

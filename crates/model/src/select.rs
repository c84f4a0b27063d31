//! Choosing processes, the way `pgrep` does: every given criterion must
//! hold (AND); within one criterion any listed value may match (OR).

use crate::process::ProcessRow;
use procscope_parse::stat::TaskState;
use std::collections::{HashMap, HashSet};

/// A process selection.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Regex over comm, or over the full command line with `full`.
    pub pattern: Option<regex::bytes::Regex>,
    /// Match `pattern` against the arguments joined by spaces (`pgrep -f`).
    pub full: bool,
    /// Only these PIDs.
    pub pids: Vec<i32>,
    /// Only these effective UIDs.
    pub uids: Vec<u32>,
    /// Only these state letters.
    pub states: Vec<char>,
    /// Only children of these PIDs.
    pub ppids: Vec<i32>,
    /// Only descendants (children, grandchildren, …) of these PIDs.
    pub descendants_of: Vec<i32>,
    /// Never these PIDs (procscope itself when matching a pattern).
    pub exclude: Vec<i32>,
}

/// Compiles a pattern as `pgrep` would: a regex, anchored with `exact`.
pub fn compile(
    pattern: &str,
    exact: bool,
    ignore_case: bool,
) -> Result<regex::bytes::Regex, regex::Error> {
    let p = if exact {
        format!("^(?:{pattern})$")
    } else {
        pattern.to_owned()
    };
    regex::bytes::RegexBuilder::new(&p)
        .case_insensitive(ignore_case)
        .unicode(true)
        .build()
}

impl Filter {
    /// True if nothing is filtered.
    pub fn is_empty(&self) -> bool {
        self.pattern.is_none()
            && self.pids.is_empty()
            && self.uids.is_empty()
            && self.states.is_empty()
            && self.ppids.is_empty()
            && self.descendants_of.is_empty()
    }

    /// Whether the filter needs command lines read.
    pub fn needs_cmdline(&self) -> bool {
        self.pattern.is_some() && self.full
    }

    /// Whether the filter needs UIDs read.
    pub fn needs_uid(&self) -> bool {
        !self.uids.is_empty()
    }

    /// Keeps the rows that match, in their order.
    pub fn apply(&self, rows: Vec<ProcessRow>) -> Vec<ProcessRow> {
        let desc = descendants(&rows, &self.descendants_of);
        rows.into_iter()
            .filter(|r| self.matches(r, &desc))
            .collect()
    }

    fn matches(&self, r: &ProcessRow, desc: &HashSet<i32>) -> bool {
        if self.exclude.contains(&r.pid) {
            return false;
        }
        if !self.pids.is_empty()
            && !self.pids.contains(&r.pid)
            && !r.tid.is_some_and(|t| self.pids.contains(&t))
        {
            return false;
        }
        if !self.uids.is_empty() {
            let uid = r.uid.as_ref().and_then(|u| u.as_ref().ok());
            if !uid.is_some_and(|u| self.uids.contains(u)) {
                return false;
            }
        }
        if !self.states.is_empty() && !r.state().is_some_and(|s| self.states.contains(&s.letter()))
        {
            return false;
        }
        if !self.ppids.is_empty() && !r.ppid().is_some_and(|p| self.ppids.contains(&p)) {
            return false;
        }
        if !self.descendants_of.is_empty() && !desc.contains(&r.pid) {
            return false;
        }
        if let Some(re) = &self.pattern {
            let comm = r.comm().unwrap_or_default();
            let hit = if self.full {
                // Like pgrep -f: the command line, or comm when there is none
                // (kernel threads, zombies, unreadable).
                match r.cmdline.as_ref().and_then(|c| c.as_ref().ok()) {
                    Some(c) if !c.raw.is_empty() => re.is_match(&c.joined()),
                    _ => re.is_match(comm),
                }
            } else {
                re.is_match(comm)
            };
            if !hit {
                return false;
            }
        }
        true
    }
}

/// All descendants of `roots` among `rows` (not the roots themselves).
pub fn descendants(rows: &[ProcessRow], roots: &[i32]) -> HashSet<i32> {
    let mut out = HashSet::new();
    if roots.is_empty() {
        return out;
    }
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    for r in rows
        .iter()
        .filter(|r| r.tid.is_none() || r.tid == Some(r.pid))
    {
        if let Some(pp) = r.ppid() {
            children.entry(pp).or_default().push(r.pid);
        }
    }
    let mut stack: Vec<i32> = roots.to_vec();
    while let Some(p) = stack.pop() {
        for &c in children.get(&p).map(Vec::as_slice).unwrap_or_default() {
            // `insert` false means a cycle or repeat: don't walk it again.
            if out.insert(c) {
                stack.push(c);
            }
        }
    }
    out
}

/// Parses a state list like `D,Z` or `DZ`.
pub fn parse_states(s: &str) -> Result<Vec<char>, String> {
    let mut out = Vec::new();
    for c in s.chars().filter(|c| *c != ',' && !c.is_whitespace()) {
        let st = TaskState::from_letter(u8::try_from(c).unwrap_or(b'?'));
        if matches!(st, TaskState::Other(_)) {
            return Err(format!("unknown state `{c}` (known: R S D T t Z X I P)"));
        }
        out.push(c);
    }
    Ok(out)
}

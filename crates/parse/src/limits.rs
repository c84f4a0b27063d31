//! `/proc/PID/limits`: resource limits as a table.
//!
//! `proc_pid_limits()` in fs/proc/base.c prints `%-25s %-20s %-20s %-10s`:
//! the limit's name contains spaces, and some rows have no unit. Names are
//! matched against the kernel's table; an unknown name (a future kernel)
//! falls back to the fixed 25-column name field.

use crate::num::{dec_u64, trim, words};
use crate::{ParseError, Result};

/// A soft or hard limit value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitValue {
    /// `unlimited` (RLIM_INFINITY).
    Unlimited,
    /// A number, in the row's unit.
    Value(u64),
}

/// One row of `limits`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit<'a> {
    /// The kernel's name, e.g. `Max open files`.
    pub name: &'a [u8],
    /// The resource, when the name is one the kernel prints today.
    pub resource: Option<Resource>,
    /// Soft limit.
    pub soft: LimitValue,
    /// Hard limit.
    pub hard: LimitValue,
    /// Unit as printed (`seconds`, `bytes`, `files`, …), empty when none.
    pub unit: &'a [u8],
}

/// The resources of `getrlimit(2)`, in the kernel's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Resource {
    Cpu,
    Fsize,
    Data,
    Stack,
    Core,
    Rss,
    Nproc,
    Nofile,
    Memlock,
    As,
    Locks,
    Sigpending,
    Msgqueue,
    Nice,
    Rtprio,
    Rttime,
}

/// The kernel's row names (`lnames[]` in fs/proc/base.c).
pub const NAMES: [(&str, Resource); 16] = [
    ("Max cpu time", Resource::Cpu),
    ("Max file size", Resource::Fsize),
    ("Max data size", Resource::Data),
    ("Max stack size", Resource::Stack),
    ("Max core file size", Resource::Core),
    ("Max resident set", Resource::Rss),
    ("Max processes", Resource::Nproc),
    ("Max open files", Resource::Nofile),
    ("Max locked memory", Resource::Memlock),
    ("Max address space", Resource::As),
    ("Max file locks", Resource::Locks),
    ("Max pending signals", Resource::Sigpending),
    ("Max msgqueue size", Resource::Msgqueue),
    ("Max nice priority", Resource::Nice),
    ("Max realtime priority", Resource::Rtprio),
    ("Max realtime timeout", Resource::Rttime),
];

/// All rows of `limits`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits<'a> {
    /// Rows in the kernel's order.
    pub rows: Vec<Limit<'a>>,
}

impl<'a> Limits<'a> {
    /// Parses `limits` (the header line is skipped).
    pub fn parse(b: &'a [u8]) -> Result<Self> {
        let mut rows = Vec::new();
        for line in b.split(|&c| c == b'\n').skip(1) {
            if trim(line).is_empty() {
                continue;
            }
            let known = NAMES.iter().find(|(n, _)| {
                line.starts_with(n.as_bytes())
                    && line.get(n.len()).is_some_and(|c| c.is_ascii_whitespace())
            });
            let (name, resource, rest) = match known {
                Some((n, r)) => (
                    line.get(..n.len()).unwrap_or_default(),
                    Some(*r),
                    line.get(n.len()..).unwrap_or_default(),
                ),
                None => {
                    let cut = 25.min(line.len());
                    (
                        trim(line.get(..cut).unwrap_or_default()),
                        None,
                        line.get(cut..).unwrap_or_default(),
                    )
                }
            };
            let mut w = words(rest);
            let soft = value(w.next().ok_or(ParseError::Missing("soft limit"))?)?;
            let hard = value(w.next().ok_or(ParseError::Missing("hard limit"))?)?;
            let unit = w.next().unwrap_or_default();
            rows.push(Limit {
                name,
                resource,
                soft,
                hard,
                unit,
            });
        }
        if rows.is_empty() {
            return Err(ParseError::Shape("no limit rows"));
        }
        Ok(Limits { rows })
    }

    /// The row for `r`, if the kernel printed it.
    pub fn get(&self, r: Resource) -> Option<&Limit<'a>> {
        self.rows.iter().find(|l| l.resource == Some(r))
    }
}

fn value(b: &[u8]) -> Result<LimitValue> {
    if b == b"unlimited" {
        return Ok(LimitValue::Unlimited);
    }
    dec_u64(b)
        .map(LimitValue::Value)
        .ok_or_else(|| ParseError::invalid("limit", b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &[u8] =
        b"Limit                     Soft Limit           Hard Limit           Units     \n\
Max cpu time              unlimited            unlimited            seconds   \n\
Max file size             unlimited            unlimited            bytes     \n\
Max processes             96365                96365                processes \n\
Max open files            1024                 524288               files     \n\
Max nice priority         0                    0                    \n\
Max realtime timeout      unlimited            unlimited            us        \n";

    #[test]
    fn parses_rows() {
        let l = Limits::parse(SAMPLE).unwrap();
        assert_eq!(l.rows.len(), 6);
        let nofile = l.get(Resource::Nofile).unwrap();
        assert_eq!(nofile.soft, LimitValue::Value(1024));
        assert_eq!(nofile.hard, LimitValue::Value(524288));
        assert_eq!(nofile.unit, b"files");
        let nice = l.get(Resource::Nice).unwrap();
        assert_eq!(nice.unit, b"");
        assert_eq!(l.get(Resource::Cpu).unwrap().soft, LimitValue::Unlimited);
        assert_eq!(l.get(Resource::Rttime).unwrap().unit, b"us");
    }

    #[test]
    fn unknown_row_and_errors() {
        let b = b"Limit hdr\nMax future thing          5                    6                    widgets\n";
        let l = Limits::parse(b).unwrap();
        assert_eq!(l.rows[0].name, b"Max future thing");
        assert_eq!(l.rows[0].resource, None);
        assert_eq!(l.rows[0].hard, LimitValue::Value(6));
        assert!(Limits::parse(b"Limit\nMax open files x y\n").is_err());
        assert!(Limits::parse(b"Limit\n").is_err());
    }
}

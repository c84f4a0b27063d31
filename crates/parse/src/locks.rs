//! `/proc/locks` and fdinfo `lock:` lines (fs/locks.c `lock_get_status()`).
//!
//! `ID: TYPE MODE ACCESS PID MAJ:MIN:INODE START END`, where a waiter's row
//! repeats the ID of the lock it waits for and has `->` after the colon.
//! TYPE is FLOCK, POSIX, OFDLCK, LEASE…; END is a number or `EOF`.

use crate::num::{dec_i64, dec_u64, hex_u64, words};

/// One lock or waiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lock<'a> {
    /// The lock's ID; a waiter has the ID of the lock it is blocked on.
    pub id: u64,
    /// True for a task waiting for lock `id`.
    pub waiter: bool,
    /// `FLOCK`, `POSIX`, `OFDLCK`, `LEASE`, `DELEG`…
    pub kind: &'a [u8],
    /// `ADVISORY` or `MANDATORY`.
    pub mode: &'a [u8],
    /// `READ`, `WRITE`, …
    pub access: &'a [u8],
    /// Holder (or waiter) PID; -1 for OFD locks without an owner PID.
    pub pid: i64,
    /// Device major, minor and inode of the locked file.
    pub dev_ino: (u64, u64, u64),
    /// First byte.
    pub start: u64,
    /// Last byte, `None` for EOF.
    pub end: Option<u64>,
}

/// Parses one line (`lock:` lines of fdinfo have the same format).
pub fn parse_line(line: &[u8]) -> Option<Lock<'_>> {
    let mut w = words(line);
    let id = dec_u64(w.next()?.strip_suffix(b":")?)?;
    let mut kind = w.next()?;
    let waiter = kind == b"->";
    if waiter {
        kind = w.next()?;
    }
    let mode = w.next()?;
    let access = w.next()?;
    let pid = dec_i64(w.next()?)?;
    let mut di = w.next()?.split(|&c| c == b':');
    let dev_ino = (
        hex_u64(di.next()?)?,
        hex_u64(di.next()?)?,
        dec_u64(di.next()?)?,
    );
    let start = dec_u64(w.next()?)?;
    let end = match w.next()? {
        b"EOF" => None,
        e => Some(dec_u64(e)?),
    };
    Some(Lock {
        id,
        waiter,
        kind,
        mode,
        access,
        pid,
        dev_ino,
        start,
        end,
    })
}

/// Parses `/proc/locks`; malformed lines are skipped.
pub fn parse(b: &[u8]) -> Vec<Lock<'_>> {
    b.split(|&c| c == b'\n').filter_map(parse_line).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_with_waiters() {
        let l = parse(include_bytes!("../tests/samples/locks.txt"));
        assert_eq!(l.len(), 5);
        assert_eq!(
            (l[0].kind, l[0].pid, l[0].dev_ino, l[0].end),
            (&b"FLOCK"[..], 3862, (0xfe, 0, 10059965), None)
        );
        assert_eq!(
            (l[1].kind, l[1].start, l[1].end, l[1].waiter),
            (&b"POSIX"[..], 0, Some(99), false)
        );
        assert_eq!((l[2].id, l[2].waiter, l[2].pid), (2, true, 4011));
        assert_eq!((l[4].id, l[4].waiter, l[4].pid), (3, true, 4001));
        assert!(parse_line(b"garbage").is_none());
    }
}

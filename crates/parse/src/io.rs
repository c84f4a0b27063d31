//! `/proc/PID/io`: I/O counters (`man 5 proc`, "io").

use crate::num::{dec_u64, trim};
use crate::status::fields;
use crate::{ParseError, Result};

/// The counters of `io`. Each is optional: kernels without
/// `CONFIG_TASK_IO_ACCOUNTING` give fewer lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Io {
    /// `rchar`: bytes read through any read-like syscall.
    pub rchar: Option<u64>,
    /// `wchar`: bytes written through any write-like syscall.
    pub wchar: Option<u64>,
    /// `syscr`: read-like syscalls.
    pub syscr: Option<u64>,
    /// `syscw`: write-like syscalls.
    pub syscw: Option<u64>,
    /// `read_bytes`: bytes fetched from storage.
    pub read_bytes: Option<u64>,
    /// `write_bytes`: bytes sent to storage.
    pub write_bytes: Option<u64>,
    /// `cancelled_write_bytes`: dirtied bytes that were truncated before writeback.
    pub cancelled_write_bytes: Option<u64>,
}

impl Io {
    /// Parses `io`.
    pub fn parse(b: &[u8]) -> Result<Self> {
        let mut io = Io::default();
        let mut any = false;
        for (k, v) in fields(b) {
            let slot = match k {
                b"rchar" => &mut io.rchar,
                b"wchar" => &mut io.wchar,
                b"syscr" => &mut io.syscr,
                b"syscw" => &mut io.syscw,
                b"read_bytes" => &mut io.read_bytes,
                b"write_bytes" => &mut io.write_bytes,
                b"cancelled_write_bytes" => &mut io.cancelled_write_bytes,
                _ => continue,
            };
            *slot = Some(dec_u64(trim(v)).ok_or_else(|| ParseError::invalid("io value", v))?);
            any = true;
        }
        if any {
            Ok(io)
        } else {
            Err(ParseError::Shape("no io counters"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        let b = b"rchar: 2012\nwchar: 0\nsyscr: 7\nsyscw: 0\nread_bytes: 4096\nwrite_bytes: 0\ncancelled_write_bytes: 0\n";
        let io = Io::parse(b).unwrap();
        assert_eq!(io.rchar, Some(2012));
        assert_eq!(io.syscr, Some(7));
        assert_eq!(io.read_bytes, Some(4096));
        assert!(Io::parse(b"rchar: x\n").is_err());
        assert!(Io::parse(b"").is_err());
    }
}

//! `/proc/PID/statm`: memory sizes in pages.

use crate::num::{dec_u64, words};
use crate::{ParseError, Result};

/// The seven page counts of `statm` (`lib` and `dt` are always 0 since 2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Statm {
    /// Total program size (VSZ), pages.
    pub size: u64,
    /// Resident set size, pages.
    pub resident: u64,
    /// Resident shared pages (file-backed and shmem).
    pub shared: u64,
    /// Text (code), pages.
    pub text: u64,
    /// Data plus stack, pages.
    pub data: u64,
}

impl Statm {
    /// Parses `statm`.
    pub fn parse(b: &[u8]) -> Result<Self> {
        let mut w = words(b);
        let mut next = |name: &'static str| -> Result<u64> {
            let v = w.next().ok_or(ParseError::Missing(name))?;
            dec_u64(v).ok_or_else(|| ParseError::invalid(name, v))
        };
        let size = next("size")?;
        let resident = next("resident")?;
        let shared = next("shared")?;
        let text = next("text")?;
        let _lib = next("lib")?;
        let data = next("data")?;
        Ok(Statm {
            size,
            resident,
            shared,
            text,
            data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        let s = Statm::parse(b"643 319 271 4 0 51 0\n").unwrap();
        assert_eq!(
            (s.size, s.resident, s.shared, s.text, s.data),
            (643, 319, 271, 4, 51)
        );
        assert_eq!(Statm::parse(b"1 2"), Err(ParseError::Missing("shared")));
    }
}

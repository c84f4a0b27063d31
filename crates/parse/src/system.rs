//! System-wide files a process listing needs: `/proc/stat` (`btime`) and
//! `/proc/uptime`.

use crate::num::{dec_u64, words};
use crate::{ParseError, Result};

/// Boot time in seconds since the epoch, from `/proc/stat`'s `btime` line.
pub fn boot_time(stat: &[u8]) -> Result<u64> {
    for line in stat.split(|&c| c == b'\n') {
        if let Some(v) = line.strip_prefix(b"btime ") {
            let v = crate::num::trim(v);
            return dec_u64(v).ok_or_else(|| ParseError::invalid("btime", v));
        }
    }
    Err(ParseError::Missing("btime"))
}

/// Seconds since boot as (whole seconds, hundredths), from `/proc/uptime`.
pub fn uptime(b: &[u8]) -> Result<(u64, u64)> {
    let first = words(b).next().ok_or(ParseError::Missing("uptime"))?;
    let (s, frac) = match first.iter().position(|&c| c == b'.') {
        Some(i) => (
            first.get(..i).unwrap_or_default(),
            first.get(i + 1..).unwrap_or_default(),
        ),
        None => (first, &b""[..]),
    };
    let secs = dec_u64(s).ok_or_else(|| ParseError::invalid("uptime", first))?;
    let hundredths = if frac.is_empty() {
        0
    } else {
        let f = frac.get(..2).unwrap_or(frac);
        let v = dec_u64(f).ok_or_else(|| ParseError::invalid("uptime", first))?;
        if f.len() == 1 { v * 10 } else { v }
    };
    Ok((secs, hundredths))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn btime_and_uptime() {
        assert_eq!(
            boot_time(b"cpu  1 2 3\nintr 5\nbtime 1764250000\nprocesses 9\n"),
            Ok(1764250000)
        );
        assert!(boot_time(b"cpu 1\n").is_err());
        assert_eq!(uptime(b"3061.57 6000.10\n"), Ok((3061, 57)));
        assert_eq!(uptime(b"12.5 1.0\n"), Ok((12, 50)));
        assert_eq!(uptime(b"12 1\n"), Ok((12, 0)));
        assert!(uptime(b"x.1 2").is_err());
    }
}

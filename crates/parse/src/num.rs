//! Number and field helpers shared by the parsers. All are checked: overflow
//! and stray bytes are errors, never wrap-arounds or panics.

/// Parses an unsigned decimal number (`0`–`9` only, no sign, no spaces).
pub fn dec_u64(b: &[u8]) -> Option<u64> {
    if b.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &c in b {
        let d = c.checked_sub(b'0').filter(|d| *d < 10)?;
        v = v.checked_mul(10)?.checked_add(u64::from(d))?;
    }
    Some(v)
}

/// Parses a signed decimal number with an optional leading `-` or `+`.
pub fn dec_i64(b: &[u8]) -> Option<i64> {
    match b.split_first() {
        Some((b'-', rest)) => {
            let m = dec_u64(rest)?;
            // -(2^63) is representable although 2^63 is not.
            if m == 1u64 << 63 {
                Some(i64::MIN)
            } else {
                i64::try_from(m).ok().map(|v| -v)
            }
        }
        Some((b'+', rest)) => i64::try_from(dec_u64(rest)?).ok(),
        _ => i64::try_from(dec_u64(b)?).ok(),
    }
}

/// Parses a hexadecimal number, with or without a `0x` prefix.
pub fn hex_u64(b: &[u8]) -> Option<u64> {
    let b = b
        .strip_prefix(b"0x")
        .or_else(|| b.strip_prefix(b"0X"))
        .unwrap_or(b);
    if b.is_empty() || b.len() > 16 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in b {
        let d = (c as char).to_digit(16)?;
        v = (v << 4) | u64::from(d);
    }
    Some(v)
}

/// Parses an octal number (as in fdinfo's `flags:`).
pub fn oct_u64(b: &[u8]) -> Option<u64> {
    if b.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &c in b {
        let d = c.checked_sub(b'0').filter(|d| *d < 8)?;
        v = v.checked_mul(8)?.checked_add(u64::from(d))?;
    }
    Some(v)
}

/// Trims ASCII whitespace from both ends.
pub fn trim(b: &[u8]) -> &[u8] {
    b.trim_ascii()
}

/// Splits `line` at the first occurrence of `sep`: `(before, after)`.
pub fn split_once(line: &[u8], sep: u8) -> Option<(&[u8], &[u8])> {
    let i = line.iter().position(|&c| c == sep)?;
    Some((line.get(..i)?, line.get(i + 1..)?))
}

/// Iterates over the whitespace-separated words of `b`.
pub fn words(b: &[u8]) -> impl Iterator<Item = &[u8]> {
    b.split(|c| c.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
}

/// Parses a `NNN kB` value (as in `status`) into bytes.
pub fn kb_to_bytes(b: &[u8]) -> Option<u64> {
    let mut w = words(b);
    let n = dec_u64(w.next()?)?;
    match w.next() {
        Some(b"kB") | None => n.checked_mul(1024),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal() {
        assert_eq!(dec_u64(b"0"), Some(0));
        assert_eq!(dec_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(dec_u64(b"18446744073709551616"), None);
        assert_eq!(dec_u64(b""), None);
        assert_eq!(dec_u64(b"1 "), None);
        assert_eq!(dec_i64(b"-1"), Some(-1));
        assert_eq!(dec_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(dec_i64(b"9223372036854775808"), None);
        assert_eq!(dec_i64(b"-"), None);
    }

    #[test]
    fn hex_and_octal() {
        assert_eq!(hex_u64(b"0x1f"), Some(31));
        assert_eq!(hex_u64(b"000001fffeffffff"), Some(0x1fffeffffff));
        assert_eq!(hex_u64(b"ffffffffffffffff"), Some(u64::MAX));
        assert_eq!(hex_u64(b"1ffffffffffffffff"), None);
        assert_eq!(hex_u64(b"0x"), None);
        assert_eq!(oct_u64(b"02100002"), Some(0o2100002));
        assert_eq!(oct_u64(b"8"), None);
    }

    #[test]
    fn kilobytes() {
        assert_eq!(kb_to_bytes(b"    2608 kB"), Some(2608 * 1024));
        assert_eq!(kb_to_bytes(b"12"), Some(12 * 1024));
        assert_eq!(kb_to_bytes(b"12 MB"), None);
    }
}

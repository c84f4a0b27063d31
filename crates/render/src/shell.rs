//! Quoting bytes for bash, so that any argument or value survives exactly.
//!
//! - Only safe characters (`A-Z a-z 0-9 _ @ % + = : , . / -`): as is.
//! - Printable UTF-8 without `'`: in single quotes, where bash changes nothing.
//! - Anything else: ANSI-C quoting `$'…'`, with `\xNN` for every byte that is
//!   not printable ASCII, and `\\` `\'` escaped. (`$'\xNN'` inserts the byte
//!   itself, so invalid UTF-8 survives too.)
//!
//! The empty string is `''`. The output never holds a raw control byte.

/// Quotes `b` as one bash word.
pub fn quote(b: &[u8]) -> String {
    if b.is_empty() {
        return "''".into();
    }
    let safe = |c: u8| c.is_ascii_alphanumeric() || b"_@%+=:,./-".contains(&c);
    if b.iter().all(|&c| safe(c)) {
        return String::from_utf8_lossy(b).into_owned();
    }
    if let Ok(s) = std::str::from_utf8(b) {
        if !s.contains('\'') && !s.chars().any(crate::escape::is_dangerous) {
            return format!("'{s}'");
        }
    }
    let mut out = String::with_capacity(b.len() + 4);
    out.push_str("$'");
    for &c in b {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'\'' => out.push_str("\\'"),
            0x20..=0x7e => out.push(char::from(c)),
            _ => out.push_str(&format!("\\x{c:02x}")),
        }
    }
    out.push('\'');
    out
}

/// True if `b` can be a shell variable name (`export NAME=…`).
pub fn is_name(b: &[u8]) -> bool {
    matches!(b.first(), Some(c) if c.is_ascii_alphabetic() || *c == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote(b""), "''");
        assert_eq!(quote(b"/usr/bin/ls"), "/usr/bin/ls");
        assert_eq!(quote(b"two words"), "'two words'");
        assert_eq!(quote(b"it's"), "$'it\\'s'");
        assert_eq!(quote(b"a\nb"), "$'a\\x0ab'");
        assert_eq!(quote(b"\xff\xfe"), "$'\\xff\\xfe'");
        // Single quotes keep $, backquotes and backslashes literal.
        assert_eq!(quote(b"$HOME `x` \\"), "'$HOME `x` \\'");
        assert_eq!(quote("ünï".as_bytes()), "'ünï'");
        assert_eq!(quote("x\u{202e}y".as_bytes()), "$'x\\xe2\\x80\\xaey'");
        assert!(is_name(b"_A1"));
        assert!(!is_name(b"1A"));
        assert!(!is_name(b"A-B"));
        assert!(!is_name(b""));
    }
}

//! Escaping untrusted bytes for a terminal.
//!
//! Anything chosen by whoever started a process (comm, argv, environment,
//! paths) can carry terminal escape sequences, C1 controls (`\u{9b}` is CSI
//! on some terminals), bidi overrides that reorder what is shown, and invalid
//! UTF-8. The rules, applied to every such value before it is printed:
//!
//! | input | shown as |
//! |---|---|
//! | `\` | `\\` (so every escape below is unambiguous) |
//! | tab, newline, carriage return, ESC | `\t` `\n` `\r` `\e` |
//! | other C0 controls and DEL | `\xNN` |
//! | C1 controls U+0080–U+009F | `\u{NN}` |
//! | bidi controls, zero-width and line/paragraph separators | `\u{NNNN}` |
//! | a byte that is not part of valid UTF-8 | `\xNN` |
//!
//! Everything else (printable text in any script) is kept.

use std::borrow::Cow;

/// True for characters that must not reach a terminal as themselves.
pub fn is_dangerous(c: char) -> bool {
    let u = u32::from(c);
    c.is_control()
        || (0x80..=0x9f).contains(&u)
        || matches!(
            u,
            0x061c | 0x200b..=0x200f | 0x2028..=0x202e | 0x2060..=0x2069 | 0xfeff | 0xfff9..=0xfffb
        )
}

/// Escapes bytes for a terminal; borrows when nothing needs escaping.
pub fn escape(b: &[u8]) -> Cow<'_, str> {
    if let Ok(s) = std::str::from_utf8(b) {
        if !s.chars().any(|c| c == '\\' || is_dangerous(c)) {
            return Cow::Borrowed(s);
        }
    }
    let mut out = String::with_capacity(b.len() + 8);
    push_escaped(&mut out, b);
    Cow::Owned(out)
}

/// Appends the escaped form of `b` to `out`.
pub fn push_escaped(out: &mut String, mut b: &[u8]) {
    use std::fmt::Write;
    while !b.is_empty() {
        let (valid, rest) = match std::str::from_utf8(b) {
            Ok(s) => (s, &[][..]),
            Err(e) => {
                let (v, r) = b.split_at(e.valid_up_to());
                // SAFETY-free: `v` is valid by construction of valid_up_to.
                (std::str::from_utf8(v).unwrap_or_default(), r)
            }
        };
        for c in valid.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\t' => out.push_str("\\t"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\x1b' => out.push_str("\\e"),
                c if u32::from(c) < 0x80 && is_dangerous(c) => {
                    let _ = write!(out, "\\x{:02x}", u32::from(c));
                }
                c if is_dangerous(c) => {
                    let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
                }
                c => out.push(c),
            }
        }
        match rest.split_first() {
            Some((bad, tail)) if valid.len() < b.len() => {
                let _ = write!(out, "\\x{bad:02x}");
                b = tail;
            }
            _ => b = rest,
        }
    }
}

/// Escapes one argument for display in a command line: like [`escape`],
/// and an empty argument shows as `''` so it is not invisible.
pub fn escape_arg(b: &[u8]) -> Cow<'_, str> {
    if b.is_empty() {
        Cow::Borrowed("''")
    } else {
        escape(b)
    }
}

/// Display width of already-escaped text (wide CJK counts 2).
pub fn width(s: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(s)
}

/// Cuts `s` to at most `max` display columns, ending with `…` when cut.
pub fn truncate(s: &str, max: usize) -> Cow<'_, str> {
    if width(s) <= max {
        return Cow::Borrowed(s);
    }
    if max == 0 {
        return Cow::Borrowed("");
    }
    let mut out = String::new();
    let mut w = 0usize;
    for c in s.chars() {
        let cw = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if w + cw > max - 1 {
            break;
        }
        out.push(c);
        w += cw;
    }
    out.push('…');
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn escapes() {
        assert_eq!(escape(b"plain text"), "plain text");
        assert!(matches!(escape(b"plain"), Cow::Borrowed(_)));
        assert_eq!(escape(b"a\nb"), "a\\nb");
        assert_eq!(escape(b"\x1b[31mRED"), "\\e[31mRED");
        assert_eq!(escape(b"back\\slash"), "back\\\\slash");
        assert_eq!(escape(b"\x00\x07\x7f"), "\\x00\\x07\\x7f");
        assert_eq!(escape(b"\xff\xfeok"), "\\xff\\xfeok");
        assert_eq!(escape("\u{9b}31m".as_bytes()), "\\u{9b}31m");
        assert_eq!(
            escape("evil\u{202e}txt.exe".as_bytes()),
            "evil\\u{202e}txt.exe"
        );
        assert_eq!(escape("zero\u{200b}width".as_bytes()), "zero\\u{200b}width");
        assert_eq!(escape("日本語 ünïcode".as_bytes()), "日本語 ünïcode");
        // A truncated UTF-8 sequence at the end (comm cut at 15 bytes).
        assert_eq!(escape(b"abc\xe6\x97"), "abc\\xe6\\x97");
        assert_eq!(escape_arg(b""), "''");
    }

    #[test]
    fn truncation() {
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("日本語", 4), "日…");
        assert_eq!(width("日本"), 4);
    }

    proptest! {
        #[test]
        fn output_never_holds_a_control_character(b in proptest::collection::vec(any::<u8>(), 0..256)) {
            let e = escape(&b);
            prop_assert!(!e.chars().any(is_dangerous), "{e:?}");
        }

        #[test]
        fn escaping_is_injective_on_utf8_text(a in ".{0,20}", b in ".{0,20}") {
            if a != b {
                prop_assert_ne!(escape(a.as_bytes()), escape(b.as_bytes()));
            }
        }
    }
}

//! Shell-style globs (`*`, `?`) over bytes, for environment names.

/// Matches `pat` against `s` exactly; `*` is any run, `?` any one byte.
pub fn glob_match(pat: &[u8], s: &[u8]) -> bool {
    matches(pat, s, false)
}

/// Like [`glob_match`], ignoring ASCII case.
pub fn glob_match_ci(pat: &[u8], s: &[u8]) -> bool {
    matches(pat, s, true)
}

fn matches(pat: &[u8], s: &[u8], ci: bool) -> bool {
    // Iterative matcher with one backtrack point: linear for the patterns
    // people write, never recursive.
    let eq = |a: u8, b: u8| {
        if ci {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    let (mut p, mut i) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        match pat.get(p) {
            Some(b'*') => {
                star = Some((p, i));
                p += 1;
            }
            Some(&c) if c == b'?' || s.get(i).is_some_and(|&x| eq(c, x)) => {
                p += 1;
                i += 1;
            }
            _ => match star {
                Some((sp, si)) => {
                    p = sp + 1;
                    i = si + 1;
                    star = Some((sp, si + 1));
                }
                None => return false,
            },
        }
    }
    pat.get(p..).unwrap_or_default().iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match(b"LC_*", b"LC_ALL"));
        assert!(!glob_match(b"LC_*", b"LANG"));
        assert!(glob_match(b"*", b""));
        assert!(glob_match(b"A?C", b"ABC"));
        assert!(glob_match(b"*_KEY", b"AWS_KEY"));
        assert!(!glob_match(b"*_KEY", b"AWS_KEYS"));
        assert!(glob_match_ci(b"*token*", b"GH_TOKEN"));
        assert!(glob_match(b"*a*b*c", b"xxaxxbxxc"));
        assert!(!glob_match(b"*a*b*c", b"xxaxxbxx"));
        assert!(glob_match(b"PATH", b"PATH"));
    }
}

//! Masking secrets in environments and command lines.
//!
//! A value is masked when its key matches one of the key patterns
//! (case-insensitive globs, [`DEFAULT_KEYS`] plus any the user adds), and
//! the password of a URL with credentials (`scheme://user:PASSWORD@host`) is
//! masked in every value, as is the credential after an HTTP
//! authorization scheme (`Bearer TOKEN`, `Basic …`, `Token …`: a header
//! given to curl). A masked value keeps its key and says how long it
//! was, by class: `<redacted: 1-7 bytes>`, `8-31`, `32-127`, `128+`.
//! The same rules serve every output that offers `--redact`.

use crate::glob::glob_match_ci;

/// Key patterns that are masked by default.
pub const DEFAULT_KEYS: &[&str] = &[
    "*TOKEN*",
    "*SECRET*",
    "*PASSWORD*",
    "*PASSWD*",
    "*PASSPHRASE*",
    "*_PASS",
    "PASS",
    "*_PWD",
    "*_KEY",
    "*_KEY_*",
    "*APIKEY*",
    "*API_KEY*",
    "*PRIVATE*",
    "*CREDENTIAL*",
    "*SESSION*",
    "*COOKIE*",
    "AUTH*",
    "*_AUTH",
    "*SIGNATURE*",
];

/// The redaction rules in force.
#[derive(Debug, Clone)]
pub struct Redactor {
    keys: Vec<String>,
}

impl Default for Redactor {
    fn default() -> Self {
        Redactor {
            keys: DEFAULT_KEYS.iter().map(|s| (*s).to_owned()).collect(),
        }
    }
}

impl Redactor {
    /// The default rules plus `extra` key globs.
    pub fn with_keys(extra: &[String]) -> Self {
        let mut r = Redactor::default();
        r.keys.extend(extra.iter().cloned());
        r
    }

    /// True if values under `key` are secret.
    pub fn secret_key(&self, key: &[u8]) -> bool {
        self.keys.iter().any(|g| glob_match_ci(g.as_bytes(), key))
    }

    /// The value to show for `key=value`: masked entirely, with URL
    /// passwords masked, or unchanged.
    pub fn value(&self, key: &[u8], value: &[u8]) -> Vec<u8> {
        if self.secret_key(key) {
            return mask(value.len());
        }
        mask_credentials(value)
    }
}

impl Redactor {
    /// A command line with its secrets masked, argument by argument:
    /// `--key=value`, `-key=value` and `KEY=value` mask the value when the
    /// key is secret; `--key value` masks the next argument; URL passwords
    /// are masked everywhere. Arguments are never dropped, merged or
    /// reordered.
    pub fn argv<'a>(&self, args: impl IntoIterator<Item = &'a [u8]>) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut mask_next = false;
        for a in args {
            if std::mem::take(&mut mask_next) {
                out.push(mask(a.len()));
                continue;
            }
            let flag = a.strip_prefix(b"--").or_else(|| a.strip_prefix(b"-"));
            // `KEY=value` has a key without spaces: a header or a sentence
            // with an `=` in it (`Authorization: Basic dXM6cA==`) is not one.
            let (key, value) = match a.iter().position(|&c| c == b'=') {
                Some(i) if !a.get(..i).unwrap_or_default().contains(&b' ') => {
                    (a.get(..i).unwrap_or_default(), a.get(i + 1..))
                }
                _ => (a, None),
            };
            let bare_key = key
                .strip_prefix(b"--")
                .or_else(|| key.strip_prefix(b"-"))
                .unwrap_or(key);
            // Flags spell words with dashes where variables use
            // underscores: --api-key is API_KEY.
            let norm: Vec<u8> = bare_key
                .iter()
                .map(|&c| if c == b'-' { b'_' } else { c })
                .collect();
            match value {
                Some(v) if self.secret_key(&norm) => {
                    let mut m = key.to_vec();
                    m.push(b'=');
                    m.extend(mask(v.len()));
                    out.push(m);
                }
                None if flag.is_some() && self.secret_key(&norm) => {
                    mask_next = true;
                    out.push(a.to_vec());
                }
                _ => out.push(mask_credentials(a)),
            }
        }
        out
    }
}

/// The mask for a value of `len` bytes.
pub fn mask(len: usize) -> Vec<u8> {
    let class = match len {
        0 => "empty",
        1..=7 => "1-7 bytes",
        8..=31 => "8-31 bytes",
        32..=127 => "32-127 bytes",
        _ => "128+ bytes",
    };
    format!("<redacted: {class}>").into_bytes()
}

/// URL passwords and HTTP authorization credentials of `v`, masked.
pub fn mask_credentials(v: &[u8]) -> Vec<u8> {
    mask_auth_schemes(&mask_url_passwords(v))
}

/// Masks the credential after every `Bearer `, `Basic ` or `Token `
/// (any case, at the start or after a space, `:` or `=`): up to the next
/// space, quote or the end.
fn mask_auth_schemes(v: &[u8]) -> Vec<u8> {
    const SCHEMES: [&[u8]; 3] = [b"bearer ", b"basic ", b"token "];
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while i < v.len() {
        let starts = i == 0 || matches!(v.get(i - 1), Some(b' ' | b':' | b'=' | b'"' | b'\''));
        let scheme = starts
            .then(|| {
                SCHEMES.iter().find(|s| {
                    v.get(i..i + s.len())
                        .is_some_and(|w| w.eq_ignore_ascii_case(s))
                })
            })
            .flatten();
        match scheme {
            Some(s) => {
                let from = i + s.len();
                let len = v
                    .get(from..)
                    .unwrap_or_default()
                    .iter()
                    .position(|&c| matches!(c, b' ' | b'"' | b'\'' | b'\n'))
                    .unwrap_or(v.len().saturating_sub(from));
                out.extend_from_slice(v.get(i..from).unwrap_or_default());
                if len > 0 {
                    out.extend_from_slice(&mask(len));
                }
                i = from + len;
            }
            None => {
                if let Some(&c) = v.get(i) {
                    out.push(c);
                }
                i += 1;
            }
        }
    }
    out
}

/// Masks the password in every `scheme://user:password@` of `v`.
pub fn mask_url_passwords(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len());
    let mut rest = v;
    while let Some(i) = find(rest, b"://") {
        let (head, tail) = rest.split_at(i + 3);
        out.extend_from_slice(head);
        // userinfo ends at the first '@' before any '/', '?', '#' or space.
        let end = tail
            .iter()
            .position(|&c| matches!(c, b'/' | b'?' | b'#' | b' ' | b'\n'))
            .unwrap_or(tail.len());
        let authority = tail.get(..end).unwrap_or_default();
        match (
            authority.iter().rposition(|&c| c == b'@'),
            authority.iter().position(|&c| c == b':'),
        ) {
            (Some(at), Some(colon)) if colon < at => {
                out.extend_from_slice(tail.get(..=colon).unwrap_or_default());
                out.extend_from_slice(&mask(at - colon - 1));
                rest = tail.get(at..).unwrap_or_default();
            }
            _ => rest = tail,
        }
    }
    out.extend_from_slice(rest);
    out
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_credentials_and_pass_keys_are_masked() {
        let r = Redactor::default();
        let args: [&[u8]; 5] = [
            b"curl",
            b"-H",
            b"Authorization: Bearer abc.def-123",
            b"authorization: basic dXNlcjpwdw==",
            b"MYAPP_PASS=pw",
        ];
        let got = r.argv(args);
        assert_eq!(
            got[2],
            b"Authorization: Bearer <redacted: 8-31 bytes>".to_vec()
        );
        assert_eq!(
            got[3],
            b"authorization: basic <redacted: 8-31 bytes>".to_vec()
        );
        assert_eq!(got[4], b"MYAPP_PASS=<redacted: 1-7 bytes>".to_vec());
        // Words that merely contain a scheme's letters are left alone, and
        // so is a scheme with nothing after it.
        assert_eq!(
            mask_credentials(b"subtoken x, Bearer"),
            b"subtoken x, Bearer".to_vec()
        );
        assert_eq!(r.value(b"OLDPWD", b"/home/x"), b"/home/x".to_vec());
        assert_eq!(
            r.value(b"DB_PWD", b"s3cret"),
            b"<redacted: 1-7 bytes>".to_vec()
        );
        assert_eq!(
            r.value(b"HDR", b"Token t0k3n"),
            b"Token <redacted: 1-7 bytes>".to_vec()
        );
    }

    #[test]
    fn argv_masks_secrets_in_place() {
        let r = Redactor::default();
        let args: [&[u8]; 8] = [
            b"app",
            b"--password=hunter2",
            b"--api-key",
            b"abcdefghij",
            b"DB_TOKEN=xyz",
            b"--port=80",
            b"postgres://u:pw@db/x",
            b"-v",
        ];
        let got = r.argv(args);
        let want: Vec<&[u8]> = vec![
            b"app",
            b"--password=<redacted: 1-7 bytes>",
            b"--api-key",
            b"<redacted: 8-31 bytes>",
            b"DB_TOKEN=<redacted: 1-7 bytes>",
            b"--port=80",
            b"postgres://u:<redacted: 1-7 bytes>@db/x",
            b"-v",
        ];
        assert_eq!(got, want.iter().map(|v| v.to_vec()).collect::<Vec<_>>());
        // A secret flag last: nothing to mask, nothing dropped.
        assert_eq!(r.argv([&b"--token"[..]]), vec![b"--token".to_vec()]);
    }

    #[test]
    fn keys_and_urls() {
        let r = Redactor::default();
        assert!(r.secret_key(b"API_TOKEN"));
        assert!(r.secret_key(b"db_password"));
        assert!(r.secret_key(b"AWS_SECRET_ACCESS_KEY"));
        assert!(r.secret_key(b"AUTHORIZATION"));
        assert!(!r.secret_key(b"PATH"));
        assert!(!r.secret_key(b"KEYBOARD"));
        assert_eq!(r.value(b"API_TOKEN", b"tok-123"), b"<redacted: 1-7 bytes>");
        assert_eq!(
            r.value(b"DATABASE_URL", b"postgres://user:hunter2@db/x"),
            b"postgres://user:<redacted: 1-7 bytes>@db/x"
        );
        assert_eq!(
            r.value(b"URL", b"https://host/a:b@c"),
            b"https://host/a:b@c"
        );
        assert_eq!(r.value(b"URL", b"http://u@h"), b"http://u@h");
        assert_eq!(
            r.value(b"X", b"a://u:p@h b://v:qq@i"),
            b"a://u:<redacted: 1-7 bytes>@h b://v:<redacted: 1-7 bytes>@i"
        );
        let r = Redactor::with_keys(&["MY_*".into()]);
        assert!(r.secret_key(b"my_thing"));
    }
}

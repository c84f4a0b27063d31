//! Quoting bytes for bash, so that any argument or value survives exactly.
//!
//! - Only safe characters (`A-Z a-z 0-9 _ @ + : , . / -`): as is. Not `=`:
//!   a bare `X=1` in command position is an assignment, and the next word
//!   would become the command; not `%`: a bare `%1` is a job.
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
    let safe = |c: u8| c.is_ascii_alphanumeric() || b"_@+:,./-".contains(&c);
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

/// Why exporting the variable `key` into an interactive shell (sourcing
/// `env --export` output) would run code or programs the variable's
/// owner chose, if it would: shells execute some variables (prompts,
/// startup files, `IFS` word splitting), the dynamic loader and common
/// tools load or run what others name, and a foreign `PATH` decides which
/// program every later command word runs.
pub fn runs_code(key: &[u8]) -> Option<&'static str> {
    const SHELL: &[&[u8]] = &[
        b"PROMPT_COMMAND",
        b"PS0",
        b"PS1",
        b"PS2",
        b"PS3",
        b"PS4",
        b"BASH_ENV",
        b"ENV",
        b"SHELLOPTS",
        b"BASHOPTS",
        b"IFS",
        b"CDPATH",
        b"GLOBIGNORE",
        b"HISTFILE",
        b"HISTTIMEFORMAT",
        b"MAIL",
        b"MAILPATH",
        b"MAILCHECK",
        b"INPUTRC",
        b"BASH_XTRACEFD",
        b"BASH_LOADABLES_PATH",
        b"EXECIGNORE",
        b"TMOUT",
        b"ZDOTDIR",
    ];
    const TOOLS: &[&[u8]] = &[
        b"PAGER",
        b"MANPAGER",
        b"EDITOR",
        b"VISUAL",
        b"BROWSER",
        b"LESSOPEN",
        b"LESSCLOSE",
        b"SSH_ASKPASS",
        b"SUDO_ASKPASS",
        b"GIT_SSH",
        b"GIT_SSH_COMMAND",
        b"GIT_PAGER",
        b"GIT_EDITOR",
        b"GIT_EXTERNAL_DIFF",
        b"GIT_ASKPASS",
        b"GIT_CONFIG",
        b"GIT_CONFIG_GLOBAL",
        b"GIT_EXEC_PATH",
        b"PERL5OPT",
        b"PERL5LIB",
        b"PERLLIB",
        b"PYTHONSTARTUP",
        b"PYTHONPATH",
        b"PYTHONHOME",
        b"RUBYOPT",
        b"RUBYLIB",
        b"NODE_OPTIONS",
        b"NODE_PATH",
        b"GCONV_PATH",
        b"GLIBC_TUNABLES",
        b"HOSTALIASES",
        b"LOCPATH",
        b"NLSPATH",
        b"TERMINFO",
        b"TERMINFO_DIRS",
        b"XDG_CONFIG_HOME",
        b"HOME",
        b"FCEDIT",
        b"SUDO_EDITOR",
        b"VIMINIT",
        b"EXINIT",
        b"MYVIMRC",
        b"JAVA_TOOL_OPTIONS",
        b"_JAVA_OPTIONS",
        b"JDK_JAVA_OPTIONS",
        b"CLASSPATH",
        b"KUBECONFIG",
        b"DOCKER_HOST",
        b"DOCKER_CONFIG",
        b"SSL_CERT_FILE",
        b"SSL_CERT_DIR",
        b"CURL_CA_BUNDLE",
        b"REQUESTS_CA_BUNDLE",
        b"NODE_EXTRA_CA_CERTS",
        b"http_proxy",
        b"https_proxy",
        b"HTTP_PROXY",
        b"HTTPS_PROXY",
        b"ALL_PROXY",
        b"all_proxy",
        b"RUSTC",
        b"RUSTC_WRAPPER",
        b"RUSTDOC",
        b"CC",
        b"CXX",
        b"MAKEFLAGS",
        b"TMPDIR",
        b"POSIXLY_CORRECT",
    ];
    // Whole families whose members name programs, modules, config files
    // or code to load.
    const FAMILIES: &[&[u8]] = &[
        b"GIT_",
        b"PYTHON",
        b"PERL",
        b"RUBY",
        b"GEM_",
        b"BUNDLE_",
        b"NODE_",
        b"NPM_CONFIG_",
        b"npm_config_",
        b"PIP_",
        b"CARGO_",
        b"RUSTUP_",
        b"GOFLAGS",
        b"GOPROXY",
        b"OPENSSL_",
        b"XDG_",
        b"BASH_COMPLETION",
        b"AWS_",
        b"GCONV_",
        b"MALLOC_",
        b"GLIBC_",
        b"LESS",
        b"MANPATH",
        b"SYSTEMD_",
        b"DBUS_",
        b"GNUPG",
        b"GPG_",
        b"SSH_",
        b"KRB5",
    ];
    if SHELL.contains(&key) {
        Some("the shell runs or obeys it")
    } else if key.starts_with(b"BASH_FUNC_") {
        Some("an exported shell function")
    } else if key == b"PATH" {
        Some("it chooses the program every later command runs")
    } else if key.starts_with(b"LD_") {
        Some("the dynamic loader loads what it names into every program")
    } else if TOOLS.contains(&key) || FAMILIES.iter().any(|f| key.starts_with(f)) {
        Some("common tools run or load what it names")
    } else {
        None
    }
}

/// Variables bash will not let a script assign (read-only, or special
/// there): assigning one stops a POSIX-mode shell in the middle of
/// sourcing, so the exports after it would silently not happen.
pub fn readonly_in_bash(key: &[u8]) -> bool {
    matches!(
        key,
        b"BASHOPTS"
            | b"BASH_VERSINFO"
            | b"EUID"
            | b"PPID"
            | b"SHELLOPTS"
            | b"UID"
            | b"BASHPID"
            | b"BASH_ARGC"
            | b"BASH_ARGV"
            | b"BASH_LINENO"
            | b"BASH_SOURCE"
            | b"FUNCNAME"
            | b"GROUPS"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote(b""), "''");
        assert_eq!(quote(b"/usr/bin/ls"), "/usr/bin/ls");
        // Never an assignment or a job spec in command position.
        assert_eq!(quote(b"X=1"), "'X=1'");
        assert_eq!(quote(b"%1"), "'%1'");
        assert_eq!(
            runs_code(b"PROMPT_COMMAND"),
            Some("the shell runs or obeys it")
        );
        assert!(runs_code(b"BASH_FUNC_ls%%").is_some());
        assert!(runs_code(b"LD_PRELOAD").is_some());
        assert_eq!(runs_code(b"LANG"), None);
        for k in [
            &b"GIT_CONFIG_COUNT"[..],
            b"PYTHONUSERBASE",
            b"OPENSSL_CONF",
            b"XDG_DATA_DIRS",
            b"JAVA_TOOL_OPTIONS",
            b"POSIXLY_CORRECT",
        ] {
            assert!(runs_code(k).is_some(), "{}", String::from_utf8_lossy(k));
        }
        assert!(readonly_in_bash(b"UID"));
        assert!(!readonly_in_bash(b"USER"));
        assert_eq!(runs_code(b"PS1X"), None);
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

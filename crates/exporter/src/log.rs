//! Log lines on stderr, in logfmt (the Prometheus ecosystem's default) or
//! JSON, one line per event.

use std::io::Write;

/// The line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `ts=… level=info msg="…" key=value`.
    Logfmt,
    /// `{"ts":"…","level":"info","msg":"…","key":"value"}`.
    Json,
}

/// Writes log lines.
#[derive(Debug, Clone, Copy)]
pub struct Logger {
    format: Format,
}

impl Logger {
    /// A logger writing `format` to stderr.
    pub fn new(format: Format) -> Self {
        Logger { format }
    }

    /// An informational line.
    pub fn info(&self, msg: &str, kv: &[(&str, &str)]) {
        self.line("info", msg, kv);
    }

    /// A warning.
    pub fn warn(&self, msg: &str, kv: &[(&str, &str)]) {
        self.line("warn", msg, kv);
    }

    /// An error.
    pub fn error(&self, msg: &str, kv: &[(&str, &str)]) {
        self.line("error", msg, kv);
    }

    fn line(&self, level: &str, msg: &str, kv: &[(&str, &str)]) {
        let ts = now_rfc3339();
        let s = match self.format {
            Format::Json => {
                let mut m = serde_json::Map::new();
                m.insert("ts".into(), ts.into());
                m.insert("level".into(), level.into());
                m.insert("msg".into(), msg.into());
                for (k, v) in kv {
                    m.insert((*k).into(), (*v).into());
                }
                serde_json::Value::Object(m).to_string()
            }
            Format::Logfmt => {
                let mut s = format!("ts={ts} level={level} msg={}", logfmt_value(msg));
                for (k, v) in kv {
                    s.push(' ');
                    s.push_str(k);
                    s.push('=');
                    s.push_str(&logfmt_value(v));
                }
                s
            }
        };
        // A closed stderr must not stop the exporter.
        let _ = writeln!(std::io::stderr().lock(), "{s}");
    }
}

/// A logfmt value: bare when it has no space, quote, `=` or control
/// character; quoted with Go-style escapes otherwise.
pub fn logfmt_value(v: &str) -> String {
    let plain = !v.is_empty()
        && v.chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && c != '"' && c != '=' && c != '\\');
    if plain {
        return v.to_owned();
    }
    let mut s = String::with_capacity(v.len() + 2);
    s.push('"');
    for c in v.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\t' => s.push_str("\\t"),
            c if c.is_control() => s.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

/// Now, UTC, as RFC 3339 with milliseconds.
fn now_rfc3339() -> String {
    let now = jiff::Timestamp::now();
    now.round(jiff::Unit::Millisecond)
        .unwrap_or(now)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logfmt_quoting() {
        assert_eq!(logfmt_value("plain"), "plain");
        assert_eq!(logfmt_value("two words"), "\"two words\"");
        assert_eq!(logfmt_value("a\"b\nc"), "\"a\\\"b\\nc\"");
        assert_eq!(logfmt_value("k=v"), "\"k=v\"");
        assert_eq!(logfmt_value(""), "\"\"");
        assert_eq!(logfmt_value("\x1b[31m"), "\"\\u001b[31m\"");
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let t = now_rfc3339();
        assert!(t.ends_with('Z') && t.len() >= 20, "{t}");
        assert!(t.parse::<jiff::Timestamp>().is_ok(), "{t}");
    }
}

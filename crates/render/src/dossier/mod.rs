//! The human layout of `procscope show` and its focused subcommands: one
//! titled block per section, `key  value` lines, tables indented under them.
//! A field that could not be read says why (`? denied: …`) in its place.
//!
//! The layout is built as a [`Doc`] ([`page`], or section by section with a
//! [`Page`]): the terminal writer prints it, a TUI draws it.

mod missing;
mod process;
mod system;

pub use missing::missing_summary;

use crate::doc::{Doc, Line, Style, Table};
use crate::escape::escape;
use crate::units::size;
use procscope_model::dossier::identity::{IdSet, NamedId};
use procscope_model::dossier::{Dossier, Section};
use procscope_model::{Failure, Outcome};

/// Width of the key column.
const KEY: usize = 14;

/// Where keys start: under the section heading, indented.
const FIELD_INDENT: usize = 2;

/// Where tables start: under the key that names them, indented further.
const TABLE_INDENT: usize = 4;

/// Arguments shown before the command line is cut (with a hint to `cmdline`).
pub const CMDLINE_CHARS: usize = 200;

/// The whole text of `procscope show` (or a focused command) for these
/// processes: each process's title and `sections`, a blank line between
/// processes, and for a single process the hints (`→ every fd decoded:
/// procscope fds 1234`) at the end.
pub fn page(found: &[Dossier], sections: &[Section]) -> Doc {
    let mut doc = Doc::new();
    let mut hints = Vec::new();
    for (i, d) in found.iter().enumerate() {
        if i > 0 {
            doc.blank();
        }
        let mut page = Page::new();
        page.title(d);
        for s in sections {
            page.section(d, *s);
        }
        hints.append(&mut page.hints);
        doc.append(page.into_doc());
    }
    // With several processes a hint would name only one of them.
    if found.len() == 1 {
        for h in &hints {
            doc.line(0, Line::styled(format!("→ {h}"), Style::Dim));
        }
    }
    doc
}

/// Builds the sections of a dossier into a document.
#[derive(Debug, Default)]
pub struct Page {
    doc: Doc,
    /// Hints collected while building (shown once at the end by the caller).
    pub hints: Vec<String>,
}

/// The text for a failed field.
pub fn reason(f: &Failure) -> String {
    format!("? {f}")
}

fn named(n: &NamedId) -> String {
    match &n.name {
        Some(name) => format!("{} ({})", escape(name.as_slice()), n.id),
        None => n.id.to_string(),
    }
}

fn ids(s: &IdSet) -> String {
    let r = &s.real;
    if [&s.effective, &s.saved, &s.filesystem]
        .iter()
        .all(|x| x.id == r.id)
    {
        format!("{} (real = effective = saved = fs)", named(r))
    } else {
        format!(
            "real {}, effective {}, saved {}, fs {}",
            named(r),
            named(&s.effective),
            named(&s.saved),
            named(&s.filesystem)
        )
    }
}

fn opt_size(v: Option<u64>) -> String {
    v.map_or_else(|| "?".into(), size)
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return String::new();
    }
    let p = u128::from(part) * 100 / u128::from(whole);
    format!("{p}%")
}

impl Page {
    /// An empty page.
    pub fn new() -> Self {
        Page::default()
    }

    /// The document built so far.
    pub fn doc(&self) -> &Doc {
        &self.doc
    }

    /// The document, for printing or drawing.
    pub fn into_doc(self) -> Doc {
        self.doc
    }

    fn heading(&mut self, name: &str) {
        self.doc.heading(name);
    }

    fn field(&mut self, key: &str, value: &str) {
        self.doc.field(FIELD_INDENT, KEY, key, value);
    }

    fn styled(&mut self, key: &str, value: &str, style: Style) {
        self.doc
            .field(FIELD_INDENT, KEY, key, Line::styled(value, style));
    }

    /// A field from an outcome: the value's text, or the reason as a warning.
    fn outcome<T>(&mut self, key: &str, v: &Outcome<T>, f: impl FnOnce(&T) -> String) {
        match v {
            Ok(x) => {
                let t = f(x);
                self.field(key, &t);
            }
            Err(e) => self.styled(key, &reason(e), Style::Warn),
        }
    }

    fn table(&mut self, t: Table) {
        self.doc.table(TABLE_INDENT, t);
    }

    /// Adds the title line of a process.
    pub fn title(&mut self, d: &Dossier) {
        let name = match &d.comm {
            Ok(c) => format!(" ({})", escape(c.as_slice())),
            Err(_) => String::new(),
        };
        self.doc.heading(format!("PID {}{name}", d.pid));
    }

    /// Adds every section present in `d`, in order.
    pub fn dossier(&mut self, d: &Dossier) {
        for s in Section::ALL {
            self.section(d, s);
        }
    }

    /// Adds one section if `d` has it.
    pub fn section(&mut self, d: &Dossier, s: Section) {
        match s {
            Section::Identity => d.identity.as_ref().map(|x| self.identity(x)),
            Section::Program => d.program.as_ref().map(|x| self.program(d.pid, x)),
            Section::State => d.state.as_ref().map(|x| self.state(x)),
            Section::Memory => d.memory.as_ref().map(|x| self.memory(x)),
            Section::Files => d.files.as_ref().map(|x| self.files(d.pid, x)),
            Section::Io => d.io.as_ref().map(|x| self.io(x)),
            Section::Limits => d.limits.as_ref().map(|x| self.limits(x)),
            Section::Security => d.security.as_ref().map(|x| self.security(x)),
            Section::Signals => d.signals.as_ref().map(|x| self.signals(x)),
            Section::Namespaces => d.namespaces.as_ref().map(|x| self.namespaces(x)),
            Section::Cgroup => d.cgroup.as_ref().map(|x| self.cgroup(x)),
            Section::Maps => d.maps.as_ref().map(|x| self.maps(x)),
            Section::Mounts => d.mounts.as_ref().map(|x| self.mounts(x)),
        };
    }
}

/// Signal names, or `all except …` when most are in the set (kernel
/// threads ignore every signal).
fn signal_list(v: &[String]) -> String {
    if v.is_empty() {
        return "none".into();
    }
    let all = procscope_parse::decode::signals(u64::MAX);
    let missing: Vec<&String> = all.iter().filter(|s| !v.contains(s)).collect();
    if missing.is_empty() {
        "all".into()
    } else if missing.len() * 4 < all.len() {
        let m: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
        format!("all except {}", m.join(" "))
    } else {
        v.join(" ")
    }
}

/// `PID 1`, or `procscope` when the comparison fell back to itself.
fn reference_name(pid: i32) -> String {
    if pid == 1 {
        "PID 1".into()
    } else {
        format!("procscope (PID {pid})")
    }
}

fn limit_value(v: u64, unit: &str) -> String {
    if unit == "bytes" {
        size(v)
    } else {
        v.to_string()
    }
}

/// `2d 3h`, `4h 05m`, `12m 30s`, `45s`.
pub fn human_secs(s: u64) -> String {
    let (d, h, m, sec) = (s / 86_400, (s / 3600) % 24, (s / 60) % 60, s % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m:02}m")
    } else if m > 0 {
        format!("{m}m {sec:02}s")
    } else {
        format!("{sec}s")
    }
}

fn human_ms(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{}.{:02}s", ms / 1000, (ms % 1000) / 10)
    } else {
        human_secs(ms / 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(human_secs(45), "45s");
        assert_eq!(human_secs(750), "12m 30s");
        assert_eq!(human_secs(4 * 3600 + 300), "4h 05m");
        assert_eq!(human_secs(2 * 86_400 + 3 * 3600), "2d 3h");
        assert_eq!(human_ms(1234), "1.23s");
        assert_eq!(percent(812, 1024), "79%");
        assert_eq!(percent(1, 0), "");
        assert_eq!(signal_list(&[]), "none");
        assert_eq!(
            signal_list(&procscope_parse::decode::signals(u64::MAX)),
            "all"
        );
        assert_eq!(
            signal_list(&procscope_parse::decode::signals(!(1 << 8))),
            "all except SIGKILL"
        );
        assert_eq!(signal_list(&["SIGINT".into()]), "SIGINT");
    }
}

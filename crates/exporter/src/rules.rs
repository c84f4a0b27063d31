//! Grouping rules: which group each process counts in.
//!
//! The config file takes process-exporter's `process_names` schema, so its
//! users can bring their configs along — a list of rules, the first that
//! matches wins; within a rule every matcher given must match:
//!
//! ```yaml
//! process_names:
//!   - name: "{{.Comm}}"
//!     comm: [nginx, postgres]
//!   - name: "java:{{.Matches.app}}"
//!     cmdline: ['-jar\s+(?P<app>\S+)\.jar']
//!   - name: "{{.Unit}}"
//!     unit: ['.+\.service']
//! max_groups: 500
//! ```
//!
//! Matchers: `comm` (exact names), `exe` (a full path, or a base name when
//! the pattern has no `/`), `cmdline` (regexes on the argument string,
//! named captures become `.Matches.NAME`), and procscope's `user`,
//! `cgroup` (regexes on the cgroup path), `unit` (systemd unit regexes) and
//! `container` (any process in a container). Templates: `.Comm`,
//! `.ExeBase`, `.ExeFull`, `.Username`, `.PID`, `.StartTime`,
//! `.Matches.NAME`, `.Cgroups`, `.Unit`, `.Container`, `.Pod`.
//!
//! Command lines reach a group name only through a rule's template, and
//! then with secrets masked by `env --redact`'s rules.

use procscope_model::collect::Proc;
use procscope_model::redact::Redactor;
use regex::bytes::Regex;
use serde::Deserialize;
use std::collections::BTreeMap;

/// What can be wrong with a config file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Not YAML of the expected shape.
    #[error("{0}")]
    Yaml(String),
    /// A regex that does not compile.
    #[error("rule {rule}: invalid {field} regex `{pattern}`: {err}")]
    Regex {
        /// Rule index, from 1.
        rule: usize,
        /// `cmdline`, `cgroup`, `unit` or `user`.
        field: &'static str,
        /// The pattern.
        pattern: String,
        /// Why.
        err: String,
    },
    /// A rule with nothing to match on, or a template that names nothing.
    #[error("rule {rule}: {what}")]
    Rule {
        /// Rule index, from 1.
        rule: usize,
        /// What is wrong.
        what: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    process_names: Vec<RuleSpec>,
    #[serde(default)]
    max_groups: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    comm: Vec<String>,
    #[serde(default)]
    exe: Vec<String>,
    #[serde(default)]
    cmdline: Vec<String>,
    #[serde(default)]
    user: Vec<String>,
    #[serde(default)]
    cgroup: Vec<String>,
    #[serde(default)]
    unit: Vec<String>,
    #[serde(default)]
    container: Option<bool>,
}

/// One compiled rule.
#[derive(Debug)]
struct Rule {
    name: Template,
    comm: Vec<Vec<u8>>,
    exe: Vec<Vec<u8>>,
    cmdline: Vec<Regex>,
    user: Vec<Regex>,
    cgroup: Vec<Regex>,
    unit: Vec<Regex>,
    container: Option<bool>,
}

/// A name template: literal text and `{{.Field}}` placeholders.
#[derive(Debug, Clone)]
struct Template(Vec<Piece>);

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Field(Field),
}

#[derive(Debug, Clone, PartialEq)]
enum Field {
    Comm,
    ExeBase,
    ExeFull,
    Username,
    Pid,
    StartTime,
    Matches(String),
    Cgroups,
    Unit,
    Container,
    Pod,
}

impl Template {
    fn parse(s: &str) -> Result<Template, String> {
        let mut out = Vec::new();
        let mut rest = s;
        while let Some(i) = rest.find("{{") {
            let (text, tail) = rest.split_at(i);
            if !text.is_empty() {
                out.push(Piece::Text(text.to_owned()));
            }
            let tail = tail.get(2..).unwrap_or_default();
            let end = tail
                .find("}}")
                .ok_or_else(|| format!("unclosed `{{{{` in template `{s}`"))?;
            let inner = tail.get(..end).unwrap_or_default().trim();
            let field = match inner {
                ".Comm" => Field::Comm,
                ".ExeBase" => Field::ExeBase,
                ".ExeFull" => Field::ExeFull,
                ".Username" => Field::Username,
                ".PID" => Field::Pid,
                ".StartTime" => Field::StartTime,
                ".Cgroups" => Field::Cgroups,
                ".Unit" => Field::Unit,
                ".Container" => Field::Container,
                ".Pod" => Field::Pod,
                m if m.starts_with(".Matches.") => {
                    Field::Matches(m.trim_start_matches(".Matches.").to_owned())
                }
                other => return Err(format!("unknown template field `{other}` in `{s}`")),
            };
            out.push(Piece::Field(field));
            rest = tail.get(end + 2..).unwrap_or_default();
        }
        if !rest.is_empty() {
            out.push(Piece::Text(rest.to_owned()));
        }
        Ok(Template(out))
    }
}

/// How processes are grouped.
#[derive(Debug)]
pub struct Rules {
    rules: Vec<Rule>,
    /// At most this many groups (the rest fold into `other`).
    pub max_groups: usize,
    redactor: Redactor,
}

/// What a process's group is named after, for people reading the labels.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupName(pub String);

/// The name of the group that holds what is past the cardinality cap.
pub const OTHER: &str = "other";

/// Default cap on groups.
pub const DEFAULT_MAX_GROUPS: usize = 500;

impl Default for Rules {
    fn default() -> Self {
        Rules {
            rules: Vec::new(),
            max_groups: DEFAULT_MAX_GROUPS,
            redactor: Redactor::default(),
        }
    }
}

/// What a process offers a rule and a template.
pub struct Facts<'a> {
    /// The process.
    pub proc: &'a Proc,
    /// Its user's name, when known.
    pub user: Option<&'a [u8]>,
}

/// Bytes as label text: UTF-8 as it is, each invalid byte as `\xNN`, so
/// two different names never merge into one label value.
pub fn text(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    for chunk in b.utf8_chunks() {
        out.push_str(chunk.valid());
        for byte in chunk.invalid() {
            out.push_str(&format!("\\x{byte:02x}"));
        }
    }
    out
}

/// A process name as a group name. The names the default grouping gives
/// itself (`kernel`, `other`, `*.service`, `pod:…`, `docker:…`) cannot be
/// taken by a process that calls itself so: such a name is prefixed with
/// `comm:` (and so is any name with a `:`, so the prefix stays unique).
fn comm_group(comm: &[u8]) -> String {
    let t = text(comm);
    if t == "kernel" || t == OTHER || t.contains(':') || t.ends_with(".service") {
        format!("comm:{t}")
    } else {
        t
    }
}

impl Rules {
    /// Parses a config file's text.
    pub fn parse(yaml: &str) -> Result<Rules, ConfigError> {
        let f: File =
            serde_yaml_ng::from_str(yaml).map_err(|e| ConfigError::Yaml(e.to_string()))?;
        let mut rules = Vec::new();
        for (i, r) in f.process_names.into_iter().enumerate() {
            let n = i + 1;
            let re = |field: &'static str, pats: &[String]| -> Result<Vec<Regex>, ConfigError> {
                pats.iter()
                    .map(|p| {
                        Regex::new(p).map_err(|e| ConfigError::Regex {
                            rule: n,
                            field,
                            pattern: p.clone(),
                            err: e.to_string(),
                        })
                    })
                    .collect()
            };
            // Anchored like process-exporter's users expect of user names.
            let users: Vec<String> = r.user.iter().map(|u| format!("^(?:{u})$")).collect();
            let rule = Rule {
                name: Template::parse(r.name.as_deref().unwrap_or("{{.Comm}}"))
                    .map_err(|what| ConfigError::Rule { rule: n, what })?,
                comm: r.comm.iter().map(|c| c.as_bytes().to_vec()).collect(),
                exe: r.exe.iter().map(|c| c.as_bytes().to_vec()).collect(),
                cmdline: re("cmdline", &r.cmdline)?,
                user: re("user", &users)?,
                cgroup: re("cgroup", &r.cgroup)?,
                unit: re("unit", &r.unit)?,
                container: r.container,
            };
            if rule.comm.is_empty()
                && rule.exe.is_empty()
                && rule.cmdline.is_empty()
                && rule.user.is_empty()
                && rule.cgroup.is_empty()
                && rule.unit.is_empty()
                && rule.container.is_none()
            {
                return Err(ConfigError::Rule {
                    rule: n,
                    what:
                        "matches nothing: give comm, exe, cmdline, user, cgroup, unit or container"
                            .into(),
                });
            }
            rules.push(rule);
        }
        Ok(Rules {
            rules,
            max_groups: f.max_groups.unwrap_or(DEFAULT_MAX_GROUPS).max(2),
            redactor: Redactor::default(),
        })
    }

    /// Whether the config has rules (without, every process is grouped by
    /// the default: container, unit, or name).
    pub fn has_rules(&self) -> bool {
        !self.rules.is_empty()
    }

    /// The group of a process: the first rule that matches names it;
    /// without rules, or when none matches, the default grouping (a
    /// process no rule matches is not dropped — process-exporter drops it,
    /// which hides the process that is eating the host).
    pub fn group_of(&self, f: &Facts<'_>) -> String {
        for r in &self.rules {
            if let Some(name) = self.apply(r, f) {
                return name;
            }
        }
        default_group(f.proc)
    }

    fn apply(&self, r: &Rule, f: &Facts<'_>) -> Option<String> {
        let p = f.proc;
        if !r.comm.is_empty() && !r.comm.contains(&p.comm.0) {
            return None;
        }
        let exe = p.exe.as_ref().map(|e| e.0.as_slice());
        if !r.exe.is_empty() {
            let e = exe?;
            let base = e.rsplit(|&c| c == b'/').next().unwrap_or(e);
            let hit = r.exe.iter().any(|pat| {
                if pat.contains(&b'/') {
                    pat.as_slice() == e
                } else {
                    pat.as_slice() == base
                }
            });
            if !hit {
                return None;
            }
        }
        let cg = p
            .cgroup
            .as_ref()
            .map(|c| c.0.as_slice())
            .unwrap_or_default();
        let rec = procscope_parse::container::recognise(cg);
        if let Some(want) = r.container {
            if want != rec.container_id.is_some() {
                return None;
            }
        }
        if !r.cgroup.is_empty() && !r.cgroup.iter().any(|re| re.is_match(cg)) {
            return None;
        }
        if !r.unit.is_empty() {
            let u = rec.unit.as_deref()?;
            if !r.unit.iter().any(|re| re.is_match(u.as_bytes())) {
                return None;
            }
        }
        if !r.user.is_empty() {
            let u = f.user?;
            if !r.user.iter().any(|re| re.is_match(u)) {
                return None;
            }
        }
        // The command line as one string of arguments joined by spaces
        // (process-exporter matches the same), secrets masked first.
        let args: Vec<Vec<u8>> = match &p.cmdline {
            Some(c) => self
                .redactor
                .argv(procscope_parse::cmdline::Cmdline::parse(&c.0).args()),
            None => Vec::new(),
        };
        let line = args.join(&b' ');
        let mut matches: BTreeMap<String, String> = BTreeMap::new();
        for re in &r.cmdline {
            let caps = re.captures(&line)?;
            for name in re.capture_names().flatten() {
                if let Some(m) = caps.name(name) {
                    matches.insert(name.to_owned(), text(m.as_bytes()));
                }
            }
        }
        let mut out = String::new();
        for piece in &r.name.0 {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Field(field) => out.push_str(&match field {
                    Field::Comm => text(&p.comm.0),
                    Field::ExeBase => exe
                        .map(|e| text(e.rsplit(|&c| c == b'/').next().unwrap_or(e)))
                        .unwrap_or_default(),
                    Field::ExeFull => exe.map(text).unwrap_or_default(),
                    Field::Username => f
                        .user
                        .map(text)
                        .or_else(|| p.uid.map(|u| u.to_string()))
                        .unwrap_or_default(),
                    Field::Pid => p.pid.to_string(),
                    Field::StartTime => p.start_ticks.to_string(),
                    Field::Matches(k) => matches.get(k).cloned().unwrap_or_default(),
                    Field::Cgroups => text(cg),
                    Field::Unit => rec.unit.clone().unwrap_or_default(),
                    Field::Container => rec
                        .container_id
                        .as_deref()
                        .map(short_id)
                        .unwrap_or_default(),
                    Field::Pod => rec.pod_uid.clone().unwrap_or_default(),
                }),
            }
        }
        if out.is_empty() {
            // A template that came out empty would merge unrelated
            // processes under "": fall back to the name.
            out = text(&p.comm.0);
        }
        Some(out)
    }
}

/// The first 12 hex digits of a container ID, as `docker ps` shows it.
fn short_id(id: &str) -> String {
    id.get(..12).unwrap_or(id).to_owned()
}

/// Without rules: a container's processes group under it (a pod's under
/// the pod), a systemd service's under its unit, any other under its name.
/// Kernel threads share one group.
pub fn default_group(p: &Proc) -> String {
    if p.kernel_thread {
        return "kernel".into();
    }
    let cg = p
        .cgroup
        .as_ref()
        .map(|c| c.0.as_slice())
        .unwrap_or_default();
    let rec = procscope_parse::container::recognise(cg);
    if let Some(pod) = &rec.pod_uid {
        return format!("pod:{pod}");
    }
    if let Some(id) = &rec.container_id {
        let rt = rec.runtime.unwrap_or("container");
        return format!("{rt}:{}", short_id(id));
    }
    if let Some(u) = &rec.unit {
        if u.ends_with(".service") {
            return u.clone();
        }
    }
    comm_group(&p.comm.0)
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;

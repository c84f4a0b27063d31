//! The sections of a dossier that are tables or sets, each also a focused
//! command: limits, security (`caps`), signals, namespaces (`ns`), cgroup,
//! maps and mounts.

use super::{Page, limit_value, percent, reason, reference_name, signal_list};
use crate::doc::{Column, Span, Style, Table};
use crate::escape::escape;
use crate::units::size;
use procscope_model::dossier::cgroup::{Cgroup, Usage};
use procscope_model::dossier::limits::LimitRow;
use procscope_model::dossier::memory::MapRow;
use procscope_model::dossier::mounts::Mounts;
use procscope_model::dossier::namespaces::Table as NsTable;
use procscope_model::dossier::security::{CapSet, Security};
use procscope_model::dossier::signals::Signals;
use procscope_model::{Failure, Outcome};

impl Page {
    /// The limits table (also `procscope limits`).
    pub fn limits(&mut self, x: &Outcome<Vec<LimitRow>>) {
        self.heading("Limits");
        let rows = match x {
            Ok(r) => r,
            Err(f) => return self.styled("limits", &reason(f), Style::Warn),
        };
        let mut t = Table::new(vec![
            Column::left("RESOURCE"),
            Column::right("SOFT"),
            Column::right("HARD"),
            Column::left("UNIT"),
            Column::right("USED"),
            Column::left(""),
        ]);
        for r in rows {
            let v =
                |x: Option<u64>| x.map_or_else(|| "unlimited".into(), |v| limit_value(v, &r.unit));
            let (used, note) = match (r.usage, r.soft) {
                (Some(u), Some(s)) => (
                    limit_value(u, &r.unit),
                    format!("{} of soft", percent(u, s)),
                ),
                (Some(u), None) => (limit_value(u, &r.unit), String::new()),
                (None, _) => (String::new(), String::new()),
            };
            let note = match r.usage_note {
                Some(n) if note.is_empty() => n.to_string(),
                Some(n) => format!("{note} ({n})"),
                None => note,
            };
            let style = if r.near { Style::Warn } else { Style::Plain };
            t.push(vec![
                Span::styled(r.resource.clone(), style),
                Span::plain(v(r.soft)),
                Span::plain(v(r.hard)),
                Span::plain(r.unit.clone()),
                Span::styled(used, style),
                Span::styled(
                    if r.near {
                        format!("{note} — near the limit")
                    } else {
                        note
                    },
                    style,
                ),
            ]);
        }
        self.table(t)
    }

    /// The security section (also `procscope caps`).
    pub fn security(&mut self, x: &Security) {
        self.heading("Security");
        let caps = |c: &CapSet| c.summary.clone();
        self.outcome("effective", &x.effective, caps);
        self.outcome("permitted", &x.permitted, caps);
        self.outcome("inheritable", &x.inheritable, caps);
        self.outcome("bounding", &x.bounding, caps);
        self.outcome("ambient", &x.ambient, caps);
        self.outcome("no_new_privs", &x.no_new_privs, |b| {
            if *b { "yes".into() } else { "no".into() }
        });
        match (&x.seccomp, &x.seccomp_filters) {
            (Ok(m), Ok(n)) if *m == "filter" => {
                self.field("seccomp", &format!("filter ({n} filters)"))
            }
            (o, _) => self.outcome("seccomp", o, |m| (*m).to_string()),
        }
        self.outcome("lsm label", &x.lsm_label, |l| {
            escape(l.as_slice()).into_owned()
        })
    }

    /// The signals section (also `procscope signals`).
    pub fn signals(&mut self, x: &Signals) {
        self.heading("Signals");
        let list = |v: &[String]| signal_list(v);
        let Ok(p) = &x.process else {
            return self.outcome("signals", &x.process, |_| String::new());
        };
        let pending = match (p.pending.is_empty(), p.thread_pending.is_empty()) {
            (true, true) => String::new(),
            (false, true) => format!("{} (for the process)", list(&p.pending)),
            (true, false) => format!("{} (for the main thread)", list(&p.thread_pending)),
            (false, false) => format!(
                "{} (for the process), {} (for the main thread)",
                list(&p.pending),
                list(&p.thread_pending)
            ),
        };
        if pending.is_empty() {
            self.field("pending", "none");
        } else {
            self.styled("pending", &pending, Style::Warn);
        }
        self.field("blocked", &list(&p.blocked));
        self.field("ignored", &list(&p.ignored));
        self.field("caught", &list(&p.caught));
        if let Some((q, l)) = p.queued {
            self.field(
                "queued",
                &format!("{q} of {l} for its user (RLIMIT_SIGPENDING)"),
            );
        }
        match &x.threads {
            Ok(t) if !t.is_empty() => {
                self.field("threads", "that differ from the main thread:");
                let mut tb = Table::new(vec![
                    Column::right("TID"),
                    Column::left("NAME"),
                    Column::left("PENDING"),
                    Column::left("BLOCKED"),
                ]);
                for th in t {
                    tb.push(vec![
                        Span::plain(th.tid.to_string()),
                        Span::plain(
                            th.name
                                .as_ref()
                                .map_or_else(String::new, |n| escape(n.as_slice()).into_owned()),
                        ),
                        Span::plain(list(&th.pending)),
                        Span::plain(list(&th.blocked)),
                    ]);
                }
                self.table(tb)
            }
            Ok(_) => {}
            Err(f) => self.styled("threads", &reason(f), Style::Warn),
        }
    }

    /// The namespaces table (also `procscope ns`).
    pub fn namespaces(&mut self, x: &Outcome<NsTable>) {
        self.heading("Namespaces");
        let (v, reference) = match x {
            Ok(t) => (&t.namespaces, reference_name(t.reference_pid)),
            Err(f) => return self.styled("namespaces", &reason(f), Style::Warn),
        };
        let mut t = Table::new(vec![
            Column::left("NAMESPACE"),
            Column::right("INODE"),
            Column::right(reference.to_uppercase()),
            Column::left(""),
        ]);
        let mut differ = 0;
        for n in v {
            if matches!(n.inode, Err(Failure::Unsupported { .. })) {
                continue;
            }
            let ino = |o: &Outcome<u64>| {
                o.as_ref()
                    .map_or_else(|f| format!("? {}", f.kind()), ToString::to_string)
            };
            let (mark, style) = match n.differs {
                Some(true) => {
                    differ += 1;
                    ("differs", Style::Warn)
                }
                Some(false) => ("same", Style::Dim),
                None => ("", Style::Plain),
            };
            t.push(vec![
                Span::plain(n.kind),
                Span::plain(ino(&n.inode)),
                Span::plain(ino(&n.reference_inode)),
                Span::styled(mark, style),
            ]);
        }
        self.table(t);
        if v.iter().any(|n| n.kind == "mnt" && n.differs == Some(true))
            && v.iter().any(|n| n.kind == "pid" && n.differs == Some(true))
        {
            self.field("", "own mount and PID namespaces: it runs in a container");
        } else if differ > 0 {
            self.field(
                "",
                &format!("{differ} namespace(s) differ from {reference}'s"),
            );
        }
    }

    /// The cgroup section (also `procscope cgroup`).
    pub fn cgroup(&mut self, x: &Cgroup) {
        self.heading("Cgroup");
        if let Err(f) = &x.lines {
            return self.styled("cgroup", &reason(f), Style::Warn);
        }
        if let Some(p) = &x.path {
            self.field("path", &escape(p.as_slice()));
        }
        let o = &x.owner;
        if let (Some(rt), Some(id)) = (o.runtime, &o.container_id) {
            let short: String = id.chars().take(12).collect();
            let mon = if o.monitor {
                " (its monitor process, not the container)"
            } else {
                ""
            };
            self.field("container", &format!("{rt} {short}{mon}"));
        } else if let Some(id) = &o.container_id {
            let short: String = id.chars().take(12).collect();
            self.field(
                "container",
                &format!("{short} (runtime not named in the path)"),
            );
        }
        if let Some(uid) = &o.pod_uid {
            let qos = o.qos_class.unwrap_or("?");
            self.field("kubernetes", &format!("pod {uid}, QoS class {qos}"));
        }
        if let Some(u) = &o.unit {
            let slice = o
                .slice
                .as_deref()
                .map_or_else(String::new, |s| format!(" in {s}"));
            self.field("systemd unit", &format!("{u}{slice}"));
        } else if let Some(s) = &o.slice {
            self.field("systemd slice", s);
        }
        self.usage(&x.usage);
        if let Ok(lines) = &x.lines {
            if lines.len() > 1 {
                self.field("hierarchies", "");
                let mut t = Table::new(vec![
                    Column::right("ID"),
                    Column::left("CONTROLLERS"),
                    Column::left("PATH"),
                ]);
                for l in lines {
                    t.push(vec![
                        Span::plain(l.hierarchy.to_string()),
                        Span::plain(escape(l.controllers.as_slice())),
                        Span::plain(escape(l.path.as_slice())),
                    ]);
                }
                self.table(t);
            }
        }
    }

    fn usage(&mut self, u: &Usage) {
        match (&u.memory_current, &u.memory_max) {
            (Ok(c), Ok(Some(m))) => {
                let line = format!("{} of {} ({})", size(*c), size(*m), percent(*c, *m));
                if c.saturating_mul(100) >= m.saturating_mul(80) {
                    self.styled(
                        "memory",
                        &format!("{line} — near the cgroup limit"),
                        Style::Warn,
                    );
                } else {
                    self.field("memory", &line);
                }
            }
            (Ok(c), Ok(None)) => self.field("memory", &format!("{} (no limit)", size(*c))),
            (Err(f), _) | (_, Err(f)) => self.styled("memory", &reason(f), Style::Dim),
        }
        match &u.cpu_max {
            Ok(Some(q)) => {
                let cpus = q.quota_us as f64 / q.period_us.max(1) as f64;
                self.field(
                    "cpu",
                    &format!("{cpus:.2} CPUs ({} µs per {} µs)", q.quota_us, q.period_us),
                );
            }
            Ok(None) => self.field("cpu", "no limit"),
            Err(f) => self.styled("cpu", &reason(f), Style::Dim),
        }
        match (&u.pids_current, &u.pids_max) {
            (Ok(c), Ok(Some(m))) => self.field("tasks", &format!("{c} of {m}")),
            (Ok(c), Ok(None)) => self.field("tasks", &format!("{c} (no limit)")),
            (Err(f), _) | (_, Err(f)) => self.styled("tasks", &reason(f), Style::Dim),
        }
    }

    /// Every mapping (`procscope maps`).
    pub fn maps(&mut self, x: &Outcome<Vec<MapRow>>) {
        self.heading("Mappings");
        match x {
            Ok(rows) => {
                let detail = rows.iter().any(|r| r.rss.is_some());
                self.table(map_table(rows, detail, true));
                let total: u64 = rows.iter().map(|r| r.size).fold(0, u64::saturating_add);
                let rss: u64 = rows
                    .iter()
                    .filter_map(|r| r.rss)
                    .fold(0, u64::saturating_add);
                let t = if detail {
                    format!(
                        "{} mappings, {} mapped, {} resident",
                        rows.len(),
                        size(total),
                        size(rss)
                    )
                } else {
                    format!("{} mappings, {} mapped", rows.len(), size(total))
                };
                self.field("total", &t)
            }
            Err(f) => self.styled("maps", &reason(f), Style::Warn),
        }
    }

    /// The mount table (`procscope mounts`).
    pub fn mounts(&mut self, x: &Mounts) {
        self.heading("Mounts");
        let reference = reference_name(x.reference_pid);
        match x.same_namespace {
            Some(true) => self.field("namespace", &format!("same mount namespace as {reference}")),
            Some(false) => self.field(
                "namespace",
                &format!("its own mount namespace (marked: not in {reference}'s)"),
            ),
            None => self.field("namespace", &format!("cannot compare with {reference}")),
        }
        let rows = match &x.mounts {
            Ok(r) => r,
            Err(f) => return self.styled("mounts", &reason(f), Style::Warn),
        };
        let mut t = Table::new(vec![
            Column::right("ID"),
            Column::left("MOUNT POINT"),
            Column::left("TYPE"),
            Column::left("SOURCE"),
            Column::left("OPTIONS"),
            Column::left(""),
        ]);
        for m in rows {
            let mut point = escape(m.mount_point.as_slice()).into_owned();
            if m.root.0 != b"/" {
                point.push_str(&format!(" [{}]", escape(m.root.as_slice())));
            }
            t.push(vec![
                Span::plain(m.id.to_string()),
                Span::plain(point),
                Span::plain(escape(m.fs_type.as_slice())),
                Span::plain(escape(m.source.as_slice())),
                Span::plain(escape(m.options.as_slice())),
                if m.only_here && x.same_namespace == Some(false) {
                    Span::styled(format!("not in {reference}"), Style::Warn)
                } else {
                    Span::plain("")
                },
            ]);
        }
        self.table(t);
        if let Ok(only) = &x.only_in_reference {
            if !only.is_empty() && x.same_namespace == Some(false) {
                self.field(
                    &format!("only in {reference}"),
                    &format!("{} mounts, e.g.:", only.len()),
                );
                for m in only.iter().take(10) {
                    let t = format!(
                        "{} {} {}",
                        escape(m.mount_point.as_slice()),
                        escape(m.fs_type.as_slice()),
                        escape(m.source.as_slice())
                    );
                    self.field("", &t);
                }
            }
        }
    }
}

pub(super) fn map_table(rows: &[MapRow], detail: bool, addresses: bool) -> Table {
    let mut h = Vec::new();
    if addresses {
        h.push(Column::left("ADDRESS"));
    }
    h.push(Column::right("SIZE"));
    if detail {
        h.push(Column::right("RSS"));
        h.push(Column::right("PSS"));
        h.push(Column::right("DIRTY"));
        h.push(Column::right("SWAP"));
    }
    if addresses {
        h.push(Column::left("MODE"));
    } else {
        h.push(Column::right("COUNT"));
    }
    h.push(Column::left("MAPPING"));
    let mut t = Table::new(h);
    for r in rows {
        let mut c = Vec::new();
        if addresses {
            c.push(Span::plain(format!("{:012x}", r.start)));
        }
        c.push(Span::plain(size(r.size)));
        if detail {
            for v in [r.rss, r.pss, r.dirty, r.swap] {
                c.push(Span::plain(v.map_or_else(String::new, size)));
            }
        }
        if addresses {
            c.push(Span::plain(escape(r.perms.as_slice())));
        } else {
            c.push(Span::plain(r.count.to_string()));
        }
        c.push(Span::plain(escape(r.mapping.as_slice())));
        t.push(c);
    }
    t
}

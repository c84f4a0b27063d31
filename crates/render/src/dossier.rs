//! The human layout of `procscope show` and its focused subcommands: one
//! titled block per section, `key  value` lines, tables indented under them.
//! A field that could not be read says why (`? denied: …`) in its place.

use crate::escape::escape;
use crate::table::{Align, Cell, Table};
use crate::units::{rfc3339, size};
use anstyle::{AnsiColor, Style};
use procscope_model::dossier::cgroup::{Cgroup, Usage};
use procscope_model::dossier::files::Files;
use procscope_model::dossier::identity::{IdSet, Identity, NamedId};
use procscope_model::dossier::limits::LimitRow;
use procscope_model::dossier::memory::{MapRow, Memory};
use procscope_model::dossier::mounts::Mounts;
use procscope_model::dossier::namespaces::Table as NsTable;
use procscope_model::dossier::program::{OnDisk, Program};
use procscope_model::dossier::security::{CapSet, Security};
use procscope_model::dossier::signals::Signals;
use procscope_model::dossier::state::State;
use procscope_model::dossier::{Dossier, IoCounters, Section};
use procscope_model::{Failure, Outcome};
use std::io::{self, Write};

/// Width of the key column.
const KEY: usize = 14;

/// Arguments shown before the command line is cut (with a hint to `cmdline`).
pub const CMDLINE_CHARS: usize = 200;

/// Writes sections of a dossier.
pub struct Page<'a> {
    out: &'a mut dyn Write,
    width: Option<usize>,
    /// Hints collected while writing (printed once at the end by the caller).
    pub hints: Vec<String>,
    now_unix: u64,
}

fn bold() -> Style {
    Style::new().bold()
}

fn warn() -> Style {
    Style::new().fg_color(Some(AnsiColor::Yellow.into()))
}

fn dim() -> Style {
    Style::new().dimmed()
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

impl<'a> Page<'a> {
    /// A page writing to `out`, tables cut to `width`.
    pub fn new(out: &'a mut dyn Write, width: Option<usize>, now_unix: u64) -> Self {
        Page {
            out,
            width,
            hints: Vec::new(),
            now_unix,
        }
    }

    fn heading(&mut self, name: &str) -> io::Result<()> {
        writeln!(
            self.out,
            "{}{name}{}",
            bold().render(),
            bold().render_reset()
        )
    }

    fn field(&mut self, key: &str, value: &str) -> io::Result<()> {
        if value.is_empty() {
            writeln!(self.out, "  {key}")
        } else {
            writeln!(self.out, "  {key:<KEY$} {value}")
        }
    }

    fn styled(&mut self, key: &str, value: &str, style: Style) -> io::Result<()> {
        writeln!(
            self.out,
            "  {key:<KEY$} {}{value}{}",
            style.render(),
            style.render_reset()
        )
    }

    /// A field from an outcome: the value's text, or the reason in yellow.
    fn outcome<T>(
        &mut self,
        key: &str,
        v: &Outcome<T>,
        f: impl FnOnce(&T) -> String,
    ) -> io::Result<()> {
        match v {
            Ok(x) => {
                let t = f(x);
                self.field(key, &t)
            }
            Err(e) => self.styled(key, &reason(e), warn()),
        }
    }

    fn table(&mut self, t: &Table) -> io::Result<()> {
        let mut buf = Vec::new();
        t.write(&mut buf, self.width.map(|w| w.saturating_sub(4)), true)?;
        for line in buf.split(|&c| c == b'\n').filter(|l| !l.is_empty()) {
            self.out.write_all(b"    ")?;
            self.out.write_all(line)?;
            self.out.write_all(b"\n")?;
        }
        Ok(())
    }

    /// Writes the title line of a process.
    pub fn title(&mut self, d: &Dossier) -> io::Result<()> {
        let name = match &d.comm {
            Ok(c) => format!(" ({})", escape(c.as_slice())),
            Err(_) => String::new(),
        };
        writeln!(
            self.out,
            "{}PID {}{name}{}",
            bold().render(),
            d.pid,
            bold().render_reset()
        )
    }

    /// Writes every section present in `d`, in order.
    pub fn dossier(&mut self, d: &Dossier) -> io::Result<()> {
        for s in Section::ALL {
            self.section(d, s)?;
        }
        Ok(())
    }

    /// Writes one section if `d` has it.
    pub fn section(&mut self, d: &Dossier, s: Section) -> io::Result<()> {
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
        }
        .unwrap_or(Ok(()))
    }

    fn identity(&mut self, x: &Identity) -> io::Result<()> {
        self.heading("Identity")?;
        self.outcome("parents", &x.parents, |p| {
            if p.is_empty() {
                return "none (a root of the process tree)".into();
            }
            p.iter()
                .map(|a| match &a.comm {
                    Ok(c) => format!("{} {}", a.pid, escape(c.as_slice())),
                    Err(f) => format!("{} ({})", a.pid, f.kind()),
                })
                .collect::<Vec<_>>()
                .join(" → ")
        })?;
        let tty = x.tty_nr.as_ref().map_or_else(
            |_| "?".to_string(),
            |t| {
                if *t == 0 {
                    "none".into()
                } else {
                    crate::ps::tty_name(*t)
                }
            },
        );
        let num = |o: &Outcome<i32>| o.as_ref().map_or_else(|_| "?".into(), ToString::to_string);
        let line = format!(
            "session {}, process group {}, terminal {tty}",
            num(&x.session),
            num(&x.pgrp)
        );
        self.field("session", &line)?;
        if let Ok(v) = &x.ns_pids {
            if v.len() > 1 {
                let t = v
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" → ");
                self.field("pid in ns", &format!("{t} (outermost first)"))?;
            }
        }
        self.outcome("user", &x.uid, ids)?;
        self.outcome("group", &x.gid, ids)?;
        self.outcome("groups", &x.groups, |g| {
            if g.is_empty() {
                "none".into()
            } else {
                g.iter().map(named).collect::<Vec<_>>().join(", ")
            }
        })?;
        if let Ok(t) = &x.tracer_pid {
            if *t != 0 {
                self.styled(
                    "traced by",
                    &format!("PID {t} (a debugger or strace is attached)"),
                    warn(),
                )?;
            }
        }
        match (&x.start_time_unix, &x.elapsed_secs) {
            (Ok(s), Ok(e)) => {
                let t = format!("{} ({} ago)", rfc3339(*s), human_secs(*e));
                self.field("started", &t)
            }
            (Err(f), _) | (_, Err(f)) => self.styled("started", &reason(f), warn()),
        }
    }

    fn program(&mut self, pid: i32, x: &Program) -> io::Result<()> {
        self.heading("Program")?;
        let note = match x.exe_on_disk {
            OnDisk::Same | OnDisk::Unknown => None,
            OnDisk::Replaced => Some(
                "replaced on disk since it started (upgraded or rebuilt: restart to run the new one)",
            ),
            OnDisk::Deleted => Some("deleted since it started"),
        };
        match (&x.exe, note) {
            (Ok(e), Some(n)) => self.styled(
                "executable",
                &format!("{} — {n}", escape(e.as_slice())),
                warn(),
            )?,
            (o, _) => self.outcome("executable", o, |e| escape(e.as_slice()).into_owned())?,
        }
        self.outcome("cwd", &x.cwd, |c| escape(c.as_slice()).into_owned())?;
        self.outcome("root", &x.root, |r| {
            let r = escape(r.as_slice()).into_owned();
            if r == "/" {
                r
            } else {
                format!("{r} (chroot or another mount namespace)")
            }
        })?;
        let mut cut = false;
        self.outcome("command", &x.cmdline, |c| {
            let text = c
                .args
                .iter()
                .map(|a| crate::escape::escape_arg(a.as_slice()).into_owned())
                .collect::<Vec<_>>()
                .join(" ");
            let t = crate::escape::truncate(&text, CMDLINE_CHARS).into_owned();
            cut = t.len() != text.len() || c.truncated;
            t
        })?;
        if cut {
            self.hints
                .push(format!("the whole command line: procscope cmdline {pid}"));
        }
        Ok(())
    }

    fn state(&mut self, x: &State) -> io::Result<()> {
        self.heading("State")?;
        let wchan = match &x.wchan {
            Ok(Some(w)) => format!(", waiting in {}", escape(w.as_slice())),
            _ => String::new(),
        };
        self.outcome("state", &x.sched, |s| {
            let plural = if s.threads == 1 { "" } else { "s" };
            format!(
                "{} ({}), {} thread{plural}{wchan}",
                s.state, s.meaning, s.threads
            )
        })?;
        let cpu = x
            .cpu_percent
            .map_or_else(String::new, |p| format!("{p:.1}% of a CPU now; "));
        self.outcome("cpu", &x.sched, |s| {
            format!(
                "{cpu}user {}, system {}",
                human_ms(s.user_ms),
                human_ms(s.system_ms)
            )
        })?;
        self.outcome("scheduling", &x.sched, |s| {
            let rt = match s.rt_priority {
                Some(p) if p > 0 => format!(", real-time priority {p}"),
                _ => String::new(),
            };
            format!(
                "{}, nice {}, priority {}{rt}",
                s.policy.as_deref().unwrap_or("?"),
                s.nice,
                s.priority
            )
        })?;
        match (&x.cpus_allowed, &x.mems_allowed) {
            (Ok(c), Ok(m)) => {
                let t = format!(
                    "CPUs {}, memory nodes {}",
                    escape(c.as_slice()),
                    escape(m.as_slice())
                );
                self.field("affinity", &t)?;
            }
            (Err(f), _) | (_, Err(f)) => self.styled("affinity", &reason(f), warn())?,
        }
        match (&x.voluntary_switches, &x.involuntary_switches) {
            (Ok(v), Ok(i)) => self.field(
                "switches",
                &format!("{v} voluntary (slept), {i} involuntary (preempted)"),
            )?,
            (Err(f), _) | (_, Err(f)) => self.styled("switches", &reason(f), warn())?,
        }
        self.outcome("faults", &x.sched, |s| {
            format!(
                "{} minor, {} major (read from disk)",
                s.minor_faults, s.major_faults
            )
        })?;
        match (&x.oom_score, &x.oom_score_adj) {
            (Ok(s), Ok(a)) => {
                let never = if *a == -1000 {
                    " (never killed by the OOM killer)"
                } else {
                    ""
                };
                self.field("oom", &format!("score {s}, adjustment {a}{never}"))
            }
            (Err(f), _) | (_, Err(f)) => self.styled("oom", &reason(f), warn()),
        }
    }

    fn memory(&mut self, x: &Memory) -> io::Result<()> {
        self.heading("Memory")?;
        self.outcome("resident", &x.counters, |c| {
            format!(
                "{} (anonymous {}, file {}, shmem {}), peak {}",
                opt_size(c.rss),
                opt_size(c.rss_anon),
                opt_size(c.rss_file),
                opt_size(c.rss_shmem),
                opt_size(c.rss_peak)
            )
        })?;
        self.outcome("unique", &x.totals, |t| {
            format!(
                "USS {} (freed if it exits), PSS {}, shared {}",
                size(t.uss),
                size(t.pss),
                size(t.shared)
            )
        })?;
        self.outcome("swap", &x.counters, |c| opt_size(c.swap))?;
        self.outcome("virtual", &x.counters, |c| {
            format!(
                "{} (peak {}), data {}, stack {}, locked {}, page tables {}",
                opt_size(c.vsz),
                opt_size(c.vsz_peak),
                opt_size(c.data),
                opt_size(c.stack),
                opt_size(c.locked),
                opt_size(c.page_tables)
            )
        })?;
        match &x.largest {
            Ok(rows) if !rows.is_empty() => {
                self.field("largest", "")?;
                self.table(&map_table(rows, true, false))
            }
            Ok(_) => Ok(()),
            Err(f) => self.styled("largest", &reason(f), warn()),
        }
    }

    fn files(&mut self, pid: i32, x: &Files) -> io::Result<()> {
        self.heading("Files")?;
        let Ok(s) = &x.0 else {
            return self.outcome("open", &x.0, |_| String::new());
        };
        let types = s
            .by_type
            .iter()
            .map(|(t, n)| format!("{n} {t}"))
            .collect::<Vec<_>>()
            .join(", ");
        let (limit, near) = match s.soft_limit {
            Some(l) => {
                let used = s.open as u64;
                let near = used.saturating_mul(100) >= l.saturating_mul(80);
                (
                    format!("/{l} — {} of RLIMIT_NOFILE", percent(used, l)),
                    near,
                )
            }
            None => (" (no limit)".into(), false),
        };
        let line = if types.is_empty() {
            format!("{}{limit}", s.open)
        } else {
            format!("{}{limit}: {types}", s.open)
        };
        if near {
            self.styled("open", &line, warn())?;
        } else {
            self.field("open", &line)?;
        }
        for n in &s.notable {
            let t = format!("fd {} {}", n.fd, escape(n.what.as_slice()));
            if n.why == "deleted" {
                self.styled(n.why, &t, warn())?;
            } else {
                self.field(n.why, &t)?;
            }
        }
        if s.open > 0 {
            self.hints
                .push(format!("every fd decoded: procscope fds {pid}"));
        }
        Ok(())
    }

    fn io(&mut self, x: &Outcome<IoCounters>) -> io::Result<()> {
        self.heading("I/O")?;
        let o = |v: Option<u64>| v.map_or_else(|| "?".into(), |v| v.to_string());
        self.outcome("read", x, |c| {
            format!(
                "{} through syscalls, {} from storage, {} calls",
                opt_size(c.rchar),
                opt_size(c.read_bytes),
                o(c.syscr)
            )
        })?;
        self.outcome("written", x, |c| {
            format!(
                "{} through syscalls, {} to storage, {} calls; {} cancelled",
                opt_size(c.wchar),
                opt_size(c.write_bytes),
                o(c.syscw),
                opt_size(c.cancelled_write_bytes)
            )
        })
    }

    /// The limits table (also `procscope limits`).
    pub fn limits(&mut self, x: &Outcome<Vec<LimitRow>>) -> io::Result<()> {
        self.heading("Limits")?;
        let rows = match x {
            Ok(r) => r,
            Err(f) => return self.styled("limits", &reason(f), warn()),
        };
        let mut t = Table::new(vec![
            ("RESOURCE".into(), Align::Left),
            ("SOFT".into(), Align::Right),
            ("HARD".into(), Align::Right),
            ("UNIT".into(), Align::Left),
            ("USED".into(), Align::Right),
            ("".into(), Align::Left),
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
            let style = if r.near { warn() } else { Style::new() };
            t.push(vec![
                Cell::styled(r.resource.clone(), style),
                Cell::plain(v(r.soft)),
                Cell::plain(v(r.hard)),
                Cell::plain(r.unit.clone()),
                Cell::styled(used, style),
                Cell::styled(
                    if r.near {
                        format!("{note} — near the limit")
                    } else {
                        note
                    },
                    style,
                ),
            ]);
        }
        self.table(&t)
    }

    /// The security section (also `procscope caps`).
    pub fn security(&mut self, x: &Security) -> io::Result<()> {
        self.heading("Security")?;
        let caps = |c: &CapSet| c.summary.clone();
        self.outcome("effective", &x.effective, caps)?;
        self.outcome("permitted", &x.permitted, caps)?;
        self.outcome("inheritable", &x.inheritable, caps)?;
        self.outcome("bounding", &x.bounding, caps)?;
        self.outcome("ambient", &x.ambient, caps)?;
        self.outcome("no_new_privs", &x.no_new_privs, |b| {
            if *b { "yes".into() } else { "no".into() }
        })?;
        match (&x.seccomp, &x.seccomp_filters) {
            (Ok(m), Ok(n)) if *m == "filter" => {
                self.field("seccomp", &format!("filter ({n} filters)"))?
            }
            (o, _) => self.outcome("seccomp", o, |m| (*m).to_string())?,
        }
        self.outcome("lsm label", &x.lsm_label, |l| {
            escape(l.as_slice()).into_owned()
        })
    }

    /// The signals section (also `procscope signals`).
    pub fn signals(&mut self, x: &Signals) -> io::Result<()> {
        self.heading("Signals")?;
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
            self.field("pending", "none")?;
        } else {
            self.styled("pending", &pending, warn())?;
        }
        self.field("blocked", &list(&p.blocked))?;
        self.field("ignored", &list(&p.ignored))?;
        self.field("caught", &list(&p.caught))?;
        if let Some((q, l)) = p.queued {
            self.field(
                "queued",
                &format!("{q} of {l} for its user (RLIMIT_SIGPENDING)"),
            )?;
        }
        match &x.threads {
            Ok(t) if !t.is_empty() => {
                self.field("threads", "that differ from the main thread:")?;
                let mut tb = Table::new(vec![
                    ("TID".into(), Align::Right),
                    ("NAME".into(), Align::Left),
                    ("PENDING".into(), Align::Left),
                    ("BLOCKED".into(), Align::Left),
                ]);
                for th in t {
                    tb.push(vec![
                        Cell::plain(th.tid.to_string()),
                        Cell::plain(
                            th.name
                                .as_ref()
                                .map_or_else(String::new, |n| escape(n.as_slice()).into_owned()),
                        ),
                        Cell::plain(list(&th.pending)),
                        Cell::plain(list(&th.blocked)),
                    ]);
                }
                self.table(&tb)
            }
            Ok(_) => Ok(()),
            Err(f) => self.styled("threads", &reason(f), warn()),
        }
    }

    /// The namespaces table (also `procscope ns`).
    pub fn namespaces(&mut self, x: &Outcome<NsTable>) -> io::Result<()> {
        self.heading("Namespaces")?;
        let (v, reference) = match x {
            Ok(t) => (&t.namespaces, reference_name(t.reference_pid)),
            Err(f) => return self.styled("namespaces", &reason(f), warn()),
        };
        let mut t = Table::new(vec![
            ("NAMESPACE".into(), Align::Left),
            ("INODE".into(), Align::Right),
            (reference.to_uppercase(), Align::Right),
            ("".into(), Align::Left),
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
                    ("differs", warn())
                }
                Some(false) => ("same", dim()),
                None => ("", Style::new()),
            };
            t.push(vec![
                Cell::plain(n.kind),
                Cell::plain(ino(&n.inode)),
                Cell::plain(ino(&n.reference_inode)),
                Cell::styled(mark, style),
            ]);
        }
        self.table(&t)?;
        if v.iter().any(|n| n.kind == "mnt" && n.differs == Some(true))
            && v.iter().any(|n| n.kind == "pid" && n.differs == Some(true))
        {
            self.field("", "own mount and PID namespaces: it runs in a container")?;
        } else if differ > 0 {
            self.field(
                "",
                &format!("{differ} namespace(s) differ from {reference}'s"),
            )?;
        }
        Ok(())
    }

    /// The cgroup section (also `procscope cgroup`).
    pub fn cgroup(&mut self, x: &Cgroup) -> io::Result<()> {
        self.heading("Cgroup")?;
        if let Err(f) = &x.lines {
            return self.styled("cgroup", &reason(f), warn());
        }
        if let Some(p) = &x.path {
            self.field("path", &escape(p.as_slice()))?;
        }
        let o = &x.owner;
        if let (Some(rt), Some(id)) = (o.runtime, &o.container_id) {
            let short: String = id.chars().take(12).collect();
            let mon = if o.monitor {
                " (its monitor process, not the container)"
            } else {
                ""
            };
            self.field("container", &format!("{rt} {short}{mon}"))?;
        } else if let Some(id) = &o.container_id {
            let short: String = id.chars().take(12).collect();
            self.field(
                "container",
                &format!("{short} (runtime not named in the path)"),
            )?;
        }
        if let Some(uid) = &o.pod_uid {
            let qos = o.qos_class.unwrap_or("?");
            self.field("kubernetes", &format!("pod {uid}, QoS class {qos}"))?;
        }
        if let Some(u) = &o.unit {
            let slice = o
                .slice
                .as_deref()
                .map_or_else(String::new, |s| format!(" in {s}"));
            self.field("systemd unit", &format!("{u}{slice}"))?;
        } else if let Some(s) = &o.slice {
            self.field("systemd slice", s)?;
        }
        self.usage(&x.usage)?;
        if let Ok(lines) = &x.lines {
            if lines.len() > 1 {
                self.field("hierarchies", "")?;
                let mut t = Table::new(vec![
                    ("ID".into(), Align::Right),
                    ("CONTROLLERS".into(), Align::Left),
                    ("PATH".into(), Align::Left),
                ]);
                for l in lines {
                    t.push(vec![
                        Cell::plain(l.hierarchy.to_string()),
                        Cell::plain(escape(l.controllers.as_slice())),
                        Cell::plain(escape(l.path.as_slice())),
                    ]);
                }
                self.table(&t)?;
            }
        }
        Ok(())
    }

    fn usage(&mut self, u: &Usage) -> io::Result<()> {
        match (&u.memory_current, &u.memory_max) {
            (Ok(c), Ok(Some(m))) => {
                let line = format!("{} of {} ({})", size(*c), size(*m), percent(*c, *m));
                if c.saturating_mul(100) >= m.saturating_mul(80) {
                    self.styled("memory", &format!("{line} — near the cgroup limit"), warn())?;
                } else {
                    self.field("memory", &line)?;
                }
            }
            (Ok(c), Ok(None)) => self.field("memory", &format!("{} (no limit)", size(*c)))?,
            (Err(f), _) | (_, Err(f)) => self.styled("memory", &reason(f), dim())?,
        }
        match &u.cpu_max {
            Ok(Some(q)) => {
                let cpus = q.quota_us as f64 / q.period_us.max(1) as f64;
                self.field(
                    "cpu",
                    &format!("{cpus:.2} CPUs ({} µs per {} µs)", q.quota_us, q.period_us),
                )?;
            }
            Ok(None) => self.field("cpu", "no limit")?,
            Err(f) => self.styled("cpu", &reason(f), dim())?,
        }
        match (&u.pids_current, &u.pids_max) {
            (Ok(c), Ok(Some(m))) => self.field("tasks", &format!("{c} of {m}"))?,
            (Ok(c), Ok(None)) => self.field("tasks", &format!("{c} (no limit)"))?,
            (Err(f), _) | (_, Err(f)) => self.styled("tasks", &reason(f), dim())?,
        }
        Ok(())
    }

    /// Every mapping (`procscope maps`).
    pub fn maps(&mut self, x: &Outcome<Vec<MapRow>>) -> io::Result<()> {
        self.heading("Mappings")?;
        match x {
            Ok(rows) => {
                let detail = rows.iter().any(|r| r.rss.is_some());
                self.table(&map_table(rows, detail, true))?;
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
            Err(f) => self.styled("maps", &reason(f), warn()),
        }
    }

    /// The mount table (`procscope mounts`).
    pub fn mounts(&mut self, x: &Mounts) -> io::Result<()> {
        self.heading("Mounts")?;
        let reference = reference_name(x.reference_pid);
        match x.same_namespace {
            Some(true) => {
                self.field("namespace", &format!("same mount namespace as {reference}"))?
            }
            Some(false) => self.field(
                "namespace",
                &format!("its own mount namespace (marked: not in {reference}'s)"),
            )?,
            None => self.field("namespace", &format!("cannot compare with {reference}"))?,
        }
        let rows = match &x.mounts {
            Ok(r) => r,
            Err(f) => return self.styled("mounts", &reason(f), warn()),
        };
        let mut t = Table::new(vec![
            ("ID".into(), Align::Right),
            ("MOUNT POINT".into(), Align::Left),
            ("TYPE".into(), Align::Left),
            ("SOURCE".into(), Align::Left),
            ("OPTIONS".into(), Align::Left),
            ("".into(), Align::Left),
        ]);
        for m in rows {
            let mut point = escape(m.mount_point.as_slice()).into_owned();
            if m.root.0 != b"/" {
                point.push_str(&format!(" [{}]", escape(m.root.as_slice())));
            }
            t.push(vec![
                Cell::plain(m.id.to_string()),
                Cell::plain(point),
                Cell::plain(escape(m.fs_type.as_slice())),
                Cell::plain(escape(m.source.as_slice())),
                Cell::plain(escape(m.options.as_slice())),
                if m.only_here && x.same_namespace == Some(false) {
                    Cell::styled(format!("not in {reference}"), warn())
                } else {
                    Cell::plain("")
                },
            ]);
        }
        self.table(&t)?;
        if let Ok(only) = &x.only_in_reference {
            if !only.is_empty() && x.same_namespace == Some(false) {
                self.field(
                    &format!("only in {reference}"),
                    &format!("{} mounts, e.g.:", only.len()),
                )?;
                for m in only.iter().take(10) {
                    let t = format!(
                        "{} {} {}",
                        escape(m.mount_point.as_slice()),
                        escape(m.fs_type.as_slice()),
                        escape(m.source.as_slice())
                    );
                    self.field("", &t)?;
                }
            }
        }
        Ok(())
    }

    /// The current time this page measures ages against.
    pub fn now_unix(&self) -> u64 {
        self.now_unix
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

fn map_table(rows: &[MapRow], detail: bool, addresses: bool) -> Table {
    let mut h = Vec::new();
    if addresses {
        h.push(("ADDRESS".to_string(), Align::Left));
    }
    h.push(("SIZE".into(), Align::Right));
    if detail {
        h.push(("RSS".into(), Align::Right));
        h.push(("PSS".into(), Align::Right));
        h.push(("DIRTY".into(), Align::Right));
        h.push(("SWAP".into(), Align::Right));
    }
    if addresses {
        h.push(("MODE".into(), Align::Left));
    } else {
        h.push(("COUNT".into(), Align::Right));
    }
    h.push(("MAPPING".into(), Align::Left));
    let mut t = Table::new(h);
    for r in rows {
        let mut c = Vec::new();
        if addresses {
            c.push(Cell::plain(format!("{:012x}", r.start)));
        }
        c.push(Cell::plain(size(r.size)));
        if detail {
            for v in [r.rss, r.pss, r.dirty, r.swap] {
                c.push(Cell::plain(v.map_or_else(String::new, size)));
            }
        }
        if addresses {
            c.push(Cell::plain(escape(r.perms.as_slice())));
        } else {
            c.push(Cell::plain(r.count.to_string()));
        }
        c.push(Cell::plain(escape(r.mapping.as_slice())));
        t.push(c);
    }
    t
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

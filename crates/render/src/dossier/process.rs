//! The sections of a dossier about the process itself: identity, program,
//! state, memory, files and I/O.

use super::system::map_table;
use super::{CMDLINE_CHARS, Page, human_ms, human_secs, ids, named, opt_size, percent, reason};
use crate::doc::Style;
use crate::escape::escape;
use crate::units::{rfc3339, size};
use procscope_model::Outcome;
use procscope_model::dossier::IoCounters;
use procscope_model::dossier::files::Files;
use procscope_model::dossier::identity::Identity;
use procscope_model::dossier::memory::Memory;
use procscope_model::dossier::program::{OnDisk, Program};
use procscope_model::dossier::state::State;

impl Page {
    pub(super) fn identity(&mut self, x: &Identity) {
        self.heading("Identity");
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
        });
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
        self.field("session", &line);
        if let Ok(v) = &x.ns_pids {
            if v.len() > 1 {
                let t = v
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" → ");
                self.field("pid in ns", &format!("{t} (outermost first)"));
            }
        }
        self.outcome("user", &x.uid, ids);
        self.outcome("group", &x.gid, ids);
        self.outcome("groups", &x.groups, |g| {
            if g.is_empty() {
                "none".into()
            } else {
                g.iter().map(named).collect::<Vec<_>>().join(", ")
            }
        });
        if let Ok(t) = &x.tracer_pid {
            if *t != 0 {
                self.styled(
                    "traced by",
                    &format!("PID {t} (a debugger or strace is attached)"),
                    Style::Warn,
                );
            }
        }
        match (&x.start_time_unix, &x.elapsed_secs) {
            (Ok(s), Ok(e)) => {
                let t = format!("{} ({} ago)", rfc3339(*s), human_secs(*e));
                self.field("started", &t)
            }
            (Err(f), _) | (_, Err(f)) => self.styled("started", &reason(f), Style::Warn),
        }
    }

    pub(super) fn program(&mut self, pid: i32, x: &Program) {
        self.heading("Program");
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
                Style::Warn,
            ),
            (o, _) => self.outcome("executable", o, |e| escape(e.as_slice()).into_owned()),
        }
        self.outcome("cwd", &x.cwd, |c| escape(c.as_slice()).into_owned());
        self.outcome("root", &x.root, |r| {
            let r = escape(r.as_slice()).into_owned();
            if r == "/" {
                r
            } else {
                format!("{r} (chroot or another mount namespace)")
            }
        });
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
        });
        if cut {
            self.hints
                .push(format!("the whole command line: procscope cmdline {pid}"));
        }
    }

    pub(super) fn state(&mut self, x: &State) {
        self.heading("State");
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
        });
        let cpu = x
            .cpu_percent
            .map_or_else(String::new, |p| format!("{p:.1}% of a CPU now; "));
        self.outcome("cpu", &x.sched, |s| {
            format!(
                "{cpu}user {}, system {}",
                human_ms(s.user_ms),
                human_ms(s.system_ms)
            )
        });
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
        });
        match (&x.cpus_allowed, &x.mems_allowed) {
            (Ok(c), Ok(m)) => {
                let t = format!(
                    "CPUs {}, memory nodes {}",
                    escape(c.as_slice()),
                    escape(m.as_slice())
                );
                self.field("affinity", &t);
            }
            (Err(f), _) | (_, Err(f)) => self.styled("affinity", &reason(f), Style::Warn),
        }
        match (&x.voluntary_switches, &x.involuntary_switches) {
            (Ok(v), Ok(i)) => self.field(
                "switches",
                &format!("{v} voluntary (slept), {i} involuntary (preempted)"),
            ),
            (Err(f), _) | (_, Err(f)) => self.styled("switches", &reason(f), Style::Warn),
        }
        self.outcome("faults", &x.sched, |s| {
            format!(
                "{} minor, {} major (read from disk)",
                s.minor_faults, s.major_faults
            )
        });
        match (&x.oom_score, &x.oom_score_adj) {
            (Ok(s), Ok(a)) => {
                let never = if *a == -1000 {
                    " (never killed by the OOM killer)"
                } else {
                    ""
                };
                self.field("oom", &format!("score {s}, adjustment {a}{never}"))
            }
            (Err(f), _) | (_, Err(f)) => self.styled("oom", &reason(f), Style::Warn),
        }
    }

    pub(super) fn memory(&mut self, x: &Memory) {
        self.heading("Memory");
        self.outcome("resident", &x.counters, |c| {
            format!(
                "{} (anonymous {}, file {}, shmem {}), peak {}",
                opt_size(c.rss),
                opt_size(c.rss_anon),
                opt_size(c.rss_file),
                opt_size(c.rss_shmem),
                opt_size(c.rss_peak)
            )
        });
        self.outcome("unique", &x.totals, |t| {
            format!(
                "USS {} (freed if it exits), PSS {}, shared {}",
                size(t.uss),
                size(t.pss),
                size(t.shared)
            )
        });
        self.outcome("swap", &x.counters, |c| opt_size(c.swap));
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
        });
        match &x.largest {
            Ok(rows) if !rows.is_empty() => {
                self.field("largest", "");
                self.table(map_table(rows, true, false))
            }
            Ok(_) => {}
            Err(f) => self.styled("largest", &reason(f), Style::Warn),
        }
    }

    pub(super) fn files(&mut self, pid: i32, x: &Files) {
        self.heading("Files");
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
            self.styled("open", &line, Style::Warn);
        } else {
            self.field("open", &line);
        }
        for n in &s.notable {
            let t = format!("fd {} {}", n.fd, escape(n.what.as_slice()));
            if n.why == "deleted" {
                self.styled(n.why, &t, Style::Warn);
            } else {
                self.field(n.why, &t);
            }
        }
        if s.open > 0 {
            self.hints
                .push(format!("every fd decoded: procscope fds {pid}"));
        }
    }

    pub(super) fn io(&mut self, x: &Outcome<IoCounters>) {
        self.heading("I/O");
        let o = |v: Option<u64>| v.map_or_else(|| "?".into(), |v| v.to_string());
        self.outcome("read", x, |c| {
            format!(
                "{} through syscalls, {} from storage, {} calls",
                opt_size(c.rchar),
                opt_size(c.read_bytes),
                o(c.syscr)
            )
        });
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
}

//! The details of the opened process, one tab at a time: read by the model
//! (under the session's deadline) on the details thread, put into words by
//! render, and handed to the UI as escaped, styled lines.

use procscope_model::bytes::Bytes;
use procscope_model::collect::Identity;
use procscope_model::dossier::{self, Request, Section};
use procscope_model::redact::Redactor;
use procscope_model::target::{self, TextRequest};
use procscope_model::{fds, threads, why};
use procscope_parse::cmdline::Cmdline;
use procscope_parse::environ;
use procscope_parse::syscall::SyscallState;
use procscope_read::{Failure, ProcRoot, Session};
use procscope_render::escape::escape;
use procscope_render::{calls, dossier as page, repro};
use std::collections::HashMap;
use std::time::Duration;

/// The tabs of the opened process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tab {
    /// The `show` dossier with the `why` verdict at the top.
    Overview,
    /// Threads grouped by state, call and stack.
    Threads,
    /// Open fds, decoded, with their other ends.
    Fds,
    /// Command line and environment (redacted unless revealed).
    Env,
    /// Resource limits and their use.
    Limits,
    /// Memory maps.
    Maps,
}

impl Tab {
    /// Every tab, in order (number keys 1–6).
    pub const ALL: [Tab; 6] = [
        Tab::Overview,
        Tab::Threads,
        Tab::Fds,
        Tab::Env,
        Tab::Limits,
        Tab::Maps,
    ];

    /// The tab's title.
    pub fn title(self) -> &'static str {
        match self {
            Tab::Overview => "Overview",
            Tab::Threads => "Threads",
            Tab::Fds => "Fds",
            Tab::Env => "Env+cmdline",
            Tab::Limits => "Limits",
            Tab::Maps => "Maps",
        }
    }
}

/// What to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Job {
    /// The process.
    pub id: Identity,
    /// Which tab.
    pub tab: Tab,
    /// Show secrets in the environment and command line.
    pub reveal: bool,
    /// Also plan the `repro` script (the copy key).
    pub repro: bool,
}

/// How a line is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emph {
    /// Plain.
    Plain,
    /// A heading.
    Head,
    /// Less important.
    Dim,
    /// Something is wrong (stuck, a deadlock, a timed-out read).
    Warn,
}

/// One line of a tab: text already escaped for the terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// How to show it.
    pub emph: Emph,
    /// The text.
    pub text: String,
}

impl Line {
    fn new(emph: Emph, text: impl Into<String>) -> Line {
        Line {
            emph,
            text: text.into(),
        }
    }
}

/// A tab's contents.
#[derive(Debug, Clone)]
pub struct Detail {
    /// What was asked.
    pub job: Job,
    /// The lines.
    pub lines: Vec<Line>,
    /// The repro script, or why there is none (when asked).
    pub repro: Option<Result<String, String>>,
}

/// Reads and words one job.
pub fn read(root: &ProcRoot, session: &Session, job: &Job) -> Detail {
    let pid = job.id.pid;
    // A reused PID is not the process that was opened.
    let same = start_ticks(root, pid) == Some(job.id.start_ticks);
    let lines = if !same {
        vec![Line::new(Emph::Warn, format!("PID {pid} has exited"))]
    } else {
        match job.tab {
            Tab::Overview => overview(root, session, pid),
            Tab::Threads => thread_lines(root, session, pid),
            Tab::Fds => fd_lines(root, session, pid),
            Tab::Env => env_lines(root, session, pid, job.reveal),
            Tab::Limits => sections(root, session, pid, &[Section::Limits]),
            Tab::Maps => sections(root, session, pid, &[Section::Maps]),
        }
    };
    let repro = (job.repro && same).then(|| repro_script(root, session, pid, job.reveal));
    Detail {
        job: *job,
        lines,
        repro,
    }
}

/// The start time of `pid` now (`None`: gone or unreadable).
fn start_ticks(root: &ProcRoot, pid: i32) -> Option<u64> {
    let dir = root.process(pid).ok()?;
    let mut b = Vec::new();
    dir.read(c"stat", &mut b, procscope_read::cap::RECORD)
        .ok()?;
    procscope_parse::stat::Stat::parse(&b)
        .ok()
        .map(|s| s.starttime_ticks)
}

fn failed(what: &str, f: &Failure) -> Vec<Line> {
    vec![Line::new(
        Emph::Warn,
        format!("{what}: {}", page::reason(f)),
    )]
}

/// Text written by render's writers, as plain lines: styles are dropped
/// (the writers escape every untrusted byte before styling, so what is
/// left is safe text).
fn text_lines(buf: &[u8], out: &mut Vec<Line>) {
    let s = String::from_utf8_lossy(buf);
    let plain = anstream::adapter::strip_str(&s).to_string();
    for l in plain.lines() {
        let emph = if !l.starts_with(' ') && !l.is_empty() {
            Emph::Head
        } else {
            Emph::Plain
        };
        out.push(Line::new(emph, escape(l.as_bytes())));
    }
}

fn sections(root: &ProcRoot, session: &Session, pid: i32, s: &[Section]) -> Vec<Line> {
    let req = Request {
        sections: s.to_vec(),
        maps_detail: false,
        cpu_sample: Duration::ZERO,
        session: session.clone(),
    };
    let d = match dossier::read(root, &[pid], &req) {
        Ok(mut v) => match v.pop() {
            Some(Ok(d)) => d,
            Some(Err(f)) => return failed("dossier", &f),
            None => return Vec::new(),
        },
        Err(f) => return failed("dossier", &f),
    };
    let mut p = page::Page::new();
    for x in s {
        p.section(&d, *x);
    }
    let mut buf = Vec::new();
    let _ = procscope_render::doc::write(&p.into_doc(), &mut buf, Some(160), false);
    let mut out = Vec::new();
    text_lines(&buf, &mut out);
    out
}

fn overview(root: &ProcRoot, session: &Session, pid: i32) -> Vec<Line> {
    let mut out = vec![Line::new(Emph::Head, "Why")];
    match why::explain(root, pid, session) {
        Ok(w) => {
            if let Some(c) = &w.cycle {
                let path: Vec<String> = c.iter().map(i32::to_string).collect();
                out.push(Line::new(
                    Emph::Warn,
                    format!("  deadlock: {} — each waits for the next", path.join(" → ")),
                ));
            }
            if let Some(p) = w.processes.iter().find(|p| p.pid == w.target) {
                for g in &p.groups {
                    let who = match g.tids.as_slice() {
                        [one] => format!("thread {one}"),
                        v => format!("{} threads", v.len()),
                    };
                    let call = g.call.as_ref().map_or_else(String::new, |c| {
                        format!(" in {}", escape(procscope_render::why::call(c).as_bytes()))
                    });
                    let emph = if g.state == 'D' {
                        Emph::Warn
                    } else {
                        Emph::Plain
                    };
                    out.push(Line::new(
                        emph,
                        format!("  {who} {} ({}){call}", g.state, g.meaning),
                    ));
                    out.push(Line::new(
                        emph,
                        format!(
                            "    → {}",
                            escape(procscope_render::why::verdict(pid, &g.wait).as_bytes())
                        ),
                    ));
                }
            }
        }
        Err(f) => out.extend(failed("  why", &f)),
    }
    out.push(Line::new(Emph::Plain, ""));
    out.extend(sections(root, session, pid, &Section::DOSSIER));
    out
}

fn thread_lines(root: &ProcRoot, session: &Session, pid: i32) -> Vec<Line> {
    let p = match threads::read(root, pid, session) {
        Ok(p) => p,
        Err(f) => return failed("threads", &f),
    };
    let fd_words: HashMap<i32, String> = threads::call_fds(root, &p, session)
        .iter()
        .map(|e| (e.fd, procscope_render::fds::brief(e)))
        .collect();
    let abi = p.abi.as_ref().ok().copied();
    let mut out = vec![Line::new(
        Emph::Head,
        match p.threads.len() {
            1 => "1 thread".to_string(),
            n => format!("{n} threads"),
        },
    )];
    for g in threads::group(&p.threads) {
        let members: Vec<&threads::ThreadInfo> =
            g.iter().filter_map(|&i| p.threads.get(i)).collect();
        let Some(first) = members.first() else {
            continue;
        };
        let state = match &first.state {
            Ok(s) => format!("{} ({})", s.letter(), s.meaning()),
            Err(f) => format!("? ({})", page::reason(f)),
        };
        let call = match &first.syscall {
            Ok(SyscallState::Running) => "running".to_string(),
            Ok(SyscallState::Blocked { .. }) => "not in a system call".to_string(),
            Ok(SyscallState::InSyscall { nr, args, .. }) => match abi.and_then(|a| a.name(*nr)) {
                Some(name) => calls::describe(name, args, first.call_memory.as_ref(), &|fd| {
                    fd_words.get(&fd).cloned()
                }),
                None => format!("syscall {nr}"),
            },
            Err(f) => format!("system call: {}", page::reason(f)),
        };
        let wchan = match &first.wchan {
            Ok(Some(w)) => format!("  wchan {}", escape(w.as_slice())),
            _ => String::new(),
        };
        let d = matches!(first.state, Ok(s) if s.letter() == 'D');
        out.push(Line::new(Emph::Plain, ""));
        out.push(Line::new(
            if d { Emph::Warn } else { Emph::Head },
            format!(
                "{} × {state}{wchan}  {}",
                members.len(),
                escape(call.as_bytes())
            ),
        ));
        let names: Vec<String> = members
            .iter()
            .map(|t| format!("{} {}", t.tid, escape(t.comm.as_slice())))
            .collect();
        for chunk in names.chunks(4) {
            out.push(Line::new(Emph::Plain, format!("  {}", chunk.join(", "))));
        }
        match &first.stack {
            Ok(frames) => {
                for f in frames {
                    let off = f.offset.map_or_else(String::new, |o| format!("+{o:#x}"));
                    out.push(Line::new(
                        Emph::Dim,
                        format!("    {}{off}", escape(f.symbol.as_slice())),
                    ));
                }
            }
            Err(f) => out.push(Line::new(
                Emph::Dim,
                format!("    kernel stack: {}", page::reason(f)),
            )),
        }
    }
    out
}

fn fd_lines(root: &ProcRoot, session: &Session, pid: i32) -> Vec<Line> {
    let dir = match root.process(pid) {
        Ok(d) => d,
        Err(f) => return failed("fds", &f),
    };
    let mut entries = match fds::read(&dir, &[]) {
        Ok(e) => e,
        Err(f) => return failed("fds", &f),
    };
    let search = fds::resolve_peers(root, pid, &mut entries, session);
    let mut out = vec![Line::new(Emph::Head, format!("{} open fds", entries.len()))];
    for e in &entries {
        out.push(Line::new(
            Emph::Plain,
            format!(
                "{:>5}  {}",
                e.fd,
                procscope_render::fds::describe(e, search.is_some())
            ),
        ));
    }
    if let Some(s) = &search {
        out.push(Line::new(Emph::Dim, procscope_render::fds::search_line(s)));
    }
    out
}

fn text_request(context: bool) -> TextRequest {
    TextRequest {
        cmdline: true,
        environ: true,
        cwd: true,
        context,
        cap: procscope_read::cap::TEXT,
    }
}

fn env_lines(root: &ProcRoot, session: &Session, pid: i32, reveal: bool) -> Vec<Line> {
    let t = match target::read(root, vec![pid], text_request(false), session) {
        Ok(mut v) => match v.pop() {
            Some(t) => t,
            None => return Vec::new(),
        },
        Err(f) => return failed("cmdline", &f),
    };
    let r = Redactor::default();
    let mut out = vec![Line::new(
        Emph::Head,
        if reveal {
            "Command line (secrets shown: r hides them)"
        } else {
            "Command line (secrets redacted: r reveals them)"
        },
    )];
    match &t.cmdline {
        Some(Ok(c)) => {
            let view = Cmdline::parse(&c.raw);
            let args: Vec<Vec<u8>> = if reveal {
                view.args().map(<[u8]>::to_vec).collect()
            } else {
                r.argv(view.args())
            };
            for (i, a) in args.iter().enumerate() {
                out.push(Line::new(Emph::Plain, format!("  [{i}] {}", escape(a))));
            }
        }
        Some(Err(f)) => out.extend(failed("  cmdline", f)),
        None => {}
    }
    if let Some(Ok(c)) = &t.cwd {
        out.push(Line::new(
            Emph::Dim,
            format!("  cwd {}", escape(c.as_slice())),
        ));
    }
    out.push(Line::new(Emph::Plain, ""));
    out.push(Line::new(Emph::Head, "Environment"));
    match &t.environ {
        Some(Ok(e)) => {
            for x in environ::entries(&e.raw) {
                let v = match x.value() {
                    Some(v) if !reveal => r.value(x.key(), v),
                    Some(v) => v.to_vec(),
                    None => Vec::new(),
                };
                out.push(Line::new(
                    Emph::Plain,
                    format!("  {}={}", escape(x.key()), escape(&v)),
                ));
            }
        }
        Some(Err(f)) => out.extend(failed("  environ", f)),
        None => {}
    }
    out
}

fn repro_script(
    root: &ProcRoot,
    session: &Session,
    pid: i32,
    reveal: bool,
) -> Result<String, String> {
    let t = target::read(root, vec![pid], text_request(true), session)
        .map_err(|f| f.to_string())?
        .pop()
        .ok_or_else(|| format!("PID {pid} has exited"))?;
    let user: Option<Bytes> = t.uid.and_then(|u| {
        procscope_model::users::resolve(root, [u], session)
            .get(&u)
            .cloned()
    });
    let r = Redactor::default();
    let plan = repro::plan(&t, (!reveal).then_some(&r), user, procscope_read::cap::TEXT)
        .map_err(|e| e.message)?;
    Ok(format!("#!/bin/bash\n{}", repro::script(&plan)))
}

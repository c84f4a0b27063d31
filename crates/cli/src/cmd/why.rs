//! `procscope why TARGET`: what it waits for, followed to the end.

use crate::cli::{Global, WhyArgs};
use crate::cmd::targets;
use crate::output::{self, Exit};
use anstyle::{AnsiColor, Style};
use procscope_model::why::{self, Group, Why};
use procscope_read::Failure;
use procscope_render::escape::escape;
use procscope_render::why as why_words;
use std::collections::HashMap;
use std::io::Write;

/// Extra help for `procscope why --help`.
pub const AFTER_HELP: &str = "\
Examples:
  sudo procscope why 1234        what 1234 waits for, and what that waits for, to the end
  sudo procscope why --json tar  the chain as data

Followed: a pipe to the processes at its other end, a file lock to its
holders, a unix socket or loopback connection to the peer process, a file on
a FUSE filesystem to its daemon, wait4/vfork to the children. A cycle (two
processes waiting on each other) is reported as a deadlock. D-state threads
are explained from their kernel frames. Needs ptrace rights over the
processes (the system call) and CAP_SYS_ADMIN (kernel stacks): run with sudo.";

/// Runs `procscope why`.
pub fn run(g: &Global, a: &WhyArgs) -> anyhow::Result<Exit> {
    let root = crate::cmd::ps::open_root(g)?;
    let opts = &g.session;
    let pids = targets::resolve(g, &root, &a.target)?;
    let mut found = Vec::new();
    for pid in pids {
        match why::explain(&root, pid, opts) {
            Ok(w) => found.push(w),
            Err(Failure::Gone) => {}
            Err(f) => output::warn(&format!("PID {pid}: {f}")),
        }
    }
    if found.is_empty() {
        output::warn(&targets::no_match(&root, &a.target));
        return Ok(Exit::NoMatch);
    }
    // Nothing could be told about any target (every thread's system call
    // refused): an error, not an answer.
    let told = |w: &why::Why| {
        w.processes.first().is_some_and(|p| {
            p.groups
                .iter()
                .any(|g| !matches!(g.wait, why::Wait::Unknown { .. }))
        })
    };
    let exit = if found.iter().any(told) {
        Exit::Success
    } else {
        Exit::Failed
    };
    let mut out = output::stdout(g.color);
    if g.json {
        procscope_render::json::write(
            &mut out,
            &procscope_render::wire::why::Document::new(&found),
        )?;
        out.flush()?;
        return Ok(exit);
    }
    for (i, w) in found.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        human(&mut out, w)?;
    }
    out.flush()?;
    Ok(exit)
}

fn name(w: &Why, pid: i32) -> String {
    w.processes.iter().find(|p| p.pid == pid).map_or_else(
        || pid.to_string(),
        |p| format!("{} ({pid})", escape(p.comm.as_slice())),
    )
}

fn threads(g: &Group) -> String {
    match g.tids.as_slice() {
        [one] => format!("thread {one}"),
        v => format!("{} threads", v.len()),
    }
}

fn write_group(out: &mut dyn Write, pid: i32, g: &Group, indent: &str) -> std::io::Result<()> {
    let dim = Style::new().dimmed();
    let call = g.call.as_ref().map_or_else(String::new, |c| {
        format!(" in {}", escape(why_words::call(c).as_bytes()))
    });
    let idle = g
        .idle_ms
        .filter(|ms| *ms >= 1000 && g.state != 'R')
        .map_or_else(String::new, |ms| {
            format!(", for {}", procscope_render::dossier::human_secs(ms / 1000))
        });
    writeln!(
        out,
        "{indent}{} {} ({}){call}{idle}",
        threads(g),
        g.state,
        g.meaning
    )?;
    writeln!(
        out,
        "{indent}  {}→ {}{}",
        dim.render(),
        escape(why_words::verdict(pid, &g.wait).as_bytes()),
        dim.render_reset()
    )
}

fn human(out: &mut dyn Write, w: &Why) -> std::io::Result<()> {
    let bold = Style::new().bold();
    let warn = Style::new().fg_color(Some(AnsiColor::Yellow.into())).bold();
    let by_pid: HashMap<i32, &why::Process> = w.processes.iter().map(|p| (p.pid, p)).collect();
    for (i, p) in w.processes.iter().enumerate() {
        let indent = if i == 0 { "" } else { "  " };
        writeln!(
            out,
            "{indent}{}PID {} ({}){}",
            bold.render(),
            p.pid,
            escape(p.comm.as_slice()),
            bold.render_reset()
        )?;
        // Followed processes: only the groups that explain something.
        let shown: Vec<&Group> = if i == 0 {
            p.groups.iter().collect()
        } else {
            p.groups.iter().take(3).collect()
        };
        for g in shown {
            write_group(out, p.pid, g, &format!("{indent}  "))?;
        }
    }
    writeln!(out, "{}Verdict{}", bold.render(), bold.render_reset())?;
    if let Some(c) = &w.cycle {
        let path: Vec<String> = c.iter().map(|p| name(w, *p)).collect();
        writeln!(
            out,
            "  {}deadlock: {}{} — each waits for the next; killing one of them breaks it",
            warn.render(),
            path.join(" → "),
            warn.render_reset()
        )?;
    }
    for p in &w.processes {
        if let Some(c) = &p.thread_cycle {
            let path: Vec<String> = c
                .iter()
                .map(|t| format!("{} ({})", t.tid, escape(t.name.as_slice())))
                .collect();
            writeln!(
                out,
                "  {}deadlock inside {}: threads {}{} — each holds the mutex the next waits for",
                warn.render(),
                name(w, p.pid),
                path.join(" → "),
                warn.render_reset()
            )?;
        }
    }
    let Some(target) = by_pid.get(&w.target) else {
        return Ok(());
    };
    for g in &target.groups {
        // A mutex held by another thread: say what that thread does (and
        // follow it, when it waits on another process).
        let mut text = escape(why_words::verdict(w.target, &g.wait).as_bytes()).into_owned();
        let mut first_wait = g.waits_for.first().copied();
        if let why::Wait::Mutex { owner, .. } = &g.wait {
            if let Some(og) = target
                .groups
                .iter()
                .find(|o| o.tids.contains(owner) && !std::ptr::eq(*o, g))
            {
                text.push_str(&format!(
                    "; thread {owner}: {}",
                    escape(why_words::verdict(w.target, &og.wait).as_bytes())
                ));
                first_wait = first_wait.or(og.waits_for.first().copied());
            }
        }
        // Follow the first process this group waits on to the end.
        let mut seen = vec![w.target];
        let mut next = first_wait;
        while let Some(n) = next {
            if seen.contains(&n) {
                break;
            }
            seen.push(n);
            let Some(p) = by_pid.get(&n) else { break };
            let Some(pg) = p.groups.first() else { break };
            text.push_str(&format!(
                "; {}: {}",
                name(w, n),
                escape(why_words::verdict(n, &pg.wait).as_bytes())
            ));
            next = pg.waits_for.first().copied();
        }
        writeln!(out, "  {}: {text}", threads(g))?;
    }
    Ok(())
}

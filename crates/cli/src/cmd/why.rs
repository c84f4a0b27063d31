//! `procscope why TARGET`: what it waits for, followed to the end.

use crate::cli::{Global, WhyArgs};
use crate::cmd::targets;
use crate::output::{self, Exit};
use procscope_model::why;
use procscope_read::Failure;
use procscope_render::why as why_words;
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
    let colour = output::colour(&out);
    let doc = why_words::page(&found);
    procscope_render::doc::write(&doc, &mut out, output::term_width(), colour)?;
    out.flush()?;
    Ok(exit)
}

//! `procscope stack TARGET`: what every thread is doing in the kernel.

use crate::cli::{Global, StackArgs};
use crate::cmd::targets;
use crate::output::{self, Exit};
use procscope_model::threads::{self, ProcessThreads};
use procscope_read::Failure;
use procscope_render::doc::Doc;
use procscope_render::wire::stack as wire;
use std::collections::HashMap;
use std::io::Write;

/// Extra help for `procscope stack --help`.
pub const AFTER_HELP: &str = "\
Examples:
  sudo procscope stack 1234            every thread, grouped by identical state, syscall and stack
  sudo procscope stack --no-group 1234 one block per thread
  procscope stack --json nginx | jq '.processes[].groups[] | {count, syscall}'
  sudo procscope stack -u 1234         kernel frames, then user frames: function+offset, module, file:line
  sudo procscope stack -u --json 1234 | jq '.processes[].groups[].user.frames[] | {function, file, line}'

User frames (-u) never stop a thread that is blocked in the kernel: its
registers come from /proc/PID/task/TID/syscall and its stack from
/proc/PID/mem, under --timeout. A thread on a CPU is stopped alone, for
microseconds (PTRACE_SEIZE + PTRACE_INTERRUPT in a helper process that is
killed at the deadline, which lets everything go). Symbols and file:line
come from the binaries, their .gnu_debuglink files and
/usr/lib/debug/.build-id (install the -dbg/-dbgsym packages for libraries).

Kernel stacks need CAP_SYS_ADMIN (run with sudo); the system call needs
ptrace rights over the process. Without them everything else is shown and
the missing part says what would allow it.";

/// Runs `procscope stack`.
pub fn run(g: &Global, a: &StackArgs) -> anyhow::Result<Exit> {
    let root = crate::cmd::ps::open_root(g)?;
    let opts = &g.session;
    let pids = targets::resolve(g, &root, &a.target)?;
    let mut procs = Vec::new();
    let cache = std::sync::Arc::new(procscope_model::ustack::Cache::default());
    for pid in pids {
        match threads::read(&root, pid, opts) {
            Ok(mut p) => {
                if a.user {
                    procscope_model::ustack::read(&root, &mut p, opts, &cache, true);
                }
                let fds = fd_texts(&root, &p, opts);
                procs.push((p, fds));
            }
            Err(Failure::Gone) => {}
            Err(f) => output::warn(&format!("PID {pid}: {f}")),
        }
    }
    if procs.is_empty() {
        output::warn(&targets::no_match(&root, &a.target));
        return Ok(Exit::NoMatch);
    }
    // Nothing could be read about any target's threads (neither system
    // calls nor kernel stacks): an error, not an answer.
    let readable = |p: &threads::ProcessThreads| {
        p.threads
            .iter()
            .any(|t| t.syscall.is_ok() || t.stack.is_ok())
    };
    let exit = if procs.iter().any(|(p, _)| readable(p)) {
        Exit::Success
    } else {
        Exit::Failed
    };
    let mut out = output::stdout(g.color);
    if g.json {
        let docs = procs
            .iter()
            .map(|(p, fds)| procscope_render::stack::wire_process(p, fds, a.no_group))
            .collect();
        procscope_render::json::write(&mut out, &wire::Document::new(docs))?;
        out.flush()?;
        return Ok(exit);
    }
    let mut doc = Doc::new();
    let mut hints = Vec::new();
    for (p, fds) in &procs {
        let (d, mut w) = procscope_render::stack::doc(p, fds, a.no_group);
        doc.append(d);
        hints.append(&mut w);
    }
    let colour = output::colour(&out);
    procscope_render::doc::write(&doc, &mut out, output::term_width(), colour)?;
    out.flush()?;
    drop(out);
    hints.sort();
    hints.dedup();
    for h in hints {
        output::warn(&h);
    }
    Ok(exit)
}

/// What the fds in the threads' system calls are, in words, by fd (the
/// model resolves them: one `fds` read and one peer search per process).
fn fd_texts(
    root: &procscope_read::ProcRoot,
    p: &ProcessThreads,
    opts: &procscope_read::Session,
) -> HashMap<i32, String> {
    threads::call_fds(root, p, opts)
        .iter()
        .map(|e| (e.fd, procscope_render::fds::brief(e)))
        .collect()
}

//! `procscope repro TARGET`: a shell snippet that starts the same program
//! the same way.

use crate::cli::{Global, ReproArgs};
use crate::cmd::targets::{self, TEXT_CAP};
use crate::output::{self, Exit};
use procscope_model::redact::Redactor;
use procscope_model::target::{ProcText, TextRequest};
use procscope_render::repro::{ExecVia, NoPlan, Plan, plan, script};
use procscope_render::wire::common::Bytes as WireBytes;
use procscope_render::wire::repro as wire;
use std::io::Write;

/// Extra help for `procscope repro --help`.
pub const AFTER_HELP: &str = "\
Examples:
  procscope repro 1234 > again.sh && bash again.sh
  procscope repro --redact nginx       safe to paste into a ticket
  procscope repro --json 1234         the script and its parts as JSON (docs/json.md)

The snippet changes to the process's working directory and starts its
executable with `/usr/bin/env -i`, so the program sees exactly the same
environment and arguments. When argv[0] is not the executable's path, perl
(/usr/bin/perl, part of every Debian system) performs the final exec to set
it, starting from an empty environment. Helpers are named by absolute path and
the program by the path of its executable, so nothing in the process's
arguments, environment or PATH can choose what runs. What no shell tool can
reproduce is said in a comment: duplicate variable names (getenv sees the
first, which is kept), entries without '=', and an executable deleted since
the process started. Comments name the user, the main limits and the cgroup.";

/// Runs `procscope repro`.
pub fn run(g: &Global, a: &ReproArgs) -> anyhow::Result<Exit> {
    let req = TextRequest {
        cmdline: true,
        environ: true,
        cwd: true,
        context: true,
        cap: TEXT_CAP,
    };
    let (root, texts) = targets::read_with(g, &a.target, req)?;
    if texts.is_empty() {
        output::warn(&targets::no_match(&root, &a.target));
        return Ok(Exit::NoMatch);
    }
    let redactor = a.redact.then(|| Redactor::with_keys(&a.redact_keys));
    let mut out = output::stdout(g.color);
    let plans: Vec<Result<Plan, NoPlan>> = texts
        .iter()
        .map(|t| {
            let user = t.uid.and_then(|u| {
                procscope_model::users::resolve(&root, [u], &g.session)
                    .get(&u)
                    .cloned()
            });
            plan(t, redactor.as_ref(), user, TEXT_CAP)
        })
        .collect();
    let failed = plans.iter().filter(|p| p.is_err()).count();
    if g.json {
        let docs = texts
            .iter()
            .zip(&plans)
            .map(|(t, p)| json_process(t, p, a.redact))
            .collect();
        procscope_render::json::write(&mut out, &wire::Document::new(docs))?;
    } else {
        // The snippets use bash's quoting ($'…'): say so, once, so that
        // `sh again.sh` is not mistaken for a way to run them.
        if plans.iter().any(Result::is_ok) {
            out.write_all(b"#!/bin/bash\n")?;
        }
        for p in &plans {
            match p {
                Ok(p) => out.write_all(script(p).as_bytes())?,
                Err(e) => {
                    out.flush()?;
                    output::warn(&e.message);
                }
            }
        }
    }
    out.flush()?;
    Ok(if failed == texts.len() {
        Exit::Failed
    } else {
        Exit::Success
    })
}

/// One process of `repro --json`: the script and its parts.
fn json_process(t: &ProcText, p: &Result<Plan, NoPlan>, redacted: bool) -> wire::Process {
    let comm = t.stat.as_ref().ok().map(|s| WireBytes::from(&s.comm));
    let p = match p {
        Ok(p) => p,
        Err(e) => {
            return wire::Process::NoScript(wire::NoScript {
                pid: t.pid,
                comm,
                script: (&e.failure).into(),
            });
        }
    };
    let b = |v: &[u8]| WireBytes::new(v);
    wire::Process::Script(Box::new(wire::Script {
        pid: t.pid,
        comm,
        uid: p.uid,
        user: p.user.as_ref().map(WireBytes::from),
        script: script(p),
        cwd: p.cwd.as_deref().map(b),
        cwd_deleted: p.cwd_deleted,
        program: b(&p.program),
        argv: p.argv.iter().map(|a| b(a)).collect(),
        exec_via: match p.via {
            ExecVia::Env => "env",
            ExecVia::Perl => "perl",
        }
        .into(),
        environment: p
            .env
            .iter()
            .map(|(k, v)| wire::Variable {
                key: b(k),
                value: b(v),
            })
            .collect(),
        left_out: p
            .left_out
            .iter()
            .map(|(why, raw)| wire::LeftOut {
                reason: (*why).into(),
                entry: b(raw),
            })
            .collect(),
        left_out_count: p.left_out_count,
        notes: p.notes.clone(),
        limits: p.limits.clone(),
        cgroup: p.cgroup.iter().map(WireBytes::from).collect(),
        redacted,
        truncated: p.truncated,
    }))
}

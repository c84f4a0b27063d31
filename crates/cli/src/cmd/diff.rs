//! `procscope diff A B`: what changed between two snapshots, or a snapshot
//! and the live host.

use crate::cli::Global;
use crate::output::{self, Exit, UsageError};
use clap::{Args, ValueHint};
use procscope_read::ProcRoot;
use std::io::Write;
use std::path::PathBuf;

/// Examples for `procscope diff --help`.
pub const AFTER_HELP: &str = "\
Examples:
  procscope diff before.psnap after.psnap    processes that appeared or went away; per process:
                                             state, threads, fds opened and closed, new D threads,
                                             limits and environment (values masked)
  procscope diff before.psnap live           against the live host now (also `-`)
  procscope diff --cpu a.psnap b.psnap       also RSS and CPU time
  procscope diff --json a.psnap b.psnap | jq '.changed[] | select(.fds_opened | length > 10)'

Exit status, like diff(1): 0 no differences, 1 differences, 2 error.";

/// `procscope diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The first snapshot.
    #[arg(value_name = "A", value_hint = ValueHint::FilePath)]
    pub a: PathBuf,
    /// The second snapshot, or `live` (or `-`) for the live host now.
    #[arg(value_name = "B", value_hint = ValueHint::FilePath)]
    pub b: PathBuf,
    /// Also report RSS and CPU time changes (they change on every busy
    /// process).
    #[arg(long)]
    pub cpu: bool,
    /// Show environment values unmasked.
    #[arg(long)]
    pub reveal: bool,
}

fn is_live(p: &std::path::Path) -> bool {
    p.as_os_str() == "live" || p.as_os_str() == "-"
}

/// Runs `procscope diff`.
pub fn run(g: &Global, a: &DiffArgs) -> anyhow::Result<Exit> {
    if g.opened.is_some() {
        return Err(
            UsageError("diff takes its snapshots as arguments: drop --snapshot".into()).into(),
        );
    }
    if is_live(&a.a) {
        return Err(UsageError("A must be a snapshot (B may be `live`)".into()).into());
    }
    let open = |p: &PathBuf| -> anyhow::Result<procscope_snapshot::Opened> {
        procscope_snapshot::open::open(p, procscope_snapshot::Limits::default())
            .map_err(|e| anyhow::anyhow!("{e}"))
    };
    let sa = open(&a.a)?;
    let sb = if is_live(&a.b) {
        None
    } else {
        Some(open(&a.b)?)
    };
    let ra = sa.root()?;
    let rb = match &sb {
        Some(s) => s.root()?,
        None => crate::cmd::ps::open_root(g)?,
    };
    let side = |r: &ProcRoot| {
        procscope_model::diff::read_side(r, &g.session)
            .map_err(|f| anyhow::anyhow!("cannot list processes under {}: {f}", r.path().display()))
    };
    let (mut pa, mut pb) = (side(&ra)?, side(&rb)?);
    // A snapshot of some processes says nothing about the others: compare
    // only the PIDs it holds (a PID reused meanwhile is still one gone and
    // one appeared).
    let partial = |o: Option<&procscope_snapshot::Opened>, s: &procscope_model::diff::Side| {
        o.filter(|o| !o.manifest.targets.is_empty()).map(|_| {
            s.keys()
                .map(|(pid, _)| *pid)
                .collect::<std::collections::HashSet<i32>>()
        })
    };
    let keep_a = partial(sb.as_ref(), &pb);
    let keep_b = partial(Some(&sa), &pa);
    if let Some(k) = keep_b {
        pb.retain(|(pid, _), _| k.contains(pid));
    }
    if let Some(k) = keep_a {
        pa.retain(|(pid, _), _| k.contains(pid));
    }
    let d = procscope_model::diff::diff(&pa, &pb, a.cpu);
    let redact = (!a.reveal).then(procscope_model::redact::Redactor::default);
    let src_a = crate::cmd::snapshot::source(&a.a.display().to_string(), &sa.manifest);
    let src_b = sb
        .as_ref()
        .map(|s| crate::cmd::snapshot::source(&a.b.display().to_string(), &s.manifest));
    let mut out = output::stdout(g.color);
    if g.json {
        let doc = procscope_render::diff::json(
            &d,
            procscope_render::wire::diff::SideInfo {
                snapshot: Some(src_a),
            },
            procscope_render::wire::diff::SideInfo { snapshot: src_b },
            redact.as_ref(),
        );
        procscope_render::json::write(&mut out, &doc)?;
    } else {
        let name = |s: &procscope_render::wire::snapshot::Source| {
            format!("{} (taken {} on {})", s.file, s.taken_at, s.hostname)
        };
        let b_name = src_b
            .as_ref()
            .map_or_else(|| "the live host, now".to_string(), name);
        for l in procscope_render::diff::text(&d, &name(&src_a), &b_name, redact.as_ref()) {
            writeln!(out, "{l}")?;
        }
    }
    out.flush()?;
    Ok(if d.is_empty() {
        Exit::Success
    } else {
        Exit::NoMatch
    })
}

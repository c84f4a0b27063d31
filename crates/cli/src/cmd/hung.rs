//! `procscope hung`: every task stuck in uninterruptible sleep, grouped.

use crate::cli::{Global, HungArgs};
use crate::output::{self, Exit};
use procscope_model::hung;
use std::io::Write;
use std::time::Instant;

/// Extra help for `procscope hung --help`.
pub const AFTER_HELP: &str = "\
Examples:
  sudo procscope hung                  sample for 1 s; exit 1 if anything stays in D
  sudo procscope hung --window 5s --samples 10
  procscope hung --json | jq '.groups[] | {count, cause}'
  sudo procscope hung --over 5m        also tasks asleep in one call (a read, a lock) for 5+ minutes

A task in D (uninterruptible sleep) for a moment is normal (a disk read); one
in D at every sample over the window is stuck. Stuck tasks are grouped by
their kernel stack across processes, and each group names its likely cause
from the frames (FUSE, NFS, block I/O, page-cache reads, kernel locks,
memory reclaim, vfork). Kernel stacks need CAP_SYS_ADMIN.
Exit status: 0 nothing is stuck, 1 something is, 2 error.";

/// Runs `procscope hung`: samples taken here (the frontend decides when,
/// and sleeps between them), folded and reported by the model, said by
/// render.
pub fn run(g: &Global, a: &HungArgs) -> anyhow::Result<Exit> {
    let root = crate::cmd::ps::open_root(g)?;
    // A snapshot holds one moment: sampling it again would re-read the
    // same files and claim the states lasted over a window.
    let one_moment = g.opened.is_some();
    let samples = if one_moment { 1 } else { a.samples.max(2) };
    let window = if one_moment {
        std::time::Duration::ZERO
    } else {
        a.window
    };
    let cannot_list =
        |f| anyhow::anyhow!("cannot list processes under {}: {f}", root.path().display());
    let started = Instant::now();
    let sampler = hung::Sampler::new(&root, a.over).map_err(cannot_list)?;
    let mut sampling = hung::fold(None, sampler.first(&root).map_err(cannot_list)?);
    // The window is spread over the samples after the first; sampling
    // stops as soon as no candidate is left.
    let rest = samples.saturating_sub(1).max(1);
    for _ in 0..rest {
        if one_moment || sampling.stuck.is_empty() {
            break;
        }
        std::thread::sleep(window / rest);
        let next = sampler.again(&root, &sampling);
        sampling = hung::fold(Some(sampling), next);
    }
    sampling.elapsed = if one_moment {
        std::time::Duration::ZERO
    } else {
        started.elapsed()
    };
    sampling.snapshot = one_moment;
    let opts = &g.session;
    let report = hung::report(&root, &sampling, opts);
    let stuck = report.tasks().count();
    let mut out = output::stdout(g.color);
    if g.json {
        procscope_render::json::write_document(
            &mut out,
            "hung",
            &procscope_render::hung::wire(&report, &sampling, window, samples),
        )?;
    } else {
        let colour = output::colour(&out);
        let doc = procscope_render::hung::doc(&report, &sampling, a.over);
        procscope_render::doc::write(&doc, &mut out, output::term_width(), colour)?;
        // Other users' tasks may be stuck where this caller cannot see.
        if stuck == 0 && !rustix::process::geteuid().is_root() {
            if let Some(h) = root.hiding() {
                output::warn(&format!(
                    "{} is mounted with {h}: other users' tasks are hidden from you and were not looked at; run as root",
                    root.path().display()
                ));
            }
        }
    }
    out.flush()?;
    Ok(if stuck == 0 {
        Exit::Success
    } else {
        Exit::NoMatch
    })
}

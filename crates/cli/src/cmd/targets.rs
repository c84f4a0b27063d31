//! Shared by commands about chosen processes: resolve TARGET, read what is
//! needed under the deadline, and describe failures with what to do.

use crate::cli::Global;
use crate::cmd::ps::open_root;
use crate::output::UsageError;
use procscope_model::target::{self, ProcText, Target, TextRequest};
use procscope_read::{Failure, ProcRoot};
use procscope_render::escape::escape;

/// Files read by the text commands are capped here (argv and environments
/// can be made huge on purpose; see reliability rule 2).
pub const TEXT_CAP: usize = procscope_read::cap::TEXT;

/// Where a file read for a text command was cut, in words: at the read
/// cap, or — in a snapshot, which kept `len` bytes of it — when the
/// snapshot was taken (its `--max-file`).
pub fn cut_at(g: &Global, len: usize) -> String {
    if g.opened.is_some() {
        format!("cut at {len} bytes when the snapshot was taken")
    } else {
        format!("cut at {} MiB", TEXT_CAP >> 20)
    }
}

/// Opens the root, resolves the target and reads `what` for each match.
/// An empty result means nothing matched.
pub fn read(
    g: &Global,
    target: &str,
    cmdline: bool,
    environ: bool,
    cwd: bool,
) -> anyhow::Result<(ProcRoot, Vec<ProcText>)> {
    let req = TextRequest {
        cmdline,
        environ,
        cwd,
        context: false,
        cap: TEXT_CAP,
    };
    read_with(g, target, req)
}

/// The PIDs a TARGET names (a PID, or every process whose name matches),
/// never procscope itself.
pub fn resolve(g: &Global, root: &ProcRoot, target: &str) -> anyhow::Result<Vec<i32>> {
    let t = Target::parse(target).map_err(UsageError)?;
    if let Target::Pid(p) = t {
        let max = procscope_model::target::pid_max(root);
        if p > max {
            return Err(UsageError(format!(
                "{p} is not a PID: PIDs here go up to {max} (kernel.pid_max)"
            ))
            .into());
        }
    }
    target::resolve(root, &t, root.own_pid(), &g.session)
        .map_err(|f| anyhow::anyhow!("cannot list processes under {}: {f}", root.path().display()))
}

/// Like [`read`], with every choice of [`TextRequest`].
pub fn read_with(
    g: &Global,
    target: &str,
    req: TextRequest,
) -> anyhow::Result<(ProcRoot, Vec<ProcText>)> {
    let root = open_root(g)?;
    let pids = resolve(g, &root, target)?;
    let texts = target::read(&root, pids, req, &g.session)
        .map_err(|f| anyhow::anyhow!("cannot read {}: {f}", root.path().display()))?;
    // A PID that does not exist is "nothing matched", like a pattern.
    let texts = texts
        .into_iter()
        .filter(|t| !matches!(t.stat, Err(Failure::Gone)))
        .collect();
    Ok((root, texts))
}

pub use procscope_render::repro::{explain, title};

/// Writes [`title`] in bold (no newline).
pub fn write_title(out: &mut dyn std::io::Write, t: &ProcText) -> std::io::Result<()> {
    let bold = anstyle::Style::new().bold();
    write!(out, "{}{}{}", bold.render(), title(t), bold.render_reset())
}

/// The message for "nothing matched", saying when the proc mount hides
/// other users' processes from this caller (`hidepid=`): then "no such
/// process" may only mean "not visible to you".
pub fn no_match(root: &ProcRoot, target: &str) -> String {
    let mut s = format!("no process matches `{}`", escape(target.as_bytes()));
    if !rustix::process::geteuid().is_root() {
        if let Some(h) = root.hiding() {
            s.push_str(&format!(
                " among the processes you can see: {} is mounted with {h}, which hides other users' processes; run as root to see them",
                root.path().display()
            ));
        }
    }
    s
}

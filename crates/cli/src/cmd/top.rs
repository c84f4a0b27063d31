//! `procscope top`: the live view (see `procscope_tui`).

use crate::cli::{ColorChoice, Global, TopArgs};
use crate::output::{Exit, UsageError};
use std::io::IsTerminal;
use std::time::Duration;

/// Extra help for `procscope top --help`.
pub const AFTER_HELP: &str = "\
Examples:
  procscope top                     refresh every second
  procscope top --interval 500ms    or -d 5 (tenths, like htop)
  procscope top --proc-root DIR     a fixture tree or a copied /proc

Columns: PID, USER, S (state; '!' marks a process in D at two refreshes in
a row or whose read timed out), %CPU, %MEM, RSS, THR, TIME+, WCHAN/BLOCKED
(where it sleeps in the kernel, or which read timed out), UNIT (container,
pod or systemd unit from the cgroup path), FDS (open/soft limit), COMMAND.

Keys: arrows and PgUp/PgDn move, Enter opens the process (tabs: overview
with the why verdict, threads and stacks, fds with their other ends,
environment and command line, limits, maps; Tab or 1-6 switch, Esc goes
back), / filters by regex as ps does (Enter applies, Esc clears), F6 or
< > choose the sort column (P cpu, M memory, T time, N pid, I inverts),
t tree, k sends a signal after asking, c copies the repro script to the
terminal's clipboard (OSC 52), r reveals secrets, ? lists keys, q or F10
quits. Mouse: click selects, the wheel scrolls. NO_COLOR is honoured.

The view never reads /proc itself: a background thread collects, under
--timeout, and a process whose memory lock is stuck shows what timed out
while the rest keeps refreshing.";

/// Runs `procscope top`.
pub fn run(g: &Global, a: &TopArgs) -> anyhow::Result<Exit> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(UsageError(
            "procscope top needs a terminal (for a listing, use procscope ps)".into(),
        )
        .into());
    }
    let interval = match a.delay {
        Some(t) => Duration::from_millis(u64::from(t) * 100),
        None => a.interval,
    };
    if interval < Duration::from_millis(100) {
        return Err(UsageError("--interval: at least 100ms".into()).into());
    }
    let no_color = match g.color {
        ColorChoice::Always => false,
        ColorChoice::Never => true,
        ColorChoice::Auto => std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
    };
    let root = crate::cmd::ps::open_root(g)?;
    // The collector keeps each process's `stat` open between refreshes.
    procscope_read::fdroom::raise_soft_limit();
    procscope_tui::run(procscope_tui::Options {
        root,
        session: g.session.clone(),
        interval,
        no_color,
    })?;
    Ok(Exit::Success)
}

//! `procscope completions SHELL`.

use crate::cli::{Cli, CompletionsArgs};
use crate::output::Exit;
use clap::CommandFactory;

/// Writes the completion script for the shell to standard output.
pub fn run(a: &CompletionsArgs) -> anyhow::Result<Exit> {
    let mut cmd = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(a.shell, &mut cmd, "procscope", &mut out);
    Ok(Exit::Success)
}

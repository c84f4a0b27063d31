//! `procscope man`: the manual page, generated from the CLI definition.

use crate::cli::Cli;
use crate::output::Exit;
use clap::CommandFactory;
use std::io::Write;

/// Writes roff for procscope(1) and a section per subcommand.
pub fn run() -> anyhow::Result<Exit> {
    let cmd = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_mangen::Man::new(cmd.clone()).render(&mut out)?;
    for sub in cmd.get_subcommands() {
        let name = format!("procscope-{}", sub.get_name());
        writeln!(out, ".\\\" ---- {name}")?;
        let sub = sub.clone().name(name);
        let man = clap_mangen::Man::new(sub);
        man.render_title(&mut out)?;
        man.render_name_section(&mut out)?;
        man.render_synopsis_section(&mut out)?;
        man.render_description_section(&mut out)?;
        man.render_options_section(&mut out)?;
        man.render_extra_section(&mut out)?;
    }
    out.flush()?;
    Ok(Exit::Success)
}

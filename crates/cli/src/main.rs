//! `procscope`: what is this process doing, and why is it stuck?
//!
//! This file only parses the command line and dispatches; each subcommand
//! lives in `cmd/`.

mod cleanup;
mod cli;
mod cmd;
mod output;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = cli::Cli::parse();
    args.global.start_session();
    // `top` restores the terminal on SIGTERM itself: the unpacked
    // snapshot is removed when it returns (or by the next procscope).
    let catch = !matches!(args.command, cli::Command::Top(_));
    if let Err(e) = cmd::snapshot::open_global(&mut args.global, catch) {
        return output::finish(Err(e));
    }
    let result = match &args.command {
        cli::Command::Ps(a) => cmd::ps::run(&args.global, a),
        cli::Command::Cmdline(a) => cmd::cmdline::run(&args.global, a),
        cli::Command::Env(a) => cmd::env::run(&args.global, a),
        cli::Command::Repro(a) => cmd::repro::run(&args.global, a),
        cli::Command::Stack(a) => cmd::stack::run(&args.global, a),
        cli::Command::Hung(a) => cmd::hung::run(&args.global, a),
        cli::Command::Serve(a) => cmd::serve::run(&args.global, a),
        cli::Command::Top(a) => cmd::top::run(&args.global, a),
        cli::Command::Why(a) => cmd::why::run(&args.global, a),
        cli::Command::Watch(a) => cmd::watch::run(&args.global, a),
        cli::Command::Fds(a) => cmd::fds::run(&args.global, a),
        cli::Command::WhoHas(a) => cmd::whohas::run(&args.global, a),
        cli::Command::Show(a) => cmd::show::run(&args.global, a),
        cli::Command::Limits(a) => cmd::show::focused(&args.global, &a.target, "limits", false),
        cli::Command::Maps(a) => cmd::show::focused(&args.global, &a.target, "maps", a.extended),
        cli::Command::Caps(a) => cmd::show::focused(&args.global, &a.target, "security", false),
        cli::Command::Signals(a) => cmd::show::focused(&args.global, &a.target, "signals", false),
        cli::Command::Ns(a) => cmd::show::focused(&args.global, &a.target, "namespaces", false),
        cli::Command::Cgroup(a) => cmd::show::focused(&args.global, &a.target, "cgroup", false),
        cli::Command::Mounts(a) => cmd::show::focused(&args.global, &a.target, "mounts", false),
        cli::Command::Snapshot(a) => cmd::snapshot::run(&args.global, a),
        cli::Command::Diff(a) => cmd::diff::run(&args.global, a),
        cli::Command::Completions(a) => cmd::completions::run(a),
        cli::Command::Man(a) => cmd::man::run(a),
    };
    output::finish(result)
}

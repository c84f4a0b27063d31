//! One module per subcommand: each has a `run`.

pub mod cmdline;
pub mod completions;
pub mod diff;
pub mod env;
pub mod fds;
pub mod hung;
pub mod man;
pub mod ps;
pub mod repro;
pub mod serve;
pub mod show;
pub mod snapshot;
pub mod stack;
pub mod targets;
pub mod top;
pub mod watch;
pub mod whohas;
pub mod why;

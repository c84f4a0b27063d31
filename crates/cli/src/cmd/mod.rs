//! One module per subcommand: each has a `run`.

pub mod completions;
pub mod man;
pub mod ps;

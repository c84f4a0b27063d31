//! Integration tests: procscope against real processes in known states,
//! and against fixture proc trees. One test binary (see ripgrep's layout).
// Test code: a failed expectation is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::too_many_arguments
)]

mod conventions;
mod engine;
mod exit_codes;
mod fdkinds;
mod fds;
mod fds_self;
mod fixtures;
mod flip;
mod golden;
mod hang;
mod host_files;
mod hostile_root;
mod peers;
mod process_state;
mod ps_live;
mod serve;
mod shell_exec;
mod show;
mod show_fixtures;
mod snapshot;
mod stack;
mod support;
mod text;
mod top;
mod ustack;
mod ustack_busy;
mod ustack_more;
mod watch;
mod whohas_identity;
mod why;
mod wire;
mod wire_words;

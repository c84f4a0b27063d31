//! Integration tests: procscope against real processes in known states,
//! and against fixture proc trees. One test binary (see ripgrep's layout).

mod conventions;
mod fixtures;
mod hang;
mod ps_live;
mod support;

//! The JSON documents of docs/json.md as typed structs: one module per
//! command, each with the document's whole tree. Frontends build these from
//! model values and [`crate::json`] writes them; consumers (and our tests)
//! deserialize them with unknown fields denied, so a field added to the
//! output without its wire type (and its documentation) fails a test.
//!
//! Every raw number that the text output decodes carries its decoded names
//! beside it (`flags` and `flag_names`, `clockid` and `clock`, …), from the
//! same decoders the text uses (`procscope_parse::decode`).

pub mod cmdline;
pub mod common;
pub mod diff;
pub mod env;
pub mod fds;
pub mod hung;
pub mod ps;
pub mod repro;
pub mod show;
pub mod snapshot;
pub mod stack;
pub mod watch;
pub mod whohas;
pub mod why;

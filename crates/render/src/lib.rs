//! Output for people and programs.
//!
//! - [`escape`] makes untrusted bytes (names, arguments, paths) safe for a
//!   terminal: control characters, C1 controls, bidi overrides and invalid
//!   UTF-8 become visible escapes.
//! - [`table`] lays out aligned columns sized to the terminal.
//! - [`units`] formats sizes, durations and start times.
//! - [`ps`] turns process rows into table cells.
//! - [`dossier`] lays out `procscope show` and its focused subcommands.
//! - [`json`] writes the versioned JSON documents described in docs/json.md.
//!
//! This crate never reads `/proc`.

pub mod dossier;
pub mod escape;
pub mod json;
pub mod ps;
pub mod shell;
pub mod table;
pub mod units;
pub mod wire;

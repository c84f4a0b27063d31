//! Output for people and programs.
//!
//! - [`escape`] makes untrusted bytes (names, arguments, paths) safe for a
//!   terminal: control characters, C1 controls, bidi overrides and invalid
//!   UTF-8 become visible escapes.
//! - [`table`] lays out aligned columns sized to the terminal.
//! - [`units`] formats sizes, durations and start times.
//! - [`ps`] turns process rows into table cells.
//! - [`fds`] says what an fd is ([`fds::describe`], [`fds::brief`]);
//!   [`calls`] a blocked system call with its arguments decoded; [`why`]
//!   what a thread waits for; [`hung`] why tasks are stuck; [`whohas`]
//!   who holds a file, port or pipe.
//! - [`doc`] is the styled document those renderers build: a terminal
//!   writer prints it, a TUI draws it. [`dossier`] lays out `procscope
//!   show` and its focused subcommands, [`stack`] `procscope stack`,
//!   [`why::page`] `procscope why`.
//! - [`repro`] plans and writes the `repro` shell snippet.
//! - [`json`] writes the versioned JSON documents described in docs/json.md;
//!   [`wire`] holds the typed structs of some of them.
//!
//! This crate never reads `/proc`.

pub mod calls;
pub mod diff;
pub mod doc;
pub mod dossier;
pub mod escape;
pub mod fds;
pub mod hung;
pub mod json;
pub mod ps;
pub mod repro;
pub mod shell;
pub mod stack;
pub mod table;
pub mod units;
pub mod ustack;
pub mod watch;
pub mod whohas;
pub mod why;
pub mod wire;

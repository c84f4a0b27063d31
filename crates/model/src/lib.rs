//! The process model: what people ask about, joined from `/proc` reads.
//!
//! - [`listing`] reads every process (or a chosen set) through the reader's
//!   guarded pool and yields [`process::ProcessRow`]s, reading only the files
//!   the caller's fields need.
//! - [`select`], [`tree`] and [`sort`] are pure functions over rows.
//! - [`bytes::Bytes`] keeps kernel bytes as bytes and serializes them
//!   losslessly.
//!
//! Nothing here formats for terminals; see `procscope-render`.

pub mod bytes;
pub mod callmem;
pub mod calls;
pub mod clock;
pub mod collect;
pub mod diff;
pub mod dossier;
#[cfg(test)]
pub(crate) mod fake;
pub mod fds;
pub mod fdscan;
pub mod glob;
pub mod hung;
pub mod kin;
pub mod listing;
pub mod process;
pub mod redact;
pub mod select;
pub mod sort;
pub mod target;
pub mod threads;
pub mod tree;
pub mod users;
pub mod ustack;
pub mod watch;
pub mod whohas;
pub mod why;

pub use procscope_read::{Failure, Need, Outcome};

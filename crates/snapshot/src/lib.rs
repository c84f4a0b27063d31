//! procscope snapshots: one file holding a proc tree (the files every
//! command reads, per process), the host files next to it (`.host/`), the
//! answers only the live host could give (recorded on a
//! [`procscope_read::tape::Tape`]) and a manifest saying when, where and
//! what could not be read. The format is in docs/snapshot.md.
//!
//! - [`capture::take`] writes one from a live root, every risky read under
//!   the session's deadline;
//! - [`open::open`] reads one as hostile input into a private directory
//!   that a [`procscope_read::ProcRoot`] then reads like any tree
//!   ([`Opened::root`]);
//! - `procscope_model::diff` compares two roots (snapshots or the live host).

pub mod capture;
pub mod format;
pub mod open;
mod write;

pub use format::Manifest;
pub use open::{Limits, OpenError, Opened};

impl Opened {
    /// The proc root over the unpacked tree, answering live-only questions
    /// from the recorded answers (and naming the procscope that took it as
    /// its own process).
    pub fn root(&self) -> std::io::Result<procscope_read::ProcRoot> {
        Ok(procscope_read::ProcRoot::open(self.dir.path())?
            .with_tape(procscope_read::tape::Tape::replay(
                self.records
                    .clone()
                    .with_manifest_facts(self.manifest.facts()),
            ))
            .with_own_pid(self.manifest.own_pid))
    }
}

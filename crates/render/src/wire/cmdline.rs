//! `procscope cmdline --json`.

use super::common::{Bytes, OrError, args, or_error, shape_name};
use procscope_model::target::ProcText;
use serde::{Deserialize, Serialize};

/// The whole document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// Format version.
    pub procscope: u32,
    /// `cmdline`.
    pub kind: String,
    /// One per process.
    pub processes: Vec<Process>,
}

impl Document {
    /// The document of `processes`.
    pub fn new(processes: Vec<Process>) -> Document {
        Document {
            procscope: crate::json::VERSION,
            kind: "cmdline".into(),
            processes,
        }
    }
}

/// One process's command line. `comm`, `kernel_thread` and `state` are
/// absent when its `stat` could not be read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Process {
    /// Process ID.
    pub pid: i32,
    /// Its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comm: Option<Bytes>,
    /// A kernel thread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_thread: Option<bool>,
    /// State letter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// The executable's path.
    pub exe: OrError<Bytes>,
    /// Every argument, empty ones included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub argv: Option<OrError<Vec<Bytes>>>,
    /// The layout (`argv`, `empty`, `rewritten_*`), when read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shape: Option<String>,
    /// Longer than the read cap, when read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncated: Option<bool>,
}

impl From<&ProcText> for Process {
    fn from(t: &ProcText) -> Process {
        let st = t.stat.as_ref().ok();
        let read = t.cmdline.as_ref().and_then(|c| c.as_ref().ok());
        Process {
            pid: t.pid,
            comm: st.map(|s| Bytes::from(&s.comm)),
            kernel_thread: st.map(|s| s.kernel_thread),
            state: st.map(|s| s.state.letter().to_string()),
            exe: or_error(&t.exe, super::common::bytes),
            argv: t.cmdline.as_ref().map(|c| or_error(c, |c| args(&c.raw))),
            shape: read.map(|c| shape_name(c.view().shape())),
            truncated: read.map(|c| c.truncated),
        }
    }
}

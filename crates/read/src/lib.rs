//! Reading `/proc` safely.
//!
//! - [`ProcRoot`] is the proc tree (`/proc` by default, any directory for
//!   fixtures and captured snapshots).
//! - [`ProcDir`] is one process (or thread) directory opened once; every
//!   file is read relative to that handle, so a PID reused by a new process
//!   makes reads fail as [`Failure::Gone`] instead of mixing two processes.
//! - Every read returns an [`Outcome`]: the value, or a [`Failure`] that says
//!   why not (gone, denied and what would allow it, timed out, malformed,
//!   unsupported).
//! - [`guard`] runs per-process work on a small pool of worker threads and
//!   puts a deadline on the reads that take the target's memory-map lock
//!   (`cmdline`, `environ`, `maps`, `smaps*`): a read stuck behind a hung
//!   process is abandoned, never waited for.
//! - [`HostFiles`] ([`ProcRoot::host`]) are the host's files outside
//!   `/proc` (`/etc/passwd`, cgroupfs, executables) for that root: the real
//!   ones for a live procfs, the tree's `.host/` copy for a fixture.
//!
//! ```no_run
//! use procscope_read::ProcRoot;
//! let root = ProcRoot::open("/proc").unwrap();
//! let mut buf = Vec::new();
//! for pid in root.pids().unwrap() {
//!     if let Ok(dir) = root.process(pid) {
//!         let _ = dir.read(c"stat", &mut buf, 64 * 1024);
//!     }
//! }
//! ```

pub mod cap;
pub mod ends;
mod failure;
pub mod fdroom;
pub mod guard;
pub mod handle;
pub mod helper;
pub mod host;
mod kept;
pub mod memory;
pub mod modcopy;
mod nss;
pub mod ptrace;
pub mod realpath;
mod root;
pub mod sockdiag;
pub mod sockinfo;
pub mod tape;

pub use failure::{Failure, Need, Outcome};
pub use guard::{Session, Target};
pub use host::HostFiles;
pub use kept::Kept;
pub use root::{FdStat, FileRead, ProcDir, ProcRoot, is_memory_lock_file};

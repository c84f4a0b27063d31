//! Typed outcomes of reads.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The result of reading something from `/proc`.
pub type Outcome<T> = Result<T, Failure>;

/// What would allow a denied read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Need {
    /// `stack` needs CAP_SYS_ADMIN, even for one's own processes.
    CapSysAdmin,
    /// `environ`, `fd/`, `maps`, `io`, `exe`, `cwd`, `root` …: the same user as
    /// the target (and the target dumpable), or CAP_SYS_PTRACE
    /// (`PTRACE_MODE_READ_FSCREDS`).
    PtraceRead,
    /// `syscall`, `mem`: ptrace attach rights (`PTRACE_MODE_ATTACH_FSCREDS`):
    /// the same user, or CAP_SYS_PTRACE.
    PtraceAttach,
    /// The proc mount hides other users' processes (`hidepid=`), or an LSM
    /// refused: run as root, or as the process's user.
    Privilege,
}

impl Need {
    /// A hint that tells the user what to do.
    pub fn hint(self) -> &'static str {
        // Refused to a process that has CAP_SYS_PTRACE: sudo is no answer. An LSM (Yama ptrace_scope 3, SELinux, AppArmor), a
        // lockdown, or a process in a user namespace root does not own.
        let ptrace_capable = rustix::thread::capabilities(None).is_ok_and(|c| {
            c.effective
                .contains(rustix::thread::CapabilitySet::SYS_PTRACE)
        });
        if ptrace_capable && self != Need::CapSysAdmin {
            return "refused even with CAP_SYS_PTRACE: an LSM (Yama, SELinux, AppArmor) or the process's own protection";
        }
        match self {
            Need::CapSysAdmin => "needs CAP_SYS_ADMIN: run with sudo",
            Need::PtraceRead => {
                "needs the same user as the process or CAP_SYS_PTRACE: run as that user or with sudo"
            }
            Need::PtraceAttach => {
                "needs ptrace rights over the process (same user, or CAP_SYS_PTRACE): run with sudo"
            }
            Need::Privilege => "not permitted: run with sudo",
        }
    }
}

/// Why a value could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "reason", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Failure {
    /// The process or thread exited (or its PID was reused) while reading.
    #[error("process gone")]
    Gone,
    /// The kernel refused; `need` says what would allow it.
    #[error("denied: {}", need.hint())]
    Denied {
        /// What would allow the read.
        need: Need,
    },
    /// The read did not finish within the deadline: the target's memory lock
    /// is held by a stuck thread (look for `D` threads and their stacks).
    #[error("timed out after {} ms (the process's memory lock is held: see its D-state threads)", after.as_millis())]
    TimedOut {
        /// The deadline that passed.
        #[serde(
            rename = "after_ms",
            serialize_with = "ser_ms",
            deserialize_with = "de_ms"
        )]
        after: Duration,
    },
    /// Not attempted because earlier reads of this run were stuck and the cap
    /// on abandoned reads was reached.
    #[error("skipped: {stuck} reads are already stuck on hung processes")]
    Skipped {
        /// Reads abandoned so far.
        stuck: usize,
    },
    /// The file exists but its content could not be understood.
    #[error("malformed: {detail}")]
    Malformed {
        /// What was wrong.
        detail: String,
    },
    /// This kernel (or this proc root) does not provide the file.
    #[error("not provided by this kernel: {what}")]
    Unsupported {
        /// The missing file or feature.
        what: String,
    },
    /// The process has no such thing (kernel threads have no executable or
    /// memory, zombies no open files, a root cgroup no limit files).
    #[error("not available: {what}")]
    Absent {
        /// What is missing, and why.
        what: String,
    },
    /// Any other I/O error, with its errno.
    #[error("I/O error: {message}")]
    Io {
        /// `errno`.
        errno: i32,
        /// The system's description.
        message: String,
    },
}

fn ser_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn de_ms<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    u64::deserialize(d).map(Duration::from_millis)
}

impl Failure {
    /// A stable one-word name for the kind (used in JSON and tables).
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::Gone => "gone",
            Failure::Denied { .. } => "denied",
            Failure::TimedOut { .. } => "timed_out",
            Failure::Skipped { .. } => "skipped",
            Failure::Malformed { .. } => "malformed",
            Failure::Unsupported { .. } => "unsupported",
            Failure::Absent { .. } => "absent",
            Failure::Io { .. } => "io",
        }
    }

    /// Maps an errno from reading `file` (a name relative to a process
    /// directory, like `stack` or `task/12/environ`).
    pub fn from_errno(e: rustix::io::Errno, file: &[u8]) -> Failure {
        use rustix::io::Errno;
        if e == Errno::NOENT || e == Errno::SRCH {
            Failure::Gone
        } else if e == Errno::ACCESS || e == Errno::PERM {
            Failure::Denied {
                need: need_for(file),
            }
        } else {
            Failure::Io {
                errno: e.raw_os_error(),
                message: std::io::Error::from(e).to_string(),
            }
        }
    }

    /// A parse error of `file`'s content.
    pub fn malformed(file: &str, detail: impl std::fmt::Display) -> Failure {
        Failure::Malformed {
            detail: format!("{file}: {detail}"),
        }
    }
}

/// Which permission a file under `/proc/PID` needs (fs/proc/base.c: the
/// `PTRACE_MODE_*` checks of each entry).
fn need_for(file: &[u8]) -> Need {
    let base = file.rsplit(|&c| c == b'/').next().unwrap_or(file);
    match base {
        b"stack" => Need::CapSysAdmin,
        b"syscall" | b"mem" => Need::PtraceAttach,
        b"environ" | b"maps" | b"smaps" | b"smaps_rollup" | b"numa_maps" | b"pagemap" | b"io"
        | b"exe" | b"cwd" | b"root" | b"fd" | b"fdinfo" | b"map_files" | b"auxv"
        | b"personality" | b"wchan" | b"timers" => Need::PtraceRead,
        _ if file.starts_with(b"fd/") || file.starts_with(b"fdinfo/") => Need::PtraceRead,
        _ => Need::Privilege,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::io::Errno;

    #[test]
    fn errno_mapping() {
        assert_eq!(Failure::from_errno(Errno::NOENT, b"stat"), Failure::Gone);
        assert_eq!(Failure::from_errno(Errno::SRCH, b"stat"), Failure::Gone);
        assert_eq!(
            Failure::from_errno(Errno::ACCESS, b"task/5/stack"),
            Failure::Denied {
                need: Need::CapSysAdmin
            }
        );
        assert_eq!(
            Failure::from_errno(Errno::PERM, b"fd/3"),
            Failure::Denied {
                need: Need::PtraceRead
            }
        );
        assert_eq!(
            Failure::from_errno(Errno::ACCESS, b"environ"),
            Failure::Denied {
                need: Need::PtraceRead
            }
        );
        assert!(matches!(
            Failure::from_errno(Errno::IO, b"x"),
            Failure::Io { errno: 5, .. }
        ));
    }

    #[test]
    fn messages_say_what_to_do() {
        let d = Failure::Denied {
            need: Need::CapSysAdmin,
        };
        assert_eq!(d.to_string(), "denied: needs CAP_SYS_ADMIN: run with sudo");
        let t = Failure::TimedOut {
            after: Duration::from_millis(1500),
        };
        assert!(t.to_string().starts_with("timed out after 1500 ms"));
        assert_eq!(t.kind(), "timed_out");
    }
}

//! One line for people about what a group of threads waits for.

use super::{Wait, Who};

fn names(v: &[Who]) -> String {
    v.iter()
        .map(|w| format!("{} ({})", w.pid, String::from_utf8_lossy(w.comm.as_slice())))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One line for people. Process names are not escaped here: renderers do
/// that (`verdict` goes through their escaping like any other text).
pub(super) fn verdict(pid: i32, w: &Wait) -> String {
    match w {
        Wait::Running => "running on a CPU: not waiting".into(),
        Wait::Stopped => format!("stopped by a signal: resume it with kill -CONT {pid}"),
        Wait::Traced => "stopped by a debugger or tracer (see TracerPid)".into(),
        Wait::Zombie => "exited; its parent has not reaped it".into(),
        Wait::Pipe {
            end: "read",
            other_end,
            ..
        } if other_end.is_empty() => "waiting for data on a pipe nobody else can write".into(),
        Wait::Pipe {
            end: "read",
            other_end,
            ..
        } => {
            format!("waiting for data on a pipe written by {}", names(other_end))
        }
        Wait::Pipe { other_end, .. } if other_end.is_empty() => {
            "the pipe is full and nobody else can read it".into()
        }
        Wait::Pipe { other_end, .. } => {
            format!(
                "the pipe is full: waiting for {} to read it",
                names(other_end)
            )
        }
        Wait::Socket {
            what, other_end, ..
        } if other_end.is_empty() => {
            format!("waiting on a socket ({what}); the other end is not a process on this host")
        }
        Wait::Socket { other_end, .. } => {
            format!("waiting on a socket connected to {}", names(other_end))
        }
        Wait::Lock { path, holders, .. } if holders.is_empty() => format!(
            "waiting for a lock on {}",
            String::from_utf8_lossy(path.as_slice())
        ),
        Wait::Lock { path, holders, .. } => format!(
            "waiting for a lock on {} held by {}",
            String::from_utf8_lossy(path.as_slice()),
            names(holders)
        ),
        Wait::File {
            path,
            mount_point,
            fs_type,
            daemons,
            ..
        } => {
            let on = match (mount_point, fs_type) {
                (Some(m), Some(t)) => format!(
                    " on {} ({})",
                    String::from_utf8_lossy(m.as_slice()),
                    String::from_utf8_lossy(t.as_slice())
                ),
                _ => String::new(),
            };
            let d = match daemons.len() {
                0 => String::new(),
                1 => format!("; FUSE daemon: {}", names(daemons)),
                _ => format!(
                    "; one of the FUSE daemons on this host (the kernel does not say which serves this mount): {}",
                    names(daemons)
                ),
            };
            format!(
                "waiting for I/O on {}{on}: the filesystem is not answering{d}",
                String::from_utf8_lossy(path.as_slice())
            )
        }
        Wait::Children { children } if children.is_empty() => "waiting for a child".into(),
        Wait::Children { children } => format!("waiting for its child {}", names(children)),
        Wait::Futex { addr } => {
            format!("waiting on a user-space lock or condition variable (futex {addr:#x})")
        }
        Wait::Mutex {
            addr,
            owner,
            owner_name,
        } => format!(
            "waiting for a mutex (futex {addr:#x}) held by thread {owner} ({})",
            String::from_utf8_lossy(owner_name.as_slice())
        ),
        Wait::Events => "idle: waiting for events (epoll/poll/select)".into(),
        Wait::Sleep {
            wakes_in_ms: Some(ms),
        } if *ms > 0 => format!(
            "sleeping by choice; wakes in {}",
            crate::calls::ms(ms.unsigned_abs())
        ),
        Wait::Sleep { .. } => "sleeping by choice".into(),
        Wait::Accept => "waiting for a connection".into(),
        Wait::Kernel { cause } => format!("in the kernel: {cause}"),
        Wait::Other => "in a system call".into(),
        Wait::Unknown { reason } => format!("cannot tell: {reason}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytes::Bytes;

    #[test]
    fn verdicts() {
        let w = |pid, c: &str| Who {
            pid,
            comm: Bytes(c.as_bytes().to_vec()),
            fd: None,
        };
        assert_eq!(
            verdict(
                9,
                &Wait::Pipe {
                    fd: 1,
                    inode: 5,
                    end: "write",
                    other_end: vec![w(812, "gzip")]
                }
            ),
            "the pipe is full: waiting for 812 (gzip) to read it"
        );
        assert_eq!(
            verdict(9, &Wait::Stopped),
            "stopped by a signal: resume it with kill -CONT 9"
        );
    }
}

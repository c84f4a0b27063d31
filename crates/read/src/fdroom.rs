//! Room in procscope's own fd table, for the handles a listing or a
//! collector keeps open (a `/proc/PID` directory, a kept `stat`).
//!
//! Growing the table while other threads share it makes the kernel wait
//! for an RCU grace period at each doubling (`expand_fdtable()` in
//! fs/file.c: 13–16 ms each, measured here), so it is grown once, to the
//! size needed, before the handles are opened.

use rustix::process::{Resource, getrlimit, setrlimit};

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (systemd's default
/// soft limit is 1024, as for the Go exporters), and returns the soft
/// limit now in force.
pub fn raise_soft_limit() -> u64 {
    let mut lim = getrlimit(Resource::Nofile);
    if lim.current < lim.maximum {
        lim.current = lim.maximum;
        let _ = setrlimit(Resource::Nofile, lim);
    }
    getrlimit(Resource::Nofile).current.unwrap_or(1 << 20)
}

/// The soft `RLIMIT_NOFILE` in force.
pub fn soft_limit() -> u64 {
    getrlimit(Resource::Nofile).current.unwrap_or(1 << 20)
}

/// Grows the fd table to hold `fds` descriptors at once (by duplicating
/// standard error to that number and closing it). False when the limit
/// does not allow it.
pub fn grow_table(fds: usize) -> bool {
    let Ok(at) = i32::try_from(fds) else {
        return false;
    };
    let stderr = std::io::stderr();
    rustix::io::fcntl_dupfd_cloexec(&stderr, at).is_ok()
}

//! What a thread blocked in poll, select or epoll_pwait2 waits on, read
//! from its memory: the fds polled with the events asked for, the fds of
//! select's sets, and a timeout given by pointer. The reads go through
//! `/proc/PID/mem` and take the target's memory lock: call [`read`] from a
//! deadline-guarded context, as for a sleep's timespec (see
//! [`crate::threads`]). What is read is capped: a process can pass any
//! `nfds`.

use procscope_parse::callmem;
use procscope_parse::syscall::Abi;
use procscope_read::ProcDir;
use serde::Serialize;

/// At most this many `struct pollfd` are read (512 bytes).
pub const POLL_CAP: usize = 64;
/// At most this many bits of each select set are read (`FD_SETSIZE`).
pub const FD_SET_CAP: usize = 1024;

/// A timeout given by pointer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Timeout {
    /// A null pointer: no timeout, it waits for an event.
    Never,
    /// Relative, in nanoseconds (as asked: the kernel updates it only on return).
    After {
        /// Nanoseconds.
        ns: u64,
    },
}

/// One polled fd.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Polled {
    /// The fd (negative: ignored by the kernel).
    pub fd: i32,
    /// The events asked for (`POLLIN` 1, `POLLPRI` 2, `POLLOUT` 4, …;
    /// their names are the reader's: `procscope_parse::decode::POLL_EVENTS`).
    pub events: u16,
}

/// What a blocked call's pointer arguments point at. A member is `None`
/// when the call has no such argument or it could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct CallMemory {
    /// poll/ppoll: the fds polled, in order.
    pub polled: Option<Vec<Polled>>,
    /// select/pselect6: the fds of the read set.
    pub read_fds: Option<Vec<i32>>,
    /// select/pselect6: the fds of the write set.
    pub write_fds: Option<Vec<i32>>,
    /// select/pselect6: the fds of the exceptional-condition set.
    pub except_fds: Option<Vec<i32>>,
    /// Entries past the caps, not read.
    pub not_read: u64,
    /// The timeout given by pointer (ppoll, select, pselect6, epoll_pwait2).
    pub timeout: Option<Timeout>,
}

/// Whether the pointer arguments of `name` are read.
pub fn wants(name: &str) -> bool {
    matches!(
        name,
        "poll"
            | "ppoll"
            | "ppoll_time64"
            | "select"
            | "_newselect"
            | "pselect6"
            | "pselect6_time64"
            | "epoll_pwait2"
    )
}

/// Reads `len` bytes at `addr`, all or nothing.
fn bytes(dir: &ProcDir, addr: u64, len: usize) -> Option<Vec<u8>> {
    let mut b = vec![0u8; len];
    (dir.read_memory(addr, &mut b).ok()? == len).then_some(b)
}

/// A timeout at `addr`: a `struct timespec`, or a `struct timeval` for
/// select.
fn timeout(dir: &ProcDir, addr: u64, wide: bool, timeval: bool) -> Option<Timeout> {
    if addr == 0 {
        return Some(Timeout::Never);
    }
    let b = bytes(dir, addr, callmem::time_size(wide))?;
    let ns = if timeval {
        callmem::timeval_ns(&b, wide)?
    } else {
        callmem::timespec_ns(&b, wide)?
    };
    Some(Timeout::After { ns })
}

/// Reads what the pointer arguments of a blocked `name` point at, in
/// `abi`: see [`CallMemory`]. `None` for other calls.
pub fn read(dir: &ProcDir, abi: Abi, name: &str, args: &[u64; 6]) -> Option<CallMemory> {
    // 64-bit time fields: 64-bit ABIs, x32, the _time64 calls.
    let wide = matches!(abi, Abi::X86_64 | Abi::X32 | Abi::Aarch64) || name.ends_with("_time64");
    let mut m = CallMemory::default();
    match name {
        "poll" | "ppoll" | "ppoll_time64" => {
            let nfds = args[1] & 0xffff_ffff; // unsigned int
            let n = usize::try_from(nfds).map_or(POLL_CAP, |n| n.min(POLL_CAP));
            m.not_read = nfds.saturating_sub(n as u64);
            m.polled = if n == 0 {
                Some(Vec::new())
            } else {
                bytes(dir, args[0], n * callmem::POLLFD_SIZE).map(|b| {
                    callmem::pollfds(&b)
                        .into_iter()
                        .map(|p| Polled {
                            fd: p.fd,
                            events: p.events,
                        })
                        .collect()
                })
            };
            if name != "poll" {
                m.timeout = timeout(dir, args[2], wide, false);
            }
        }
        // i386's `select` (82) is old_select: one pointer to its arguments.
        "select" if abi == Abi::I386 => return None,
        "select" | "_newselect" | "pselect6" | "pselect6_time64" => {
            let nfds = crate::calls::as_int(args[0]).max(0).unsigned_abs();
            let n = usize::try_from(nfds).map_or(FD_SET_CAP, |n| n.min(FD_SET_CAP));
            m.not_read = nfds.saturating_sub(n as u64);
            let set = |addr: u64| -> Option<Vec<i32>> {
                if addr == 0 || n == 0 {
                    return Some(Vec::new());
                }
                bytes(dir, addr, n.div_ceil(8)).map(|b| callmem::fd_set(&b, n))
            };
            m.read_fds = set(args[1]);
            m.write_fds = set(args[2]);
            m.except_fds = set(args[3]);
            m.timeout = timeout(dir, args[4], wide, name == "select" || name == "_newselect");
        }
        // Always a struct __kernel_timespec (64-bit fields).
        "epoll_pwait2" => m.timeout = timeout(dir, args[3], true, false),
        _ => return None,
    }
    Some(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_poll_select_and_timeouts_from_our_own_memory() {
        let me = procscope_read::ProcRoot::open(std::path::Path::new("/proc"))
            .unwrap()
            .process(std::process::id() as i32)
            .unwrap();
        // Two pollfds and a 1.5 s timespec, in this process.
        let pfds: [u8; 16] = [3, 0, 0, 0, 1, 0, 0, 0, 7, 0, 0, 0, 5, 0, 0, 0];
        let mut ts = 1i64.to_le_bytes().to_vec();
        ts.extend(500_000_000i64.to_le_bytes());
        let a = |p: &[u8]| p.as_ptr() as u64;
        let m = read(&me, Abi::X86_64, "ppoll", &[a(&pfds), 2, a(&ts), 0, 0, 0]).unwrap();
        let polled = m.polled.unwrap();
        assert_eq!((polled[0].fd, polled[0].events), (3, 1));
        assert_eq!((polled[1].fd, polled[1].events), (7, 5));
        assert_eq!(m.timeout, Some(Timeout::After { ns: 1_500_000_000 }));
        // poll: the timeout is a register; 100 fds: 64 read, 36 not.
        let many = vec![0u8; 800];
        let m = read(&me, Abi::X86_64, "poll", &[a(&many), 100, 5, 0, 0, 0]).unwrap();
        assert_eq!(
            (m.polled.unwrap().len(), m.not_read, m.timeout),
            (64, 36, None)
        );
        // select: fds 1 and 4 to read, a null write set, no timeout.
        let rset: [u8; 8] = [0b1_0010, 0, 0, 0, 0, 0, 0, 0];
        let m = read(&me, Abi::X86_64, "select", &[5, a(&rset), 0, 0, 0, 0]).unwrap();
        assert_eq!(m.read_fds, Some(vec![1, 4]));
        assert_eq!(m.write_fds, Some(vec![]));
        assert_eq!(m.timeout, Some(Timeout::Never));
        assert_eq!(read(&me, Abi::I386, "select", &[0; 6]), None);
        assert_eq!(read(&me, Abi::X86_64, "read", &[0; 6]), None);
    }
}

//! What a blocked system call's pointer arguments point at, decoded from
//! the bytes read out of the process's memory (`/proc/PID/mem`): poll's
//! `struct pollfd` array, select's `fd_set` bitmaps, and timeouts
//! (`struct timespec`, `struct timeval`). x86 and arm are little-endian;
//! 64-bit ABIs, x32 and the `_time64` calls use 64-bit time fields, the old
//! 32-bit calls 32-bit ones.

/// One `struct pollfd` (`int fd; short events; short revents;`, 8 bytes
/// in every ABI).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollFd {
    /// The fd; negative ones are ignored by the kernel.
    pub fd: i32,
    /// The events asked for (`POLLIN`…).
    pub events: u16,
}

/// Bytes of one `struct pollfd`.
pub const POLLFD_SIZE: usize = 8;

/// The `struct pollfd` entries in `b` (a trailing partial entry is dropped).
pub fn pollfds(b: &[u8]) -> Vec<PollFd> {
    b.chunks_exact(POLLFD_SIZE)
        .filter_map(|c| {
            Some(PollFd {
                fd: i32::from_le_bytes(c.get(..4)?.try_into().ok()?),
                events: u16::from_le_bytes(c.get(4..6)?.try_into().ok()?),
            })
        })
        .collect()
}

/// The fds below `nfds` set in an `fd_set` bitmap. The kernel's `fd_set`
/// is an array of `long`; on little-endian machines bit `n` of it is bit
/// `n % 8` of byte `n / 8` whatever the width of a long.
pub fn fd_set(b: &[u8], nfds: usize) -> Vec<i32> {
    b.iter()
        .enumerate()
        .flat_map(|(i, byte)| {
            (0..8)
                .filter(move |bit| byte & (1 << bit) != 0)
                .map(move |bit| i * 8 + bit)
        })
        .take_while(|fd| *fd < nfds)
        .filter_map(|fd| i32::try_from(fd).ok())
        .collect()
}

/// The bytes of a `struct timespec`/`struct timeval`: 16 with 64-bit
/// fields, 8 with 32-bit ones.
pub fn time_size(wide: bool) -> usize {
    if wide { 16 } else { 8 }
}

/// Two time fields, 64-bit or 32-bit.
fn pair(b: &[u8], wide: bool) -> Option<(i64, i64)> {
    if wide {
        Some((
            i64::from_le_bytes(b.get(..8)?.try_into().ok()?),
            i64::from_le_bytes(b.get(8..16)?.try_into().ok()?),
        ))
    } else {
        Some((
            i64::from(i32::from_le_bytes(b.get(..4)?.try_into().ok()?)),
            i64::from(i32::from_le_bytes(b.get(4..8)?.try_into().ok()?)),
        ))
    }
}

/// A `struct timespec` as nanoseconds; `None` when it is not a valid
/// relative time (negative, or nanoseconds out of range: the call fails
/// with `EINVAL` then).
pub fn timespec_ns(b: &[u8], wide: bool) -> Option<u64> {
    let (sec, nsec) = pair(b, wide)?;
    if sec < 0 || !(0..1_000_000_000).contains(&nsec) {
        return None;
    }
    u64::try_from(sec)
        .ok()?
        .checked_mul(1_000_000_000)?
        .checked_add(u64::try_from(nsec).ok()?)
}

/// A `struct timeval` as nanoseconds; `None` when it is not valid.
pub fn timeval_ns(b: &[u8], wide: bool) -> Option<u64> {
    let (sec, usec) = pair(b, wide)?;
    if sec < 0 || !(0..1_000_000).contains(&usec) {
        return None;
    }
    u64::try_from(sec)
        .ok()?
        .checked_mul(1_000_000_000)?
        .checked_add(u64::try_from(usec).ok()?.checked_mul(1000)?)
}

/// A `struct timespec` as (seconds, nanoseconds), as it is (an absolute
/// time, or a relative one).
pub fn timespec(b: &[u8], wide: bool) -> Option<(i64, i64)> {
    pair(b, wide)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pollfd_arrays() {
        // {fd 3, POLLIN}, {fd -1, POLLIN (ignored)}, {fd 9, POLLIN|POLLPRI, revents 0x10}, half an entry.
        let b = b"\x03\x00\x00\x00\x01\x00\x00\x00\
                  \xff\xff\xff\xff\x01\x00\x00\x00\
                  \x09\x00\x00\x00\x03\x00\x10\x00\
                  \x05\x00\x00";
        assert_eq!(
            pollfds(b),
            [
                PollFd { fd: 3, events: 1 },
                PollFd { fd: -1, events: 1 },
                PollFd { fd: 9, events: 3 },
            ]
        );
        assert!(pollfds(b"").is_empty());
    }

    #[test]
    fn fd_set_bitmaps() {
        // fds 0, 3, 9 and 70 set; nfds cuts what is past it.
        let mut b = [0u8; 16];
        b[0] = 0b0000_1001;
        b[1] = 0b0000_0010;
        b[8] = 0b0100_0000;
        assert_eq!(fd_set(&b, 128), [0, 3, 9, 70]);
        assert_eq!(fd_set(&b, 10), [0, 3, 9]);
        assert_eq!(fd_set(&b, 9), [0, 3]);
        assert!(fd_set(&b, 0).is_empty());
    }

    #[test]
    fn timeouts() {
        // 64-bit {1800 s, 500 ns}; 32-bit {2 s, 250_000_000 ns}.
        let mut w = 1800i64.to_le_bytes().to_vec();
        w.extend(500i64.to_le_bytes());
        assert_eq!(timespec_ns(&w, true), Some(1_800_000_000_500));
        assert_eq!(timespec(&w, true), Some((1800, 500)));
        let mut n = 2i32.to_le_bytes().to_vec();
        n.extend(250_000_000i32.to_le_bytes());
        assert_eq!(timespec_ns(&n, false), Some(2_250_000_000));
        // timeval: {5 s, 1 µs}.
        let mut tv = 5i64.to_le_bytes().to_vec();
        tv.extend(1i64.to_le_bytes());
        assert_eq!(timeval_ns(&tv, true), Some(5_000_001_000));
        // Invalid: negative, nanoseconds past a second, too short.
        let mut bad = (-1i64).to_le_bytes().to_vec();
        bad.extend(0i64.to_le_bytes());
        assert_eq!(timespec_ns(&bad, true), None);
        let mut bad = 1i64.to_le_bytes().to_vec();
        bad.extend(1_000_000_000i64.to_le_bytes());
        assert_eq!(timespec_ns(&bad, true), None);
        assert_eq!(timeval_ns(&tv[..12], true), None);
        assert_eq!(time_size(false), 8);
    }
}

//! Targets for `procscope watch`: processes that leak at known rates, one
//! that reads a file at a known rate, one that exits with a known status.
//! Each keeps its rate against a schedule of absolute deadlines, so a late
//! wake-up is caught up instead of slowing it down.

use std::io::Read;
use std::time::{Duration, Instant};

/// Sleeps until `start + step * n`.
fn until(start: Instant, step: Duration, n: u32) {
    let at = start + step * n;
    let now = Instant::now();
    if at > now {
        std::thread::sleep(at - now);
    }
}

/// `watch-leak`: every 100 ms one more fd, alternately `/dev/null` and an
/// unconnected unix stream socket (10 fds/s); every second 1 MiB more of
/// heap, every page written (RSS +1 MiB/s). Nothing is ever freed.
pub fn leak() -> ! {
    super::ready();
    let start = Instant::now();
    let mut files = Vec::new();
    let mut socks = Vec::new();
    let mut heap: Vec<Vec<u8>> = Vec::new();
    for n in 1u32.. {
        until(start, Duration::from_millis(100), n);
        if n % 2 == 1 {
            files.push(std::fs::File::open("/dev/null").unwrap());
        } else {
            // SAFETY: a plain socket(2) call; the fd is kept (leaked) below.
            let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0) };
            assert!(fd >= 0, "socket");
            socks.push(fd);
        }
        if n % 10 == 0 {
            // vec![1; N] writes every byte: the pages are resident.
            heap.push(vec![1u8; 1 << 20]);
        }
    }
    unreachable!()
}

/// `watch-grow`: every 200 ms one more thread (asleep) and one more child
/// process (asleep, killed with its parent: `PR_SET_PDEATHSIG`): threads
/// and children +5/s.
pub fn grow() -> ! {
    super::ready();
    let start = Instant::now();
    for n in 1u32.. {
        until(start, Duration::from_millis(200), n);
        std::thread::spawn(|| super::sleep_forever());
        // SAFETY: the child calls only async-signal-safe functions.
        unsafe {
            let pid = libc::fork();
            assert!(pid >= 0, "fork");
            if pid == 0 {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                if libc::getppid() == 1 {
                    libc::_exit(0);
                }
                loop {
                    libc::pause();
                }
            }
        }
    }
    unreachable!()
}

/// `watch-read FILE RATE`: opens FILE, prints `ready`, then reads it at
/// RATE bytes per second (a chunk every 1/16 s) to its end, then sleeps
/// with the file still open.
pub fn read(file: &str, rate: u64) -> ! {
    let mut f = std::fs::File::open(file).unwrap();
    let chunk = usize::try_from(rate / 16).unwrap().max(1);
    let mut buf = vec![0u8; chunk];
    super::ready();
    let start = Instant::now();
    for n in 1u32.. {
        until(start, Duration::from_micros(62_500), n);
        let mut got = 0;
        while got < chunk {
            match f.read(&mut buf[got..]).unwrap() {
                0 => super::sleep_forever(),
                k => got += k,
            }
        }
    }
    unreachable!()
}

/// `watch-exit MS CODE`: prints `ready`, sleeps MS milliseconds, exits
/// with status CODE (a zombie until its parent waits).
pub fn exit(ms: u64, code: i32) -> ! {
    super::ready();
    std::thread::sleep(Duration::from_millis(ms));
    std::process::exit(code)
}

//! `waits` and `fdkinds`: processes holding fds of the kinds `stack`,
//! `why` and `fds` decode — calls blocked on several fds, and files,
//! sockets and locks told apart by a stat or their state.

use crate::{ready, sleep_forever};
use std::time::Duration;

/// Threads blocked in each call that waits on several fds, by raw system
/// calls (glibc may route poll and select through ppoll and pselect6), on
/// fds at fixed numbers; then sleeps.
pub fn waits() -> ! {
    // SAFETY (whole block): plain syscalls on fds and buffers this process
    // owns; the buffers are leaked so that they outlive the threads.
    unsafe {
        let at = |fd: i32, to: i32| {
            assert_eq!(libc::dup2(fd, to), to);
            libc::close(fd);
        };
        for (n, read_at) in [(0, 40), (1, 42), (2, 43)] {
            let mut p = [0i32; 2];
            assert_eq!(libc::pipe(p.as_mut_ptr()), 0);
            at(p[0], read_at);
            at(p[1], 50 + n); // the write ends stay open here
        }
        at(libc::eventfd(0, 0), 41);
        at(libc::epoll_create1(0), 44);
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: 40,
        };
        assert_eq!(libc::epoll_ctl(44, libc::EPOLL_CTL_ADD, 40, &mut ev), 0);
    }
    fn spawn(name: &str, f: impl FnOnce() + Send + 'static) {
        std::thread::Builder::new()
            .name(name.into())
            .spawn(f)
            .unwrap();
    }
    fn leak<T>(v: T) -> usize {
        Box::into_raw(Box::new(v)) as usize
    }
    let pfds = leak([
        libc::pollfd {
            fd: 40,
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: 41,
            events: libc::POLLIN | libc::POLLPRI,
            revents: 0,
        },
    ]);
    let pfd2 = leak([libc::pollfd {
        fd: 42,
        events: libc::POLLIN,
        revents: 0,
    }]);
    let half_hour = leak(libc::timespec {
        tv_sec: 1800,
        tv_nsec: 0,
    });
    let minute = leak(libc::timespec {
        tv_sec: 60,
        tv_nsec: 0,
    });
    let quarter = leak(libc::timeval {
        tv_sec: 900,
        tv_usec: 0,
    });
    // SAFETY: an all-zero fd_set is empty; FD_SET on a valid fd below FD_SETSIZE.
    let set = |fd: i32| unsafe {
        let mut s: libc::fd_set = std::mem::zeroed();
        libc::FD_SET(fd, &mut s);
        leak(s)
    };
    let (set1, set2) = (set(43), set(43));
    let events = leak([libc::epoll_event { events: 0, u64: 0 }; 4]);
    // SAFETY (each thread): the pointers are to leaked, valid buffers.
    spawn("t-poll", move || unsafe {
        libc::syscall(libc::SYS_poll, pfds, 2, 3_600_000);
    });
    spawn("t-ppoll", move || unsafe {
        libc::syscall(libc::SYS_ppoll, pfd2, 1, half_hour, 0, 8);
    });
    spawn("t-select", move || unsafe {
        libc::syscall(libc::SYS_select, 44, set1, 0, 0, quarter);
    });
    spawn("t-pselect6", move || unsafe {
        libc::syscall(libc::SYS_pselect6, 44, set2, 0, 0, 0, 0);
    });
    spawn("t-epwait", move || unsafe {
        libc::syscall(libc::SYS_epoll_wait, 44, events, 4, -1);
    });
    spawn("t-epwait2", move || unsafe {
        libc::syscall(libc::SYS_epoll_pwait2, 44, events, 4, minute, 0, 8);
    });
    std::thread::sleep(Duration::from_millis(200));
    ready();
    sleep_forever()
}

/// Holds one fd of each kind `fds` tells apart by a stat or a socket's
/// state (see the mode list), then sleeps.
pub fn fdkinds(dir: &str) -> ! {
    use std::os::fd::IntoRawFd;
    let d = std::path::Path::new(dir);
    let c = |p: &std::path::Path| std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY (whole block): plain syscalls on fds this process owns; every
    // fd is deliberately leaked so that it stays open.
    unsafe {
        let fifo = d.join("fifo");
        assert_eq!(libc::mkfifo(c(&fifo).as_ptr(), 0o600), 0);
        // O_RDWR: a FIFO opened for both ends does not wait for a peer.
        assert!(libc::open(c(&fifo).as_ptr(), libc::O_RDWR) >= 0);
        assert!(libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY) >= 0);
        assert!(libc::open(c(d).as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY) >= 0);
        let m = libc::memfd_create(c"kinds".as_ptr(), 0);
        assert!(m >= 0);
        assert_eq!(libc::ftruncate(m, 12345), 0);
        let lf = libc::open(
            c(&d.join("posix.lck")).as_ptr(),
            libc::O_RDWR | libc::O_CREAT,
            0o644,
        );
        assert!(lf >= 0);
        let mut fl: libc::flock = std::mem::zeroed();
        fl.l_type = libc::F_WRLCK as i16;
        fl.l_whence = libc::SEEK_SET as i16;
        fl.l_start = 10;
        fl.l_len = 10;
        assert_eq!(libc::fcntl(lf, libc::F_SETLK, &fl), 0);
        assert!(libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP) >= 0);
    }
    let unconnected = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let connected = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    connected
        .connect(unconnected.local_addr().unwrap())
        .unwrap();
    let _ = (unconnected.into_raw_fd(), connected.into_raw_fd());
    ready();
    sleep_forever()
}

//! `procscope-testkit`: puts processes into known states for procscope's
//! integration tests. Not installed; built with the workspace.
//!
//! ```text
//! procscope-testkit sleep                 sleep until killed
//! procscope-testkit name HEX [THREADS]    set comm to the bytes HEX (prctl), start THREADS named
//!                                         threads, then sleep
//! procscope-testkit vfork-d SECONDS       parent blocks in vfork() (state D) while the child sleeps
//! procscope-testkit fuse-hang DIR         mount a FUSE filesystem at DIR whose file `hang` never
//!                                         answers a read and `ok` does; print "ready"; serve until killed
//! procscope-testkit mem-hang FILE [sleeper] map FILE (with `sleeper`, first start a thread asleep in
//!                                         clock_nanosleep); one thread reads /proc/self/mem inside the
//!                                         mapping (stuck holding the memory lock), the main thread
//!                                         then calls mmap (queued behind it): reading this process's
//!                                         cmdline now blocks
//! procscope-testkit fd-flip DIR          mount a FUSE filesystem at DIR whose FLUSH answers only this
//!                                         process; flip fds 50/51 between a pipe/UDP socket and a file there
//! procscope-testkit thread-read-hang FILE  a second thread reads FILE (in D), the main thread sleeps
//! procscope-testkit self-pipe            hold both ends of a pipe, print "R W", read from it forever
//! procscope-testkit fifo-rw PATH          create the FIFO PATH, open it read-write, print the fd
//! procscope-testkit read-hang FILE        read FILE (a reader in D state on a hung FUSE file)
//! procscope-testkit leader-exit           the main thread exits, another thread lives on
//! procscope-testkit threads               8 threads on one condition variable, 3 sleeping
//! procscope-testkit fdzoo DIR             hold one fd of every kind with known values (files in DIR)
//! procscope-testkit waits                 threads blocked in poll, ppoll, select, pselect6,
//!                                         epoll_wait and epoll_pwait2 on pipes 40, 42, 43 (read ends),
//!                                         eventfd 41 and epoll set 44 (watching 40), long timeouts
//! procscope-testkit fdkinds DIR           hold a FIFO, /dev/null, a directory, a 12345-byte memfd,
//!                                         an unconnected and a connected UDP socket, a raw ICMP
//!                                         socket and a POSIX lock on bytes 10-19 of DIR/posix.lck
//! procscope-testkit orphan MODE ARGS..   run MODE in an orphaned grandchild with its own session;
//!                                         its PID goes to standard error
//! procscope-testkit map-deleted FILE SIZE  map FILE (SIZE bytes), close it, delete it, keep the mapping
//! procscope-testkit tcp-serve PORT       accept one connection on 127.0.0.1:PORT, keep it
//! procscope-testkit tcp-connect PORT     connect to 127.0.0.1:PORT, keep it
//! procscope-testkit unix-serve PATH       accept one connection on a unix socket at PATH, keep it
//! procscope-testkit unix-connect PATH     connect to the unix socket at PATH, keep it
//! procscope-testkit watch-leak           one more fd every 100 ms (/dev/null, a unix socket,
//!                                         alternately) and 1 MiB more resident heap every second
//! procscope-testkit watch-grow           one more thread and one more child process every 200 ms
//! procscope-testkit watch-read FILE RATE  read FILE at RATE bytes/s (1/16 s chunks), then sleep
//! procscope-testkit watch-exit MS CODE    sleep MS milliseconds, then exit with status CODE
//! procscope-testkit exec N ENV.. ARGV..   execve itself with exactly these hex-encoded bytes
//!                                         (N environment entries, then argv; argv[1] picks the mode)
//! ```
//! Every mode prints `ready` on standard output once it is in its state (for
//! mem-hang: just before the queued mmap).
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod flip;
mod kinds;
mod pipes;
mod watch;

use std::ffi::OsStr;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::sync::Mutex;
use std::time::{Duration, UNIX_EPOCH};

fn ready() {
    let mut o = std::io::stdout().lock();
    o.write_all(b"ready\n").unwrap();
    o.flush().unwrap();
}

fn sleep_forever() -> ! {
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

fn set_name(name: &[u8]) {
    let mut buf = [0u8; 16];
    let n = name.len().min(15);
    buf[..n].copy_from_slice(&name[..n]);
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes.
    let r = unsafe { libc::prctl(libc::PR_SET_NAME, buf.as_ptr() as libc::c_ulong, 0, 0, 0) };
    assert_eq!(r, 0, "prctl(PR_SET_NAME)");
}

/// `orphan MODE ARGS…`: runs `MODE ARGS…` in a grandchild that is in a
/// session of its own and whose parent has exited (so it is nobody's
/// relative: its parent is PID 1 or the nearest subreaper). Prints the
/// grandchild's PID on standard error, then exits once it is there.
fn orphan(rest: &[String]) -> ! {
    // SAFETY: fork while single-threaded; each child execs or exits.
    unsafe {
        let mid = libc::fork();
        assert!(mid >= 0);
        if mid == 0 {
            libc::setsid();
            let gc = libc::fork();
            if gc != 0 {
                libc::_exit(if gc > 0 { 0 } else { 1 });
            }
            let me = libc::getpid();
            let line = format!("{me}\n");
            libc::write(2, line.as_ptr().cast(), line.len());
            let e = std::os::unix::process::CommandExt::exec(
                std::process::Command::new("/proc/self/exe").args(rest),
            );
            panic!("exec: {e}");
        }
        let mut st = 0;
        libc::waitpid(mid, &mut st, 0);
        libc::_exit(0)
    }
}

fn main() {
    // Arguments may be hostile bytes (the tests pass them): never decode
    // more than the mode word and its parameters.
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    match args.get(1).map(String::as_str) {
        Some("sleep") => {
            ready();
            sleep_forever()
        }
        Some("name") => {
            let name = unhex(&args[2]);
            let threads: usize = args.get(3).map_or(0, |t| t.parse().unwrap());
            for i in 0..threads {
                let mut tname = name.clone();
                tname.truncate(12);
                tname.extend_from_slice(format!("-{i}").as_bytes());
                std::thread::spawn(move || {
                    set_name(&tname);
                    sleep_forever()
                });
            }
            set_name(&name);
            std::thread::sleep(Duration::from_millis(50));
            ready();
            sleep_forever()
        }
        Some("exec") => {
            // exec NENV ENVHEX... ARGVHEX...: execve this program with exactly
            // these bytes (duplicate keys, entries without '=', any argv[0]).
            let nenv: usize = args[2].parse().unwrap();
            // `*HH:N` is N copies of byte HH: one argument may be up to
            // 128 KiB (MAX_ARG_STRLEN), too short for a big one in hex.
            let bytes = |h: &String| match h.strip_prefix('*').and_then(|r| r.split_once(':')) {
                Some((b, n)) => vec![unhex(b)[0]; n.parse().unwrap()],
                None => unhex(h),
            };
            let cs = |h: &String| std::ffi::CString::new(bytes(h)).expect("no NUL inside");
            let envp: Vec<std::ffi::CString> = args[3..3 + nenv].iter().map(cs).collect();
            let argv: Vec<std::ffi::CString> = args[3 + nenv..].iter().map(cs).collect();
            let exe = std::ffi::CString::new("/proc/self/exe").unwrap();
            let e = nix::unistd::execve(&exe, &argv, &envp);
            panic!("execve: {e:?}")
        }
        Some("threads") => {
            // 8 threads waiting on one condition variable, 3 sleeping.
            let pair =
                std::sync::Arc::new((std::sync::Mutex::new(false), std::sync::Condvar::new()));
            for i in 0..8 {
                let p = std::sync::Arc::clone(&pair);
                std::thread::Builder::new()
                    .name(format!("waiter-{i}"))
                    .spawn(move || {
                        let (m, c) = &*p;
                        let mut g = m.lock().unwrap();
                        while !*g {
                            g = c.wait(g).unwrap();
                        }
                    })
                    .unwrap();
            }
            for i in 0..3 {
                std::thread::Builder::new()
                    .name(format!("sleeper-{i}"))
                    .spawn(|| sleep_forever())
                    .unwrap();
            }
            std::thread::sleep(Duration::from_millis(200));
            ready();
            sleep_forever()
        }
        Some("fdzoo") => fdzoo(&args[2]),
        Some("fdkinds") => kinds::fdkinds(&args[2]),
        Some("waits") => kinds::waits(),
        Some("signals") => signals(),
        Some("zombie") => zombie(),
        Some("mutex-deadlock") => mutex_deadlock(),
        Some("mutex-pipe") => mutex_pipe(),
        Some("flock") => {
            // Holds an exclusive flock on FILE.
            let f = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&args[2])
                .unwrap();
            // SAFETY: flock on an fd we own.
            assert_eq!(
                unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&f), libc::LOCK_EX) },
                0
            );
            ready();
            let _keep = f;
            sleep_forever()
        }
        Some("pair") => {
            // A unix socketpair whose other end lives in a child.
            // SAFETY: fork while single-threaded; the child never returns.
            unsafe {
                let mut sp = [0i32; 2];
                assert_eq!(
                    libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, sp.as_mut_ptr()),
                    0
                );
                let child = libc::fork();
                assert!(child >= 0);
                if child == 0 {
                    child_keeping(&[sp[1]], c"pair-child");
                }
                libc::close(sp[1]);
            }
            ready();
            sleep_forever()
        }
        Some("listen") => {
            // A TCP listener on 0.0.0.0:PORT (works in a new network
            // namespace whose loopback is down).
            let l =
                std::net::TcpListener::bind(("0.0.0.0", args[2].parse::<u16>().unwrap())).unwrap();
            ready();
            let _keep = l;
            sleep_forever()
        }
        Some("orphan") => orphan(&args[2..]),
        Some("map-deleted") => {
            // Maps FILE (SIZE bytes), closes the fd and deletes the file:
            // the space stays held by the mapping alone.
            let path = &args[2];
            let size: usize = args[3].parse().unwrap();
            std::fs::write(path, vec![b'x'; size]).unwrap();
            let f = std::fs::File::open(path).unwrap();
            // SAFETY: a fresh shared read-only mapping of a file we own.
            let m = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    size,
                    libc::PROT_READ,
                    libc::MAP_SHARED,
                    f.as_raw_fd(),
                    0,
                )
            };
            assert_ne!(m, libc::MAP_FAILED);
            drop(f);
            std::fs::remove_file(path).unwrap();
            ready();
            sleep_forever()
        }
        Some("unix-serve") => {
            // Accepts one connection on a unix socket at PATH and keeps it.
            let l = std::os::unix::net::UnixListener::bind(&args[2]).unwrap();
            ready();
            let (c, _) = l.accept().unwrap();
            let _keep = (l, c);
            sleep_forever()
        }
        Some("tcp-serve") => {
            // Accepts one connection on 127.0.0.1:PORT and keeps it.
            let l = std::net::TcpListener::bind(("127.0.0.1", args[2].parse::<u16>().unwrap()))
                .unwrap();
            ready();
            let (c, _) = l.accept().unwrap();
            let _keep = (l, c);
            sleep_forever()
        }
        Some("tcp-connect") => {
            let c = std::net::TcpStream::connect(("127.0.0.1", args[2].parse::<u16>().unwrap()))
                .unwrap();
            ready();
            let _keep = c;
            sleep_forever()
        }
        Some("unix-connect") => {
            let c = std::os::unix::net::UnixStream::connect(&args[2]).unwrap();
            ready();
            let _keep = c;
            sleep_forever()
        }
        Some("leader-exit") => {
            // The main thread exits; a second thread keeps the process alive.
            std::thread::spawn(|| {
                std::thread::sleep(Duration::from_millis(100));
                ready();
                sleep_forever()
            });
            // The raw exit syscall (not exit_group) ends only the calling
            // thread; pthread_exit would unwind through Rust's main and abort.
            // SAFETY: nothing of this thread is used afterwards.
            unsafe {
                libc::syscall(libc::SYS_exit, 0);
            }
            unreachable!()
        }
        Some("watch-leak") => watch::leak(),
        Some("watch-grow") => watch::grow(),
        Some("watch-read") => watch::read(&args[2], args[3].parse().unwrap()),
        Some("watch-exit") => watch::exit(args[2].parse().unwrap(), args[3].parse().unwrap()),
        Some("vfork-d") => vfork_d(args[2].parse().unwrap()),
        Some("fuse-hang") => fuse_hang(&args[2]),
        Some("fd-flip") => flip::fd_flip(&args[2]),
        Some("self-pipe") => pipes::self_pipe(),
        Some("fifo-rw") => pipes::fifo_rw(&args[2]),
        Some("mem-hang") => mem_hang(&args[2], args.get(3).is_some_and(|a| a == "sleeper")),
        Some("thread-read-hang") => {
            // The main thread sleeps; a second thread, named "reader",
            // reads FILE (stuck in D on a hung FUSE file).
            let file = args[2].clone();
            std::thread::Builder::new()
                .name("reader".into())
                .spawn(move || {
                    let r = std::fs::read(&file);
                    eprintln!("thread-read-hang: read returned {:?}", r.map(|v| v.len()));
                })
                .unwrap();
            ready();
            sleep_forever()
        }
        Some("read-hang") => {
            ready();
            let r = std::fs::read(&args[2]);
            eprintln!("read-hang: read returned {:?}", r.map(|v| v.len()));
            sleep_forever()
        }
        _ => {
            eprintln!(
                "usage: procscope-testkit sleep|name HEX [N]|vfork-d SECS|fuse-hang DIR|mem-hang FILE|read-hang FILE"
            );
            std::process::exit(2);
        }
    }
}

extern "C" fn vfork_child(arg: *mut libc::c_void) -> libc::c_int {
    let secs = arg as usize as libc::c_uint;
    // SAFETY: async-signal-safe calls only, on the child's own stack.
    unsafe {
        libc::sleep(secs);
        libc::_exit(0)
    }
}

/// `vfork()` semantics (CLONE_VM | CLONE_VFORK) with a separate stack for
/// the child, so nothing of the parent's stack is clobbered: the parent
/// waits in `wait_for_vfork_done()`, a TASK_KILLABLE (shown as `D`) sleep.
fn vfork_d(secs: u32) -> ! {
    ready();
    let mut stack = vec![0u8; 64 * 1024];
    // SAFETY: the stack outlives the child (the parent cannot run until
    // the child exits), and the child function touches nothing shared.
    let top = unsafe { stack.as_mut_ptr().add(stack.len()) };
    let pid = unsafe {
        libc::clone(
            vfork_child,
            top.cast(),
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            secs as usize as *mut libc::c_void,
        )
    };
    assert!(pid > 0, "clone failed");
    sleep_forever()
}

fn mem_hang(file: &str, sleeper: bool) -> ! {
    if sleeper {
        // A thread asleep in clock_nanosleep: a tool that reads its
        // timespec from memory must not wait on the memory lock for it.
        // It must be asleep before the lock gets stuck: a thread still
        // starting up (its signal stack is mmap'ed) would queue in mmap
        // behind the stuck lock instead.
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("sleeper".into())
            .spawn(move || {
                let _ = tx.send(());
                sleep_forever()
            })
            .unwrap();
        let _ = rx.recv();
        std::thread::sleep(Duration::from_millis(50));
    }
    let f = std::fs::File::open(file).expect("open hung file");
    let len = 1 << 20;
    // SAFETY: a fresh shared read-only mapping of a file we keep open.
    let addr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_SHARED,
            f.as_raw_fd(),
            0,
        )
    };
    assert_ne!(addr, libc::MAP_FAILED, "mmap of the FUSE file");
    let a = addr as usize;
    std::thread::Builder::new()
        .name("mem-reader".into())
        .spawn(move || {
            // access_remote_vm() takes the memory lock, then faults in a page
            // of the FUSE file, whose read never completes.
            let mem = std::fs::File::open("/proc/self/mem").unwrap();
            let mut buf = [0u8; 64];
            // SAFETY: pread into a local buffer.
            let r = unsafe {
                libc::pread(
                    mem.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    a as libc::off_t,
                )
            };
            eprintln!(
                "mem-hang: reader returned {r} ({})",
                std::io::Error::last_os_error()
            );
            sleep_forever()
        })
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    ready();
    // A writer of the memory lock queues behind the stuck reader; from now
    // on, new readers (cat /proc/PID/cmdline, ps) queue behind the writer.
    // SAFETY: an anonymous mapping that is never used.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    eprintln!("mem-hang: mmap returned {p:?}");
    sleep_forever()
}

/// Once a read of `hang` arrives, the filesystem is dead: every later
/// request (lookup, getattr, open, readdir, statfs, access) is held
/// unanswered too, as from an NFS server that went away. Attributes are
/// never cached (TTL 0), so any stat of a path on it blocks from then on:
/// a tool that stats through the mount hangs, which is what the tests
/// look for.
struct HangFs {
    held: Mutex<Vec<fuser::ReplyData>>,
    frozen: std::sync::atomic::AtomicBool,
    held_any: Mutex<Vec<Box<dyn std::any::Any + Send>>>,
}

impl HangFs {
    /// Holds `reply` forever when the filesystem is dead; else gives it back.
    fn hold<T: Send + 'static>(&self, reply: T) -> Option<T> {
        if self.frozen.load(std::sync::atomic::Ordering::SeqCst) {
            self.held_any.lock().unwrap().push(Box::new(reply));
            None
        } else {
            Some(reply)
        }
    }
}

const ROOT_INO: u64 = 1;
const HANG_INO: u64 = 2;
const OK_INO: u64 = 3;
const FILE_SIZE: u64 = 1 << 20;

fn attr(ino: u64) -> fuser::FileAttr {
    let dir = ino == ROOT_INO;
    fuser::FileAttr {
        ino: fuser::INodeNo(ino),
        size: if dir { 0 } else { FILE_SIZE },
        blocks: if dir { 0 } else { FILE_SIZE / 512 },
        atime: UNIX_EPOCH,
        mtime: UNIX_EPOCH,
        ctime: UNIX_EPOCH,
        crtime: UNIX_EPOCH,
        kind: if dir {
            fuser::FileType::Directory
        } else {
            fuser::FileType::RegularFile
        },
        perm: if dir { 0o755 } else { 0o644 },
        nlink: if dir { 2 } else { 1 },
        uid: 0,
        gid: 0,
        rdev: 0,
        flags: 0,
        blksize: 4096,
    }
}

impl fuser::Filesystem for HangFs {
    fn lookup(
        &self,
        _req: &fuser::Request,
        parent: fuser::INodeNo,
        name: &OsStr,
        reply: fuser::ReplyEntry,
    ) {
        let Some(reply) = self.hold(reply) else {
            return;
        };
        let ino = match (u64::from(parent), name.as_encoded_bytes()) {
            (ROOT_INO, b"hang") => HANG_INO,
            (ROOT_INO, b"ok") => OK_INO,
            _ => return reply.error(fuser::Errno::ENOENT),
        };
        reply.entry(&Duration::ZERO, &attr(ino), fuser::Generation(0));
    }

    fn getattr(
        &self,
        _req: &fuser::Request,
        ino: fuser::INodeNo,
        _fh: Option<fuser::FileHandle>,
        reply: fuser::ReplyAttr,
    ) {
        let Some(reply) = self.hold(reply) else {
            return;
        };
        match u64::from(ino) {
            i @ (ROOT_INO | HANG_INO | OK_INO) => reply.attr(&Duration::ZERO, &attr(i)),
            _ => reply.error(fuser::Errno::ENOENT),
        }
    }

    fn read(
        &self,
        _req: &fuser::Request,
        ino: fuser::INodeNo,
        _fh: fuser::FileHandle,
        offset: u64,
        size: u32,
        _flags: fuser::OpenFlags,
        _lock: Option<fuser::LockOwner>,
        reply: fuser::ReplyData,
    ) {
        if u64::from(ino) == HANG_INO {
            // Never answer: keep the reply until the process dies, which
            // aborts the connection and fails the waiting reader.
            self.held.lock().unwrap().push(reply);
            self.frozen.store(true, std::sync::atomic::Ordering::SeqCst);
            return;
        }
        let Some(reply) = self.hold(reply) else {
            return;
        };
        let n = u64::from(size).min(FILE_SIZE.saturating_sub(offset));
        reply.data(&vec![b'x'; n as usize]);
    }

    fn open(
        &self,
        _req: &fuser::Request,
        _ino: fuser::INodeNo,
        _flags: fuser::OpenFlags,
        reply: fuser::ReplyOpen,
    ) {
        if let Some(reply) = self.hold(reply) {
            reply.opened(fuser::FileHandle(0), fuser::FopenFlags::empty());
        }
    }

    fn opendir(
        &self,
        _req: &fuser::Request,
        _ino: fuser::INodeNo,
        _flags: fuser::OpenFlags,
        reply: fuser::ReplyOpen,
    ) {
        if let Some(reply) = self.hold(reply) {
            reply.opened(fuser::FileHandle(0), fuser::FopenFlags::empty());
        }
    }

    fn statfs(&self, _req: &fuser::Request, _ino: fuser::INodeNo, reply: fuser::ReplyStatfs) {
        if let Some(reply) = self.hold(reply) {
            reply.statfs(0, 0, 0, 0, 0, 512, 255, 0);
        }
    }

    fn readdir(
        &self,
        _req: &fuser::Request,
        ino: fuser::INodeNo,
        _fh: fuser::FileHandle,
        offset: u64,
        reply: fuser::ReplyDirectory,
    ) {
        let Some(mut reply) = self.hold(reply) else {
            return;
        };
        if u64::from(ino) != ROOT_INO {
            return reply.error(fuser::Errno::ENOENT);
        }
        let entries = [
            (ROOT_INO, fuser::FileType::Directory, "."),
            (ROOT_INO, fuser::FileType::Directory, ".."),
            (HANG_INO, fuser::FileType::RegularFile, "hang"),
            (OK_INO, fuser::FileType::RegularFile, "ok"),
        ];
        for (i, (ino, kind, name)) in entries.iter().enumerate().skip(offset as usize) {
            if reply.add(fuser::INodeNo(*ino), (i + 1) as u64, *kind, name) {
                break;
            }
        }
        reply.ok();
    }
}

fn fuse_hang(dir: &str) -> ! {
    let mut cfg = fuser::Config::default();
    cfg.mount_options.extend([
        fuser::MountOption::RO,
        fuser::MountOption::FSName("procscope-hang".into()),
        fuser::MountOption::Subtype("procscope-hang".into()),
    ]);
    let session = fuser::spawn_mount(
        HangFs {
            held: Mutex::new(Vec::new()),
            frozen: std::sync::atomic::AtomicBool::new(false),
            held_any: Mutex::new(Vec::new()),
        },
        dir,
        &cfg,
    )
    .expect("mount FUSE filesystem");
    ready();
    let _keep = session;
    sleep_forever()
}

/// Holds one fd of every kind, with known values, then sleeps.
fn fdzoo(dir: &str) -> ! {
    use std::os::fd::IntoRawFd;
    let d = std::path::Path::new(dir);
    let c = |p: &std::path::Path| std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY (whole block): plain syscalls on fds this process owns; every
    // fd is deliberately leaked so that it stays open.
    unsafe {
        // A file at position 100, opened write-only and append.
        let f = libc::open(
            c(&d.join("append.log")).as_ptr(),
            libc::O_WRONLY | libc::O_APPEND | libc::O_CREAT,
            0o644,
        );
        assert!(f >= 0);
        assert_eq!(libc::write(f, [b'x'; 100].as_ptr().cast(), 100), 100);
        // A deleted file.
        let del = d.join("deleted.bin");
        assert!(libc::open(c(&del).as_ptr(), libc::O_RDWR | libc::O_CREAT, 0o644) >= 0);
        std::fs::remove_file(&del).unwrap();
        // A file held with flock.
        let l = libc::open(
            c(&d.join("flock.lck")).as_ptr(),
            libc::O_RDWR | libc::O_CREAT,
            0o644,
        );
        assert_eq!(libc::flock(l, libc::LOCK_EX), 0);
        // eventfd with counter 5; a pipe; an epoll set watching both.
        let ev = libc::eventfd(5, 0);
        let mut p = [0i32; 2];
        assert_eq!(libc::pipe(p.as_mut_ptr()), 0);
        let ep = libc::epoll_create1(0);
        let mut e1 = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: ev as u64,
        };
        let mut e2 = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLET) as u32,
            u64: p[0] as u64,
        };
        assert_eq!(libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, ev, &mut e1), 0);
        assert_eq!(libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, p[0], &mut e2), 0);
        // timerfd: monotonic, first expiry in 1000 s, then every 5 s.
        let tf = libc::timerfd_create(libc::CLOCK_MONOTONIC, 0);
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 5,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: 1000,
                tv_nsec: 0,
            },
        };
        assert_eq!(libc::timerfd_settime(tf, 0, &spec, std::ptr::null_mut()), 0);
        // signalfd for SIGUSR1 and SIGTERM.
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGUSR1);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        assert!(libc::signalfd(-1, &set, 0) >= 0);
        // memfd, inotify on a directory with a space in its name.
        assert!(libc::memfd_create(c"zoo".as_ptr(), 0) >= 0);
        let watched = d.join("watched dir");
        std::fs::create_dir_all(&watched).unwrap();
        let ino = libc::inotify_init1(0);
        assert!(
            libc::inotify_add_watch(ino, c(&watched).as_ptr(), libc::IN_CREATE | libc::IN_DELETE)
                >= 0
        );
        // fanotify with an inode mark on the same directory (needs
        // CAP_SYS_ADMIN), and a userfaultfd (an anonymous inode whose
        // fdinfo carries its own lines).
        let fan = libc::fanotify_init(libc::FAN_CLASS_NOTIF, libc::O_RDONLY as u32);
        assert!(fan >= 0, "fanotify_init");
        assert_eq!(
            libc::fanotify_mark(
                fan,
                libc::FAN_MARK_ADD,
                libc::FAN_CLOSE_WRITE,
                libc::AT_FDCWD,
                c(&watched).as_ptr()
            ),
            0
        );
        // The mount the directory is on, and its whole filesystem.
        for (how, mask) in [
            (libc::FAN_MARK_MOUNT, libc::FAN_OPEN),
            (libc::FAN_MARK_FILESYSTEM, libc::FAN_MODIFY),
        ] {
            assert_eq!(
                libc::fanotify_mark(
                    fan,
                    libc::FAN_MARK_ADD | how,
                    mask,
                    libc::AT_FDCWD,
                    c(&watched).as_ptr()
                ),
                0
            );
        }
        assert!(
            libc::syscall(libc::SYS_userfaultfd, libc::O_CLOEXEC) >= 0,
            "userfaultfd"
        );
    }
    // A TCP listener and a connection to it (both ends here), and a unix
    // listener at a path with a space.
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let client = std::net::TcpStream::connect(tcp.local_addr().unwrap()).unwrap();
    let (server, _) = tcp.accept().unwrap();
    let _ = (
        tcp.into_raw_fd(),
        client.into_raw_fd(),
        server.into_raw_fd(),
    );
    let ux = std::os::unix::net::UnixListener::bind(d.join("zoo sock")).unwrap();
    let _ = ux.into_raw_fd();
    // A netlink socket (NETLINK_ROUTE): in no tcp/udp/unix table.
    // SAFETY: a plain socket() call; the fd is leaked on purpose.
    assert!(unsafe { libc::socket(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_ROUTE) } >= 0);
    // SAFETY (whole block): fork while single-threaded; the children only
    // make syscalls and never return.
    unsafe {
        // A pipe and a socketpair whose other ends live in a child, and a
        // pidfd for that child.
        let mut p = [0i32; 2];
        assert_eq!(libc::pipe(p.as_mut_ptr()), 0);
        let mut sp = [0i32; 2];
        assert_eq!(
            libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, sp.as_mut_ptr()),
            0
        );
        let child = libc::fork();
        assert!(child >= 0);
        if child == 0 {
            child_keeping(&[p[1], sp[1]], c"zoo-child");
        }
        libc::close(p[1]);
        libc::close(sp[1]);
        let pidfd = libc::syscall(libc::SYS_pidfd_open, child, 0);
        assert!(pidfd >= 0, "pidfd_open");
        // An fcntl write lock on bytes 0-99, and a child waiting for it.
        let lf = libc::open(
            c(&d.join("fcntl.lck")).as_ptr(),
            libc::O_RDWR | libc::O_CREAT,
            0o644,
        );
        assert!(lf >= 0);
        let mut fl: libc::flock = std::mem::zeroed();
        fl.l_type = libc::F_WRLCK as i16;
        fl.l_whence = libc::SEEK_SET as i16;
        fl.l_start = 0;
        fl.l_len = 100;
        assert_eq!(libc::fcntl(lf, libc::F_SETLK, &fl), 0);
        let waiter = libc::fork();
        assert!(waiter >= 0);
        if waiter == 0 {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            libc::prctl(libc::PR_SET_NAME, c"zoo-waiter".as_ptr());
            for fd in 3..4096 {
                libc::close(fd);
            }
            let w = libc::open(c(&d.join("fcntl.lck")).as_ptr(), libc::O_RDWR);
            libc::fcntl(w, libc::F_SETLKW, &fl);
            libc::_exit(0);
        }
        // Ready once the waiter is blocked on the lock.
        while !std::fs::read_to_string("/proc/locks")
            .unwrap()
            .lines()
            .any(|l| l.contains("->") && l.contains(&format!(" {waiter} ")))
        {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    ready();
    sleep_forever()
}

/// In a forked child: close every fd but stdio and `keep`, take a name,
/// die with the parent, and wait.
unsafe fn child_keeping(keep: &[i32], name: &std::ffi::CStr) -> ! {
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        libc::prctl(libc::PR_SET_NAME, name.as_ptr());
        for fd in 3..4096 {
            if !keep.contains(&fd) {
                libc::close(fd);
            }
        }
        loop {
            libc::pause();
        }
    }
}

extern "C" fn on_signal(_: libc::c_int) {}

/// Known signal state: SIGUSR1 ignored; SIGTERM and SIGRTMIN+3 (glibc
/// numbering, 37) caught; the main thread blocks SIGUSR2 and SIGRTMIN+1 (35)
/// and has SIGUSR2 pending; SIGRTMIN+1 is pending for the process (every
/// thread blocks it); thread "other-mask" blocks only SIGRTMIN+1.
fn signals() -> ! {
    unsafe {
        assert_ne!(libc::signal(libc::SIGUSR1, libc::SIG_IGN), libc::SIG_ERR);
        let h = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        assert_ne!(libc::signal(libc::SIGTERM, h), libc::SIG_ERR);
        assert_ne!(libc::signal(37, h), libc::SIG_ERR);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, 35);
        assert_eq!(
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()),
            0
        );
    }
    std::thread::Builder::new()
        .name("other-mask".into())
        .spawn(|| sleep_forever())
        .unwrap();
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGUSR2);
        assert_eq!(
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()),
            0
        );
        assert_eq!(libc::raise(libc::SIGUSR2), 0);
        assert_eq!(libc::kill(libc::getpid(), 35), 0);
    }
    std::thread::sleep(Duration::from_millis(50));
    ready();
    sleep_forever()
}

/// A child that exited and is never reaped. SIGCHLD is set to the default
/// first: when it is inherited as ignored, the kernel reaps at once.
fn zombie() -> ! {
    unsafe {
        libc::signal(libc::SIGCHLD, libc::SIG_DFL);
        let pid = libc::fork();
        assert!(pid >= 0, "fork");
        if pid == 0 {
            libc::_exit(0);
        }
        loop {
            let st = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
            if st.rsplit_once(')').unwrap().1.trim_start().starts_with('Z') {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    ready();
    sleep_forever()
}

/// Two threads that take two pthread mutexes in opposite orders and
/// deadlock: "lock-a" holds A and waits for B, "lock-b" holds B and waits
/// for A (glibc mutexes record their owner, which `why` reads).
fn mutex_deadlock() -> ! {
    struct Shared(std::cell::UnsafeCell<[libc::pthread_mutex_t; 2]>);
    // SAFETY: only used through pthread calls, which synchronise.
    unsafe impl Sync for Shared {}
    static M: Shared = Shared(std::cell::UnsafeCell::new([
        libc::PTHREAD_MUTEX_INITIALIZER,
        libc::PTHREAD_MUTEX_INITIALIZER,
    ]));
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(3));
    for (name, first, second) in [("lock-a", 0usize, 1usize), ("lock-b", 1, 0)] {
        let b = std::sync::Arc::clone(&barrier);
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                // SAFETY: the mutexes are static and initialised.
                unsafe {
                    let m = M.0.get().cast::<libc::pthread_mutex_t>();
                    libc::pthread_mutex_lock(m.add(first));
                    b.wait();
                    libc::pthread_mutex_lock(m.add(second));
                }
            })
            .unwrap();
    }
    barrier.wait();
    std::thread::sleep(Duration::from_millis(100));
    ready();
    sleep_forever()
}

/// Thread "holder" takes a pthread mutex and then blocks reading stdin (a
/// pipe the caller keeps open); thread "waiter" blocks on the mutex.
fn mutex_pipe() -> ! {
    struct Shared(std::cell::UnsafeCell<libc::pthread_mutex_t>);
    // SAFETY: only used through pthread calls, which synchronise.
    unsafe impl Sync for Shared {}
    static M: Shared = Shared(std::cell::UnsafeCell::new(libc::PTHREAD_MUTEX_INITIALIZER));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("holder".into())
        .spawn(move || {
            // SAFETY: the mutex is static and initialised; fd 0 is ours.
            unsafe {
                libc::pthread_mutex_lock(M.0.get());
                tx.send(()).unwrap();
                let mut b = [0u8; 1];
                libc::read(0, b.as_mut_ptr().cast(), 1);
            }
        })
        .unwrap();
    rx.recv().unwrap();
    std::thread::Builder::new()
        .name("waiter".into())
        // SAFETY: as above.
        .spawn(|| unsafe {
            libc::pthread_mutex_lock(M.0.get());
        })
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    ready();
    sleep_forever()
}

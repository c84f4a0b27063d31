//! `fd-flip DIR`: a target that swaps fd numbers under procscope's feet.
//!
//! It mounts a FUSE filesystem at DIR whose file `f` answers FLUSH only to
//! this process's flipping thread: anybody else who closes a copy of it
//! (procscope's `pidfd_getfd` duplicate, say) waits in D for good. Then
//! it flips fd [`PIPE_FD`] between the read end of a pipe without a writer
//! and that file, and fd [`SOCK_FD`] between a UDP socket and the file, as
//! fast as it can: whoever lists the fds and then copies one by number gets
//! the FUSE file about half of the time.

use std::ffi::OsStr;
use std::os::fd::{AsRawFd, IntoRawFd};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// The fd that is a pipe's read end (no writer left) or the FUSE file.
pub const PIPE_FD: i32 = 50;
/// The fd that is a UDP socket or the FUSE file.
pub const SOCK_FD: i32 = 51;

const ROOT: u64 = 1;
const FILE: u64 = 2;

struct FlushFs {
    /// The flipping thread: the only one whose FLUSH is answered.
    flipper: AtomicU32,
    held: Mutex<Vec<fuser::ReplyEmpty>>,
}

/// The same attributes as the hung filesystem's (a directory, files).
fn attr(ino: u64) -> fuser::FileAttr {
    super::attr(ino)
}

impl fuser::Filesystem for FlushFs {
    fn lookup(
        &self,
        _req: &fuser::Request,
        parent: fuser::INodeNo,
        name: &OsStr,
        reply: fuser::ReplyEntry,
    ) {
        if u64::from(parent) == ROOT && name.as_encoded_bytes() == b"f" {
            reply.entry(
                &Duration::from_secs(3600),
                &attr(FILE),
                fuser::Generation(0),
            );
        } else {
            reply.error(fuser::Errno::ENOENT);
        }
    }

    fn getattr(
        &self,
        _req: &fuser::Request,
        ino: fuser::INodeNo,
        _fh: Option<fuser::FileHandle>,
        reply: fuser::ReplyAttr,
    ) {
        reply.attr(&Duration::from_secs(3600), &attr(u64::from(ino)));
    }

    fn flush(
        &self,
        req: &fuser::Request,
        _ino: fuser::INodeNo,
        _fh: fuser::FileHandle,
        _lock_owner: fuser::LockOwner,
        reply: fuser::ReplyEmpty,
    ) {
        if req.pid() == self.flipper.load(Ordering::SeqCst) {
            reply.ok();
        } else {
            // Never answered while this process lives.
            self.held.lock().unwrap().push(reply);
        }
    }
}

pub fn fd_flip(dir: &str) -> ! {
    let mut cfg = fuser::Config::default();
    cfg.mount_options.extend([
        fuser::MountOption::FSName("procscope-noflush".into()),
        fuser::MountOption::Subtype("procscope-noflush".into()),
    ]);
    // SAFETY: gettid has no preconditions.
    let me = unsafe { libc::gettid() } as u32;
    let session = fuser::spawn_mount(
        FlushFs {
            flipper: AtomicU32::new(me),
            held: Mutex::new(Vec::new()),
        },
        dir,
        &cfg,
    )
    .expect("mount FUSE filesystem");
    let file = std::fs::File::open(format!("{dir}/f")).expect("open the FUSE file");
    let (r, w) = nix::unistd::pipe().expect("pipe");
    drop(w);
    let r = r.into_raw_fd();
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp");
    let f = file.as_raw_fd();
    let s = udp.as_raw_fd();
    // SAFETY: dup2 onto fd numbers this process does not otherwise use.
    unsafe {
        libc::dup2(r, PIPE_FD);
        libc::dup2(s, SOCK_FD);
    }
    // SIGTERM: put the pipe and socket back, close the file (this thread's
    // FLUSH is answered), unmount, exit. A SIGKILL instead would leave the
    // exiting process closing the file with nobody left to answer.
    // SAFETY: the handler only stores to an atomic.
    unsafe { libc::signal(libc::SIGTERM, on_term as *const () as libc::sighandler_t) };
    super::ready();
    let keep = (session, udp);
    while !STOP.load(Ordering::SeqCst) {
        // SAFETY: as above; closing the FUSE file here is answered (this
        // thread's FLUSH), so the flipper itself never blocks.
        unsafe {
            libc::dup2(f, PIPE_FD);
            libc::dup2(f, SOCK_FD);
            libc::dup2(r, PIPE_FD);
            libc::dup2(s, SOCK_FD);
        }
    }
    drop(file);
    drop(keep);
    std::process::exit(0)
}

static STOP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn on_term(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

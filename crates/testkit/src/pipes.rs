//! Processes that are their own other end.

/// `self-pipe`: holds both ends of one pipe (read end fd 3, write end fd
/// 4 when those are free) and reads from it forever.
pub fn self_pipe() -> ! {
    let (r, _w) = nix::unistd::pipe().expect("pipe");
    super::ready();
    let mut b = [0u8; 1];
    loop {
        let _ = nix::unistd::read(&r, &mut b);
    }
}

/// `fifo-rw PATH`: creates the FIFO PATH, opens it for reading and
/// writing (its own reader and writer), then sleeps.
pub fn fifo_rw(path: &str) -> ! {
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .expect("open fifo rw");
    super::ready();
    let _keep = f;
    super::sleep_forever()
}

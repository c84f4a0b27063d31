//! Describing another process's sockets without reading the host's socket
//! tables: `pidfd_getfd(2)` (5.6+; ptrace attach rights) duplicates each of
//! its socket fds into procscope, where the socket answers for itself —
//! family, type, protocol, addresses, TCP state, queue sizes. The cost
//! follows the process, not the host's tens of thousands of sockets.
//!
//! An fd number can be reused between listing it and duplicating it, by a
//! file on a hung filesystem whose close would block; callers run this
//! under the deadline guard.

use crate::{Failure, Outcome, ProcDir};
use rustix::fd::{AsFd, AsRawFd, OwnedFd};
use rustix::net::{AddressFamily, SocketType};
use std::collections::HashMap;
use std::net::SocketAddr;

/// What a socket says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SockInfo {
    /// `AF_*` family.
    pub family: u16,
    /// `SOCK_*` type.
    pub sock_type: u32,
    /// Protocol number (`IPPROTO_TCP` 6, `IPPROTO_UDP` 17, netlink family…).
    pub protocol: Option<u32>,
    /// Local address (IP families).
    pub local: Option<SocketAddr>,
    /// Peer address (IP families, when connected).
    pub peer: Option<SocketAddr>,
    /// TCP state (`TCP_ESTABLISHED` 1 … `TCP_LISTEN` 10), from `TCP_INFO`.
    pub tcp_state: Option<u8>,
    /// Bytes waiting to be read (`SIOCINQ`).
    pub rx_queue: Option<u64>,
    /// Bytes not yet sent or acknowledged (`SIOCOUTQ`).
    pub tx_queue: Option<u64>,
}

use crate::ends::errno;

fn ip(a: Option<rustix::net::SocketAddrAny>) -> Option<SocketAddr> {
    SocketAddr::try_from(a?).ok()
}

fn tcp_state(fd: &OwnedFd) -> Option<u8> {
    // struct tcp_info starts with `__u8 tcpi_state`.
    let mut info = [0u8; 256];
    let mut len = libc::socklen_t::try_from(info.len()).ok()?;
    // SAFETY: the buffer and its length are valid for the call.
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            info.as_mut_ptr().cast(),
            &mut len,
        )
    };
    (r == 0 && len > 0).then(|| info.first().copied()).flatten()
}

fn queue(fd: &OwnedFd, req: libc::c_ulong) -> Option<u64> {
    let mut v: libc::c_int = 0;
    // SAFETY: SIOCINQ/SIOCOUTQ write one int.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), req as _, &mut v) };
    (r == 0).then(|| u64::try_from(v).ok()).flatten()
}

/// Asks one duplicated socket about itself.
fn describe(fd: &OwnedFd) -> Outcome<SockInfo> {
    let family = rustix::net::sockopt::socket_domain(fd).map_err(errno)?;
    let sock_type = rustix::net::sockopt::socket_type(fd).map_err(errno)?;
    // SO_PROTOCOL 0 (NETLINK_ROUTE, a packet socket's default) is a value.
    let protocol = rustix::net::sockopt::socket_protocol(fd)
        .ok()
        .map(|p| p.map_or(0, |p| p.as_raw().get()));
    let inet = family == AddressFamily::INET || family == AddressFamily::INET6;
    let tcp = inet && sock_type == SocketType::STREAM;
    Ok(SockInfo {
        family: family.as_raw(),
        sock_type: sock_type.as_raw(),
        protocol,
        local: inet
            .then(|| ip(rustix::net::getsockname(fd).ok()))
            .flatten(),
        peer: inet
            .then(|| ip(rustix::net::getpeername(fd).ok().flatten()))
            .flatten(),
        tcp_state: tcp.then(|| tcp_state(fd)).flatten(),
        rx_queue: inet
            .then(|| queue(fd, libc::FIONREAD as libc::c_ulong))
            .flatten(),
        tx_queue: inet
            .then(|| queue(fd, libc::TIOCOUTQ as libc::c_ulong))
            .flatten(),
    })
}

/// Describes the sockets `fds` of process `dir`, each expected to be the
/// socket with the given inode (an fd that is no longer that socket is
/// skipped). Fails as a whole when the process cannot be asked.
pub fn sockets(dir: &ProcDir, fds: &[(i32, u64)]) -> Outcome<HashMap<i32, SockInfo>> {
    if !dir.is_live() {
        return Err(Failure::Unsupported {
            what: "a live /proc (this proc root is a fixture or a copy)".into(),
        });
    }
    let pid = rustix::process::Pid::from_raw(dir.pid()).ok_or(Failure::Gone)?;
    let pidfd =
        rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).map_err(errno)?;
    let mut out = HashMap::new();
    for &(fd, inode) in fds {
        let dup = match rustix::process::pidfd_getfd(
            pidfd.as_fd(),
            fd,
            rustix::process::PidfdGetfdFlags::empty(),
        ) {
            Ok(d) => d,
            Err(rustix::io::Errno::BADF) => continue, // closed since
            Err(e) => return Err(errno(e)),
        };
        // Still the same socket? (The number may have been reused — by a
        // file on a FUSE mount, whose attributes must come from the cache.)
        if crate::ends::same_inode(&dup, inode) {
            if let Ok(i) = describe(&dup) {
                out.insert(fd, i);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn own_sockets_describe_themselves() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let u = std::net::UdpSocket::bind("[::1]:0").unwrap();
        let ino = |fd: i32| {
            std::fs::metadata(format!("/proc/self/fd/{fd}"))
                .unwrap()
                .ino()
        };
        let (lf, cf, uf) = (l.as_raw_fd(), c.as_raw_fd(), u.as_raw_fd());
        let root = crate::ProcRoot::open("/proc").unwrap();
        let me = root.process(root.own_pid()).unwrap();
        let got = sockets(&me, &[(lf, ino(lf)), (cf, ino(cf)), (uf, ino(uf)), (cf, 1)]).unwrap();
        let li = &got[&lf];
        assert_eq!(
            (li.tcp_state, li.local, li.peer),
            (Some(10), Some(l.local_addr().unwrap()), None)
        );
        let ci = &got[&cf];
        assert_eq!(ci.tcp_state, Some(1));
        assert_eq!(ci.peer, Some(l.local_addr().unwrap()));
        assert_eq!(ci.protocol, Some(6));
        let ui = &got[&uf];
        assert_eq!(
            (ui.family, ui.protocol, ui.tcp_state),
            (libc::AF_INET6 as u16, Some(17), None)
        );
    }
}

//! Describing another process's sockets without reading the host's socket
//! tables: `pidfd_getfd(2)` (5.6+; ptrace attach rights) duplicates each of
//! its socket fds into procscope, where the socket answers for itself —
//! family, type, protocol, addresses, TCP state, queue sizes. The cost
//! follows the process, not the host's tens of thousands of sockets.
//!
//! An fd number can be reused between listing it and duplicating it, by a
//! file on a hung filesystem whose close would never return: the copies are
//! made and asked only in a forked helper child ([`crate::helper`]).

use crate::{Failure, Outcome, ProcDir};
use rustix::fd::AsRawFd;
use rustix::net::{AddressFamily, SocketType};
use std::collections::HashMap;
use std::net::SocketAddr;

/// What a socket says about itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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

use crate::ends::{Want, copy_in_child, errno, pidfd_of};
use crate::helper::{Cursor, Reader};
use rustix::fd::BorrowedFd;

fn ip(a: Option<rustix::net::SocketAddrAny>) -> Option<SocketAddr> {
    SocketAddr::try_from(a?).ok()
}

fn tcp_state(fd: BorrowedFd<'_>) -> Option<u8> {
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

fn queue(fd: BorrowedFd<'_>, req: libc::c_ulong) -> Option<u64> {
    let mut v: libc::c_int = 0;
    // SAFETY: SIOCINQ/SIOCOUTQ write one int.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), req as _, &mut v) };
    (r == 0).then(|| u64::try_from(v).ok()).flatten()
}

/// Asks one duplicated socket about itself (in the helper child: no
/// allocation, so failures are `None`).
fn describe(fd: BorrowedFd<'_>) -> Option<SockInfo> {
    let family = rustix::net::sockopt::socket_domain(fd).ok()?;
    let sock_type = rustix::net::sockopt::socket_type(fd).ok()?;
    // SO_PROTOCOL 0 (NETLINK_ROUTE, a packet socket's default) is a value.
    let protocol = rustix::net::sockopt::socket_protocol(fd)
        .ok()
        .map(|p| p.map_or(0, |p| p.as_raw().get()));
    let inet = family == AddressFamily::INET || family == AddressFamily::INET6;
    let tcp = inet && sock_type == SocketType::STREAM;
    Some(SockInfo {
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

/// Bytes of one encoded [`SockInfo`] with its fd.
const RECORD: usize = 4 + 2 + 4 + 5 + 2 * ADDR + 2 + 9 + 9;
/// Bytes of one encoded address: tag (0 none, 4, 6), 16 address bytes,
/// port, IPv6 scope.
const ADDR: usize = 1 + 16 + 2 + 4;

fn put_addr(c: &mut Cursor<'_>, a: Option<SocketAddr>) {
    let (tag, bytes, port, scope) = match a {
        None => (0u8, [0u8; 16], 0u16, 0u32),
        Some(SocketAddr::V4(v)) => {
            let mut b = [0u8; 16];
            for (d, s) in b.iter_mut().zip(v.ip().octets()) {
                *d = s;
            }
            (4, b, v.port(), 0)
        }
        Some(SocketAddr::V6(v)) => (6, v.ip().octets(), v.port(), v.scope_id()),
    };
    c.put(&[tag]);
    c.put(&bytes);
    c.put(&port.to_le_bytes());
    c.put(&scope.to_le_bytes());
}

fn put_opt<const N: usize>(c: &mut Cursor<'_>, v: Option<[u8; N]>) {
    c.put(&[u8::from(v.is_some())]);
    c.put(&v.unwrap_or([0u8; N]));
}

fn encode(c: &mut Cursor<'_>, fd: i32, i: &SockInfo) {
    c.put(&fd.to_le_bytes());
    c.put(&i.family.to_le_bytes());
    c.put(&i.sock_type.to_le_bytes());
    put_opt(c, i.protocol.map(u32::to_le_bytes));
    put_addr(c, i.local);
    put_addr(c, i.peer);
    put_opt(c, i.tcp_state.map(|s| [s]));
    put_opt(c, i.rx_queue.map(u64::to_le_bytes));
    put_opt(c, i.tx_queue.map(u64::to_le_bytes));
}

fn get_addr(r: &mut Reader<'_>) -> Option<Option<SocketAddr>> {
    let [tag] = r.take::<1>()?;
    let bytes = r.take::<16>()?;
    let port = u16::from_le_bytes(r.take::<2>()?);
    let scope = u32::from_le_bytes(r.take::<4>()?);
    Some(match tag {
        4 => {
            let [a, b, c, d, ..] = bytes;
            Some(SocketAddr::new(
                std::net::Ipv4Addr::new(a, b, c, d).into(),
                port,
            ))
        }
        6 => Some(SocketAddr::V6(std::net::SocketAddrV6::new(
            bytes.into(),
            port,
            0,
            scope,
        ))),
        _ => None,
    })
}

fn get_opt<const N: usize>(r: &mut Reader<'_>) -> Option<Option<[u8; N]>> {
    let [some] = r.take::<1>()?;
    let v = r.take::<N>()?;
    Some((some != 0).then_some(v))
}

fn decode(r: &mut Reader<'_>) -> Option<(i32, SockInfo)> {
    let fd = i32::from_le_bytes(r.take::<4>()?);
    let family = u16::from_le_bytes(r.take::<2>()?);
    let sock_type = u32::from_le_bytes(r.take::<4>()?);
    let protocol = get_opt::<4>(r)?.map(u32::from_le_bytes);
    let local = get_addr(r)?;
    let peer = get_addr(r)?;
    let tcp_state = get_opt::<1>(r)?.map(|[s]| s);
    let rx_queue = get_opt::<8>(r)?.map(u64::from_le_bytes);
    let tx_queue = get_opt::<8>(r)?.map(u64::from_le_bytes);
    Some((
        fd,
        SockInfo {
            family,
            sock_type,
            protocol,
            local,
            peer,
            tcp_state,
            rx_queue,
            tx_queue,
        },
    ))
}

/// Describes the sockets `fds` of process `dir`, each expected to be the
/// socket with the given inode (an fd that is no longer that socket is
/// skipped). Fails as a whole when the process cannot be asked, or when
/// the helper did not answer within `timeout`.
///
/// The copies are made and asked only in a forked helper child
/// ([`crate::helper`]): the target decides what its fd numbers are.
pub fn sockets(
    dir: &ProcDir,
    fds: &[(i32, u64)],
    timeout: std::time::Duration,
) -> Outcome<HashMap<i32, SockInfo>> {
    if let Some(rec) = dir.tape().and_then(|t| t.replayed()) {
        return crate::tape::per_fd(rec.sockets.get(&dir.pid()), fds.iter().copied());
    }
    let r = sockets_live(dir, fds, timeout);
    if let Some(t) = dir.tape() {
        t.write(|rec| {
            crate::tape::keep_per_fd(
                rec.sockets.entry(dir.pid()).or_default(),
                fds.iter().copied(),
                &r,
            )
        });
    }
    r
}

fn sockets_live(
    dir: &ProcDir,
    fds: &[(i32, u64)],
    timeout: std::time::Duration,
) -> Outcome<HashMap<i32, SockInfo>> {
    let pidfd = pidfd_of(dir)?;
    if fds.is_empty() {
        return Ok(HashMap::new());
    }
    // One record per fd, plus room for an error record (fd -1, errno).
    let cap = (fds.len() + 1) * RECORD + 8;
    let answer = crate::helper::in_child(timeout, &pidfd, cap, |buf| {
        let mut c = Cursor::new(buf);
        for &(fd, inode) in fds {
            match copy_in_child(&pidfd, fd, inode, Want::Socket) {
                Ok(Some(raw)) => {
                    // SAFETY: the copy stays open until the child exits.
                    let b = unsafe { BorrowedFd::borrow_raw(raw) };
                    if let Some(i) = describe(b) {
                        encode(&mut c, fd, &i);
                    }
                }
                Ok(None) | Err(rustix::io::Errno::BADF) => {} // closed or reused since
                Err(e) => {
                    c.put(&(-1i32).to_le_bytes());
                    c.put(&e.raw_os_error().to_le_bytes());
                    break;
                }
            }
        }
        c.len
    })?;
    let mut out = HashMap::new();
    let mut r = Reader::new(&answer);
    while !r.is_empty() {
        let mut peek = Reader::new(r.rest());
        if peek.take::<4>().map(i32::from_le_bytes) == Some(-1) {
            let e = peek.take::<4>().map(i32::from_le_bytes).unwrap_or(0);
            return Err(errno(rustix::io::Errno::from_raw_os_error(e)));
        }
        let Some((fd, i)) = decode(&mut r) else {
            return Err(Failure::malformed("helper answer", "a short socket record"));
        };
        out.insert(fd, i);
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
        let got = sockets(
            &me,
            &[(lf, ino(lf)), (cf, ino(cf)), (uf, ino(uf)), (cf, 1)],
            std::time::Duration::from_secs(5),
        )
        .unwrap();
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

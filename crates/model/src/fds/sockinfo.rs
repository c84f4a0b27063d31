//! Where socket descriptions come from: sock_diag and the text tables of
//! a network namespace (host-wide listings), or the sockets of one process
//! asked directly (one process). lsfd's `sock-xinfo.c`.

use super::RawFd;
use super::socket::{SocketDesc, canonical, link_inet_peers, unix_desc};
use super::socket_kind::{InetProto, InetState, SocketFamily, UnixKind, UnixState, libc_af};
use crate::bytes::Bytes;
use procscope_parse::fdlink::{FdLink, classify};
use procscope_parse::net;
use procscope_read::ProcDir;
use std::collections::HashMap;
use std::net::IpAddr;

/// The sockets of `dir`'s network namespace. Unix sockets come from
/// sock_diag (name, type, state and the peer's inode), asked about `only`
/// those inodes one by one, or in one dump for every socket (`None`); the
/// text table `net/unix` when sock_diag is not available. TCP/UDP come from
/// the `net/tcp*`/`net/udp*` tables — with `only`, just the tables still
/// needed for inodes not found yet (a process with unix sockets and one TCP
/// socket does not pay for the UDP tables). Loopback connections get the
/// inode of their other end from the same tables.
pub(super) fn socket_tables(dir: &ProcDir, only: Option<&[u64]>) -> HashMap<u64, SocketDesc> {
    let mut m = HashMap::new();
    let mut buf = Vec::new();
    let diag = procscope_read::sockdiag::SockDiag::for_process(dir).and_then(|mut d| d.unix(only));
    match diag {
        Ok(found) => {
            for (i, d) in found {
                m.insert(i, unix_desc(&d));
            }
        }
        Err(_) => unix_from_text(dir, &mut buf, &mut m),
    }
    let all_found =
        |m: &HashMap<u64, SocketDesc>| only.is_some_and(|v| v.iter().all(|i| m.contains_key(i)));
    for (file, proto) in [
        (c"net/tcp", InetProto::Tcp),
        (c"net/tcp6", InetProto::Tcp6),
        (c"net/udp", InetProto::Udp),
        (c"net/udp6", InetProto::Udp6),
        (c"net/raw", InetProto::Raw),
        (c"net/raw6", InetProto::Raw6),
    ] {
        if all_found(&m) {
            break;
        }
        if dir.read(file, &mut buf, procscope_read::cap::NET).is_err() {
            continue;
        }
        for s in net::inet_table(&buf) {
            m.insert(
                s.inode,
                SocketDesc::Inet {
                    proto,
                    local: s.local.0,
                    local_port: s.local.1,
                    remote: s.remote.0,
                    remote_port: s.remote.1,
                    state: InetState::of(proto.is_tcp(), s.state),
                    state_number: s.state,
                    tx_queue: s.tx_queue,
                    rx_queue: s.rx_queue,
                    peer_inode: None,
                    peer_cgroup: None,
                },
            );
        }
    }
    link_inet_peers(&mut m);
    m
}

/// `net/unix` as text (no peers): when sock_diag is not available (a
/// fixture tree, a kernel without CONFIG_UNIX_DIAG).
fn unix_from_text(dir: &ProcDir, buf: &mut Vec<u8>, m: &mut HashMap<u64, SocketDesc>) {
    if dir
        .read(c"net/unix", buf, procscope_read::cap::NET)
        .is_err()
    {
        return;
    }
    for s in net::unix_table(buf) {
        let state = if s.listening {
            UnixState::Listening
        } else {
            // SS_UNCONNECTED, SS_CONNECTING, SS_CONNECTED, SS_DISCONNECTING
            // (include/uapi/linux/net.h).
            match s.state {
                1 => UnixState::Unconnected,
                2 => UnixState::Connecting,
                3 => UnixState::Connected,
                4 => UnixState::Disconnecting,
                _ => UnixState::Unknown,
            }
        };
        m.insert(
            s.inode,
            SocketDesc::Unix {
                path: s.path.map(Bytes::from),
                kind: UnixKind::of(u8::try_from(s.sock_type).unwrap_or(0)),
                state,
                peer_inode: None,
            },
        );
    }
}

/// The sockets of one process, asked of the sockets themselves
/// ([`procscope_read::sockinfo`]): unix ones through sock_diag, the others
/// duplicated with pidfd_getfd — no table of the host is read, unless a
/// connection is to this host (its other end is then looked up in the
/// tables) or the process cannot be asked (then the tables answer).
pub(super) fn own_sockets(dir: &ProcDir, raw: &[RawFd], mine: &[u64]) -> HashMap<u64, SocketDesc> {
    let mut diag = procscope_read::sockdiag::SockDiag::for_process(dir).ok();
    let mut m: HashMap<u64, SocketDesc> = diag
        .as_mut()
        .and_then(|d| d.unix(Some(mine)).ok())
        .map(|found| found.into_iter().map(|(i, d)| (i, unix_desc(&d))).collect())
        .unwrap_or_default();
    let rest: Vec<(i32, u64)> = raw
        .iter()
        .filter_map(|(fd, l, _)| match l.as_ref().map(|l| classify(l)) {
            Ok(FdLink::Socket(i)) if !m.contains_key(&i) => Some((*fd, i)),
            _ => None,
        })
        .collect();
    if rest.is_empty() {
        return m;
    }
    // The helper has its own deadline; nothing here can block.
    let asked = procscope_read::sockinfo::sockets(
        dir,
        &rest,
        procscope_read::guard::Limits::default()
            .timeout
            .unwrap_or(std::time::Duration::from_secs(1)),
    );
    let Ok(infos) = asked else {
        return socket_tables(dir, Some(mine));
    };
    let mut local_peer = false;
    let mut tcp_ends: Vec<(u64, std::net::SocketAddr, std::net::SocketAddr)> = Vec::new();
    for (fd, inode) in &rest {
        let Some(i) = infos.get(fd) else { continue };
        let desc = match (i32::from(i.family), i.sock_type, i.local) {
            (libc_af::INET | libc_af::INET6, 1..=3, Some(local)) => {
                let tcp = i.sock_type == 1;
                let v6 = i32::from(i.family) == libc_af::INET6;
                // A raw socket's "port" is its IP protocol (inet_num).
                let proto = InetProto::of(i.sock_type, v6);
                let (remote, remote_port) = i.peer.map_or_else(
                    || {
                        let any: IpAddr = if v6 {
                            std::net::Ipv6Addr::UNSPECIFIED.into()
                        } else {
                            std::net::Ipv4Addr::UNSPECIFIED.into()
                        };
                        (any, 0)
                    },
                    |p| (p.ip(), p.port()),
                );
                if let Some(p) = i.peer.filter(|p| {
                    let ip = canonical(p.ip());
                    ip.is_loopback() || ip == canonical(local.ip())
                }) {
                    if tcp {
                        tcp_ends.push((*inode, local, p));
                    } else {
                        local_peer = true;
                    }
                }
                // TCP_INFO's state; a datagram or raw socket is
                // connected (TCP_ESTABLISHED) when it has a peer.
                let state_number = match (tcp, i.tcp_state, i.peer) {
                    (true, Some(s), _) => s,
                    (false, _, Some(_)) => 1,
                    _ => 7,
                };
                SocketDesc::Inet {
                    proto,
                    local: local.ip(),
                    local_port: local.port(),
                    remote,
                    remote_port,
                    state: InetState::of(tcp, state_number),
                    state_number,
                    tx_queue: i.tx_queue.unwrap_or(0),
                    rx_queue: i.rx_queue.unwrap_or(0),
                    peer_inode: None,
                    peer_cgroup: None,
                }
            }
            _ => SocketDesc::Other {
                name: SocketFamily::of(i.family, i.sock_type),
                protocol: i.protocol,
            },
        };
        m.insert(*inode, desc);
    }
    // TCP connections to this host: the other end by exact sock_diag
    // lookup of the reversed ends (one query each, no table).
    for (inode, local, remote) in tcp_ends {
        let found = diag.as_mut().and_then(|d| d.tcp_peer(remote, local));
        match (found, m.get_mut(&inode)) {
            (
                Some(p),
                Some(SocketDesc::Inet {
                    peer_inode,
                    peer_cgroup,
                    ..
                }),
            ) => {
                *peer_inode = Some(u64::from(p.inode));
                *peer_cgroup = p.cgroup_id;
            }
            (None, _) => local_peer = true,
            _ => {}
        }
    }
    if local_peer {
        // UDP to this host, or a lookup that failed: the tables answer.
        let tables = socket_tables(dir, Some(mine));
        for (i, d) in m.iter_mut() {
            if let (SocketDesc::Inet { peer_inode, .. }, Some(t)) = (d, tables.get(i)) {
                *peer_inode = t.peer_inode();
            }
        }
    }
    m
}

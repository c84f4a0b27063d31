//! Sockets: what a socket is (family, protocol, addresses, state, the
//! socket at its other end), as sock_diag, the socket itself or the
//! namespace's text tables describe it. lsfd's `sock.c`; the reading is in
//! `sockinfo.rs`.

use super::socket_kind::{InetProto, InetState, SocketFamily, UnixKind, UnixState};
use crate::bytes::Bytes;
use serde::Serialize;
use std::collections::HashMap;
use std::net::IpAddr;

/// What a socket is, from the tables of the process's network namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "family", rename_all = "snake_case")]
pub enum SocketDesc {
    /// TCP or UDP over IPv4 or IPv6.
    Inet {
        /// TCP, UDP or raw IP, over IPv4 or IPv6.
        proto: InetProto,
        /// Local address.
        local: IpAddr,
        /// Local port.
        local_port: u16,
        /// Remote address.
        remote: IpAddr,
        /// Remote port.
        remote_port: u16,
        /// The state as `ss` knows it: TCP's state; for UDP and raw
        /// sockets unconnected or established (connected).
        state: InetState,
        /// The kernel's state number (`TCP_*` of include/net/tcp_states.h,
        /// which UDP and raw sockets use too: 7 unconnected, 1 connected).
        state_number: u8,
        /// Send queue, bytes.
        tx_queue: u64,
        /// Receive queue, bytes.
        rx_queue: u64,
        /// The socket at the other end, when it is on this host in the same
        /// network namespace (a loopback connection): its inode.
        peer_inode: Option<u64>,
        /// The cgroup (v2) ID of that socket's creator (sock_diag), where
        /// its holder is looked for first.
        #[serde(skip)]
        peer_cgroup: Option<u64>,
    },
    /// A unix-domain socket.
    Unix {
        /// Bound path (`@name` for abstract), if any.
        path: Option<Bytes>,
        /// Stream, datagram or sequenced packets.
        kind: UnixKind,
        /// Listening, connected, unconnected, …
        state: UnixState,
        /// The socket at the other end (from sock_diag), when connected.
        peer_inode: Option<u64>,
    },
    /// Another family (netlink, packet, raw IP, vsock…), as the socket
    /// describes itself.
    Other {
        /// Its family (netlink, packet, raw IP, vsock, …).
        name: SocketFamily,
        /// Protocol number (the netlink family, the IP protocol of a raw
        /// socket, the ethertype of a packet socket).
        protocol: Option<u32>,
    },
}

impl SocketDesc {
    /// The inode of the socket at the other end, when known.
    pub fn peer_inode(&self) -> Option<u64> {
        match self {
            SocketDesc::Inet { peer_inode, .. } | SocketDesc::Unix { peer_inode, .. } => {
                *peer_inode
            }
            SocketDesc::Other { .. } => None,
        }
    }
}

/// `ADDR:PORT`, IPv6 addresses bracketed (`[::1]:80`).
pub fn addr_port(a: &IpAddr, p: u16) -> String {
    match a {
        IpAddr::V6(v6) => format!("[{v6}]:{p}"),
        IpAddr::V4(v4) => format!("{v4}:{p}"),
    }
}

/// A unix socket as sock_diag describes it. Its states are the TCP ones
/// (`TCP_LISTEN` 10, `TCP_ESTABLISHED` 1, `TCP_SYN_SENT` 2, `TCP_CLOSE` 7).
pub(super) fn unix_desc(d: &procscope_parse::sockdiag::UnixDiag) -> SocketDesc {
    let state = match d.state {
        10 => UnixState::Listening,
        1 => UnixState::Connected,
        2 => UnixState::Connecting,
        7 => UnixState::Unconnected,
        _ => UnixState::Unknown,
    };
    // An abstract name starts with NUL; shown with `@` like ss and /proc/net/unix.
    let path = d
        .name
        .as_ref()
        .filter(|n| !n.is_empty())
        .map(|n| match n.split_first() {
            Some((0, rest)) => {
                let mut v = b"@".to_vec();
                v.extend_from_slice(rest);
                Bytes(v)
            }
            // A path name may carry its terminating NUL (the bind() length
            // included it); a path cannot contain NUL, so cut at the first.
            _ => Bytes(n.split(|&c| c == 0).next().unwrap_or_default().to_vec()),
        });
    SocketDesc::Unix {
        path,
        kind: UnixKind::of(d.kind),
        state,
        peer_inode: d.peer.filter(|p| *p != 0).map(u64::from),
    }
}

/// An IPv4-mapped IPv6 address as IPv4 (a v4 client's connection to a
/// dual-stack listener is in `tcp`, the accepted end in `tcp6`).
pub(super) fn canonical(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// Pairs the two ends of connections that are both in these tables.
pub(super) fn link_inet_peers(m: &mut HashMap<u64, SocketDesc>) {
    // Ends pair within one protocol: tcp with tcp6, udp with udp6.
    type End = (InetProto, IpAddr, u16, IpAddr, u16);
    let mut by_ends: HashMap<End, u64> = HashMap::new();
    for (i, d) in m.iter() {
        if let SocketDesc::Inet {
            proto,
            local,
            local_port,
            remote,
            remote_port,
            ..
        } = d
        {
            if *remote_port != 0 {
                let kind = proto.v4();
                by_ends.insert(
                    (
                        kind,
                        canonical(*local),
                        *local_port,
                        canonical(*remote),
                        *remote_port,
                    ),
                    *i,
                );
            }
        }
    }
    for d in m.values_mut() {
        if let SocketDesc::Inet {
            proto,
            local,
            local_port,
            remote,
            remote_port,
            peer_inode,
            ..
        } = d
        {
            if *remote_port != 0 {
                let kind = proto.v4();
                *peer_inode = by_ends
                    .get(&(
                        kind,
                        canonical(*remote),
                        *remote_port,
                        canonical(*local),
                        *local_port,
                    ))
                    .copied();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use procscope_parse::sockdiag::UnixDiag;

    fn diag(name: Option<&[u8]>, state: u8, peer: Option<u32>) -> UnixDiag {
        UnixDiag {
            inode: 1,
            kind: 1,
            state,
            peer,
            name: name.map(<[u8]>::to_vec),
        }
    }

    #[test]
    fn unix_names_and_states_from_sock_diag() {
        let path = |d: &SocketDesc| match d {
            SocketDesc::Unix { path, .. } => path.clone(),
            SocketDesc::Inet { .. } | SocketDesc::Other { .. } => None,
        };
        // A path bound with its NUL; an abstract name with NULs inside.
        assert_eq!(
            path(&unix_desc(&diag(Some(b"/run/a b\0"), 10, None))),
            Some(Bytes(b"/run/a b".to_vec()))
        );
        assert_eq!(
            path(&unix_desc(&diag(Some(b"\0x\0y"), 1, None))),
            Some(Bytes(b"@x\0y".to_vec()))
        );
        assert_eq!(path(&unix_desc(&diag(None, 1, None))), None);
        let d = unix_desc(&diag(None, 1, Some(77)));
        assert!(matches!(
            d,
            SocketDesc::Unix {
                state: UnixState::Connected,
                kind: UnixKind::Stream,
                peer_inode: Some(77),
                ..
            }
        ));
        assert!(matches!(
            unix_desc(&diag(None, 10, Some(0))),
            SocketDesc::Unix {
                state: UnixState::Listening,
                peer_inode: None,
                ..
            }
        ));
    }

    #[test]
    fn loopback_ends_are_paired_across_tcp_and_tcp6() {
        let v4: IpAddr = "127.0.0.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        let sock = |proto, l: IpAddr, lp, r: IpAddr, rp| SocketDesc::Inet {
            proto,
            local: l,
            local_port: lp,
            remote: r,
            remote_port: rp,
            state: InetState::Established,
            state_number: 1,
            tx_queue: 0,
            rx_queue: 0,
            peer_inode: None,
            peer_cgroup: None,
        };
        let mut m = HashMap::new();
        m.insert(1, sock(InetProto::Tcp, v4, 5000, v4, 80));
        m.insert(2, sock(InetProto::Tcp6, mapped, 80, mapped, 5000));
        m.insert(3, sock(InetProto::Udp, v4, 5000, v4, 80)); // UDP never pairs with TCP
        link_inet_peers(&mut m);
        assert_eq!(m[&1].peer_inode(), Some(2));
        assert_eq!(m[&2].peer_inode(), Some(1));
        assert_eq!(m[&3].peer_inode(), None);
    }
}

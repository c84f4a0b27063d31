//! What kind of socket, and in what state: the kernel's numbers (address
//! families, socket types, `TCP_*` and `SS_*` states) as enums, each
//! spelled in JSON as `ss` and `lsof` spell it.

use serde::Serialize;

/// The family of a socket that is neither an inet socket procscope
/// describes in full nor a unix socket ([`super::SocketDesc::Other`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SocketFamily {
    /// `AF_NETLINK`.
    Netlink,
    /// `AF_PACKET`.
    Packet,
    /// A raw IP socket (`SOCK_RAW` of `AF_INET`/`AF_INET6`) that could not
    /// be described in full.
    Raw,
    /// Another IP socket that could not be described in full.
    Inet,
    /// `AF_VSOCK`.
    Vsock,
    /// `AF_BLUETOOTH`.
    Bluetooth,
    /// `AF_ALG` (the kernel crypto API).
    Alg,
    /// `AF_XDP`.
    Xdp,
    /// A family procscope has no name for (JSON: `socket`, what the
    /// tables call it).
    #[serde(rename = "socket")]
    Unknown,
}

impl SocketFamily {
    /// The family of an `AF_*` number and socket type.
    pub fn of(family: u16, sock_type: u32) -> SocketFamily {
        match (i32::from(family), sock_type) {
            (libc_af::NETLINK, _) => SocketFamily::Netlink,
            (libc_af::PACKET, _) => SocketFamily::Packet,
            (libc_af::INET | libc_af::INET6, 3) => SocketFamily::Raw,
            (libc_af::INET | libc_af::INET6, _) => SocketFamily::Inet,
            (libc_af::VSOCK, _) => SocketFamily::Vsock,
            (libc_af::BLUETOOTH, _) => SocketFamily::Bluetooth,
            (libc_af::ALG, _) => SocketFamily::Alg,
            (libc_af::XDP, _) => SocketFamily::Xdp,
            _ => SocketFamily::Unknown,
        }
    }

    /// The short type name of tables and `--type` ([`super::Detail::type_name`]),
    /// which is also its JSON name.
    pub fn name(self) -> &'static str {
        match self {
            SocketFamily::Netlink => "netlink",
            SocketFamily::Packet => "packet",
            SocketFamily::Raw => "raw",
            SocketFamily::Inet => "inet",
            SocketFamily::Vsock => "vsock",
            SocketFamily::Bluetooth => "bluetooth",
            SocketFamily::Alg => "alg",
            SocketFamily::Xdp => "xdp",
            SocketFamily::Unknown => "socket",
        }
    }
}

/// The protocol of an inet socket, with its IP version: what names the
/// `/proc/net` table it is in (`tcp6`) and what `ss` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InetProto {
    /// TCP over IPv4.
    Tcp,
    /// TCP over IPv6.
    Tcp6,
    /// UDP over IPv4.
    Udp,
    /// UDP over IPv6.
    Udp6,
    /// Raw IPv4.
    Raw,
    /// Raw IPv6.
    Raw6,
}

impl InetProto {
    /// The protocol of a socket type (`SOCK_STREAM` 1 is TCP, `SOCK_DGRAM`
    /// 2 UDP, anything else raw) over IPv6 or IPv4.
    pub fn of(sock_type: u32, v6: bool) -> InetProto {
        match (sock_type, v6) {
            (1, false) => InetProto::Tcp,
            (1, true) => InetProto::Tcp6,
            (2, false) => InetProto::Udp,
            (2, true) => InetProto::Udp6,
            (_, false) => InetProto::Raw,
            (_, true) => InetProto::Raw6,
        }
    }

    /// TCP (either version): its states are TCP's own.
    pub fn is_tcp(self) -> bool {
        matches!(self, InetProto::Tcp | InetProto::Tcp6)
    }

    /// The protocol whatever the IP version: both ends of a connection
    /// to a dual-stack listener speak it, one in `tcp`, one in `tcp6`.
    pub fn v4(self) -> InetProto {
        match self {
            InetProto::Tcp | InetProto::Tcp6 => InetProto::Tcp,
            InetProto::Udp | InetProto::Udp6 => InetProto::Udp,
            InetProto::Raw | InetProto::Raw6 => InetProto::Raw,
        }
    }

    /// The short type name of tables and `--type` ([`super::Detail::type_name`]),
    /// which is also its JSON name.
    pub fn name(self) -> &'static str {
        match self {
            InetProto::Tcp => "tcp",
            InetProto::Tcp6 => "tcp6",
            InetProto::Udp => "udp",
            InetProto::Udp6 => "udp6",
            InetProto::Raw => "raw",
            InetProto::Raw6 => "raw6",
        }
    }
}

/// An inet socket's state: TCP's (include/net/tcp_states.h), which UDP and
/// raw sockets use too. JSON spells each as `ss` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InetState {
    /// `TCP_ESTABLISHED` (1): connected (UDP and raw: has a peer).
    Established,
    /// `TCP_SYN_SENT` (2).
    SynSent,
    /// `TCP_SYN_RECV` (3).
    SynRecv,
    /// `TCP_FIN_WAIT1` (4).
    FinWait1,
    /// `TCP_FIN_WAIT2` (5).
    FinWait2,
    /// `TCP_TIME_WAIT` (6).
    TimeWait,
    /// `TCP_CLOSE` (7) of a TCP socket.
    Close,
    /// `TCP_CLOSE_WAIT` (8).
    CloseWait,
    /// `TCP_LAST_ACK` (9).
    LastAck,
    /// `TCP_LISTEN` (10).
    Listen,
    /// `TCP_CLOSING` (11).
    Closing,
    /// `TCP_NEW_SYN_RECV` (12).
    NewSynRecv,
    /// `TCP_CLOSE` (7) of a UDP or raw socket: it is not closing, it has
    /// no peer (`ss`'s `UNCONN`).
    Unconn,
    /// A number the kernel did not have when this was written.
    Unknown,
}

impl InetState {
    /// The state of kernel number `n` for a TCP socket (`tcp`) or another
    /// inet socket.
    pub fn of(tcp: bool, n: u8) -> InetState {
        match (tcp, n) {
            (false, 7) => InetState::Unconn,
            (_, 1) => InetState::Established,
            (_, 2) => InetState::SynSent,
            (_, 3) => InetState::SynRecv,
            (_, 4) => InetState::FinWait1,
            (_, 5) => InetState::FinWait2,
            (_, 6) => InetState::TimeWait,
            (_, 7) => InetState::Close,
            (_, 8) => InetState::CloseWait,
            (_, 9) => InetState::LastAck,
            (_, 10) => InetState::Listen,
            (_, 11) => InetState::Closing,
            (_, 12) => InetState::NewSynRecv,
            _ => InetState::Unknown,
        }
    }
}

/// A unix socket's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnixKind {
    /// `SOCK_STREAM` (1).
    Stream,
    /// `SOCK_DGRAM` (2).
    Dgram,
    /// `SOCK_SEQPACKET` (5).
    Seqpacket,
    /// Another type number (JSON: `unix`).
    #[serde(rename = "unix")]
    Unknown,
}

impl UnixKind {
    /// The kind of socket type number `t`.
    pub fn of(t: u8) -> UnixKind {
        match t {
            1 => UnixKind::Stream,
            2 => UnixKind::Dgram,
            5 => UnixKind::Seqpacket,
            _ => UnixKind::Unknown,
        }
    }
}

/// A unix socket's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnixState {
    /// Listening for connections.
    Listening,
    /// Connected to a peer.
    Connected,
    /// Connecting.
    Connecting,
    /// Not connected.
    Unconnected,
    /// Disconnecting (`net/unix` only).
    Disconnecting,
    /// A state number procscope does not know.
    Unknown,
}

/// `AF_*` numbers (include/linux/socket.h).
pub(super) mod libc_af {
    pub const INET: i32 = 2;
    pub const INET6: i32 = 10;
    pub const NETLINK: i32 = 16;
    pub const PACKET: i32 = 17;
    pub const BLUETOOTH: i32 = 31;
    pub const ALG: i32 = 38;
    pub const VSOCK: i32 = 40;
    pub const XDP: i32 = 44;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The JSON spelling of a value (its serde name, quoted).
    fn json<T: Serialize>(v: T) -> String {
        serde_json::to_string(&v).unwrap()
    }

    #[test]
    fn socket_enums_keep_their_json_names() {
        let families = [
            (SocketFamily::Netlink, "netlink"),
            (SocketFamily::Packet, "packet"),
            (SocketFamily::Raw, "raw"),
            (SocketFamily::Inet, "inet"),
            (SocketFamily::Vsock, "vsock"),
            (SocketFamily::Bluetooth, "bluetooth"),
            (SocketFamily::Alg, "alg"),
            (SocketFamily::Xdp, "xdp"),
            (SocketFamily::Unknown, "socket"),
        ];
        for (f, n) in families {
            assert_eq!(json(f), format!("\"{n}\""));
            assert_eq!(f.name(), n);
        }
        let protos = [
            (InetProto::Tcp, "tcp"),
            (InetProto::Tcp6, "tcp6"),
            (InetProto::Udp, "udp"),
            (InetProto::Udp6, "udp6"),
            (InetProto::Raw, "raw"),
            (InetProto::Raw6, "raw6"),
        ];
        for (p, n) in protos {
            assert_eq!(json(p), format!("\"{n}\""));
            assert_eq!(p.name(), n);
        }
        let states = [
            (InetState::Established, "ESTABLISHED"),
            (InetState::SynSent, "SYN_SENT"),
            (InetState::SynRecv, "SYN_RECV"),
            (InetState::FinWait1, "FIN_WAIT1"),
            (InetState::FinWait2, "FIN_WAIT2"),
            (InetState::TimeWait, "TIME_WAIT"),
            (InetState::Close, "CLOSE"),
            (InetState::CloseWait, "CLOSE_WAIT"),
            (InetState::LastAck, "LAST_ACK"),
            (InetState::Listen, "LISTEN"),
            (InetState::Closing, "CLOSING"),
            (InetState::NewSynRecv, "NEW_SYN_RECV"),
            (InetState::Unconn, "UNCONN"),
            (InetState::Unknown, "UNKNOWN"),
        ];
        for (st, n) in states {
            assert_eq!(json(st), format!("\"{n}\""));
        }
        let kinds = [
            (UnixKind::Stream, "stream"),
            (UnixKind::Dgram, "dgram"),
            (UnixKind::Seqpacket, "seqpacket"),
            (UnixKind::Unknown, "unix"),
        ];
        for (k, n) in kinds {
            assert_eq!(json(k), format!("\"{n}\""));
        }
        let unix_states = [
            (UnixState::Listening, "listening"),
            (UnixState::Connected, "connected"),
            (UnixState::Connecting, "connecting"),
            (UnixState::Unconnected, "unconnected"),
            (UnixState::Disconnecting, "disconnecting"),
            (UnixState::Unknown, "unknown"),
        ];
        for (st, n) in unix_states {
            assert_eq!(json(st), format!("\"{n}\""));
        }
    }

    #[test]
    fn kernel_numbers_become_states_kinds_and_protocols() {
        // TCP_CLOSE (7) is unconnected for UDP and raw, CLOSE for TCP.
        assert_eq!(InetState::of(false, 7), InetState::Unconn);
        assert_eq!(InetState::of(true, 7), InetState::Close);
        assert_eq!(InetState::of(false, 1), InetState::Established);
        assert_eq!(InetState::of(true, 10), InetState::Listen);
        assert_eq!(InetState::of(true, 12), InetState::NewSynRecv);
        assert_eq!(InetState::of(true, 13), InetState::Unknown);
        assert_eq!(InetProto::of(1, true), InetProto::Tcp6);
        assert_eq!(InetProto::of(2, false), InetProto::Udp);
        assert_eq!(InetProto::of(3, true), InetProto::Raw6);
        assert_eq!(InetProto::Udp6.v4(), InetProto::Udp);
        assert!(InetProto::Tcp6.is_tcp() && !InetProto::Udp.is_tcp());
        assert_eq!(UnixKind::of(5), UnixKind::Seqpacket);
        assert_eq!(UnixKind::of(3), UnixKind::Unknown);
        assert_eq!(SocketFamily::of(16, 3), SocketFamily::Netlink);
        assert_eq!(SocketFamily::of(10, 3), SocketFamily::Raw);
        assert_eq!(SocketFamily::of(2, 1), SocketFamily::Inet);
        assert_eq!(SocketFamily::of(99, 1), SocketFamily::Unknown);
    }
}

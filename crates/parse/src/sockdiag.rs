//! `NETLINK_SOCK_DIAG` for unix sockets: the request bytes and the replies
//! (`struct nlmsghdr` + `struct unix_diag_msg` + attributes, in host byte
//! order; include/uapi/linux/{netlink,sock_diag,unix_diag}.h).
//!
//! `/proc/net/unix` does not say which socket is connected to which; the
//! `UNIX_DIAG_PEER` attribute does: the inode of the other end.

/// `SOCK_DIAG_BY_FAMILY`.
pub const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_DUMP: u16 = 0x300;
const AF_UNIX: u8 = 1;
/// Ask for the bound name and the peer's inode.
const UDIAG_SHOW_NAME: u32 = 0x1;
const UDIAG_SHOW_PEER: u32 = 0x4;
const UNIX_DIAG_NAME: u16 = 0;
const UNIX_DIAG_PEER: u16 = 2;
const NLMSG_HDRLEN: usize = 16;
const UNIX_DIAG_MSG_LEN: usize = 16;

/// One unix socket in a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixDiag {
    /// Its inode (`socket:[INODE]`).
    pub inode: u32,
    /// `SOCK_STREAM` 1, `SOCK_DGRAM` 2, `SOCK_SEQPACKET` 5.
    pub kind: u8,
    /// `TCP_*`-style state (1 established, 10 listen, 7 close).
    pub state: u8,
    /// The inode of the socket at the other end, when connected.
    pub peer: Option<u32>,
    /// The bound name (`sun_path`; an abstract name starts with NUL).
    pub name: Option<Vec<u8>>,
}

/// What a buffer of replies held.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Replies {
    /// The sockets described.
    pub sockets: Vec<UnixDiag>,
    /// `NLMSG_DONE` was seen (end of a dump).
    pub done: bool,
    /// An `NLMSG_ERROR` with this (negative) errno; 0 is an acknowledgement.
    pub error: Option<i32>,
}

/// A request for one socket (`Some(inode)`: `unix_diag_get_exact()`), or a
/// dump of every unix socket of the network namespace (`None`).
pub fn unix_request(inode: Option<u32>, seq: u32) -> Vec<u8> {
    let flags = match inode {
        Some(_) => NLM_F_REQUEST,
        None => NLM_F_REQUEST | NLM_F_DUMP,
    };
    let len: u32 = 16 + 24;
    let mut b = Vec::with_capacity(40);
    b.extend_from_slice(&len.to_ne_bytes());
    b.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    b.extend_from_slice(&flags.to_ne_bytes());
    b.extend_from_slice(&seq.to_ne_bytes());
    b.extend_from_slice(&0u32.to_ne_bytes());
    // struct unix_diag_req
    b.push(AF_UNIX);
    b.push(0);
    b.extend_from_slice(&0u16.to_ne_bytes());
    b.extend_from_slice(&u32::MAX.to_ne_bytes()); // every state
    b.extend_from_slice(&inode.unwrap_or(0).to_ne_bytes());
    b.extend_from_slice(&(UDIAG_SHOW_NAME | UDIAG_SHOW_PEER).to_ne_bytes());
    // No cookie: INET_DIAG_NOCOOKIE in both words.
    b.extend_from_slice(&u32::MAX.to_ne_bytes());
    b.extend_from_slice(&u32::MAX.to_ne_bytes());
    b
}

/// `IPPROTO_TCP`.
pub const IPPROTO_TCP: u8 = 6;

/// A request for the one TCP socket whose local end is `src`:`sport` and
/// remote end `dst`:`dport` (`inet_diag_find_one_icsk()`): 16-byte
/// addresses (IPv4 in the first 4 bytes), ports in host order.
pub fn inet_request(
    family: u8,
    src: [u8; 16],
    sport: u16,
    dst: [u8; 16],
    dport: u16,
    seq: u32,
) -> Vec<u8> {
    let len: u32 = 16 + 56;
    let mut b = Vec::with_capacity(72);
    b.extend_from_slice(&len.to_ne_bytes());
    b.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    b.extend_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    b.extend_from_slice(&seq.to_ne_bytes());
    b.extend_from_slice(&0u32.to_ne_bytes());
    // struct inet_diag_req_v2
    b.push(family);
    b.push(IPPROTO_TCP);
    b.push(0); // idiag_ext
    b.push(0);
    b.extend_from_slice(&u32::MAX.to_ne_bytes()); // every state
    // struct inet_diag_sockid: ports and addresses in network order.
    b.extend_from_slice(&sport.to_be_bytes());
    b.extend_from_slice(&dport.to_be_bytes());
    b.extend_from_slice(&src);
    b.extend_from_slice(&dst);
    b.extend_from_slice(&0u32.to_ne_bytes()); // any interface
    b.extend_from_slice(&u32::MAX.to_ne_bytes());
    b.extend_from_slice(&u32::MAX.to_ne_bytes());
    b
}

/// What an `inet_diag_msg` reply says of one socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InetReply {
    /// The socket's inode (0 for a socket no process holds yet, such as
    /// a connection waiting in a listener's accept queue).
    pub inode: u32,
    /// The cgroup (v2) its creator was in (`INET_DIAG_CGROUP_ID`, 5.7+):
    /// the ID of that cgroup's directory.
    pub cgroup_id: Option<u64>,
}

/// `INET_DIAG_CGROUP_ID` (include/uapi/linux/inet_diag.h).
const INET_DIAG_CGROUP_ID: u16 = 21;

/// The inode in an `inet_diag_msg` reply (72-byte message, inode last),
/// or the errno of an `NLMSG_ERROR`.
pub fn inet_reply_inode(b: &[u8]) -> Result<u32, i32> {
    inet_reply(b).map(|r| r.inode)
}

/// [`inet_reply_inode`] with the attributes that follow the message
/// (netlink attributes: `u16` length, `u16` type, payload, 4-aligned).
pub fn inet_reply(b: &[u8]) -> Result<InetReply, i32> {
    let len = u32_at(b, 0).map_or(0, |l| l as usize);
    match u16_at(b, 4) {
        Some(SOCK_DIAG_BY_FAMILY) if len >= NLMSG_HDRLEN + 72 => {
            let inode = u32_at(b, NLMSG_HDRLEN + 68).ok_or(-22)?;
            let mut cgroup_id = None;
            let end = len.min(b.len());
            let mut at = NLMSG_HDRLEN + 72;
            while let (Some(alen), Some(ty)) = (u16_at(b, at), u16_at(b, at + 2)) {
                let alen = usize::from(alen);
                if alen < 4 || at.saturating_add(alen) > end {
                    break;
                }
                // The top two bits are flags (NLA_F_NESTED, NLA_F_NET_BYTEORDER).
                if ty & 0x3fff == INET_DIAG_CGROUP_ID && alen >= 12 {
                    cgroup_id = b
                        .get(at + 4..at + 12)
                        .and_then(|v| v.try_into().ok())
                        .map(u64::from_ne_bytes);
                }
                at = at.saturating_add(align4(alen));
            }
            Ok(InetReply { inode, cgroup_id })
        }
        Some(NLMSG_ERROR) => {
            Err(u32_at(b, NLMSG_HDRLEN).map_or(-22, |e| i32::from_ne_bytes(e.to_ne_bytes())))
        }
        _ => Err(-22),
    }
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

const fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Parses one `recv()` worth of replies. Truncated or malformed messages
/// end the parse (what was parsed before is kept).
pub fn unix_replies(b: &[u8]) -> Replies {
    let mut r = Replies::default();
    let mut at = 0usize;
    while let (Some(len), Some(ty)) = (u32_at(b, at), u16_at(b, at + 4)) {
        let len = len as usize;
        let Some(msg) = b.get(at..at.saturating_add(len)) else {
            break;
        };
        if len < NLMSG_HDRLEN {
            break;
        }
        match ty {
            NLMSG_DONE => r.done = true,
            NLMSG_ERROR => {
                r.error = u32_at(msg, NLMSG_HDRLEN).map(|e| i32::from_ne_bytes(e.to_ne_bytes()));
            }
            SOCK_DIAG_BY_FAMILY => {
                if let Some(s) = unix_msg(msg.get(NLMSG_HDRLEN..).unwrap_or_default()) {
                    r.sockets.push(s);
                }
            }
            _ => {}
        }
        at = at.saturating_add(align4(len));
    }
    r
}

fn unix_msg(p: &[u8]) -> Option<UnixDiag> {
    let kind = *p.get(1)?;
    let state = *p.get(2)?;
    let inode = u32_at(p, 4)?;
    let mut peer = None;
    let mut name = None;
    let mut at = UNIX_DIAG_MSG_LEN;
    while let (Some(alen), Some(aty)) = (u16_at(p, at), u16_at(p, at + 2)) {
        let alen = usize::from(alen);
        if alen < 4 || p.len() < at + alen {
            break;
        }
        if aty == UNIX_DIAG_PEER {
            peer = u32_at(p, at + 4);
        } else if aty == UNIX_DIAG_NAME {
            name = p.get(at + 4..at + alen).map(<[u8]>::to_vec);
        }
        at += align4(alen);
    }
    Some(UnixDiag {
        inode,
        kind,
        state,
        peer,
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(inode: u32, peer: Option<u32>) -> Vec<u8> {
        let mut p = vec![AF_UNIX, 1, 1, 0];
        p.extend_from_slice(&inode.to_ne_bytes());
        p.extend_from_slice(&[0xff; 8]);
        if let Some(x) = peer {
            p.extend_from_slice(&8u16.to_ne_bytes());
            p.extend_from_slice(&UNIX_DIAG_PEER.to_ne_bytes());
            p.extend_from_slice(&x.to_ne_bytes());
        }
        // A name attribute ("/a b", 4 bytes).
        p.extend_from_slice(&8u16.to_ne_bytes());
        p.extend_from_slice(&UNIX_DIAG_NAME.to_ne_bytes());
        p.extend_from_slice(b"/a b");
        // An attribute with a 2-byte payload, padded to 4: skipped.
        p.extend_from_slice(&6u16.to_ne_bytes());
        p.extend_from_slice(&9u16.to_ne_bytes());
        p.extend_from_slice(&[1, 2, 0, 0]);
        let mut m = Vec::new();
        m.extend_from_slice(&((16 + p.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        m.extend_from_slice(&[0; 10]);
        m.extend_from_slice(&p);
        m
    }

    #[test]
    fn request_layout() {
        let r = unix_request(Some(1234), 7);
        assert_eq!(r.len(), 40);
        assert_eq!(u32_at(&r, 0), Some(40));
        assert_eq!(u16_at(&r, 4), Some(20));
        assert_eq!(u16_at(&r, 6), Some(1));
        assert_eq!(u32_at(&r, 8), Some(7));
        assert_eq!(r[16], 1);
        assert_eq!(u32_at(&r, 24), Some(1234));
        assert_eq!(u32_at(&r, 28), Some(5));
        assert_eq!(u16_at(&unix_request(None, 1), 6), Some(0x301));
    }

    #[test]
    fn inet_exact_lookup() {
        let mut src = [0u8; 16];
        src[..4].copy_from_slice(&[127, 0, 0, 1]);
        let r = inet_request(2, src, 8080, src, 40000, 9);
        assert_eq!(r.len(), 72);
        assert_eq!(u32_at(&r, 0), Some(72));
        assert_eq!((r[16], r[17]), (2, 6));
        assert_eq!(&r[24..26], &8080u16.to_be_bytes());
        assert_eq!(&r[26..28], &40000u16.to_be_bytes());
        assert_eq!(&r[28..32], &[127, 0, 0, 1]);
        // A reply: header + inet_diag_msg with the inode at its end.
        let mut m = Vec::new();
        m.extend_from_slice(&88u32.to_ne_bytes());
        m.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        m.extend_from_slice(&[0; 10]);
        m.extend_from_slice(&[0; 68]);
        m.extend_from_slice(&4242u32.to_ne_bytes());
        assert_eq!(inet_reply_inode(&m), Ok(4242));
        let mut e = Vec::new();
        e.extend_from_slice(&20u32.to_ne_bytes());
        e.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
        e.extend_from_slice(&[0; 10]);
        e.extend_from_slice(&(-2i32).to_ne_bytes());
        assert_eq!(inet_reply_inode(&e), Err(-2));
        assert_eq!(inet_reply_inode(&m[..40]), Err(-22));
        assert_eq!(inet_reply_inode(&[]), Err(-22));
        assert_eq!(inet_reply(&m).map(|r| r.cgroup_id), Ok(None));
        // Attributes after the message: a 5-byte one (padded to 8), a pad,
        // then INET_DIAG_CGROUP_ID with its u64; the length covers them.
        let mut a = m.clone();
        a.extend_from_slice(&5u16.to_ne_bytes());
        a.extend_from_slice(&3u16.to_ne_bytes());
        a.extend_from_slice(&[7, 0, 0, 0]);
        a.extend_from_slice(&4u16.to_ne_bytes());
        a.extend_from_slice(&20u16.to_ne_bytes());
        a.extend_from_slice(&12u16.to_ne_bytes());
        a.extend_from_slice(&21u16.to_ne_bytes());
        a.extend_from_slice(&0x1234_5678_9abcu64.to_ne_bytes());
        let n = u32::try_from(a.len()).unwrap();
        a[..4].copy_from_slice(&n.to_ne_bytes());
        assert_eq!(
            inet_reply(&a),
            Ok(InetReply {
                inode: 4242,
                cgroup_id: Some(0x1234_5678_9abc)
            })
        );
        // A length that overruns the buffer stops the walk, not the parse.
        let mut bad = a.clone();
        let n = u32::try_from(a.len() + 40).unwrap();
        bad[..4].copy_from_slice(&n.to_ne_bytes());
        assert_eq!(inet_reply(&bad).map(|r| r.inode), Ok(4242));
        let mut cut = a.clone();
        cut.truncate(a.len() - 4);
        assert_eq!(inet_reply(&cut).map(|r| r.cgroup_id), Ok(None));
    }

    #[test]
    fn replies_with_peers_errors_and_done() {
        let mut b = reply(100, Some(101));
        b.extend(reply(101, Some(100)));
        b.extend(reply(102, None));
        let r = unix_replies(&b);
        assert_eq!(r.sockets.len(), 3);
        assert_eq!(
            r.sockets[0],
            UnixDiag {
                inode: 100,
                kind: 1,
                state: 1,
                peer: Some(101),
                name: Some(b"/a b".to_vec())
            }
        );
        assert_eq!(r.sockets[2].peer, None);
        assert_eq!(r.sockets[2].name.as_deref(), Some(&b"/a b"[..]));
        assert!(!r.done);
        // NLMSG_ERROR with -ENOENT.
        let mut e = Vec::new();
        e.extend_from_slice(&20u32.to_ne_bytes());
        e.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
        e.extend_from_slice(&[0; 10]);
        e.extend_from_slice(&(-2i32).to_ne_bytes());
        assert_eq!(unix_replies(&e).error, Some(-2));
        let mut d = Vec::new();
        d.extend_from_slice(&16u32.to_ne_bytes());
        d.extend_from_slice(&NLMSG_DONE.to_ne_bytes());
        d.extend_from_slice(&[0; 10]);
        assert!(unix_replies(&d).done);
        // Truncation never panics and keeps what came before.
        let cut = &b[..b.len() - 3];
        assert_eq!(unix_replies(cut).sockets.len(), 2);
        assert_eq!(unix_replies(&[]), Replies::default());
    }
}

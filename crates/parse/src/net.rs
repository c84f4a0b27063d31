//! `/proc/net/{tcp,tcp6,udp,udp6,unix}` (also `/proc/PID/net/*`, which
//! is the table of that process's network namespace).
//!
//! Traps: addresses are hex **in host byte order words**: an IPv4 address
//! is one 32-bit word (`0100007F` is 127.0.0.1 on little-endian hosts), an
//! IPv6 address four words, each in host order. Ports are plain hex. The
//! state is hex (`0A` = LISTEN). In `unix`, the path is the rest of the line
//! (spaces kept, abstract names start with `@`); a path can even contain a
//! newline and so forge a row, which [`unix_table`] rejects by shape.

use crate::num::{dec_u64, hex_u64, words};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One row of a tcp/udp table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InetSocket {
    /// Local address.
    pub local: (IpAddr, u16),
    /// Remote address (unspecified:0 for listeners and unconnected UDP).
    pub remote: (IpAddr, u16),
    /// TCP state number (see [`tcp_state_name`]); UDP uses 07 (CLOSE) and 01.
    pub state: u8,
    /// Bytes in the send queue.
    pub tx_queue: u64,
    /// Bytes in the receive queue.
    pub rx_queue: u64,
    /// Owner UID.
    pub uid: u32,
    /// Socket inode (matches `socket:[INODE]` fd links).
    pub inode: u64,
}

/// The name of a TCP state (include/net/tcp_states.h).
pub fn tcp_state_name(s: u8) -> &'static str {
    match s {
        0x01 => "ESTABLISHED",
        0x02 => "SYN_SENT",
        0x03 => "SYN_RECV",
        0x04 => "FIN_WAIT1",
        0x05 => "FIN_WAIT2",
        0x06 => "TIME_WAIT",
        0x07 => "CLOSE",
        0x08 => "CLOSE_WAIT",
        0x09 => "LAST_ACK",
        0x0A => "LISTEN",
        0x0B => "CLOSING",
        0x0C => "NEW_SYN_RECV",
        _ => "UNKNOWN",
    }
}

/// A socket's state as `ss` names it: TCP's by [`tcp_state_name`]; a UDP,
/// UDP-Lite or raw socket (`tcp` false) in `TCP_CLOSE` (7) is unconnected,
/// `UNCONN` — it is not closing, it has no peer — and connected in
/// `TCP_ESTABLISHED` (1).
pub fn inet_state_name(tcp: bool, s: u8) -> &'static str {
    match (tcp, s) {
        (false, 0x07) => "UNCONN",
        _ => tcp_state_name(s),
    }
}

/// Decodes `ADDR:PORT` where ADDR is 8 (IPv4) or 32 (IPv6) hex digits of
/// host-order 32-bit words.
pub fn inet_addr(b: &[u8]) -> Option<(IpAddr, u16)> {
    let (a, p) = crate::num::split_once(b, b':')?;
    let port = u16::try_from(hex_u64(p)?).ok()?;
    let word = |i: usize| -> Option<[u8; 4]> {
        let w = u32::try_from(hex_u64(a.get(i * 8..i * 8 + 8)?)?).ok()?;
        // The kernel printed the word's value; its memory bytes are the
        // address bytes, in host order.
        Some(w.to_ne_bytes())
    };
    match a.len() {
        8 => Some((IpAddr::V4(Ipv4Addr::from(word(0)?)), port)),
        32 => {
            let mut o = [0u8; 16];
            for i in 0..4 {
                o.get_mut(i * 4..i * 4 + 4)?.copy_from_slice(&word(i)?);
            }
            Some((IpAddr::V6(Ipv6Addr::from(o)), port))
        }
        _ => None,
    }
}

/// Parses a tcp/udp table; malformed rows are skipped.
pub fn inet_table(b: &[u8]) -> Vec<InetSocket> {
    b.split(|&c| c == b'\n')
        .skip(1)
        .filter_map(inet_row)
        .collect()
}

fn inet_row(line: &[u8]) -> Option<InetSocket> {
    let w: Vec<&[u8]> = words(line).take(10).collect();
    let (tx, rx) = crate::num::split_once(w.get(4)?, b':')?;
    Some(InetSocket {
        local: inet_addr(w.get(1)?)?,
        remote: inet_addr(w.get(2)?)?,
        state: u8::try_from(hex_u64(w.get(3)?)?).ok()?,
        tx_queue: hex_u64(tx)?,
        rx_queue: hex_u64(rx)?,
        uid: u32::try_from(dec_u64(w.get(7)?)?).ok()?,
        inode: dec_u64(w.get(9)?)?,
    })
}

/// One row of `/proc/net/unix`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnixSocket<'a> {
    /// `SOCK_STREAM` 1, `SOCK_DGRAM` 2, `SOCK_SEQPACKET` 5.
    pub sock_type: u16,
    /// `SS_*` state: 1 unconnected, 3 connected, ….
    pub state: u8,
    /// `__SO_ACCEPTCON` (listening) is flag 0x10000.
    pub listening: bool,
    /// Socket inode.
    pub inode: u64,
    /// Bound path (`@name` for abstract), if any.
    pub path: Option<&'a [u8]>,
}

/// Parses `/proc/net/unix`. A row whose first field is not the kernel's
/// `%pK:` address or whose numeric fields do not parse (a path with a
/// newline forging a row) is rejected.
pub fn unix_table(b: &[u8]) -> Vec<UnixSocket<'_>> {
    b.split(|&c| c == b'\n')
        .skip(1)
        .filter_map(unix_row)
        .collect()
}

fn unix_row(line: &[u8]) -> Option<UnixSocket<'_>> {
    // Num: RefCount Protocol Flags Type St Inode [Path] — 7 fields, then the
    // path as the rest of the line.
    let mut rest = line;
    let mut f: [&[u8]; 7] = [&[]; 7];
    for slot in f.iter_mut() {
        rest = rest.trim_ascii_start();
        let end = rest.iter().position(|&c| c == b' ').unwrap_or(rest.len());
        *slot = rest.get(..end)?;
        rest = rest.get(end..)?;
    }
    let num = f[0].strip_suffix(b":")?;
    if num.is_empty() || !num.iter().all(u8::is_ascii_hexdigit) || num.len() != 16 {
        return None;
    }
    let flags = hex_u64(f[3])?;
    let path = rest.strip_prefix(b" ").filter(|p| !p.is_empty());
    Some(UnixSocket {
        sock_type: u16::try_from(hex_u64(f[4])?).ok()?,
        state: u8::try_from(hex_u64(f[5])?).ok()?,
        listening: flags & 0x10000 != 0,
        inode: dec_u64(f[6])?,
        path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_sample() {
        let t = inet_table(include_bytes!("../tests/samples/net/tcp.txt"));
        assert_eq!(t.len(), 3);
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        assert_eq!(t[0].local, (lo, 0xCDA3));
        assert_eq!(tcp_state_name(t[0].state), "LISTEN");
        assert_eq!(t[0].inode, 1571869);
        assert_eq!((t[1].remote, t[1].state), ((lo, 0xCDA3), 1));
    }

    #[test]
    fn udp_and_raw_states_are_named_as_ss_names_them() {
        // /proc/net/udp: one unconnected socket on :5353, one connected.
        let t = inet_table(
            b"   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  123: 00000000:14E9 00000000:0000 07 00000000:00000000 00:00000000 00000000   106        0 20513 2 0000000000000000 0
  124: 0100007F:A001 0100007F:0035 01 00000000:00000000 00:00000000 00000000     0        0 20514 2 0000000000000000 0
",
        );
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].local.1, 5353);
        assert_eq!(inet_state_name(false, t[0].state), "UNCONN");
        assert_eq!(inet_state_name(false, t[1].state), "ESTABLISHED");
        // TCP's 07 is CLOSE.
        assert_eq!(inet_state_name(true, 0x07), "CLOSE");
        assert_eq!(inet_state_name(true, 0x0A), "LISTEN");
    }

    #[test]
    fn ipv6_words_are_host_order() {
        // ::1 is printed as 00000000000000000000000001000000 on little-endian.
        let (a, p) = inet_addr(b"00000000000000000000000001000000:0050").unwrap();
        assert_eq!((a, p), (IpAddr::V6(Ipv6Addr::LOCALHOST), 80));
        // 2001:db8::1 → words 0x2001_0db8 → "B80D0120", 0, 0, "01000000".
        let (a, _) = inet_addr(b"B80D0120000000000000000001000000:0000").unwrap();
        assert_eq!(a, "2001:db8::1".parse::<IpAddr>().unwrap());
        assert!(inet_addr(b"0100007F").is_none());
        assert!(inet_addr(b"0100007:0050").is_none());
    }

    #[test]
    fn unix_sample_and_forged_rows() {
        let u = unix_table(include_bytes!("../tests/samples/net/unix.txt"));
        assert_eq!(u.len(), 2);
        assert_eq!(u[0].path, Some(&b"/tmp/drill sock.3862"[..]));
        assert!(u[0].listening);
        assert_eq!(u[0].inode, 1571868);
        assert_eq!((u[1].path, u[1].state), (None, 3));
        // A path with a newline forging a row: the forged line does not parse.
        let forged = b"Num       RefCount Protocol Flags    Type St Inode Path\n\
000000008bdb3365: 00000002 00000000 00010000 0001 01 11 /tmp/a\n\
evil: 00000002 00000000 00010000 0001 01 99 /etc/fake\n\
000000001d2fc05a: 00000003 00000000 00000000 0001 03 12 @abstract name\n";
        let u = unix_table(forged);
        assert_eq!(u.iter().map(|s| s.inode).collect::<Vec<_>>(), vec![11, 12]);
        assert_eq!(u[1].path, Some(&b"@abstract name"[..]));
    }
}

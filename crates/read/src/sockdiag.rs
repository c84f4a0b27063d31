//! Asking the kernel which unix socket is connected to which
//! (`NETLINK_SOCK_DIAG`), in the network namespace of a given process.
//!
//! A netlink socket answers about the namespace it was created in. To ask
//! about another namespace, the socket is created on a short-lived thread
//! that first joins that namespace (`setns(2)` changes only the calling
//! thread; needs CAP_SYS_ADMIN). The reply comes from kernel memory: these
//! calls cannot block on a hung process or filesystem (a receive timeout
//! bounds them anyway).

use crate::{Failure, Outcome, ProcDir};
use procscope_parse::sockdiag::{UnixDiag, unix_replies, unix_request};
use rustix::fd::{AsFd, OwnedFd};
use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketType};
use std::collections::HashMap;
use std::time::Duration;

/// Above this many sockets, one dump of the namespace is cheaper than one
/// exact query per socket.
const EXACT_MAX: usize = 64;

fn errno(e: rustix::io::Errno) -> Failure {
    Failure::from_errno(e, b"netlink sock_diag")
}

fn new_socket() -> Outcome<OwnedFd> {
    let fd = rustix::net::socket_with(
        AddressFamily::NETLINK,
        SocketType::RAW,
        rustix::net::SocketFlags::CLOEXEC,
        Some(rustix::net::netlink::SOCK_DIAG),
    )
    .map_err(errno)?;
    rustix::net::sockopt::set_socket_timeout(
        &fd,
        rustix::net::sockopt::Timeout::Recv,
        Some(Duration::from_secs(1)),
    )
    .map_err(errno)?;
    Ok(fd)
}

/// A sock_diag socket for one network namespace (or, for a snapshot, the
/// answers recorded for that namespace: [`crate::tape`]).
pub struct SockDiag {
    fd: Option<OwnedFd>,
    seq: u32,
    /// The namespace (`ns/net` link text) and the tape, when recording or
    /// replaying.
    tape: Option<(std::sync::Arc<crate::tape::Tape>, String)>,
}

impl SockDiag {
    /// A socket in the network namespace of `dir` (`ns/net`): created
    /// directly when that is procscope's own namespace (the calling
    /// thread's, from the live kernel: `dir` is refused unless its root is
    /// a live procfs), else on a thread that joins it.
    pub fn for_process(dir: &ProcDir) -> Outcome<SockDiag> {
        if let Some(t) = dir.tape().filter(|t| t.is_replay()) {
            let ns = String::from_utf8_lossy(&dir.readlink(c"ns/net")?).into_owned();
            return Ok(SockDiag {
                fd: None,
                seq: 0,
                tape: Some((t.clone(), ns)),
            });
        }
        if !dir.is_live() {
            return Err(Failure::Unsupported {
                what: "a live /proc (this proc root is a fixture or a copy)".into(),
            });
        }
        let theirs = dir.readlink(c"ns/net")?;
        let own = rustix::fs::readlink("/proc/thread-self/ns/net", Vec::new())
            .ok()
            .map(|l| l.into_bytes());
        let fd = if own.as_deref() == Some(theirs.as_slice()) {
            new_socket()?
        } else {
            let ns = dir.open(c"ns/net")?;
            std::thread::spawn(move || {
                rustix::thread::move_into_link_name_space(
                    ns.as_fd(),
                    Some(rustix::thread::LinkNameSpaceType::Network),
                )
                .map_err(errno)?;
                new_socket()
            })
            .join()
            .map_err(|_| Failure::Io {
                errno: 0,
                message: "namespace thread failed".into(),
            })??
        };
        let tape = dir
            .tape()
            .map(|t| (t.clone(), String::from_utf8_lossy(&theirs).into_owned()));
        Ok(SockDiag {
            fd: Some(fd),
            seq: 0,
            tape,
        })
    }

    /// The recorded answers of this namespace, when replaying.
    fn replayed(&self) -> Option<Outcome<crate::tape::NetnsRecord>> {
        let (t, ns) = self.tape.as_ref()?;
        let r = t.replayed()?;
        Some(
            r.netns
                .get(ns)
                .cloned()
                .ok_or_else(crate::tape::not_in_snapshot),
        )
    }

    /// Records every unix socket of the namespace (one dump), for a
    /// snapshot: any later question about unix sockets is answered from it.
    pub fn record_unix(&mut self) -> Outcome<usize> {
        let all = self.unix(None);
        let n = all.as_ref().map_or(0, HashMap::len);
        if let Some((t, ns)) = &self.tape {
            let kept = all.map(|m| {
                let mut v: Vec<_> = m.values().map(crate::tape::UnixRecord::from).collect();
                v.sort_by_key(|u| u.inode);
                v
            });
            t.write(|r| r.netns.entry(ns.clone()).or_default().unix = Some(kept));
        }
        Ok(n)
    }

    fn exchange(&mut self, inode: Option<u32>, out: &mut HashMap<u64, UnixDiag>) -> Outcome<()> {
        let Some(fd) = &self.fd else {
            return Err(crate::tape::not_in_snapshot());
        };
        self.seq = self.seq.wrapping_add(1);
        let req = unix_request(inode, self.seq);
        rustix::net::send(fd, &req, SendFlags::empty()).map_err(errno)?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let (n, _) = rustix::net::recv(fd, &mut buf, RecvFlags::empty()).map_err(errno)?;
            let r = unix_replies(buf.get(..n).unwrap_or_default());
            let got = !r.sockets.is_empty();
            for s in r.sockets {
                out.insert(u64::from(s.inode), s);
            }
            // An exact query gets one answer (the socket or an error); a
            // dump ends with NLMSG_DONE.
            if r.done || r.error.is_some() || (inode.is_some() && got) || n == 0 {
                return Ok(());
            }
        }
    }

    /// While recording, puts the sockets among `inodes` that are in the
    /// dump the tape holds for this namespace into `out`, and says whether
    /// there was such a dump.
    fn recorded(&self, inodes: Option<&[u64]>, out: &mut HashMap<u64, UnixDiag>) -> bool {
        let (Some((t, ns)), Some(v)) = (self.tape.as_ref(), inodes) else {
            return false;
        };
        t.read(|r| {
            // `record_unix` keeps the dump sorted by inode.
            let Some(all) = r
                .netns
                .get(ns)
                .and_then(|n| n.unix.as_ref())
                .and_then(|u| u.as_ref().ok())
            else {
                return false;
            };
            for &i in v {
                let found = u32::try_from(i)
                    .ok()
                    .and_then(|i| all.binary_search_by_key(&i, |u| u.inode).ok())
                    .and_then(|k| all.get(k));
                if let Some(u) = found {
                    out.insert(i, UnixDiag::from(u));
                }
            }
            true
        })
        .unwrap_or(false)
    }

    /// The unix sockets among `inodes` (`None`: every unix socket of the
    /// namespace, in one dump), by inode. Inodes that are not unix sockets
    /// are absent from the answer.
    pub fn unix(&mut self, inodes: Option<&[u64]>) -> Outcome<HashMap<u64, UnixDiag>> {
        if let Some(rec) = self.replayed() {
            let all = rec?.unix.ok_or_else(crate::tape::not_in_snapshot)??;
            return Ok(all
                .iter()
                .filter(|u| inodes.is_none_or(|v| v.contains(&u64::from(u.inode))))
                .map(|u| (u64::from(u.inode), UnixDiag::from(u)))
                .collect());
        }
        let mut out = HashMap::new();
        // Taking a snapshot: the namespace's dump is on the tape already
        // and answers, as the snapshot will replay it: a socket not in it
        // is not a unix socket of the dump (one made since is described
        // like any other socket, through its fd). The kernel answers an
        // exact query by walking every unix socket of the host, and a
        // process's every socket inode is asked about: a query per socket
        // per process was quadratic in the host's sockets.
        if inodes.is_some() && self.recorded(inodes, &mut out) {
            return Ok(out);
        }
        match inodes {
            Some(v) if v.len() <= EXACT_MAX => {
                for &i in v {
                    if let Ok(i) = u32::try_from(i) {
                        self.exchange(Some(i), &mut out)?;
                    }
                }
            }
            Some(v) => {
                self.exchange(None, &mut out)?;
                out.retain(|k, _| v.contains(k));
            }
            None => self.exchange(None, &mut out)?,
        }
        Ok(out)
    }

    /// The TCP socket whose local end is `local` and remote end `remote`
    /// (the other end of a connection on this host), when the kernel knows
    /// one: its inode and the cgroup its creator was in. IPv4 ends are also
    /// looked for among IPv6 sockets (a dual-stack listener's accepted
    /// connections use mapped addresses).
    pub fn tcp_peer(
        &mut self,
        local: std::net::SocketAddr,
        remote: std::net::SocketAddr,
    ) -> Option<procscope_parse::sockdiag::InetReply> {
        if let Some(rec) = self.replayed() {
            let rec = rec.ok()?;
            let p = rec
                .tcp_peers
                .iter()
                .find(|p| p.local == local && p.remote == remote)?;
            return p.inode.map(|inode| procscope_parse::sockdiag::InetReply {
                inode,
                cgroup_id: p.cgroup_id,
            });
        }
        let got = self.tcp_peer_live(local, remote);
        if let Some((t, ns)) = &self.tape {
            t.write(|r| {
                let peers = &mut r.netns.entry(ns.clone()).or_default().tcp_peers;
                if !peers.iter().any(|p| p.local == local && p.remote == remote) {
                    peers.push(crate::tape::TcpPeerRecord {
                        local,
                        remote,
                        inode: got.map(|g| g.inode),
                        cgroup_id: got.and_then(|g| g.cgroup_id),
                    });
                }
            });
        }
        got
    }

    fn tcp_peer_live(
        &mut self,
        local: std::net::SocketAddr,
        remote: std::net::SocketAddr,
    ) -> Option<procscope_parse::sockdiag::InetReply> {
        let fd = self.fd.as_ref()?;
        let bytes = |ip: std::net::IpAddr, v6: bool| -> [u8; 16] {
            let mut b = [0u8; 16];
            match (ip, v6) {
                (std::net::IpAddr::V4(a), false) => b[..4].copy_from_slice(&a.octets()),
                (std::net::IpAddr::V4(a), true) => b = a.to_ipv6_mapped().octets(),
                (std::net::IpAddr::V6(a), _) => b = a.octets(),
            }
            b
        };
        let v4 = local.is_ipv4() && remote.is_ipv4();
        let families: &[(u8, bool)] = if v4 {
            &[(2, false), (10, true)]
        } else {
            &[(10, true)]
        };
        let mut buf = vec![0u8; 4096];
        for &(family, v6) in families {
            self.seq = self.seq.wrapping_add(1);
            let req = procscope_parse::sockdiag::inet_request(
                family,
                bytes(local.ip(), v6),
                local.port(),
                bytes(remote.ip(), v6),
                remote.port(),
                self.seq,
            );
            if rustix::net::send(fd, &req, SendFlags::empty()).is_err() {
                return None;
            }
            let Ok((n, _)) = rustix::net::recv(fd, &mut buf, RecvFlags::empty()) else {
                return None;
            };
            if let Ok(r) = procscope_parse::sockdiag::inet_reply(buf.get(..n).unwrap_or_default()) {
                return Some(r);
            }
        }
        None
    }

    /// The inode of [`SockDiag::tcp_peer`].
    pub fn tcp_inode(
        &mut self,
        local: std::net::SocketAddr,
        remote: std::net::SocketAddr,
    ) -> Option<u64> {
        self.tcp_peer(local, remote).map(|r| u64::from(r.inode))
    }

    /// The peer inode of each of `inodes` that is a connected unix socket.
    pub fn unix_peers(&mut self, inodes: &[u64]) -> Outcome<HashMap<u64, u64>> {
        Ok(self
            .unix(Some(inodes))?
            .into_iter()
            .filter_map(|(i, d)| d.peer.filter(|p| *p != 0).map(|p| (i, u64::from(p))))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn socketpair_peers_are_found_both_ways() {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let ino = |s: &std::os::unix::net::UnixStream| {
            use std::os::fd::AsRawFd;
            std::fs::metadata(format!("/proc/self/fd/{}", s.as_raw_fd()))
                .unwrap()
                .ino()
        };
        let (ia, ib) = (ino(&a), ino(&b));
        let root = crate::ProcRoot::open("/proc").unwrap();
        let me = root.process(root.own_pid()).unwrap();
        let mut d = SockDiag::for_process(&me).unwrap();
        let p = d.unix_peers(&[ia, ib, 1]).unwrap();
        assert_eq!(p.get(&ia), Some(&ib));
        assert_eq!(p.get(&ib), Some(&ia));
        assert_eq!(p.get(&1), None);
        // The dump path gives the same answer.
        let many: Vec<u64> = std::iter::once(ia).chain(1..=EXACT_MAX as u64).collect();
        assert_eq!(d.unix_peers(&many).unwrap().get(&ia), Some(&ib));
    }
}

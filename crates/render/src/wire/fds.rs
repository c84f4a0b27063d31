//! `procscope fds --json`: every fd decoded, with the names of its flags,
//! masks, clock and signals beside the raw numbers.

use super::common::{Bytes, ErrorObject, OrError};
use procscope_model::fds as m;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

mod convert;

/// The whole document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// Format version.
    pub procscope: u32,
    /// `fds`.
    pub kind: String,
    /// One per process shown.
    pub processes: Vec<Process>,
    /// Processes that could not be looked into (absent when none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<Vec<Unreadable>>,
}

/// The members before `processes` (the document is streamed process by
/// process).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Head {
    /// Format version.
    pub procscope: u32,
    /// `fds`.
    pub kind: &'static str,
}

impl Default for Head {
    fn default() -> Head {
        Head {
            procscope: crate::json::VERSION,
            kind: "fds",
        }
    }
}

/// The members after `processes`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tail {
    /// Processes that could not be looked into (absent when none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<Vec<Unreadable>>,
}

/// A process whose fds could not be read, in a host-wide listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unreadable {
    /// Process ID.
    pub pid: i32,
    /// Its name.
    pub comm: Bytes,
    /// Why.
    pub error: super::common::ErrorBody,
}

/// One process: its fds, or why they could not be read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Process {
    /// Its fds were read.
    Read(ProcessFds),
    /// They could not be.
    Failed(ProcessFailed),
}

/// A process whose fds could not be read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessFailed {
    /// Process ID.
    pub pid: i32,
    /// Why.
    pub fds: ErrorObject,
}

/// A process's fds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessFds {
    /// Process ID.
    pub pid: i32,
    /// Its name.
    pub comm: Bytes,
    /// Its effective UID.
    pub uid: Option<u32>,
    /// Its soft `RLIMIT_NOFILE` (null: unlimited or unreadable).
    pub nofile_soft_limit: Option<u64>,
    /// Its fds (those the filters keep).
    pub fds: Vec<Fd>,
    /// Where the other ends of its pipes and sockets were looked for.
    pub peer_search: Option<PeerSearch>,
}

/// How far the holders of other ends were looked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerSearch {
    /// `near`, `widened` or `all`.
    pub scope: String,
    /// How many processes' fds were read.
    pub processes: usize,
    /// A widened search: the fd whose other end no related process held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub widened_for_fd: Option<i32>,
}

impl From<&m::PeerSearch> for PeerSearch {
    fn from(s: &m::PeerSearch) -> PeerSearch {
        PeerSearch {
            scope: super::common::name(&s.scope),
            processes: s.processes,
            widened_for_fd: s.widened_for_fd,
        }
    }
}

/// One open fd.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fd {
    /// The fd number.
    pub fd: i32,
    /// The link's target.
    pub link: OrError<Bytes>,
    /// File position.
    pub pos: Option<u64>,
    /// Open flags (fdinfo's `flags:`).
    pub flags: Option<u64>,
    /// Their names: the access mode first (`O_RDONLY`, `O_WRONLY`,
    /// `O_RDWR`), then each `O_*` flag; unknown bits as one octal number.
    pub flag_names: Option<Vec<String>>,
    /// Mount ID.
    pub mnt_id: Option<u64>,
    /// fdinfo's `lock:` lines.
    pub locks: Vec<Bytes>,
    /// What the fd is.
    pub detail: Detail,
    /// Other holders of the same pipe or socket.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peers: Vec<Peer>,
    /// Holders of the socket at the other end.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_end: Vec<Peer>,
    /// Every /proc/locks entry on the file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub file_locks: Vec<FileLock>,
}

/// Another process's fd on the same pipe or socket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Peer {
    /// Process ID.
    pub pid: i32,
    /// Its name.
    pub comm: Bytes,
    /// Its fd.
    pub fd: i32,
    /// Its access mode (`r`, `w`, `rw`).
    pub mode: Option<String>,
}

/// A lock on the file, from /proc/locks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileLock {
    /// `FLOCK`, `POSIX`, `OFDLCK`, `LEASE`.
    pub kind: Bytes,
    /// `READ` or `WRITE`.
    pub access: Bytes,
    /// `ADVISORY` or `MANDATORY`.
    pub mode: Bytes,
    /// Holder or waiter (-1 for OFD locks).
    pub pid: i64,
    /// Its name.
    pub comm: Option<Bytes>,
    /// First byte.
    pub start: u64,
    /// Last byte (null: to the end of the file).
    pub end: Option<u64>,
    /// Waiting for it rather than holding it.
    pub waiting: bool,
}

/// One epoll watch: `[fd, events, what the fd is, the events' names]`.
pub type EpollWatch = (i64, u64, Option<Bytes>, Vec<String>);

/// One inotify watch, or a fanotify inode mark (`wd` 0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InodeWatch {
    /// Watch descriptor.
    pub wd: u64,
    /// Watched inode.
    pub inode: u64,
    /// Its device, `[major, minor]`.
    pub device: (u64, u64),
    /// `IN_*` (inotify) or `FAN_*` (fanotify) mask.
    pub mask: u64,
    /// Its names.
    pub mask_names: Vec<String>,
    /// The watched path, why it could not be resolved, or null.
    pub path: Option<OrError<Bytes>>,
}

/// A fanotify mark on a whole mount or filesystem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FanotifyMark {
    /// `mount` or `filesystem`.
    pub kind: String,
    /// The mount's ID (mount marks).
    pub mnt_id: Option<u64>,
    /// The filesystem's device, `[major, minor]` (filesystem marks).
    pub device: Option<(u64, u64)>,
    /// `FAN_*` events.
    pub mask: u64,
    /// Their names.
    pub mask_names: Vec<String>,
    /// Events ignored.
    pub ignored_mask: u64,
    /// Their names.
    pub ignored_mask_names: Vec<String>,
    /// Where it is mounted.
    pub mount_point: Option<Bytes>,
    /// Filesystem type.
    pub fs_type: Option<Bytes>,
}

/// What a socket is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "family", rename_all = "snake_case", deny_unknown_fields)]
pub enum Socket {
    /// TCP, UDP or raw IP.
    Inet {
        /// `tcp`, `tcp6`, `udp`, `udp6`, `raw`, `raw6`.
        proto: String,
        /// Local address.
        local: IpAddr,
        /// Local port (a raw socket's IP protocol).
        local_port: u16,
        /// Remote address.
        remote: IpAddr,
        /// Remote port.
        remote_port: u16,
        /// The state as `ss` names it.
        state: String,
        /// The kernel's `TCP_*` number.
        state_number: u8,
        /// Send queue, bytes.
        tx_queue: u64,
        /// Receive queue, bytes.
        rx_queue: u64,
        /// The socket at the other end, when on this host.
        peer_inode: Option<u64>,
    },
    /// A unix-domain socket.
    Unix {
        /// Bound path (`@name`: abstract).
        path: Option<Bytes>,
        /// `stream`, `dgram`, `seqpacket`.
        kind: String,
        /// `listening`, `connected`, …
        state: String,
        /// The socket at the other end.
        peer_inode: Option<u64>,
    },
    /// Another family.
    Other {
        /// `netlink`, `packet`, `raw`, `vsock`, …
        name: String,
        /// Its protocol number.
        protocol: Option<u32>,
    },
}

/// What an fd is (`type`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Detail {
    /// A file, directory or device.
    File {
        /// The path.
        path: Bytes,
        /// No link to the inode is left.
        deleted: bool,
        /// The link said ` (deleted)`.
        unlinked: bool,
        /// Hard links.
        nlink: Option<u64>,
        /// Size, bytes.
        size: Option<u64>,
        /// `regular`, `directory`, `char_device`, `block_device`,
        /// `symlink`, `socket`.
        kind: Option<String>,
        /// Its mount point.
        mount_point: Option<Bytes>,
        /// Its filesystem type.
        fs_type: Option<Bytes>,
    },
    /// A named pipe.
    Fifo {
        /// The path.
        path: Bytes,
        /// Its inode.
        inode: u64,
        /// Its mount point.
        mount_point: Option<Bytes>,
        /// Its filesystem type.
        fs_type: Option<Bytes>,
    },
    /// A socket.
    Socket {
        /// Its inode.
        inode: u64,
        /// What it is (null: could not be described).
        socket: Option<Socket>,
    },
    /// A pipe.
    Pipe {
        /// Its inode.
        inode: u64,
    },
    /// An eventfd.
    Eventfd {
        /// The counter.
        count: u64,
        /// `eventfd-id`.
        id: Option<u64>,
        /// `EFD_SEMAPHORE`.
        semaphore: Option<bool>,
    },
    /// An epoll set.
    Epoll {
        /// `[fd, events, what the fd is, the events' names]`.
        watches: Vec<EpollWatch>,
    },
    /// An inotify instance.
    Inotify {
        /// Its watches.
        watches: Vec<InodeWatch>,
    },
    /// A fanotify group.
    Fanotify {
        /// Its inode marks.
        watches: Vec<InodeWatch>,
        /// Its mount and filesystem marks.
        marks: Vec<FanotifyMark>,
        /// `fanotify_init` flags.
        init_flags: Option<u64>,
        /// Their names: the class first.
        init_flag_names: Option<Vec<String>>,
        /// Open flags of its event fds.
        event_flags: Option<u64>,
        /// Their names (as `flag_names`).
        event_flag_names: Option<Vec<String>>,
    },
    /// A timerfd.
    Timerfd {
        /// Clock ID.
        clockid: i64,
        /// Its name (`CLOCK_MONOTONIC`).
        clock: String,
        /// Unread expirations.
        ticks: u64,
        /// Time to the next expiry (0: disarmed). (i64: nanoseconds to
        /// 292 years; the untagged enums around it cannot buffer i128.)
        next_ns: i64,
        /// Interval (0: one-shot).
        interval_ns: i64,
    },
    /// A signalfd.
    Signalfd {
        /// Signal mask (bit n-1: signal n).
        sigmask: u64,
        /// Its signals by name.
        signals: Vec<String>,
    },
    /// A pidfd.
    Pidfd {
        /// The PID (-1: exited; 0: not visible here).
        pid: i64,
        /// That process's name.
        comm: Option<Bytes>,
    },
    /// A memfd.
    Memfd {
        /// Its name.
        name: Bytes,
        /// Its size, bytes.
        size: Option<u64>,
    },
    /// Another anonymous inode.
    Anon {
        /// Its name.
        name: Bytes,
        /// `[key, value]` lines its fdinfo adds.
        fields: Vec<(Bytes, Bytes)>,
    },
    /// Something else.
    Other,
}

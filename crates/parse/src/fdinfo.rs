//! `/proc/PID/fdinfo/N`: the state of one open file description.
//!
//! Common lines (fs/proc/fd.c `seq_show()`): `pos:` decimal, `flags:`
//! **octal**, `mnt_id:`, `ino:`; one `lock:` line per lock on the file.
//! Then what the file type's `show_fdinfo` adds, parsed into [`Extra`]:
//! eventfd (`eventfd-count:` is **hex**), epoll (`tfd:` lines; `events`,
//! `data`, `ino`, `sdev` hex), inotify (`wd` is **hex**, not decimal as
//! `man 5 proc` says), fanotify, timerfd, signalfd (hex mask), pidfd.

use crate::num::{dec_i64, dec_u64, hex_u64, oct_u64, split_once, trim, words};
use crate::{ParseError, Result};

/// One watched fd of an epoll set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpollWatch {
    /// The watched fd number (in the process that added it).
    pub tfd: i64,
    /// `EPOLL*` event mask.
    pub events: u64,
    /// The user data word.
    pub data: u64,
    /// Inode of the watched file.
    pub ino: Option<u64>,
    /// Device of the watched file (kernel `dev_t` encoding).
    pub sdev: Option<u64>,
}

/// One inotify (or fanotify inode) watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InotifyWatch<'a> {
    /// Watch descriptor (inotify only).
    pub wd: Option<u64>,
    /// Watched inode.
    pub ino: u64,
    /// Its device (kernel `dev_t` encoding, hex in the file).
    pub sdev: u64,
    /// `IN_*` mask.
    pub mask: u64,
    /// Ignored mask.
    pub ignored_mask: u64,
    /// File handle type, for `open_by_handle_at(2)`.
    pub fhandle_type: Option<u64>,
    /// File handle bytes, as hex text.
    pub f_handle: Option<&'a [u8]>,
}

/// A fanotify mark on a whole mount or filesystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FanotifyMark {
    /// The mount's ID (mount marks).
    pub mnt_id: Option<u64>,
    /// The filesystem's device, kernel `dev_t` encoding (filesystem marks).
    pub sdev: Option<u64>,
    /// `FAN_*` event mask.
    pub mask: u64,
    /// Ignored mask.
    pub ignored_mask: u64,
}

/// What a fanotify group's fdinfo says (`fanotify_fdinfo()` in
/// fs/notify/fdinfo.c).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fanotify<'a> {
    /// `fanotify_init` flags (`FAN_CLASS_*`, `FAN_REPORT_*`, …), from
    /// `fanotify flags:`.
    pub flags: Option<u64>,
    /// The open flags of the event fds (`event-flags:`).
    pub event_flags: Option<u64>,
    /// Inode marks (`wd` is None).
    pub inodes: Vec<InotifyWatch<'a>>,
    /// Mount marks.
    pub mounts: Vec<FanotifyMark>,
    /// Filesystem (superblock) marks.
    pub filesystems: Vec<FanotifyMark>,
}

/// What a file type adds to fdinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Extra<'a> {
    /// Nothing beyond the common lines.
    None,
    /// eventfd.
    Eventfd {
        /// The counter (printed in hex by fs/eventfd.c).
        count: u64,
        /// `eventfd-id`.
        id: Option<u64>,
        /// `EFD_SEMAPHORE` mode (newer kernels).
        semaphore: Option<bool>,
    },
    /// epoll: the watched fds.
    Epoll(Vec<EpollWatch>),
    /// inotify: the watches.
    Inotify(Vec<InotifyWatch<'a>>),
    /// A fanotify group and its marks.
    Fanotify(Fanotify<'a>),
    /// timerfd.
    Timerfd {
        /// `clockid_t` (0 realtime, 1 monotonic, 7 boottime, …).
        clockid: i64,
        /// Expirations not yet read.
        ticks: u64,
        /// `TFD_TIMER_*` flags.
        settime_flags: u64,
        /// Time to the next expiry: (seconds, nanoseconds).
        it_value: (i64, i64),
        /// Interval: (seconds, nanoseconds).
        it_interval: (i64, i64),
    },
    /// signalfd: the signal mask (bit n-1 is signal n).
    Signalfd {
        /// The mask.
        sigmask: u64,
    },
    /// pidfd.
    Pidfd {
        /// The process, or -1 once it exited (0 if in another PID namespace).
        pid: i64,
        /// Its PID in each nested namespace.
        ns_pids: Vec<i64>,
    },
}

/// A parsed fdinfo file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FdInfo<'a> {
    /// File position.
    pub pos: u64,
    /// Open flags (`O_*`, with `O_CLOEXEC`).
    pub flags: u64,
    /// Mount ID (matches `mountinfo` of the same process).
    pub mnt_id: Option<u64>,
    /// Inode number (5.x+).
    pub ino: Option<u64>,
    /// Raw `lock:` lines (the part after `lock:`), same format as /proc/locks.
    pub locks: Vec<&'a [u8]>,
    /// `scm_fds:` of unix sockets (fds in flight).
    pub scm_fds: Option<u64>,
    /// The type-specific part.
    pub extra: Extra<'a>,
}

fn field<'a>(rest: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    // `key:value` tokens inside one line (epoll/inotify style).
    // `events:       19` puts the value in the next word: callers handle that.
    words(rest).find_map(|w| {
        w.strip_prefix(key)
            .and_then(|v| v.strip_prefix(b":"))
            .filter(|v| !v.is_empty())
    })
}

fn pair(v: &[u8]) -> Option<(i64, i64)> {
    let v = trim(v).strip_prefix(b"(")?.strip_suffix(b")")?;
    let (a, b) = split_once(v, b',')?;
    Some((dec_i64(trim(a))?, dec_i64(trim(b))?))
}

impl<'a> FdInfo<'a> {
    /// Parses an fdinfo file.
    pub fn parse(b: &'a [u8]) -> Result<Self> {
        let mut pos = None;
        let mut flags = None;
        let mut info = FdInfo {
            pos: 0,
            flags: 0,
            mnt_id: None,
            ino: None,
            locks: Vec::new(),
            scm_fds: None,
            extra: Extra::None,
        };
        let mut epoll = Vec::new();
        let mut inotify = Vec::new();
        let mut fanotify: Option<Fanotify<'_>> = None;
        let (mut ev_count, mut ev_id, mut ev_sem) = (None, None, None);
        let (mut clockid, mut ticks, mut tflags, mut it_value, mut it_interval) =
            (None, None, None, None, None);
        let (mut sigmask, mut pid, mut ns_pids) = (None, None, None);
        for line in b.split(|&c| c == b'\n') {
            if let Some(rest) = line.strip_prefix(b"tfd:") {
                let w: Vec<&[u8]> = words(rest).collect();
                let tfd = w
                    .first()
                    .and_then(|t| dec_i64(t))
                    .ok_or_else(|| ParseError::invalid("tfd", line))?;
                let events = field(rest, b"events")
                    .or_else(|| {
                        w.iter()
                            .position(|x| *x == b"events:")
                            .and_then(|i| w.get(i + 1))
                            .copied()
                    })
                    .and_then(hex_u64)
                    .ok_or_else(|| ParseError::invalid("events", line))?;
                let data = w
                    .iter()
                    .position(|x| *x == b"data:")
                    .and_then(|i| w.get(i + 1))
                    .and_then(|d| hex_u64(d))
                    .unwrap_or(0);
                epoll.push(EpollWatch {
                    tfd,
                    events,
                    data,
                    ino: field(rest, b"ino").and_then(hex_u64),
                    sdev: field(rest, b"sdev").and_then(hex_u64),
                });
                continue;
            }
            if let Some(rest) = line.strip_prefix(b"fanotify ") {
                let f = fanotify.get_or_insert_with(Fanotify::default);
                let mask = field(rest, b"mask").and_then(hex_u64).unwrap_or(0);
                let ignored_mask = field(rest, b"ignored_mask").and_then(hex_u64).unwrap_or(0);
                if let Some(ino) = field(rest, b"ino") {
                    f.inodes.push(InotifyWatch {
                        wd: None,
                        ino: hex_u64(ino).ok_or_else(|| ParseError::invalid("ino", line))?,
                        sdev: field(rest, b"sdev")
                            .and_then(hex_u64)
                            .ok_or_else(|| ParseError::invalid("sdev", line))?,
                        mask,
                        ignored_mask,
                        fhandle_type: field(rest, b"fhandle-type").and_then(hex_u64),
                        f_handle: field(rest, b"f_handle"),
                    });
                } else if let Some(m) = field(rest, b"mnt_id") {
                    f.mounts.push(FanotifyMark {
                        mnt_id: Some(
                            hex_u64(m).ok_or_else(|| ParseError::invalid("mnt_id", line))?,
                        ),
                        sdev: None,
                        mask,
                        ignored_mask,
                    });
                } else if let Some(d) = field(rest, b"sdev") {
                    f.filesystems.push(FanotifyMark {
                        mnt_id: None,
                        sdev: Some(hex_u64(d).ok_or_else(|| ParseError::invalid("sdev", line))?),
                        mask,
                        ignored_mask,
                    });
                } else {
                    // The group: `fanotify flags:0 event-flags:8000`.
                    f.flags = field(rest, b"flags").and_then(hex_u64);
                    f.event_flags = field(rest, b"event-flags").and_then(hex_u64);
                }
                continue;
            }
            if let Some(rest) = line.strip_prefix(b"inotify ") {
                let Some(ino) = field(rest, b"ino") else {
                    continue;
                };
                inotify.push(InotifyWatch {
                    wd: field(rest, b"wd").and_then(hex_u64),
                    ino: hex_u64(ino).ok_or_else(|| ParseError::invalid("ino", line))?,
                    sdev: field(rest, b"sdev")
                        .and_then(hex_u64)
                        .ok_or_else(|| ParseError::invalid("sdev", line))?,
                    mask: field(rest, b"mask").and_then(hex_u64).unwrap_or(0),
                    ignored_mask: field(rest, b"ignored_mask").and_then(hex_u64).unwrap_or(0),
                    fhandle_type: field(rest, b"fhandle-type").and_then(hex_u64),
                    f_handle: field(rest, b"f_handle"),
                });
                continue;
            }
            let Some((k, v)) = split_once(line, b':') else {
                continue;
            };
            let v = trim(v);
            match k {
                b"pos" => pos = Some(dec_u64(v).ok_or_else(|| ParseError::invalid("pos", v))?),
                b"flags" => {
                    flags = Some(oct_u64(v).ok_or_else(|| ParseError::invalid("flags", v))?)
                }
                b"mnt_id" => info.mnt_id = dec_u64(v),
                b"ino" => info.ino = dec_u64(v),
                b"lock" => info.locks.push(v),
                b"scm_fds" => info.scm_fds = dec_u64(v),
                b"eventfd-count" => ev_count = hex_u64(v),
                b"eventfd-id" => ev_id = dec_u64(v),
                b"eventfd-semaphore" => ev_sem = dec_u64(v).map(|x| x != 0),
                b"clockid" => clockid = dec_i64(v),
                b"ticks" => ticks = dec_u64(v),
                b"settime flags" => tflags = oct_u64(v),
                b"it_value" => it_value = pair(v),
                b"it_interval" => it_interval = pair(v),
                b"sigmask" => sigmask = hex_u64(v),
                b"Pid" => pid = dec_i64(v),
                b"NSpid" => ns_pids = Some(words(v).filter_map(dec_i64).collect()),
                _ => {}
            }
        }
        info.pos = pos.ok_or(ParseError::Missing("pos"))?;
        info.flags = flags.ok_or(ParseError::Missing("flags"))?;
        info.extra = if let Some(count) = ev_count {
            Extra::Eventfd {
                count,
                id: ev_id,
                semaphore: ev_sem,
            }
        } else if let (Some(clockid), Some(it_value)) = (clockid, it_value) {
            Extra::Timerfd {
                clockid,
                ticks: ticks.unwrap_or(0),
                settime_flags: tflags.unwrap_or(0),
                it_value,
                it_interval: it_interval.unwrap_or((0, 0)),
            }
        } else if let Some(sigmask) = sigmask {
            Extra::Signalfd { sigmask }
        } else if let Some(pid) = pid {
            Extra::Pidfd {
                pid,
                ns_pids: ns_pids.unwrap_or_default(),
            }
        } else if !epoll.is_empty() {
            Extra::Epoll(epoll)
        } else if !inotify.is_empty() {
            Extra::Inotify(inotify)
        } else if let Some(f) = fanotify {
            Extra::Fanotify(f)
        } else {
            Extra::None
        };
        Ok(info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fanotify_group_line_and_inode_mark() {
        // Real fdinfo of a fanotify group with one inode mark (6.18).
        let b = b"pos:\t0\nflags:\t02\nmnt_id:\t17\nino:\t1038\nfanotify flags:0 event-flags:8000\nfanotify ino:9ba8ed sdev:fe00000 mflags:0 mask:8 ignored_mask:0 fhandle-bytes:8 fhandle-type:1 f_handle:eda89b0056fbb812\nfanotify mnt_id:1d mflags:0 mask:1 ignored_mask:0\n";
        let i = FdInfo::parse(b).unwrap();
        let Extra::Fanotify(f) = &i.extra else {
            panic!("{:?}", i.extra)
        };
        assert_eq!((f.flags, f.event_flags), (Some(0), Some(0x8000)));
        assert_eq!(
            f.mounts,
            vec![FanotifyMark {
                mnt_id: Some(0x1d),
                sdev: None,
                mask: 1,
                ignored_mask: 0
            }]
        );
        assert!(f.filesystems.is_empty());
        let w = &f.inodes;
        assert_eq!(w.len(), 1);
        assert_eq!(
            (w[0].ino, w[0].sdev, w[0].mask, w[0].wd),
            (0x9b_a8ed, 0xfe0_0000, 8, None)
        );
        assert_eq!(w[0].f_handle, Some(&b"eda89b0056fbb812"[..]));
    }

    macro_rules! sample {
        ($n:literal) => {
            FdInfo::parse(include_bytes!(concat!(
                "../tests/samples/fdinfo/",
                $n,
                ".txt"
            )))
            .unwrap()
        };
    }

    #[test]
    fn every_sample() {
        let f = sample!("file");
        assert_eq!(
            (f.pos, f.flags, f.mnt_id, f.ino),
            (100, 0o102001, Some(27), Some(10059922))
        );
        assert_eq!(
            sample!("eventfd").extra,
            Extra::Eventfd {
                count: 5,
                id: Some(1),
                semaphore: Some(false)
            }
        );
        let Extra::Epoll(w) = sample!("epoll").extra else {
            panic!()
        };
        assert_eq!(w.len(), 2);
        assert_eq!(
            (w[0].tfd, w[0].events, w[0].data, w[0].ino, w[0].sdev),
            (3, 0x8000_0019, 3, Some(0x17fc19), Some(0xf))
        );
        assert_eq!((w[1].tfd, w[1].events), (4, 0x19));
        let Extra::Inotify(w) = sample!("inotify").extra else {
            panic!()
        };
        assert_eq!(
            (w[0].wd, w[0].ino, w[0].sdev, w[0].mask),
            (Some(1), 0x998076, 0xfe00000, 0x300)
        );
        assert_eq!(w[0].f_handle, Some(&b"768099004c439f73"[..]));
        assert_eq!(
            sample!("timerfd").extra,
            Extra::Timerfd {
                clockid: 1,
                ticks: 0,
                settime_flags: 0,
                it_value: (999, 533682713),
                it_interval: (5, 0)
            }
        );
        assert_eq!(
            sample!("signalfd").extra,
            Extra::Signalfd { sigmask: 0x4200 }
        );
        assert_eq!(
            sample!("pidfd").extra,
            Extra::Pidfd {
                pid: 3866,
                ns_pids: vec![3866]
            }
        );
        assert_eq!(sample!("pidfd").flags, 0o2000002);
        let l = sample!("file_flock");
        assert_eq!(
            l.locks,
            vec![&b"1: FLOCK  ADVISORY  WRITE 3862 fe:00:10059965 0 EOF"[..]]
        );
        assert_eq!(sample!("unix_listen").scm_fds, Some(0));
        assert_eq!(sample!("pipe").extra, Extra::None);
    }

    #[test]
    fn hex_and_octal_traps() {
        // eventfd-count is hex: 0x10 = 16, not 10.
        let f = FdInfo::parse(b"pos:\t0\nflags:\t02\neventfd-count:               10\n").unwrap();
        assert_eq!(
            f.extra,
            Extra::Eventfd {
                count: 16,
                id: None,
                semaphore: None
            }
        );
        // inotify wd is hex: wd:a is 10.
        let f =
            FdInfo::parse(b"pos: 0\nflags: 0\ninotify wd:a ino:1 sdev:2 mask:100 ignored_mask:0\n")
                .unwrap();
        let Extra::Inotify(w) = f.extra else { panic!() };
        assert_eq!(w[0].wd, Some(10));
        assert!(FdInfo::parse(b"pos: 0\nflags: 9\n").is_err());
        assert_eq!(
            FdInfo::parse(b"flags: 0\n"),
            Err(ParseError::Missing("pos"))
        );
    }
}

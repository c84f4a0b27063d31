//! Anonymous-inode fds: eventfd, epoll, timerfd, signalfd, pidfd, and the
//! others (io_uring, bpf maps, perf events) by the fields their fdinfo
//! adds. Each is known by its link (`anon_inode:[eventfd]`) and decoded
//! from its fdinfo. lsfd's `anon-inode` parts.

use super::notify::{fanotify_marks, watches};
use super::{Detail, MountBrief};
use crate::bytes::Bytes;
use procscope_parse::fdinfo::Extra;
use std::collections::HashMap;

/// What an anonymous inode named `name` is, from its fdinfo's `extra`;
/// `links` names the fds an epoll set watches.
pub(super) fn describe_anon(
    name: &[u8],
    extra: Option<&Extra<'_>>,
    mounts: &HashMap<u64, MountBrief>,
    links: &HashMap<i32, Bytes>,
) -> Detail {
    match extra {
        Some(Extra::Eventfd {
            count,
            id,
            semaphore,
        }) => Detail::Eventfd {
            count: *count,
            id: *id,
            semaphore: *semaphore,
        },
        Some(Extra::Epoll(w)) => Detail::Epoll {
            watches: w
                .iter()
                .map(|w| {
                    (
                        w.tfd,
                        w.events,
                        i32::try_from(w.tfd)
                            .ok()
                            .and_then(|t| links.get(&t))
                            .cloned(),
                    )
                })
                .collect(),
        },
        Some(Extra::Inotify(w)) => Detail::Inotify {
            watches: watches(w),
        },
        Some(Extra::Fanotify(f)) => Detail::Fanotify {
            watches: watches(&f.inodes),
            marks: fanotify_marks(f, mounts),
            init_flags: f.flags,
            event_flags: f.event_flags,
        },
        Some(Extra::Timerfd {
            clockid,
            ticks,
            it_value,
            it_interval,
            ..
        }) => Detail::Timerfd {
            clockid: *clockid,
            ticks: *ticks,
            next_ns: i128::from(it_value.0) * 1_000_000_000 + i128::from(it_value.1),
            interval_ns: i128::from(it_interval.0) * 1_000_000_000 + i128::from(it_interval.1),
        },
        Some(Extra::Signalfd { sigmask }) => Detail::Signalfd { sigmask: *sigmask },
        Some(Extra::Pidfd { pid, .. }) => Detail::Pidfd {
            pid: *pid,
            comm: None,
        },
        _ if name == b"eventpoll" => Detail::Epoll {
            watches: Vec::new(),
        },
        _ if name == b"inotify" => Detail::Inotify {
            watches: Vec::new(),
        },
        _ => Detail::Anon {
            name: Bytes::from(name),
            fields: Vec::new(),
        },
    }
}

/// At most this many fdinfo lines are kept for an anonymous inode (an
/// io_uring prints one per queued request).
pub const ANON_FIELDS: usize = 32;

/// The lines an anonymous inode's fdinfo adds to the common ones, split at
/// the first `:` (`map_type:\t2` → (`map_type`, `2`)).
pub(super) fn anon_fields(raw: &[u8]) -> Vec<(Bytes, Bytes)> {
    raw.split(|&c| c == b'\n')
        .filter_map(|l| procscope_parse::num::split_once(l, b':'))
        .map(|(k, v)| (procscope_parse::num::trim(k), procscope_parse::num::trim(v)))
        .filter(|(k, _)| !matches!(*k, b"pos" | b"flags" | b"mnt_id" | b"ino" | b"lock" | b""))
        .take(ANON_FIELDS)
        .map(|(k, v)| (Bytes::from(k), Bytes::from(v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anonymous_inode_fields() {
        let f = anon_fields(b"pos:\t0\nflags:\t02000002\nmnt_id:\t17\nino:\t1038\nmap_type:\t2\nkey_size:\t4\nmemlock:\t4096\n");
        assert_eq!(
            f,
            vec![
                (Bytes(b"map_type".to_vec()), Bytes(b"2".to_vec())),
                (Bytes(b"key_size".to_vec()), Bytes(b"4".to_vec())),
                (Bytes(b"memlock".to_vec()), Bytes(b"4096".to_vec())),
            ]
        );
        let many: Vec<u8> = (0..100)
            .flat_map(|i| format!("k{i}: v\n").into_bytes())
            .collect();
        assert_eq!(anon_fields(&many).len(), ANON_FIELDS);
    }
}

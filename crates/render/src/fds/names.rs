//! The words of the text output for the model's fd enums: access modes,
//! socket states and kinds, fanotify mark kinds — spelled as `ls`-like
//! tools (`lsof`, `ss`) spell them, which is also how the JSON spells them
//! (the wire takes its names from the enums' serde names; the tests below
//! keep the two together).

use procscope_model::fds::{AccessMode, InetState, MarkKind, UnixKind, UnixState};

/// `r`, `w`, `rw`, or `?` for an fd opened for neither.
pub fn access_mode(m: AccessMode) -> &'static str {
    match m {
        AccessMode::Read => "r",
        AccessMode::Write => "w",
        AccessMode::ReadWrite => "rw",
        AccessMode::Neither => "?",
    }
}

/// An inet socket's state as `ss` prints it (`LISTEN`, `UNCONN`).
pub fn inet_state(s: InetState) -> &'static str {
    match s {
        InetState::Established => "ESTABLISHED",
        InetState::SynSent => "SYN_SENT",
        InetState::SynRecv => "SYN_RECV",
        InetState::FinWait1 => "FIN_WAIT1",
        InetState::FinWait2 => "FIN_WAIT2",
        InetState::TimeWait => "TIME_WAIT",
        InetState::Close => "CLOSE",
        InetState::CloseWait => "CLOSE_WAIT",
        InetState::LastAck => "LAST_ACK",
        InetState::Listen => "LISTEN",
        InetState::Closing => "CLOSING",
        InetState::NewSynRecv => "NEW_SYN_RECV",
        InetState::Unconn => "UNCONN",
        InetState::Unknown => "UNKNOWN",
    }
}

/// A unix socket's type: `stream`, `dgram`, `seqpacket` (`unix` for a type
/// without a name).
pub fn unix_kind(k: UnixKind) -> &'static str {
    match k {
        UnixKind::Stream => "stream",
        UnixKind::Dgram => "dgram",
        UnixKind::Seqpacket => "seqpacket",
        UnixKind::Unknown => "unix",
    }
}

/// A unix socket's state: `listening`, `connected`, ….
pub fn unix_state(s: UnixState) -> &'static str {
    match s {
        UnixState::Listening => "listening",
        UnixState::Connected => "connected",
        UnixState::Connecting => "connecting",
        UnixState::Unconnected => "unconnected",
        UnixState::Disconnecting => "disconnecting",
        UnixState::Unknown => "unknown",
    }
}

/// What a fanotify mark covers: `mount` or `filesystem`.
pub fn mark_kind(k: MarkKind) -> &'static str {
    match k {
        MarkKind::Mount => "mount",
        MarkKind::Filesystem => "filesystem",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::common::name;

    #[test]
    fn text_words_are_the_json_names() {
        for m in [
            AccessMode::Read,
            AccessMode::Write,
            AccessMode::ReadWrite,
            AccessMode::Neither,
        ] {
            assert_eq!(access_mode(m), name(&m));
        }
        assert_eq!(
            [AccessMode::Read, AccessMode::ReadWrite, AccessMode::Neither].map(access_mode),
            ["r", "rw", "?"]
        );
        for s in [
            InetState::Established,
            InetState::SynSent,
            InetState::SynRecv,
            InetState::FinWait1,
            InetState::FinWait2,
            InetState::TimeWait,
            InetState::Close,
            InetState::CloseWait,
            InetState::LastAck,
            InetState::Listen,
            InetState::Closing,
            InetState::NewSynRecv,
            InetState::Unconn,
            InetState::Unknown,
        ] {
            assert_eq!(inet_state(s), name(&s));
        }
        assert_eq!(inet_state(InetState::Unconn), "UNCONN");
        for k in [
            UnixKind::Stream,
            UnixKind::Dgram,
            UnixKind::Seqpacket,
            UnixKind::Unknown,
        ] {
            assert_eq!(unix_kind(k), name(&k));
        }
        assert_eq!(unix_kind(UnixKind::Unknown), "unix");
        for s in [
            UnixState::Listening,
            UnixState::Connected,
            UnixState::Connecting,
            UnixState::Unconnected,
            UnixState::Disconnecting,
            UnixState::Unknown,
        ] {
            assert_eq!(unix_state(s), name(&s));
        }
        for k in [MarkKind::Mount, MarkKind::Filesystem] {
            assert_eq!(mark_kind(k), name(&k));
        }
        assert_eq!(mark_kind(MarkKind::Filesystem), "filesystem");
    }
}

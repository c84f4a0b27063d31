//! Pure parsers for Linux `/proc` files.
//!
//! Every parser takes the raw bytes the kernel produced and returns a typed
//! value or a [`ParseError`]. They do no I/O, never panic on any input, and
//! borrow from the input where they can: process names, arguments and paths
//! stay bytes (`&[u8]`) because the kernel does not promise UTF-8.
//!
//! ```
//! use procscope_parse::stat::Stat;
//! let s = Stat::parse(b"42 (a) b) R 1 42 42 0 -1 4194304 0 0 0 0 3 4 0 0 20 0 1 0 77 1000 5 0").unwrap();
//! assert_eq!(s.comm, b"a) b");
//! assert_eq!(s.ppid, 1);
//! ```
//!
//! The format traps each parser handles are listed in its module docs, with
//! the kernel source that causes them.

pub mod callmem;
pub mod caps;
pub mod cmdline;
pub mod comm;
pub mod container;
pub mod decode;
pub mod environ;
pub mod fdinfo;
pub mod fdlink;
pub mod io;
pub mod limits;
pub mod locks;
pub mod maps;
pub mod mountinfo;
pub mod net;
pub mod num;
pub mod sched;
pub mod sockdiag;
pub mod stack;
pub mod stat;
pub mod statm;
pub mod status;
pub mod syscall;
pub mod syscall_names;
pub mod system;

/// Why a `/proc` file's bytes could not be turned into a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// A field the format requires is absent (the file was truncated, or the
    /// kernel is older than any we understand).
    #[error("missing field `{0}`")]
    Missing(&'static str),
    /// A field is present but does not hold what the format says.
    #[error("field `{field}` is not valid: {value:?}")]
    Invalid {
        /// The field's name in `man 5 proc`.
        field: &'static str,
        /// Up to 64 bytes of what was found, lossily decoded, for the message.
        value: String,
    },
    /// The overall shape of the file is wrong (e.g. no `(` in `stat`).
    #[error("malformed: {0}")]
    Shape(&'static str),
}

impl ParseError {
    /// Builds an [`ParseError::Invalid`], keeping at most 64 bytes of `value`.
    pub fn invalid(field: &'static str, value: &[u8]) -> Self {
        let cut = value.get(..64).unwrap_or(value);
        ParseError::Invalid {
            field,
            value: String::from_utf8_lossy(cut).into_owned(),
        }
    }
}

/// Result alias for parsers.
pub type Result<T> = std::result::Result<T, ParseError>;

#[cfg(test)]
mod never_panics {
    //! Property tests: no parser panics on arbitrary bytes.
    use proptest::prelude::*;

    fn arb_bytes() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..512),
            // Bytes biased toward the format's own alphabet, to get deeper.
            proptest::collection::vec(
                prop_oneof![
                    Just(b' '),
                    Just(b'('),
                    Just(b')'),
                    Just(b'\n'),
                    Just(b'\t'),
                    Just(b':'),
                    Just(0u8),
                    Just(b'-'),
                    Just(b'\\'),
                    Just(b'='),
                    b'0'..=b'9',
                    b'a'..=b'f',
                ],
                0..512
            ),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]
        #[test]
        fn stat(b in arb_bytes()) { let _ = crate::stat::Stat::parse(&b); }
        #[test]
        fn status(b in arb_bytes()) { let _ = crate::status::Status::parse(&b); }
        #[test]
        fn status_unescape(b in arb_bytes()) { let _ = crate::status::unescape_name(&b); }
        #[test]
        fn cmdline(b in arb_bytes()) {
            let c = crate::cmdline::Cmdline::parse(&b);
            let _ = c.args().count();
            let _ = c.shape();
        }
        #[test]
        fn environ(b in arb_bytes()) {
            for e in crate::environ::entries(&b) { let _ = (e.key(), e.value()); }
            let _ = crate::environ::duplicates(&b);
        }
        #[test]
        fn mountinfo(b in arb_bytes()) {
            let _ = crate::mountinfo::parse(&b);
            let _ = crate::mountinfo::unescape(&b);
        }
        #[test]
        fn cmdline_args_are_lossless(b in arb_bytes()) {
            let c = crate::cmdline::Cmdline::parse(&b);
            let mut joined = c.args().collect::<Vec<_>>().join(&0u8);
            if b.last() == Some(&0) {
                joined.push(0);
            }
            prop_assert_eq!(joined, b);
        }
        #[test]
        fn environ_entries_are_lossless(b in arb_bytes()) {
            let mut joined = crate::environ::entries(&b).map(|e| e.raw()).collect::<Vec<_>>().join(&0u8);
            if b.last() == Some(&0) {
                joined.push(0);
            }
            prop_assert_eq!(joined, b);
        }
        #[test]
        fn syscall_stack_wchan(b in arb_bytes()) {
            let _ = crate::syscall::SyscallState::parse(&b);
            let _ = crate::syscall::Abi::from_elf_header(&b);
            let _ = crate::stack::frames(&b);
            let _ = crate::stack::wchan(&b);
        }
        #[test]
        fn fdinfo_and_links(b in arb_bytes()) {
            let _ = crate::fdinfo::FdInfo::parse(&b);
            let _ = crate::fdlink::classify(&b);
        }
        #[test]
        fn decoders(v in any::<u64>()) {
            let _ = crate::decode::open_flags(v);
            let _ = crate::decode::bits(v, crate::decode::EPOLL_EVENTS);
            let _ = crate::decode::signals(v);
            let _ = crate::decode::sched_policy(v);
            let _ = crate::caps::names(v);
            let _ = crate::caps::summary(v, (v % 70) as u32).to_string();
            let _ = crate::decode::signal_name((v % 200) as u32);
        }
        #[test]
        fn net_and_locks(b in arb_bytes()) {
            let _ = crate::net::inet_table(&b);
            let _ = crate::net::unix_table(&b);
            let _ = crate::net::inet_addr(&b);
            let _ = crate::locks::parse(&b);
            let _ = crate::sockdiag::unix_replies(&b);
            let _ = crate::sockdiag::inet_reply_inode(&b);
            let _ = crate::sockdiag::inet_reply(&b);
            let _ = crate::sched::exec_start_ms(&b);
        }
        #[test]
        fn maps_rollup_cgroup(b in arb_bytes()) {
            let _ = crate::maps::mappings(&b);
            let _ = crate::maps::rollup(&b);
            let _ = crate::maps::cgroups(&b);
            let _ = crate::maps::smaps(&b);
            let _ = crate::container::recognise(&b);
        }
        #[test]
        fn call_memory(b in arb_bytes(), n in 0usize..2048) {
            let _ = crate::callmem::pollfds(&b);
            let _ = crate::callmem::fd_set(&b, n);
            for wide in [false, true] {
                let _ = crate::callmem::timespec_ns(&b, wide);
                let _ = crate::callmem::timeval_ns(&b, wide);
                let _ = crate::callmem::timespec(&b, wide);
            }
        }
        #[test]
        fn comm(b in arb_bytes()) { let _ = crate::comm::parse(&b); }
        #[test]
        fn io(b in arb_bytes()) { let _ = crate::io::Io::parse(&b); }
        #[test]
        fn limits(b in arb_bytes()) { let _ = crate::limits::Limits::parse(&b); }
        #[test]
        fn statm(b in arb_bytes()) { let _ = crate::statm::Statm::parse(&b); }
        #[test]
        fn system(b in arb_bytes()) {
            let _ = crate::system::boot_time(&b);
            let _ = crate::system::uptime(&b);
        }
        #[test]
        fn numbers(b in arb_bytes()) {
            let _ = crate::num::dec_u64(&b);
            let _ = crate::num::dec_i64(&b);
            let _ = crate::num::hex_u64(&b);
            let _ = crate::num::oct_u64(&b);
        }
    }
}

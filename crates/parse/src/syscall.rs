//! `/proc/PID/task/TID/syscall`: what system call a thread is in.
//!
//! `proc_pid_syscall()` in fs/proc/base.c prints one of:
//! - `running` — the thread is on a CPU;
//! - `NR SP PC` — blocked, but not in a system call (NR is -1);
//! - `NR A0 A1 A2 A3 A4 A5 SP PC` — blocked in system call NR.
//!
//! NR is decimal; the rest are hexadecimal with `0x`. NR is in the thread's
//! own ABI: a 32-bit process on x86_64 reports i386 numbers, and x32 sets
//! bit 0x40000000.

use crate::num::{dec_i64, hex_u64, words};
use crate::{ParseError, Result};

/// The state a `syscall` file describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyscallState {
    /// The thread is running.
    Running,
    /// Blocked outside a system call (in a page fault, for example).
    Blocked {
        /// Stack pointer.
        sp: u64,
        /// Program counter.
        pc: u64,
    },
    /// Blocked inside system call `nr`.
    InSyscall {
        /// The number, in the thread's ABI.
        nr: i64,
        /// The six argument registers.
        args: [u64; 6],
        /// Stack pointer.
        sp: u64,
        /// Program counter.
        pc: u64,
    },
}

impl SyscallState {
    /// Parses a `syscall` file.
    pub fn parse(b: &[u8]) -> Result<Self> {
        let b = crate::num::trim(b);
        if b == b"running" {
            return Ok(SyscallState::Running);
        }
        let w: Vec<&[u8]> = words(b).take(10).collect();
        let hex = |i: usize, name: &'static str| -> Result<u64> {
            let v = w.get(i).copied().ok_or(ParseError::Missing(name))?;
            hex_u64(v).ok_or_else(|| ParseError::invalid(name, v))
        };
        let nr_b = w.first().copied().ok_or(ParseError::Missing("nr"))?;
        let nr = dec_i64(nr_b).ok_or_else(|| ParseError::invalid("nr", nr_b))?;
        match w.len() {
            3 => Ok(SyscallState::Blocked {
                sp: hex(1, "sp")?,
                pc: hex(2, "pc")?,
            }),
            9 => {
                let mut args = [0u64; 6];
                for (k, a) in args.iter_mut().enumerate() {
                    *a = hex(k + 1, "arg")?;
                }
                Ok(SyscallState::InSyscall {
                    nr,
                    args,
                    sp: hex(7, "sp")?,
                    pc: hex(8, "pc")?,
                })
            }
            _ => Err(ParseError::Shape(
                "syscall: expected `running`, 3 or 9 fields",
            )),
        }
    }
}

/// A system call ABI of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abi {
    /// x86_64.
    X86_64,
    /// i386 (32-bit processes on x86_64 hosts).
    I386,
    /// x32 (ILP32 on x86_64; numbers carry bit 0x40000000).
    X32,
    /// arm64 (the kernel's generic numbering).
    Aarch64,
    /// 32-bit arm EABI (also 32-bit processes on arm64 hosts).
    Arm,
}

/// `__X32_SYSCALL_BIT`.
pub const X32_SYSCALL_BIT: i64 = 0x4000_0000;

impl Abi {
    /// The ABI of an ELF executable from its header (`e_ident[EI_CLASS]` and
    /// `e_machine`): x86_64 (62) 64-bit → x86_64, 32-bit → x32; i386 (3) →
    /// i386; aarch64 (183) → arm64; arm (40) → arm EABI. `None` when the
    /// header is not an ELF for these machines.
    pub fn from_elf_header(h: &[u8]) -> Option<Abi> {
        if h.get(..4)? != b"\x7fELF" {
            return None;
        }
        let class = *h.get(4)?;
        let machine = u16::from_le_bytes([*h.get(18)?, *h.get(19)?]);
        match (class, machine) {
            (2, 62) => Some(Abi::X86_64),
            (1, 3) => Some(Abi::I386),
            (1, 62) => Some(Abi::X32),
            (2, 183) => Some(Abi::Aarch64),
            (1, 40) => Some(Abi::Arm),
            _ => None,
        }
    }

    /// The ABI's name (`x86_64`, `i386`, `x32`, `aarch64`, `arm`).
    pub fn label(self) -> &'static str {
        match self {
            Abi::X86_64 => "x86_64",
            Abi::I386 => "i386",
            Abi::X32 => "x32",
            Abi::Aarch64 => "aarch64",
            Abi::Arm => "arm",
        }
    }

    /// The name of system call `nr` in this ABI. An x86_64 task whose number
    /// carries the x32 bit is decoded as x32, as the kernel does.
    pub fn name(self, nr: i64) -> Option<&'static str> {
        let (table, n) = match self {
            Abi::X86_64 if nr & X32_SYSCALL_BIT != 0 => {
                (crate::syscall_names::X32, nr & !X32_SYSCALL_BIT)
            }
            Abi::X32 => (crate::syscall_names::X32, nr & !X32_SYSCALL_BIT),
            Abi::X86_64 => (crate::syscall_names::X86_64, nr),
            Abi::I386 => (crate::syscall_names::I386, nr),
            Abi::Aarch64 => (crate::syscall_names::AARCH64, nr),
            Abi::Arm => (crate::syscall_names::ARM, nr),
        };
        let n = u32::try_from(n).ok()?;
        table
            .binary_search_by_key(&n, |(k, _)| *k)
            .ok()
            .and_then(|i| table.get(i))
            .map(|(_, s)| *s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples() {
        assert_eq!(SyscallState::parse(b"running\n"), Ok(SyscallState::Running));
        // Captured while the thread read its own syscall file: read(4, …, 8192).
        let s = SyscallState::parse(include_bytes!(
            "../tests/samples/syscall/self_running.syscall"
        ))
        .unwrap();
        assert!(
            matches!(
                s,
                SyscallState::InSyscall {
                    nr: 0,
                    args: [4, _, 8192, ..],
                    ..
                }
            ),
            "{s:?}"
        );
        let s = SyscallState::parse(include_bytes!(
            "../tests/samples/syscall/thread-waiter-0.syscall"
        ))
        .unwrap();
        let SyscallState::InSyscall { nr, args, .. } = s else {
            panic!("{s:?}")
        };
        assert_eq!(Abi::X86_64.name(nr), Some("futex"));
        assert_ne!(args[0], 0, "the futex address");
        let s = SyscallState::parse(include_bytes!(
            "../tests/samples/syscall/vfork_parent.syscall"
        ))
        .unwrap();
        let SyscallState::InSyscall { nr, .. } = s else {
            panic!("{s:?}")
        };
        assert_eq!(Abi::X86_64.name(nr), Some("vfork"));
        let s = SyscallState::parse(include_bytes!(
            "../tests/samples/syscall/thread-reader.syscall"
        ))
        .unwrap();
        let SyscallState::InSyscall { nr, args, .. } = s else {
            panic!("{s:?}")
        };
        assert_eq!(Abi::X86_64.name(nr), Some("read"));
        assert_eq!(args[0], 3);
    }

    #[test]
    fn shapes() {
        assert_eq!(
            SyscallState::parse(b"-1 0x7ffd1 0x55aa\n"),
            Ok(SyscallState::Blocked {
                sp: 0x7ffd1,
                pc: 0x55aa
            })
        );
        assert!(SyscallState::parse(b"1 2").is_err());
        assert!(SyscallState::parse(b"x 0x1 0x2").is_err());
        assert!(SyscallState::parse(b"").is_err());
    }

    #[test]
    fn names_per_abi() {
        assert_eq!(Abi::X86_64.name(0), Some("read"));
        assert_eq!(Abi::I386.name(3), Some("read"));
        assert_eq!(Abi::I386.name(240), Some("futex"));
        assert_eq!(Abi::X32.name(X32_SYSCALL_BIT), Some("read"));
        assert_eq!(Abi::X86_64.name(X32_SYSCALL_BIT + 202), Some("futex"));
        assert_eq!(Abi::X86_64.name(-1), None);
        assert_eq!(Abi::X86_64.name(100_000), None);
        let mut elf64 = vec![0u8; 64];
        elf64[..4].copy_from_slice(b"\x7fELF");
        elf64[4] = 2;
        elf64[18] = 62;
        assert_eq!(Abi::from_elf_header(&elf64), Some(Abi::X86_64));
        elf64[4] = 1;
        elf64[18] = 3;
        assert_eq!(Abi::from_elf_header(&elf64), Some(Abi::I386));
        assert_eq!(Abi::from_elf_header(b"#!/bin/sh"), None);
        elf64[4] = 2;
        elf64[18] = 183;
        assert_eq!(Abi::from_elf_header(&elf64), Some(Abi::Aarch64));
        elf64[4] = 1;
        elf64[18] = 40;
        assert_eq!(Abi::from_elf_header(&elf64), Some(Abi::Arm));
    }

    /// The arm tables against numbers every arm64/arm libc hard-codes
    /// (asm-generic/unistd.h and arch/arm/include/uapi/asm/unistd.h), and
    /// the calls the stuck-process commands decode.
    #[test]
    fn arm_tables() {
        for (nr, name) in [
            (22, "epoll_pwait"),
            (25, "fcntl"),
            (32, "flock"),
            (56, "openat"),
            (57, "close"),
            (63, "read"),
            (64, "write"),
            (73, "ppoll"),
            (98, "futex"),
            (101, "nanosleep"),
            (115, "clock_nanosleep"),
            (202, "accept"),
            (207, "recvfrom"),
            (220, "clone"),
            (221, "execve"),
            (260, "wait4"),
            (435, "clone3"),
            (441, "epoll_pwait2"),
        ] {
            assert_eq!(Abi::Aarch64.name(nr), Some(name), "arm64 {nr}");
        }
        // arm64 has no open(2), poll(2) or 32-bit-only calls.
        for name in ["open", "poll", "fcntl64", "mmap2"] {
            assert!(
                crate::syscall_names::AARCH64
                    .iter()
                    .all(|(_, n)| *n != name),
                "{name}"
            );
        }
        assert_eq!(Abi::Aarch64.name(38), Some("renameat"));
        for (nr, name) in [
            (3, "read"),
            (4, "write"),
            (5, "open"),
            (114, "wait4"),
            (120, "clone"),
            (143, "flock"),
            (162, "nanosleep"),
            (168, "poll"),
            (190, "vfork"),
            (221, "fcntl64"),
            (240, "futex"),
            (252, "epoll_wait"),
            (265, "clock_nanosleep"),
            (346, "epoll_pwait"),
            (407, "clock_nanosleep_time64"),
            (422, "futex_time64"),
            (435, "clone3"),
        ] {
            assert_eq!(Abi::Arm.name(nr), Some(name), "arm {nr}");
        }
        // OABI-only calls are not EABI's.
        assert_eq!(Abi::Arm.name(13), None);
        // Numbers from 424 on are the same everywhere.
        for (nr, name) in crate::syscall_names::X86_64
            .iter()
            .filter(|(n, _)| *n >= 424)
        {
            assert_eq!(Abi::Aarch64.name(i64::from(*nr)), Some(*name));
            assert_eq!(Abi::Arm.name(i64::from(*nr)), Some(*name));
        }
    }

    /// The generated tables match this machine's kernel headers, entry for
    /// entry (the headers come with gcc's libc6-dev on Debian).
    #[test]
    fn tables_match_the_kernel_headers() {
        for (file, table) in [
            (
                "/usr/include/x86_64-linux-gnu/asm/unistd_64.h",
                crate::syscall_names::X86_64,
            ),
            (
                "/usr/include/x86_64-linux-gnu/asm/unistd_32.h",
                crate::syscall_names::I386,
            ),
        ] {
            let h = std::fs::read_to_string(file)
                .unwrap_or_else(|e| panic!("{file}: {e} (install linux-libc-dev)"));
            let mut n = 0;
            for line in h.lines() {
                let mut w = line.split_whitespace();
                if let (Some("#define"), Some(name), Some(num)) = (w.next(), w.next(), w.next()) {
                    if let (Some(name), Ok(num)) = (name.strip_prefix("__NR_"), num.parse::<u32>())
                    {
                        let i = table
                            .binary_search_by_key(&num, |(k, _)| *k)
                            .unwrap_or_else(|_| panic!("{name} = {num} missing"));
                        assert_eq!(table[i].1, name);
                        n += 1;
                    }
                }
            }
            assert_eq!(n, table.len(), "{file}");
            assert!(n > 300);
        }
    }
}

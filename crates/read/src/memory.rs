//! A process's memory through one open `/proc/PID/mem`, for many small
//! reads (a stack walked word by word): opened once, read with `pread`,
//! whole pages at a time and remembered.
//!
//! Every read takes the target's memory-map lock (killably): use it only
//! inside a deadline-guarded call (`Ctx::guarded`).

use crate::{Failure, Need, Outcome, ProcDir};
use rustix::fd::OwnedFd;
use std::collections::HashMap;
use std::sync::Arc;

/// Page size for the cache (reads never cross it).
const PAGE: u64 = 4096;

/// At most this many pages are remembered per reader.
const MAX_PAGES: usize = 256;

/// An open `mem` file, shared by the readers of one process.
#[derive(Debug, Clone)]
pub struct Memory {
    fd: Arc<OwnedFd>,
}

impl Memory {
    /// Opens `dir`'s `mem` (ptrace attach rights). Opening does not take
    /// the memory lock.
    pub fn open(dir: &ProcDir) -> Outcome<Memory> {
        let fd = dir
            .open_with(
                c"mem",
                rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
            )
            .map_err(|f| match f {
                Failure::Denied { .. } => Failure::Denied {
                    need: Need::PtraceAttach,
                },
                f => f,
            })?;
        Ok(Memory { fd: Arc::new(fd) })
    }

    /// Reads up to `buf.len()` bytes at `addr`; short at the end of a
    /// mapping.
    pub fn read_at(&self, addr: u64, buf: &mut [u8]) -> Outcome<usize> {
        match rustix::io::pread(&*self.fd, buf, addr) {
            Ok(n) => Ok(n),
            Err(rustix::io::Errno::PERM | rustix::io::Errno::ACCESS) => Err(Failure::Denied {
                need: Need::PtraceAttach,
            }),
            Err(e) => Err(Failure::from_errno(e, b"mem")),
        }
    }

    /// A word reader with its own page cache.
    pub fn pager(&self) -> Pager {
        Pager {
            mem: self.clone(),
            pages: HashMap::new(),
            reads: 0,
        }
    }
}

/// Reads 8-byte little-endian words, a page at a time.
#[derive(Debug)]
pub struct Pager {
    mem: Memory,
    pages: HashMap<u64, Option<Box<[u8]>>>,
    /// `pread` calls made.
    pub reads: usize,
}

impl Pager {
    /// The word at `addr` (`None`: not mapped or not readable).
    pub fn word(&mut self, addr: u64) -> Option<u64> {
        let mut b = [0u8; 8];
        for (i, x) in b.iter_mut().enumerate() {
            *x = self.byte(addr.checked_add(i as u64)?)?;
        }
        Some(u64::from_le_bytes(b))
    }

    fn byte(&mut self, addr: u64) -> Option<u8> {
        let page = addr & !(PAGE - 1);
        if !self.pages.contains_key(&page) {
            if self.pages.len() >= MAX_PAGES {
                return None;
            }
            let mut b = vec![0u8; PAGE as usize];
            self.reads += 1;
            let got = match self.mem.read_at(page, &mut b) {
                Ok(n) if n == b.len() => Some(b.into_boxed_slice()),
                _ => None,
            };
            self.pages.insert(page, got);
        }
        let p = self.pages.get(&page)?.as_ref()?;
        p.get(usize::try_from(addr - page).ok()?).copied()
    }
}

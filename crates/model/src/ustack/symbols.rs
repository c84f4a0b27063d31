//! Addresses to names with blazesym: the ELF symbol table, DWARF
//! `file:line` and inlined functions (the binary's own, `.gnu_debuglink`,
//! `/usr/lib/debug/.build-id`, MiniDebugInfo), demangled.

use super::UserFrame;
use crate::bytes::Bytes;
use blazesym::symbolize::source::{Elf, Source};
use blazesym::symbolize::{CodeInfo, Input, Symbolized, Symbolizer};
use std::collections::HashMap;
use std::path::Path;

/// A new symbolizer: code info, inlined functions, demangling.
pub fn symbolizer() -> Symbolizer {
    Symbolizer::builder()
        .enable_code_info(true)
        .enable_inlined_fns(true)
        .enable_demangling(true)
        .build()
}

fn file_of(c: &CodeInfo<'_>) -> Bytes {
    use std::os::unix::ffi::OsStrExt;
    let p = c.to_path();
    Bytes::from(p.as_os_str().as_bytes())
}

/// Frames for each file offset of the module at `path`, innermost first
/// per offset (an address inside inlined calls gives one frame per
/// inlined function, then the function they were inlined into). Offsets
/// that name nothing are left out.
pub fn symbolize(s: &Symbolizer, path: &Path, offsets: &[u64]) -> HashMap<u64, Vec<UserFrame>> {
    // blazesym maps the file it reads. A file the target owns could be
    // truncated under that mapping (a library mapped by a process can be
    // written to), and the next access would kill procscope with SIGBUS:
    // it reads a sealed copy of its own instead, which nobody can shrink.
    let Ok(copy) = sealed_copy(path) else {
        return HashMap::new();
    };
    let own = std::path::PathBuf::from(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&copy)
    ));
    let src = Source::Elf(Elf::new(own));
    let Ok(syms) = s.symbolize(&src, Input::FileOffset(offsets)) else {
        return HashMap::new();
    };
    let mut out = HashMap::new();
    for (off, sym) in offsets.iter().zip(syms) {
        let Symbolized::Sym(sym) = sym else { continue };
        let mut frames = Vec::new();
        // Innermost first: the last inlined function holds the address.
        let names: Vec<&str> = std::iter::once(sym.name.as_ref())
            .chain(sym.inlined.iter().map(|f| f.name.as_ref()))
            .collect();
        for (i, f) in sym.inlined.iter().enumerate().rev() {
            // glibc's system call wrappers "inline" themselves (a macro
            // expansion under the same name): one frame says it.
            if names.get(i) == Some(&f.name.as_ref()) {
                continue;
            }
            frames.push(UserFrame {
                function: Some(f.name.to_string()),
                offset: None,
                file: f.code_info.as_ref().map(file_of),
                line: f.code_info.as_ref().and_then(|c| c.line),
                inlined: true,
                ..UserFrame::default()
            });
        }
        frames.push(UserFrame {
            function: Some(sym.name.to_string()),
            offset: u64::try_from(sym.offset).ok(),
            file: sym.code_info.as_deref().map(file_of),
            line: sym.code_info.as_deref().and_then(|c| c.line),
            inlined: false,
            ..UserFrame::default()
        });
        out.insert(*off, frames);
    }
    out
}

/// The largest module copied for symbols (a bigger one goes unnamed).
const MAX_COPY: u64 = 512 << 20;

/// A copy of the regular file at `path` in a memfd sealed against
/// shrinking, growing and writing. Opened non-blocking: a FIFO swapped in
/// at that path is refused, not waited on.
fn sealed_copy(path: &Path) -> std::io::Result<std::fs::File> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut src = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc_nonblock())
        .open(path)?;
    let meta = src.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    if meta.len() > MAX_COPY {
        return Err(std::io::Error::other("too large to copy"));
    }
    let fd = rustix::fs::memfd_create(
        c"procscope-module",
        rustix::fs::MemfdFlags::CLOEXEC | rustix::fs::MemfdFlags::ALLOW_SEALING,
    )?;
    let mut dst = std::fs::File::from(fd);
    std::io::copy(&mut (&mut src).take(MAX_COPY), &mut dst)?;
    rustix::fs::fcntl_add_seals(
        &dst,
        rustix::fs::SealFlags::SHRINK
            | rustix::fs::SealFlags::GROW
            | rustix::fs::SealFlags::WRITE
            | rustix::fs::SealFlags::SEAL,
    )?;
    Ok(dst)
}

fn libc_nonblock() -> i32 {
    i32::try_from(rustix::fs::OFlags::NONBLOCK.bits()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// The copy has the file's bytes and cannot be truncated.
    #[test]
    fn a_sealed_copy_cannot_shrink() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("lib.so");
        std::fs::write(&p, vec![7u8; 10_000]).unwrap();
        let c = sealed_copy(&p).unwrap();
        std::fs::write(&p, b"").unwrap();
        assert_eq!(c.metadata().unwrap().len(), 10_000);
        assert!(c.set_len(0).is_err(), "a sealed copy was truncated");
        let own = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&c));
        assert_eq!(std::fs::read(own).unwrap(), vec![7u8; 10_000]);
    }

    #[test]
    fn a_fifo_is_refused_without_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &p,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        assert!(sealed_copy(&p).is_err());
    }

    /// Symbols of this test binary, read through the copy.
    #[test]
    fn symbols_come_through_the_copy() {
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        let f = a_sealed_copy_cannot_shrink as fn() as usize as u64;
        // The file offset of `f`: its mapping's start and offset in maps.
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let off = maps
            .lines()
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                let range = w.next()?;
                let _perms = w.next()?;
                let offset = u64::from_str_radix(w.next()?, 16).ok()?;
                let (a, b) = range.split_once('-')?;
                let (a, b) = (
                    u64::from_str_radix(a, 16).ok()?,
                    u64::from_str_radix(b, 16).ok()?,
                );
                (a <= f && f < b && l.ends_with(exe.to_str()?)).then(|| f - a + offset)
            })
            .next()
            .unwrap();
        let names = symbolize(&symbolizer(), &exe, &[off]);
        let frames = names.get(&off).expect("named");
        let last = frames.last().unwrap();
        assert!(
            last.function
                .as_deref()
                .unwrap_or("")
                .contains("a_sealed_copy_cannot_shrink"),
            "{frames:?}"
        );
    }
}

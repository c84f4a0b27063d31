//! Addresses to names with blazesym: the ELF symbol table, DWARF
//! `file:line` and inlined functions (the binary's own, `.gnu_debuglink`,
//! `/usr/lib/debug/.build-id`, MiniDebugInfo), demangled.

use super::UserFrame;
use crate::bytes::Bytes;
use blazesym::symbolize::source::{Elf, Source};
use blazesym::symbolize::{CodeInfo, Input, Symbolized, Symbolizer};
use std::collections::HashMap;

/// A new symbolizer: code info, inlined functions, demangling.
pub fn symbolizer() -> Symbolizer {
    Symbolizer::builder()
        .enable_code_info(true)
        .enable_inlined_fns(true)
        // Names are demangled here (`demangle`), only when mangled.
        .enable_demangling(false)
        .build()
}

/// A symbol name as a person reads it: Rust (`_R…`, and `_ZN…E` with a
/// hash) and C++ (`_Z…`) names demangled; any other name as it is. Only
/// mangled names are tried: the C++ demangler reads `h` as the type
/// `unsigned char` and `St` as `std`.
pub fn demangle(name: &str) -> String {
    if !(name.starts_with("_Z") || name.starts_with("_R") || name.starts_with("__Z")) {
        return name.to_owned();
    }
    if let Ok(d) = rustc_demangle::try_demangle(name) {
        return format!("{d:#}");
    }
    cpp_demangle::Symbol::new(name)
        .ok()
        .and_then(|s| s.demangle().ok())
        .unwrap_or_else(|| name.to_owned())
}

fn file_of(c: &CodeInfo<'_>) -> Bytes {
    use std::os::unix::ffi::OsStrExt;
    let p = c.to_path();
    Bytes::from(p.as_os_str().as_bytes())
}

/// Frames for each file offset of a module, read from procscope's sealed
/// copy of it, innermost first per offset (an address inside inlined
/// calls gives one frame per inlined function, then the function they
/// were inlined into). Offsets that name nothing are left out.
///
/// blazesym maps the file it reads. The target's own file could be
/// truncated under that mapping (a library mapped by a process can be
/// written to), and the next access would kill procscope with SIGBUS; it
/// could also sit on a filesystem that does not answer. The copy is a
/// sealed memfd ([`procscope_read::modcopy`]) that nobody can shrink.
pub fn symbolize(
    s: &Symbolizer,
    copy: &std::fs::File,
    offsets: &[u64],
) -> HashMap<u64, Vec<UserFrame>> {
    named(s, copy, offsets, Input::FileOffset(offsets))
}

/// [`symbolize`] for a module with a separate debug file (its
/// `.gnu_debuglink`): each file offset placed at its address through the
/// module's `loads` (file offset, address, size, executable) and named in
/// the debug file, which has the module's addresses but not its layout;
/// what the debug file does not name is named from the module itself.
pub fn symbolize_with_debug(
    s: &Symbolizer,
    copy: &std::fs::File,
    debug: &std::fs::File,
    loads: &[(u64, u64, u64, bool)],
    offsets: &[u64],
) -> HashMap<u64, Vec<UserFrame>> {
    let placed: Vec<(u64, u64)> = offsets
        .iter()
        .filter_map(|&off| {
            loads
                .iter()
                .find(|(o, _, size, _)| off.checked_sub(*o).is_some_and(|d| d < *size))
                .and_then(|(o, vaddr, _, _)| Some((off, off.checked_sub(*o)?.checked_add(*vaddr)?)))
        })
        .collect();
    let (offs, virt): (Vec<u64>, Vec<u64>) = placed.into_iter().unzip();
    let by_virt = named(s, debug, &virt, Input::VirtOffset(&virt));
    let mut out: HashMap<u64, Vec<UserFrame>> = offs
        .iter()
        .zip(&virt)
        .filter_map(|(o, v)| Some((*o, by_virt.get(v)?.clone())))
        .collect();
    let rest: Vec<u64> = offsets
        .iter()
        .copied()
        .filter(|o| !out.contains_key(o))
        .collect();
    if !rest.is_empty() {
        out.extend(symbolize(s, copy, &rest));
    }
    out
}

/// Names `keys` (given to blazesym as `input`, in the same order) in the
/// ELF file `file`, by key.
fn named(
    s: &Symbolizer,
    file: &std::fs::File,
    keys: &[u64],
    input: Input<&[u64]>,
) -> HashMap<u64, Vec<UserFrame>> {
    let src = Source::Elf(Elf::new(procscope_read::modcopy::fd_path(file)));
    let Ok(syms) = s.symbolize(&src, input) else {
        return HashMap::new();
    };
    let mut out = HashMap::new();
    for (off, sym) in keys.iter().zip(syms) {
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
                function: Some(demangle(&f.name)),
                offset: None,
                file: f.code_info.as_ref().map(file_of),
                line: f.code_info.as_ref().and_then(|c| c.line),
                inlined: true,
                ..UserFrame::default()
            });
        }
        frames.push(UserFrame {
            function: Some(demangle(&sym.name)),
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn only_mangled_names_are_demangled() {
        assert_eq!(demangle("h"), "h");
        assert_eq!(demangle("St"), "St");
        assert_eq!(demangle("i"), "i");
        assert_eq!(demangle("main"), "main");
        assert_eq!(demangle("_ZN3foo3barEv"), "foo::bar()");
        assert_eq!(
            demangle("_ZN3std2rt10lang_start17h0123456789abcdefE"),
            "std::rt::lang_start"
        );
        assert_eq!(demangle("_Zbogus"), "_Zbogus");
    }

    /// Symbols of this test binary, read through the copy.
    #[test]
    fn symbols_come_through_the_copy() {
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        let f = symbols_come_through_the_copy as fn() as usize as u64;
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
        let copies = procscope_read::modcopy::sealed_copies(
            &[procscope_read::modcopy::Want {
                root_path: Some(exe.clone()),
                by_map: exe.clone(),
                inode: std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&exe).unwrap()),
            }],
            std::time::Duration::from_secs(10),
        )
        .unwrap();
        let copy = copies.into_iter().next().unwrap().unwrap();
        let names = symbolize(&symbolizer(), &copy, &[off]);
        let frames = names.get(&off).expect("named");
        let last = frames.last().unwrap();
        assert!(
            last.function
                .as_deref()
                .unwrap_or("")
                .contains("symbols_come_through_the_copy"),
            "{frames:?}"
        );
    }
}

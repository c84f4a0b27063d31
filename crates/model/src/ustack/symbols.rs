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
    let src = Source::Elf(Elf::new(path));
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

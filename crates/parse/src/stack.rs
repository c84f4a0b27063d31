//! `/proc/PID/task/TID/stack` and `wchan`.
//!
//! `proc_pid_stack()` prints one `[<0>] symbol+0xOFF/0xLEN [module]` line
//! per frame, innermost first (addresses are hidden as `<0>` unless
//! kptr_restrict allows them). Reading it needs CAP_SYS_ADMIN. `wchan` is a
//! symbol, or `0` when the task is not sleeping in the kernel.

/// One kernel stack frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Function name.
    pub symbol: &'a [u8],
    /// Offset into the function.
    pub offset: Option<u64>,
    /// The function's length.
    pub len: Option<u64>,
    /// Module name, for frames in a loadable module.
    pub module: Option<&'a [u8]>,
}

/// Parses the frames of a `stack` file; lines that are not frames are
/// skipped (there are none today).
pub fn frames(b: &[u8]) -> Vec<Frame<'_>> {
    b.split(|&c| c == b'\n').filter_map(frame).collect()
}

fn frame(line: &[u8]) -> Option<Frame<'_>> {
    let line = crate::num::trim(line);
    let rest = line.strip_prefix(b"[<")?;
    let close = rest.windows(2).position(|w| w == b">]")?;
    let rest = crate::num::trim(rest.get(close + 2..)?);
    let mut parts = rest.splitn(2, |&c| c == b' ');
    let sym_off = parts.next()?;
    let module = parts
        .next()
        .map(crate::num::trim)
        .and_then(|m| m.strip_prefix(b"[")?.strip_suffix(b"]"));
    let (symbol, offset, len) = match sym_off.iter().rposition(|&c| c == b'+') {
        Some(p) => {
            let sym = sym_off.get(..p)?;
            let (off, len) = crate::num::split_once(sym_off.get(p + 1..)?, b'/')?;
            (sym, crate::num::hex_u64(off), crate::num::hex_u64(len))
        }
        None => (sym_off, None, None),
    };
    if symbol.is_empty() {
        return None;
    }
    Some(Frame {
        symbol,
        offset,
        len,
        module,
    })
}

/// Parses `wchan`: the symbol the task sleeps in, or `None` for `0`/empty.
pub fn wchan(b: &[u8]) -> Option<&[u8]> {
    let s = crate::num::trim(b);
    if s.is_empty() || s == b"0" {
        None
    } else {
        Some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples() {
        let f = frames(include_bytes!(
            "../tests/samples/stack/thread-waiter-0.stack"
        ));
        assert_eq!(f.len(), 7);
        assert_eq!(f[0].symbol, b"futex_do_wait");
        assert_eq!(f[0].offset, Some(0x46));
        assert_eq!(f[0].len, Some(0x90));
        assert_eq!(f[6].symbol, b"entry_SYSCALL_64_after_hwframe");
        let f = frames(include_bytes!("../tests/samples/stack/vfork_parent.stack"));
        assert_eq!(f[0].symbol, b"kernel_clone");
        assert_eq!(
            wchan(include_bytes!(
                "../tests/samples/stack/thread-waiter-0.wchan"
            )),
            Some(&b"futex_do_wait"[..])
        );
        assert_eq!(wchan(b"0"), None);
    }

    #[test]
    fn modules_and_odd_lines() {
        let f = frames(b"[<0>] nfs_wait_bit_killable+0x1d/0x80 [nfs]\n[<ffffffffa0123456>] x+0x1/0x2\ngarbage\n[<0>]\n");
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].module, Some(&b"nfs"[..]));
        assert_eq!(f[1].symbol, b"x");
        assert_eq!(frames(b"[<0>] bare_symbol\n")[0].offset, None);
    }
}

//! `/proc/PID/comm`: the raw name followed by one newline.
//!
//! The name itself may contain a newline (`prctl(PR_SET_NAME, "a\nb")`), so
//! only the single trailing newline that `comm_show()` in fs/proc/base.c
//! appends is removed.

/// Returns the name without the kernel's trailing newline.
pub fn parse(b: &[u8]) -> &[u8] {
    b.strip_suffix(b"\n").unwrap_or(b)
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_inner_newlines() {
        assert_eq!(super::parse(b"a\nb\n"), b"a\nb");
        assert_eq!(super::parse(b"x\n\n"), b"x\n");
        assert_eq!(super::parse(b""), b"");
        assert_eq!(
            super::parse(include_bytes!("../tests/samples/comm_newline.comm")),
            b"a\nb"
        );
    }
}

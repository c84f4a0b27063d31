//! Pipes and FIFOs: two ends on one inode, told apart by the access mode
//! each fd was opened with. lsfd's `fifo.c`.

/// The modes an fd at the other side of a pipe end opened with `mine` has.
pub(super) fn other_side(mine: Option<&str>) -> Option<&'static [&'static str]> {
    match mine {
        Some("r") => Some(&["w", "rw"]),
        Some("w") => Some(&["r", "rw"]),
        _ => None,
    }
}

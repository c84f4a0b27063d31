//! Pipes and FIFOs: two ends on one inode, told apart by the access mode
//! each fd was opened with. lsfd's `fifo.c`.

use serde::Serialize;

/// An fd's access mode: the low two bits (`O_ACCMODE`) of its open flags.
/// It is what tells a pipe's read end from its write end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum AccessMode {
    /// `O_RDONLY`.
    #[serde(rename = "r")]
    Read,
    /// `O_WRONLY`.
    #[serde(rename = "w")]
    Write,
    /// `O_RDWR`.
    #[serde(rename = "rw")]
    ReadWrite,
    /// The value 3: neither reading nor writing (the kernel allows it for
    /// ioctl-only opens of devices). JSON spells it `?`.
    #[serde(rename = "?")]
    Neither,
}

impl AccessMode {
    /// The access mode of open flags `flags` (fdinfo's `flags:`).
    pub fn of_flags(flags: u64) -> AccessMode {
        match flags & 3 {
            0 => AccessMode::Read,
            1 => AccessMode::Write,
            2 => AccessMode::ReadWrite,
            _ => AccessMode::Neither,
        }
    }

    /// The modes an fd at the other side of a pipe end opened with this
    /// mode has (`None`: this end reads and writes, or neither).
    pub fn other_side(self) -> Option<&'static [AccessMode]> {
        match self {
            AccessMode::Read => Some(&[AccessMode::Write, AccessMode::ReadWrite]),
            AccessMode::Write => Some(&[AccessMode::Read, AccessMode::ReadWrite]),
            AccessMode::ReadWrite | AccessMode::Neither => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_modes_from_flags_and_their_json_names() {
        let modes = [
            (0o2_000_000, AccessMode::Read, "\"r\""),
            (0o1, AccessMode::Write, "\"w\""),
            (0o4002, AccessMode::ReadWrite, "\"rw\""),
            (0o3, AccessMode::Neither, "\"?\""),
        ];
        for (flags, mode, json) in modes {
            assert_eq!(AccessMode::of_flags(flags), mode);
            assert_eq!(serde_json::to_string(&mode).unwrap(), json);
        }
        assert_eq!(
            AccessMode::Read.other_side(),
            Some(&[AccessMode::Write, AccessMode::ReadWrite][..])
        );
        assert_eq!(
            AccessMode::Write.other_side(),
            Some(&[AccessMode::Read, AccessMode::ReadWrite][..])
        );
        assert_eq!(AccessMode::ReadWrite.other_side(), None);
        assert_eq!(AccessMode::Neither.other_side(), None);
    }
}

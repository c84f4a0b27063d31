//! Capability sets (`CapInh`/`CapPrm`/`CapEff`/`CapBnd`/`CapAmb` in `status`,
//! hex masks where bit n is capability n).
//!
//! Names and numbers follow `include/uapi/linux/capability.h`. How many
//! capabilities this kernel knows is `/proc/sys/kernel/cap_last_cap`: a
//! bounding set of "all" has exactly bits 0..=cap_last_cap set, so a summary
//! must be made against that number, not against 64 bits or our own table.

/// Capability names, indexed by number (linux/capability.h, up to 6.x).
pub const NAMES: [&str; 41] = [
    "cap_chown",
    "cap_dac_override",
    "cap_dac_read_search",
    "cap_fowner",
    "cap_fsetid",
    "cap_kill",
    "cap_setgid",
    "cap_setuid",
    "cap_setpcap",
    "cap_linux_immutable",
    "cap_net_bind_service",
    "cap_net_broadcast",
    "cap_net_admin",
    "cap_net_raw",
    "cap_ipc_lock",
    "cap_ipc_owner",
    "cap_sys_module",
    "cap_sys_rawio",
    "cap_sys_chroot",
    "cap_sys_ptrace",
    "cap_sys_pacct",
    "cap_sys_admin",
    "cap_sys_boot",
    "cap_sys_nice",
    "cap_sys_resource",
    "cap_sys_time",
    "cap_sys_tty_config",
    "cap_mknod",
    "cap_lease",
    "cap_audit_write",
    "cap_audit_control",
    "cap_setfcap",
    "cap_mac_override",
    "cap_mac_admin",
    "cap_syslog",
    "cap_wake_alarm",
    "cap_block_suspend",
    "cap_audit_read",
    "cap_perfmon",
    "cap_bpf",
    "cap_checkpoint_restore",
];

/// The name of capability `n` (`cap_N` for numbers newer than this table).
pub fn name(n: u32) -> String {
    NAMES
        .get(n as usize)
        .map_or_else(|| format!("cap_{n}"), |s| (*s).to_string())
}

/// The capabilities in `mask`, by name, in number order.
pub fn names(mask: u64) -> Vec<String> {
    (0..64u32)
        .filter(|n| mask & (1u64 << n) != 0)
        .map(name)
        .collect()
}

/// The mask of every capability this kernel knows (bits 0..=`last_cap`).
pub fn full_mask(last_cap: u32) -> u64 {
    if last_cap >= 63 {
        u64::MAX
    } else {
        (1u64 << (last_cap + 1)) - 1
    }
}

/// A capability set described for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Summary {
    /// No capability.
    None,
    /// Every capability this kernel knows.
    All,
    /// Every capability except these (when fewer are missing than present).
    AllExcept(Vec<String>),
    /// Exactly these.
    Only(Vec<String>),
}

/// Summarises `mask` against this kernel's `last_cap`. Bits above
/// `last_cap` (which a kernel never sets) are listed, never hidden.
pub fn summary(mask: u64, last_cap: u32) -> Summary {
    let full = full_mask(last_cap);
    if mask == 0 {
        return Summary::None;
    }
    if mask == full {
        return Summary::All;
    }
    let present = mask.count_ones();
    let missing = full & !mask;
    if mask & !full == 0 && missing.count_ones() < present {
        Summary::AllExcept(names(missing))
    } else {
        Summary::Only(names(mask))
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Summary::None => f.write_str("none"),
            Summary::All => f.write_str("all"),
            Summary::AllExcept(v) => write!(f, "all except {}", v.join(" ")),
            Summary::Only(v) => f.write_str(&v.join(" ")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_summaries() {
        assert_eq!(names(0x0000_0000_a804_25fb).len(), 14);
        assert_eq!(
            names(0x3000),
            vec!["cap_net_admin".to_string(), "cap_net_raw".into()]
        );
        assert_eq!(name(40), "cap_checkpoint_restore");
        assert_eq!(name(41), "cap_41");
        assert_eq!(full_mask(40), 0x1ff_ffff_ffff);
        assert_eq!(full_mask(63), u64::MAX);
        assert_eq!(summary(0, 40), Summary::None);
        assert_eq!(summary(0x1ff_ffff_ffff, 40), Summary::All);
        // Docker's default drops these from the full set.
        assert_eq!(
            summary(0x1ff_ffff_ffff & !(1 << 21) & !(1 << 12), 40).to_string(),
            "all except cap_net_admin cap_sys_admin"
        );
        assert_eq!(summary(1 << 10, 40).to_string(), "cap_net_bind_service");
        // An older kernel (last_cap 37): its full set is "all".
        assert_eq!(summary(0x3f_ffff_ffff, 37), Summary::All);
        // A bit this kernel does not know is listed, not hidden.
        assert_eq!(
            summary(0x3f_ffff_ffff | 1 << 50, 37),
            Summary::Only(names(0x3f_ffff_ffff | 1 << 50))
        );
    }
}

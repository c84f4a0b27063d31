//! Capabilities by name, no_new_privs, seccomp and the LSM label.

use super::Source;
use crate::bytes::Bytes;
use crate::process::ser_outcome;
use procscope_parse::caps;
use procscope_read::{Failure, Outcome};
use serde::Serialize;

/// One capability set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CapSet {
    /// The mask as the kernel prints it.
    pub mask: String,
    /// `all`, `none`, `all except …` or the names.
    pub summary: String,
    /// Every capability in the set, by name.
    pub names: Vec<String>,
}

/// The security section.
#[derive(Debug, Clone, Serialize)]
pub struct Security {
    /// Highest capability number this kernel knows (`cap_last_cap`).
    #[serde(serialize_with = "ser_outcome")]
    pub cap_last_cap: Outcome<u32>,
    /// Effective: what it can do now.
    #[serde(serialize_with = "ser_outcome")]
    pub effective: Outcome<CapSet>,
    /// Permitted: what it can make effective.
    #[serde(serialize_with = "ser_outcome")]
    pub permitted: Outcome<CapSet>,
    /// Inheritable across execve (with file capabilities).
    #[serde(serialize_with = "ser_outcome")]
    pub inheritable: Outcome<CapSet>,
    /// Bounding: the most it or its children can ever get.
    #[serde(serialize_with = "ser_outcome")]
    pub bounding: Outcome<CapSet>,
    /// Ambient: kept across execve of unprivileged programs (4.3+).
    #[serde(serialize_with = "ser_outcome")]
    pub ambient: Outcome<CapSet>,
    /// `no_new_privs` (4.10+ in status).
    #[serde(serialize_with = "ser_outcome")]
    pub no_new_privs: Outcome<bool>,
    /// Seccomp mode: `disabled`, `strict`, `filter`.
    #[serde(serialize_with = "ser_outcome")]
    pub seccomp: Outcome<&'static str>,
    /// Attached seccomp filters (5.9+).
    #[serde(serialize_with = "ser_outcome")]
    pub seccomp_filters: Outcome<u64>,
    /// LSM label (`attr/current`: SELinux context, AppArmor profile).
    #[serde(serialize_with = "ser_outcome")]
    pub lsm_label: Outcome<Bytes>,
}

/// Used when `cap_last_cap` cannot be read: the number of names we know.
const KNOWN_LAST_CAP: u32 = 40;

pub(crate) fn read(src: &Source<'_>) -> Security {
    let mut b = Vec::new();
    let last = src
        .root
        .read(c"sys/kernel/cap_last_cap", &mut b, 64)
        .and_then(|_| {
            procscope_parse::num::dec_u64(procscope_parse::num::trim(&b))
                .and_then(|v| u32::try_from(v).ok())
                .ok_or_else(|| Failure::malformed("sys/kernel/cap_last_cap", "not a number"))
        });
    let last_or = *last.as_ref().unwrap_or(&KNOWN_LAST_CAP);
    let set = |what: &str, get: fn(&procscope_parse::status::Status) -> Option<u64>| {
        src.line(what, get).map(|m| CapSet {
            mask: format!("{m:016x}"),
            summary: caps::summary(m, last_or).to_string(),
            names: caps::names(m),
        })
    };
    Security {
        cap_last_cap: last,
        effective: set("CapEff", |s| s.cap_eff),
        permitted: set("CapPrm", |s| s.cap_prm),
        inheritable: set("CapInh", |s| s.cap_inh),
        bounding: set("CapBnd", |s| s.cap_bnd),
        ambient: set("CapAmb (4.3+)", |s| s.cap_amb),
        no_new_privs: src.line("NoNewPrivs (4.10+)", |s| s.no_new_privs),
        seccomp: src.line("Seccomp", |s| s.seccomp).map(|m| match m {
            0 => "disabled",
            1 => "strict",
            2 => "filter",
            _ => "unknown",
        }),
        seccomp_filters: src.line("Seccomp_filters (5.9+)", |s| s.seccomp_filters),
        lsm_label: lsm_label(src),
    }
}

/// `attr/current`: EINVAL when no LSM provides labels.
fn lsm_label(src: &Source<'_>) -> Outcome<Bytes> {
    match src.file(c"attr/current") {
        Ok(b) => {
            let t = procscope_parse::num::trim(&b);
            let t = t.strip_suffix(b"\0").unwrap_or(t);
            Ok(Bytes(t.to_vec()))
        }
        // EINVAL: no LSM provides labels. ENOENT while the process is
        // there: a kernel without CONFIG_SECURITY (or a fixture tree).
        Err(Failure::Gone) if src.dir.read(c"stat", &mut Vec::new(), 4096).is_ok() => {
            Err(Failure::Absent {
                what: "no security module provides a label".into(),
            })
        }
        Err(Failure::Io { errno, .. }) if errno == rustix::io::Errno::INVAL.raw_os_error() => {
            Err(Failure::Absent {
                what: "no security module provides a label".into(),
            })
        }
        Err(f) => Err(f),
    }
}

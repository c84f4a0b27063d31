//! `/proc/PID/status`.
//!
//! Traps: split each line at the **first** `:` only (`kworker/0:1H`); the
//! `Name:` value is escaped by the kernel (`proc_task_name()` in
//! fs/proc/array.c escapes `\n` and `\\`; kernels before 5.x also escaped
//! `\t` and friends), so it is unescaped here; lines appear and disappear
//! between kernel versions, so every field is optional.

use crate::num::{dec_i64, dec_u64, hex_u64, kb_to_bytes, split_once, trim, words};
use crate::{ParseError, Result};

/// Real, effective, saved and filesystem IDs (`Uid:` / `Gid:` lines).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ids {
    /// Real ID.
    pub real: u32,
    /// Effective ID.
    pub effective: u32,
    /// Saved set-ID.
    pub saved: u32,
    /// Filesystem ID.
    pub filesystem: u32,
}

/// The fields of `status` that procscope decodes. Every one is optional.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Status {
    /// `Name:`, unescaped to the raw comm bytes.
    pub name: Option<Vec<u8>>,
    /// `Umask:` (octal).
    pub umask: Option<u32>,
    /// `State:` letter.
    pub state: Option<u8>,
    /// `Tgid:`.
    pub tgid: Option<i32>,
    /// `Pid:`.
    pub pid: Option<i32>,
    /// `PPid:`.
    pub ppid: Option<i32>,
    /// `TracerPid:` (0 when not traced).
    pub tracer_pid: Option<i32>,
    /// `Uid:`.
    pub uid: Option<Ids>,
    /// `Gid:`.
    pub gid: Option<Ids>,
    /// `FDSize:` (allocated fd slots, not open fds).
    pub fd_size: Option<u64>,
    /// `Groups:` supplementary groups.
    pub groups: Option<Vec<u32>>,
    /// `NSpid:` PID in each nested PID namespace, outermost first.
    pub ns_pid: Option<Vec<i32>>,
    /// `Kthread:` (6.x+).
    pub kthread: Option<bool>,
    /// `VmPeak:` in bytes.
    pub vm_peak: Option<u64>,
    /// `VmSize:` in bytes.
    pub vm_size: Option<u64>,
    /// `VmLck:` in bytes.
    pub vm_lck: Option<u64>,
    /// `VmHWM:` (peak RSS) in bytes.
    pub vm_hwm: Option<u64>,
    /// `VmRSS:` in bytes.
    pub vm_rss: Option<u64>,
    /// `RssAnon:` in bytes.
    pub rss_anon: Option<u64>,
    /// `RssFile:` in bytes.
    pub rss_file: Option<u64>,
    /// `RssShmem:` in bytes.
    pub rss_shmem: Option<u64>,
    /// `VmSwap:` in bytes.
    pub vm_swap: Option<u64>,
    /// `VmData:` (data + heap) in bytes.
    pub vm_data: Option<u64>,
    /// `VmStk:` (main thread's stack) in bytes.
    pub vm_stk: Option<u64>,
    /// `VmExe:` in bytes.
    pub vm_exe: Option<u64>,
    /// `VmLib:` in bytes.
    pub vm_lib: Option<u64>,
    /// `VmPTE:` (page tables) in bytes.
    pub vm_pte: Option<u64>,
    /// `SigQ:` queued signals and the `RLIMIT_SIGPENDING` they count against.
    pub sig_q: Option<(u64, u64)>,
    /// `Cpus_allowed_list:` as the kernel prints it (`0-3,8`).
    pub cpus_allowed_list: Option<Vec<u8>>,
    /// `Mems_allowed_list:`.
    pub mems_allowed_list: Option<Vec<u8>>,
    /// `Seccomp_filters:` (5.9+).
    pub seccomp_filters: Option<u64>,
    /// `Threads:`.
    pub threads: Option<u64>,
    /// `SigPnd:` thread-pending signals mask.
    pub sig_pnd: Option<u64>,
    /// `ShdPnd:` process-pending signals mask.
    pub shd_pnd: Option<u64>,
    /// `SigBlk:` blocked signals mask.
    pub sig_blk: Option<u64>,
    /// `SigIgn:` ignored signals mask.
    pub sig_ign: Option<u64>,
    /// `SigCgt:` caught signals mask.
    pub sig_cgt: Option<u64>,
    /// `CapInh:`.
    pub cap_inh: Option<u64>,
    /// `CapPrm:`.
    pub cap_prm: Option<u64>,
    /// `CapEff:`.
    pub cap_eff: Option<u64>,
    /// `CapBnd:`.
    pub cap_bnd: Option<u64>,
    /// `CapAmb:` (4.3+).
    pub cap_amb: Option<u64>,
    /// `NoNewPrivs:` (4.10+).
    pub no_new_privs: Option<bool>,
    /// `Seccomp:` mode: 0 off, 1 strict, 2 filter.
    pub seccomp: Option<u8>,
    /// `voluntary_ctxt_switches:`.
    pub voluntary_ctxt_switches: Option<u64>,
    /// `nonvoluntary_ctxt_switches:`.
    pub nonvoluntary_ctxt_switches: Option<u64>,
}

/// Iterates over `(key, value)` pairs, value trimmed, split at the first `:`.
/// Lines without a `:` are skipped.
pub fn fields(b: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    b.split(|&c| c == b'\n')
        .filter_map(|line| split_once(line, b':'))
        .map(|(k, v)| (k, trim(v)))
}

impl Status {
    /// Parses `status`. Fails only if no `key: value` line is found at all.
    pub fn parse(b: &[u8]) -> Result<Self> {
        let mut s = Status::default();
        let mut any = false;
        for (k, v) in fields(b) {
            any = true;
            match k {
                b"Name" => s.name = Some(unescape_name(v)),
                b"Umask" => s.umask = crate::num::oct_u64(v).and_then(|x| u32::try_from(x).ok()),
                b"State" => s.state = v.first().copied(),
                b"Tgid" => s.tgid = i32_of(v),
                b"Pid" => s.pid = i32_of(v),
                b"PPid" => s.ppid = i32_of(v),
                b"TracerPid" => s.tracer_pid = i32_of(v),
                b"Uid" => s.uid = ids(v),
                b"Gid" => s.gid = ids(v),
                b"FDSize" => s.fd_size = dec_u64(v),
                b"Groups" => s.groups = words(v).map(u32_of).collect(),
                b"NSpid" => s.ns_pid = words(v).map(i32_of).collect(),
                b"Kthread" => s.kthread = flag(v),
                b"VmPeak" => s.vm_peak = kb_to_bytes(v),
                b"VmSize" => s.vm_size = kb_to_bytes(v),
                b"VmLck" => s.vm_lck = kb_to_bytes(v),
                b"VmHWM" => s.vm_hwm = kb_to_bytes(v),
                b"VmRSS" => s.vm_rss = kb_to_bytes(v),
                b"RssAnon" => s.rss_anon = kb_to_bytes(v),
                b"RssFile" => s.rss_file = kb_to_bytes(v),
                b"RssShmem" => s.rss_shmem = kb_to_bytes(v),
                b"VmSwap" => s.vm_swap = kb_to_bytes(v),
                b"VmData" => s.vm_data = kb_to_bytes(v),
                b"VmStk" => s.vm_stk = kb_to_bytes(v),
                b"VmExe" => s.vm_exe = kb_to_bytes(v),
                b"VmLib" => s.vm_lib = kb_to_bytes(v),
                b"VmPTE" => s.vm_pte = kb_to_bytes(v),
                b"SigQ" => {
                    s.sig_q =
                        split_once(v, b'/').and_then(|(a, b)| Some((dec_u64(a)?, dec_u64(b)?)))
                }
                b"Cpus_allowed_list" => s.cpus_allowed_list = Some(v.to_vec()),
                b"Mems_allowed_list" => s.mems_allowed_list = Some(v.to_vec()),
                b"Seccomp_filters" => s.seccomp_filters = dec_u64(v),
                b"Threads" => s.threads = dec_u64(v),
                b"SigPnd" => s.sig_pnd = hex_u64(v),
                b"ShdPnd" => s.shd_pnd = hex_u64(v),
                b"SigBlk" => s.sig_blk = hex_u64(v),
                b"SigIgn" => s.sig_ign = hex_u64(v),
                b"SigCgt" => s.sig_cgt = hex_u64(v),
                b"CapInh" => s.cap_inh = hex_u64(v),
                b"CapPrm" => s.cap_prm = hex_u64(v),
                b"CapEff" => s.cap_eff = hex_u64(v),
                b"CapBnd" => s.cap_bnd = hex_u64(v),
                b"CapAmb" => s.cap_amb = hex_u64(v),
                b"NoNewPrivs" => s.no_new_privs = flag(v),
                b"Seccomp" => s.seccomp = dec_u64(v).and_then(|x| u8::try_from(x).ok()),
                b"voluntary_ctxt_switches" => s.voluntary_ctxt_switches = dec_u64(v),
                b"nonvoluntary_ctxt_switches" => s.nonvoluntary_ctxt_switches = dec_u64(v),
                _ => {}
            }
        }
        if any {
            Ok(s)
        } else {
            Err(ParseError::Shape("no `key: value` line"))
        }
    }
}

/// Finds the `Uid:` line quickly, for listings that need nothing else.
pub fn uid(b: &[u8]) -> Option<Ids> {
    fields(b)
        .find(|(k, _)| *k == b"Uid")
        .and_then(|(_, v)| ids(v))
}

fn i32_of(b: &[u8]) -> Option<i32> {
    dec_i64(b).and_then(|v| i32::try_from(v).ok())
}

fn u32_of(b: &[u8]) -> Option<u32> {
    dec_u64(b).and_then(|v| u32::try_from(v).ok())
}

fn flag(b: &[u8]) -> Option<bool> {
    match b {
        b"0" => Some(false),
        b"1" => Some(true),
        _ => None,
    }
}

fn ids(v: &[u8]) -> Option<Ids> {
    let mut w = words(v).map(u32_of);
    Some(Ids {
        real: w.next()??,
        effective: w.next()??,
        saved: w.next()??,
        filesystem: w.next()??,
    })
}

/// Undoes the kernel's escaping of the `Name:` value.
///
/// `\n` → newline and `\\` → backslash (current kernels); also `\t`, `\r`,
/// `\f`, `\v`, `\a`, `\e`, `\"` and three-digit octal (older kernels'
/// `ESCAPE_SPACE | ESCAPE_SPECIAL`). An unknown or truncated escape is kept
/// as it is: the kernel never produces one, and guessing would lose bytes.
pub fn unescape_name(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0usize;
    while let Some(&c) = v.get(i) {
        if c != b'\\' {
            out.push(c);
            i += 1;
            continue;
        }
        let next = v.get(i + 1).copied();
        let simple = match next {
            Some(b'n') => Some(b'\n'),
            Some(b'\\') => Some(b'\\'),
            Some(b't') => Some(b'\t'),
            Some(b'r') => Some(b'\r'),
            Some(b'f') => Some(0x0c),
            Some(b'v') => Some(0x0b),
            Some(b'a') => Some(0x07),
            Some(b'e') => Some(0x1b),
            Some(b'"') => Some(b'"'),
            _ => None,
        };
        if let Some(s) = simple {
            out.push(s);
            i += 2;
            continue;
        }
        let oct = v.get(i + 1..i + 4).and_then(crate::num::oct_u64);
        if let Some(o) = oct.and_then(|o| u8::try_from(o).ok()) {
            out.push(o);
            i += 4;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_sample() {
        let s = Status::parse(include_bytes!("../tests/samples/exec_argv_env.status")).unwrap();
        assert_eq!(s.name.as_deref(), Some(&b"hostile"[..]));
        assert_eq!(s.umask, Some(0o022));
        assert_eq!(s.state, Some(b'S'));
        assert_eq!(s.tgid, Some(3902));
        assert_eq!(s.ppid, Some(3895));
        assert_eq!(
            s.uid,
            Some(Ids {
                real: 0,
                effective: 0,
                saved: 0,
                filesystem: 0
            })
        );
        assert_eq!(s.groups, Some(vec![]));
        assert_eq!(s.ns_pid, Some(vec![3902]));
        assert_eq!(s.kthread, Some(false));
        assert_eq!(s.vm_peak, Some(2608 * 1024));
        assert_eq!(s.vm_rss, Some(1276 * 1024));
        assert_eq!(s.threads, Some(1));
        assert_eq!(s.sig_ign, Some(4));
        assert_eq!(s.cap_eff, Some(0x1fffeffffff));
        assert_eq!(s.no_new_privs, Some(false));
        assert_eq!(s.seccomp, Some(0));
        assert_eq!(s.nonvoluntary_ctxt_switches, Some(3));
        assert_eq!(s.vm_stk, Some(228 * 1024));
        assert_eq!(s.vm_data, Some(204 * 1024));
        assert_eq!(s.sig_q, Some((0, 96365)));
        assert_eq!(s.cpus_allowed_list.as_deref(), Some(&b"0-1"[..]));
        assert_eq!(s.seccomp_filters, Some(0));
    }

    #[test]
    fn escaped_names() {
        let s = Status::parse(include_bytes!("../tests/samples/comm_newline.status")).unwrap();
        assert_eq!(s.name.as_deref(), Some(&b"a\nb"[..]));
        let s = Status::parse(include_bytes!("../tests/samples/comm_ansi_escape.status")).unwrap();
        assert_eq!(s.name.as_deref(), Some(&b"\x1b[31mRED"[..]));
        let s = Status::parse(include_bytes!("../tests/samples/comm_stat_breaker.status")).unwrap();
        assert_eq!(s.name.as_deref(), Some(&b") S 1 (x"[..]));
        assert_eq!(unescape_name(b"a\\\\n"), b"a\\n");
        assert_eq!(unescape_name(b"x\\011y"), b"x\ty");
        assert_eq!(unescape_name(b"end\\"), b"end\\");
        assert_eq!(unescape_name(b"\\q"), b"\\q");
    }

    #[test]
    fn colon_in_name_and_missing_fields() {
        let s = Status::parse(b"Name:\tkworker/0:1H\nState:\tI (idle)\n").unwrap();
        assert_eq!(s.name.as_deref(), Some(&b"kworker/0:1H"[..]));
        assert_eq!(s.uid, None);
        assert_eq!(s.cap_amb, None);
        assert!(Status::parse(b"").is_err());
        assert_eq!(
            uid(b"Name:\tx\nUid:\t1\t2\t3\t4\n").map(|i| i.effective),
            Some(2)
        );
        assert_eq!(uid(b"Uid:\t1\t2\n"), None);
    }
}

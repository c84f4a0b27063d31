//! `/proc/PID/maps`, `smaps_rollup` and `cgroup`.
//!
//! `maps` lines are `start-end perms offset major:minor inode [path]`
//! (hex addresses, offset and device; decimal inode). The path is the rest
//! of the line after padding: it may contain spaces and end in
//! ` (deleted)`; pseudo-paths are bracketed (`[heap]`, `[stack]`).
//! `smaps_rollup` is `Key: N kB` lines. `cgroup` is `ID:controllers:path`;
//! the path may contain `:`, so only the first two colons split.

use crate::num::{dec_u64, hex_u64, kb_to_bytes, split_once, trim};

/// One mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapping<'a> {
    /// Start address.
    pub start: u64,
    /// End address (exclusive).
    pub end: u64,
    /// `rwxp`/`rwxs`.
    pub perms: &'a [u8],
    /// Offset into the file.
    pub offset: u64,
    /// Device major.
    pub major: u64,
    /// Device minor.
    pub minor: u64,
    /// Inode (0 for anonymous mappings).
    pub inode: u64,
    /// Path or pseudo-path, if any.
    pub path: Option<&'a [u8]>,
}

impl Mapping<'_> {
    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }
}

/// Parses one `maps` line.
pub fn mapping(line: &[u8]) -> Option<Mapping<'_>> {
    let mut rest = line;
    let mut next = || -> Option<&[u8]> {
        rest = rest.trim_ascii_start();
        let end = rest.iter().position(|&c| c == b' ').unwrap_or(rest.len());
        let w = rest.get(..end)?;
        rest = rest.get(end..)?;
        Some(w)
    };
    let range = next()?;
    let perms = next()?;
    let offset = hex_u64(next()?)?;
    let dev = next()?;
    let inode = dec_u64(next()?)?;
    let (s, e) = split_once(range, b'-')?;
    let (ma, mi) = split_once(dev, b':')?;
    let path = rest.trim_ascii_start();
    Some(Mapping {
        start: hex_u64(s)?,
        end: hex_u64(e)?,
        perms,
        offset,
        major: hex_u64(ma)?,
        minor: hex_u64(mi)?,
        inode,
        path: (!path.is_empty()).then_some(path),
    })
}

/// Parses every line of `maps`; malformed lines are skipped.
pub fn mappings(b: &[u8]) -> Vec<Mapping<'_>> {
    b.split(|&c| c == b'\n').filter_map(mapping).collect()
}

/// `Key: N kB` pairs of `smaps_rollup` (or one `smaps` entry), in bytes.
pub fn rollup(b: &[u8]) -> Vec<(&[u8], u64)> {
    b.split(|&c| c == b'\n')
        .filter_map(|l| {
            let (k, v) = split_once(l, b':')?;
            Some((trim(k), kb_to_bytes(v)?))
        })
        .collect()
}

/// One entry of `smaps`: the mapping line and its `Key: N kB` fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmapsEntry<'a> {
    /// The mapping.
    pub mapping: Mapping<'a>,
    /// Its fields in bytes (`Rss`, `Pss`, `Private_Dirty`, `Swap`, …), in
    /// kernel order. `VmFlags` and other non-size lines are not here.
    pub fields: Vec<(&'a [u8], u64)>,
}

impl SmapsEntry<'_> {
    /// The field `key`, 0 when absent.
    pub fn get(&self, key: &[u8]) -> u64 {
        self.fields
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(0, |(_, v)| *v)
    }
}

/// Parses `smaps`: mapping lines (which start with a hex range, unlike the
/// `Key:` lines — a key never contains `-` before its colon) each followed
/// by their fields. Fields before the first mapping are dropped.
pub fn smaps(b: &[u8]) -> Vec<SmapsEntry<'_>> {
    let mut out: Vec<SmapsEntry<'_>> = Vec::new();
    for line in b.split(|&c| c == b'\n') {
        let is_key = line
            .iter()
            .position(|&c| c == b' ' || c == b':')
            .is_some_and(|i| line.get(i) == Some(&b':'));
        if is_key {
            if let (Some(e), Some((k, v))) = (out.last_mut(), split_once(line, b':')) {
                // Only sizes: `THPeligible: 0` and `ProtectionKey: 0` are not.
                if let Some(n) = trim(v).ends_with(b" kB").then(|| kb_to_bytes(v)).flatten() {
                    e.fields.push((trim(k), n));
                }
            }
        } else if let Some(m) = mapping(line) {
            out.push(SmapsEntry {
                mapping: m,
                fields: Vec::new(),
            });
        }
    }
    out
}

/// One line of `/proc/PID/cgroup`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CgroupLine<'a> {
    /// Hierarchy ID (0 for cgroup v2).
    pub id: u64,
    /// Controllers (empty for v2).
    pub controllers: &'a [u8],
    /// The cgroup path (may contain `:`).
    pub path: &'a [u8],
}

/// Parses `/proc/PID/cgroup`.
pub fn cgroups(b: &[u8]) -> Vec<CgroupLine<'_>> {
    b.split(|&c| c == b'\n')
        .filter_map(|l| {
            let (id, rest) = split_once(l, b':')?;
            let (controllers, path) = split_once(rest, b':')?;
            Some(CgroupLine {
                id: dec_u64(id)?,
                controllers,
                path,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_lines() {
        let m = mappings(
            b"55ef8c0bd000-55ef8c0bf000 r--p 00000000 fe:00 247282                     /usr/bin/head\n\
7f00-7f10 rw-s 00001000 00:05 12                         /tmp/with space (deleted)\n\
7ffd0000-7ffd2000 rw-p 00000000 00:00 0                  [stack]\n\
7f20-7f30 rw-p 00000000 00:00 0 \n\
garbage\n",
        );
        assert_eq!(m.len(), 4);
        assert_eq!(
            (m[0].start, m[0].end, m[0].perms, m[0].major, m[0].inode),
            (0x55ef8c0bd000, 0x55ef8c0bf000, &b"r--p"[..], 0xfe, 247282)
        );
        assert_eq!(m[0].size(), 0x2000);
        assert_eq!(
            (m[1].offset, m[1].path),
            (0x1000, Some(&b"/tmp/with space (deleted)"[..]))
        );
        assert_eq!(m[2].path, Some(&b"[stack]"[..]));
        assert_eq!(m[3].path, None);
    }

    #[test]
    fn smaps_entries() {
        let e = smaps(
            b"00400000-00401000 r-xp 00000000 fe:00 12   /bin/a b\n\
Size:                  4 kB\n\
Rss:                   4 kB\n\
Private_Dirty:         0 kB\n\
VmFlags: rd ex mr mw me\n\
7ffd0000-7ffd2000 rw-p 00000000 00:00 0   [stack]\n\
Rss:                   8 kB\n\
Private_Dirty:         8 kB\n\
THPeligible:    0\n",
        );
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].mapping.path, Some(&b"/bin/a b"[..]));
        assert_eq!((e[0].get(b"Rss"), e[0].get(b"Swap")), (4096, 0));
        assert_eq!(e[1].get(b"Private_Dirty"), 8192);
        assert_eq!(e[1].fields.len(), 2);
        assert!(smaps(b"Rss: 4 kB\n").is_empty());
    }

    #[test]
    fn rollup_and_cgroups() {
        let r = rollup(b"556a62c46000-7ffd32d21000 ---p 00000000 00:00 0                          [rollup]\nRss:                1684 kB\nPss:                 636 kB\n");
        assert_eq!(
            r,
            vec![(&b"Rss"[..], 1684 * 1024), (&b"Pss"[..], 636 * 1024)]
        );
        let c = cgroups(b"0::/system.slice/a:b.service\n4:memory:/x\n");
        assert_eq!(c[0].path, b"/system.slice/a:b.service");
        assert_eq!((c[1].id, c[1].controllers), (4, &b"memory"[..]));
    }
}

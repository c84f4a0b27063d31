//! `/proc/PID/mountinfo`: the mount table as one process sees it.
//!
//! Traps (fs/proc_namespace.c `show_mountinfo()`): paths and sources escape
//! space, tab, newline and backslash as octal (`\040`, `\011`, `\012`,
//! `\134`); a variable number of optional fields ends at a lone `-`.

use crate::num::dec_u64;
use crate::{ParseError, Result};

/// One mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// Mount ID (matches fdinfo's `mnt_id`).
    pub mount_id: u64,
    /// Parent mount ID.
    pub parent_id: u64,
    /// `major:minor` of the filesystem's device.
    pub dev: (u32, u32),
    /// Root of the mount within the filesystem, unescaped.
    pub root: Vec<u8>,
    /// Mount point, unescaped.
    pub mount_point: Vec<u8>,
    /// Per-mount options (`rw,nosuid,…`).
    pub mount_options: Vec<u8>,
    /// Optional fields (`shared:1`, `master:2`, …).
    pub optional: Vec<Vec<u8>>,
    /// Filesystem type (`ext4`, `fuse.sshfs`, `proc`).
    pub fs_type: Vec<u8>,
    /// Source, unescaped (`/dev/sda1`, `server:/export`).
    pub source: Vec<u8>,
    /// Per-superblock options (`rw,hidepid=invisible`).
    pub super_options: Vec<u8>,
}

impl Mount {
    /// The value of a superblock option (`hidepid` → `invisible`), or
    /// `Some(b"")` for a flag without a value.
    pub fn super_option(&self, name: &[u8]) -> Option<&[u8]> {
        self.super_options.split(|&c| c == b',').find_map(|o| {
            if o == name {
                Some(&b""[..])
            } else {
                o.strip_prefix(name).and_then(|r| r.strip_prefix(b"="))
            }
        })
    }
}

/// Undoes the kernel's octal escapes (`\040` → space).
pub fn unescape(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0usize;
    while let Some(&c) = b.get(i) {
        if c == b'\\' {
            if let Some(v) = b
                .get(i + 1..i + 4)
                .and_then(crate::num::oct_u64)
                .and_then(|v| u8::try_from(v).ok())
            {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

/// Filesystems whose operations can wait on something outside this host
/// or outside the kernel — a server, a FUSE daemon, an automounter — and
/// so block forever when it is gone: nothing may be looked up through them
/// without a deadline (and a lookup stuck in one cannot even be abandoned:
/// the thread waits uninterruptibly for the answer).
pub fn may_hang(fs_type: &[u8]) -> bool {
    fs_type.starts_with(b"fuse")
        || fs_type.starts_with(b"nfs")
        || matches!(
            fs_type,
            b"cifs"
                | b"smb3"
                | b"smbfs"
                | b"9p"
                | b"ceph"
                | b"afs"
                | b"autofs"
                | b"lustre"
                | b"glusterfs"
                | b"gfs2"
                | b"ocfs2"
                | b"virtiofs"
        )
}

/// Parses one line of `mountinfo`.
pub fn parse_line(line: &[u8]) -> Result<Mount> {
    let mut f = line.split(|&c| c == b' ').filter(|w| !w.is_empty());
    let mut next = |name: &'static str| f.next().ok_or(ParseError::Missing(name));
    let mount_id = next("mount_id")
        .and_then(|v| dec_u64(v).ok_or_else(|| ParseError::invalid("mount_id", v)))?;
    let parent_id = next("parent_id")
        .and_then(|v| dec_u64(v).ok_or_else(|| ParseError::invalid("parent_id", v)))?;
    let dev_b = next("major:minor")?;
    let dev = crate::num::split_once(dev_b, b':')
        .and_then(|(a, b)| {
            Some((
                u32::try_from(dec_u64(a)?).ok()?,
                u32::try_from(dec_u64(b)?).ok()?,
            ))
        })
        .ok_or_else(|| ParseError::invalid("major:minor", dev_b))?;
    let root = unescape(next("root")?);
    let mount_point = unescape(next("mount_point")?);
    let mount_options = next("mount_options")?.to_vec();
    let mut optional = Vec::new();
    loop {
        let w = next("separator")?;
        if w == b"-" {
            break;
        }
        optional.push(w.to_vec());
    }
    let fs_type = next("fs_type")?.to_vec();
    let source = unescape(next("source")?);
    let super_options = next("super_options")
        .map(<[u8]>::to_vec)
        .unwrap_or_default();
    Ok(Mount {
        mount_id,
        parent_id,
        dev,
        root,
        mount_point,
        mount_options,
        optional,
        fs_type,
        source,
        super_options,
    })
}

/// Parses every line; a malformed line is an error (the table is written
/// by the kernel, so it means the input is not a mountinfo file).
pub fn parse(b: &[u8]) -> Result<Vec<Mount>> {
    b.split(|&c| c == b'\n')
        .filter(|l| !l.is_empty())
        .map(parse_line)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_optional_fields_and_options() {
        let b = b"36 35 98:0 /mnt1 /mnt/with\\040space\\012nl rw,noatime master:1 shared:7 - ext3 /dev/root rw,errors=continue\n\
22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw,hidepid=invisible,subset=pid\n\
40 22 0:40 / /mnt/f rw - fuse.sshfs user@host:/x\\134y rw,user_id=0\n";
        let m = parse(b).unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].mount_id, 36);
        assert_eq!(m[0].dev, (98, 0));
        assert_eq!(m[0].mount_point, b"/mnt/with space\nnl");
        assert_eq!(
            m[0].optional,
            vec![b"master:1".to_vec(), b"shared:7".to_vec()]
        );
        assert_eq!(m[0].fs_type, b"ext3");
        assert_eq!(m[1].super_option(b"hidepid"), Some(&b"invisible"[..]));
        assert_eq!(m[1].super_option(b"subset"), Some(&b"pid"[..]));
        assert_eq!(m[1].super_option(b"rw"), Some(&b""[..]));
        assert_eq!(m[1].super_option(b"gid"), None);
        assert_eq!(m[2].source, b"user@host:/x\\y");
        assert!(parse(b"1 2 3\n").is_err());
        assert_eq!(unescape(b"a\\04"), b"a\\04");
    }
}

//! UID → user name, without ever hanging, from the host the proc root
//! belongs to.
//!
//! `/etc/passwd` (and `/etc/group`) are parsed directly (fast, cannot
//! block), read through the root's [`procscope_read::HostFiles`]: the
//! real files for a live root, `.host/etc/passwd` inside a fixture tree —
//! never the live host's for a tree. UIDs not found there (LDAP, sssd,
//! systemd-homed …) are looked up through NSS (`getpwuid_r`) on a guarded
//! thread, for a live root only: a broken directory service costs at most
//! one deadline for the whole batch, after which names stay numeric.

use crate::bytes::Bytes;
use procscope_read::{HostFiles, Outcome, ProcRoot};
use std::collections::HashMap;

/// Parses `passwd(5)` content into a UID → name map (first entry wins).
pub fn parse_passwd(b: &[u8]) -> HashMap<u32, Bytes> {
    let mut m = HashMap::new();
    for line in b.split(|&c| c == b'\n') {
        let mut f = line.split(|&c| c == b':');
        let (Some(name), Some(_pw), Some(uid)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if name.is_empty()
            || name.starts_with(b"#")
            || name.starts_with(b"+")
            || name.starts_with(b"-")
        {
            continue;
        }
        if let Some(uid) = procscope_parse::num::dec_u64(uid).and_then(|u| u32::try_from(u).ok()) {
            m.entry(uid).or_insert_with(|| Bytes(name.to_vec()));
        }
    }
    m
}

/// Resolves UIDs to names, from the host `root` belongs to. Unresolvable
/// UIDs are absent from the result.
pub fn resolve(
    root: &ProcRoot,
    uids: impl IntoIterator<Item = u32>,
    nss: &procscope_read::Session,
) -> HashMap<u32, Bytes> {
    resolve_in(
        root.host(),
        b"/etc/passwd",
        uids,
        nss,
        HostFiles::nss_user_name,
    )
}

/// Resolves GIDs to group names (`/etc/group`, then NSS), from the host
/// `root` belongs to.
pub fn resolve_groups(
    root: &ProcRoot,
    gids: impl IntoIterator<Item = u32>,
    nss: &procscope_read::Session,
) -> HashMap<u32, Bytes> {
    resolve_in(
        root.host(),
        b"/etc/group",
        gids,
        nss,
        HostFiles::nss_group_name,
    )
}

/// The `name:password:id:…` database at `file` (passwd(5) and group(5)
/// share the layout), empty when the host has none to give.
fn database(host: &HostFiles, file: &[u8]) -> HashMap<u32, Bytes> {
    let mut b = Vec::new();
    host.read(file, &mut b, procscope_read::cap::USERS)
        .map(|_| parse_passwd(&b))
        .unwrap_or_default()
}

/// Looks IDs up in `file`, then the rest through `nss` — which may block
/// on a network directory, so at most 64 lookups run, all on one guarded
/// thread (and none for a tree: it has no name service).
fn resolve_in(
    host: HostFiles,
    file: &[u8],
    ids: impl IntoIterator<Item = u32>,
    session: &procscope_read::Session,
    nss: fn(&HostFiles, u32) -> Outcome<Option<Vec<u8>>>,
) -> HashMap<u32, Bytes> {
    let mut want: Vec<u32> = ids.into_iter().collect();
    want.sort_unstable();
    want.dedup();
    let db = database(&host, file);
    let mut out = HashMap::new();
    let mut missing = Vec::new();
    for u in want {
        match db.get(&u) {
            Some(n) => {
                out.insert(u, n.clone());
            }
            None => missing.push(u),
        }
    }
    if missing.is_empty() || !host.is_live() {
        return out;
    }
    missing.truncate(64);
    let found = session.once(None, move || {
        Ok(missing
            .into_iter()
            .filter_map(|u| Some((u, Bytes(nss(&host, u).ok()??))))
            .collect::<Vec<_>>())
    });
    if let Ok(found) = found {
        out.extend(found);
    }
    out
}

/// Looks up a user name (or a numeric UID) as `-u NAME` needs it, on the
/// host `root` belongs to.
pub fn uid_by_name(root: &ProcRoot, name: &str, nss: &procscope_read::Session) -> Option<u32> {
    if let Ok(u) = name.parse::<u32>() {
        return Some(u);
    }
    let host = root.host();
    let passwd = database(&host, b"/etc/passwd");
    if let Some((u, _)) = passwd.iter().find(|(_, n)| n.as_slice() == name.as_bytes()) {
        return Some(*u);
    }
    if !host.is_live() {
        return None;
    }
    let name = name.as_bytes().to_vec();
    nss.once(None, move || host.nss_uid(&name)).ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use procscope_read::Session;

    #[test]
    fn passwd_lines() {
        let m = parse_passwd(b"root:x:0:0:root:/root:/bin/bash\n# c\nnobody:x:65534:65534::/:/x\nbad:x:zz:1\nroot2:x:0:0::/:/x\n+:::\n");
        assert_eq!(m.get(&0), Some(&Bytes(b"root".to_vec())));
        assert_eq!(m.get(&65534), Some(&Bytes(b"nobody".to_vec())));
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn resolves_root() {
        let live = ProcRoot::open("/proc").unwrap();
        let m = resolve(&live, [0], &Session::default());
        assert_eq!(m.get(&0).map(|b| b.as_slice()), Some(&b"root"[..]));
        let g = resolve_groups(&live, [0], &Session::default());
        assert_eq!(g.get(&0).map(|b| b.as_slice()), Some(&b"root"[..]));
        assert_eq!(uid_by_name(&live, "root", &Session::default()), Some(0));
        assert_eq!(uid_by_name(&live, "4242", &Session::default()), Some(4242));
        assert_eq!(
            uid_by_name(&live, "no-such-user-procscope", &Session::default()),
            None
        );
    }

    /// A tree names users from its own `.host/etc/passwd` only: UID 0 has
    /// a name on every live host, and none here.
    #[test]
    fn a_tree_names_its_users_itself() {
        let t = tempfile::tempdir().unwrap();
        let bare = ProcRoot::open(t.path()).unwrap();
        let s = Session::default();
        assert!(resolve(&bare, [0, 4242], &s).is_empty());
        assert!(resolve_groups(&bare, [0], &s).is_empty());
        assert_eq!(uid_by_name(&bare, "root", &s), None);
        std::fs::create_dir_all(t.path().join(".host/etc")).unwrap();
        std::fs::write(
            t.path().join(".host/etc/passwd"),
            "fixtureuser:x:4242:4242::/:/x\n",
        )
        .unwrap();
        std::fs::write(t.path().join(".host/etc/group"), "fixturegroup:x:77:\n").unwrap();
        let root = ProcRoot::open(t.path()).unwrap();
        let m = resolve(&root, [0, 4242], &s);
        assert_eq!(
            m.into_iter().collect::<Vec<_>>(),
            vec![(4242, Bytes(b"fixtureuser".to_vec()))]
        );
        let g = resolve_groups(&root, [0, 77], &s);
        assert_eq!(
            g.into_iter().collect::<Vec<_>>(),
            vec![(77, Bytes(b"fixturegroup".to_vec()))]
        );
        assert_eq!(uid_by_name(&root, "fixtureuser", &s), Some(4242));
        assert_eq!(uid_by_name(&root, "root", &s), None);
        // No NSS was asked for the names the tree lacks.
        assert_eq!(s.stats().reads, 0);
    }
}

//! UID → user name, without ever hanging.
//!
//! `/etc/passwd` is parsed directly (fast, cannot block). UIDs not found
//! there (LDAP, sssd, systemd-homed …) are looked up through NSS
//! (`getpwuid_r`) on a guarded thread: a broken directory service costs at
//! most one deadline for the whole batch, after which names stay numeric.

use crate::bytes::Bytes;
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

/// Resolves UIDs to names. Unresolvable UIDs are absent from the result.
pub fn resolve(
    uids: impl IntoIterator<Item = u32>,
    nss: &procscope_read::Session,
) -> HashMap<u32, Bytes> {
    resolve_in("/etc/passwd", uids, nss, |u| {
        nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(u))
            .ok()
            .flatten()
            .map(|user| user.name.into_bytes())
    })
}

/// Resolves GIDs to group names (`/etc/group`, then NSS).
pub fn resolve_groups(
    gids: impl IntoIterator<Item = u32>,
    nss: &procscope_read::Session,
) -> HashMap<u32, Bytes> {
    resolve_in("/etc/group", gids, nss, |g| {
        nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(g))
            .ok()
            .flatten()
            .map(|group| group.name.into_bytes())
    })
}

/// Looks IDs up in `file` (passwd(5) and group(5) share the layout
/// `name:password:id:…`), then the rest through `nss` — which may block on
/// a network directory, so at most 64 lookups run, all on one guarded thread.
fn resolve_in(
    file: &str,
    ids: impl IntoIterator<Item = u32>,
    session: &procscope_read::Session,
    nss: fn(u32) -> Option<Vec<u8>>,
) -> HashMap<u32, Bytes> {
    let mut want: Vec<u32> = ids.into_iter().collect();
    want.sort_unstable();
    want.dedup();
    let db = std::fs::read(file)
        .map(|b| parse_passwd(&b))
        .unwrap_or_default();
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
    if missing.is_empty() {
        return out;
    }
    missing.truncate(64);
    let found = session.once(None, move || {
        Ok(missing
            .into_iter()
            .filter_map(|u| nss(u).map(|n| (u, Bytes(n))))
            .collect::<Vec<_>>())
    });
    if let Ok(found) = found {
        out.extend(found);
    }
    out
}

/// Looks up a user name (or a numeric UID) as `-u NAME` needs it.
pub fn uid_by_name(name: &str, nss: &procscope_read::Session) -> Option<u32> {
    if let Ok(u) = name.parse::<u32>() {
        return Some(u);
    }
    let passwd = std::fs::read("/etc/passwd")
        .map(|b| parse_passwd(&b))
        .unwrap_or_default();
    if let Some((u, _)) = passwd.iter().find(|(_, n)| n.as_slice() == name.as_bytes()) {
        return Some(*u);
    }
    let name = name.to_owned();
    nss.once(None, move || {
        Ok(nix::unistd::User::from_name(&name)
            .ok()
            .flatten()
            .map(|u| u.uid.as_raw()))
    })
    .ok()
    .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_lines() {
        let m = parse_passwd(b"root:x:0:0:root:/root:/bin/bash\n# c\nnobody:x:65534:65534::/:/x\nbad:x:zz:1\nroot2:x:0:0::/:/x\n+:::\n");
        assert_eq!(m.get(&0), Some(&Bytes(b"root".to_vec())));
        assert_eq!(m.get(&65534), Some(&Bytes(b"nobody".to_vec())));
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn resolves_root() {
        let m = resolve([0], &procscope_read::Session::default());
        assert_eq!(m.get(&0).map(|b| b.as_slice()), Some(&b"root"[..]));
        assert_eq!(
            uid_by_name("root", &procscope_read::Session::default()),
            Some(0)
        );
        assert_eq!(
            uid_by_name("4242", &procscope_read::Session::default()),
            Some(4242)
        );
        assert_eq!(
            uid_by_name(
                "no-such-user-procscope",
                &procscope_read::Session::default()
            ),
            None
        );
    }
}

//! Name service lookups (`getpwuid_r`, `getgrgid_r`, `getpwnam_r`) for the
//! users and groups that `/etc/passwd` and `/etc/group` do not list (LDAP,
//! sssd, systemd-homed …).
//!
//! NSS may ask a network directory and block for as long as it likes:
//! callers run these on a deadline-guarded thread
//! ([`crate::Session::once`]). Only the live host's NSS exists, so only a
//! live root asks it ([`crate::HostFiles`] refuses for a tree).

use std::ffi::{CStr, CString, c_char};

/// The first buffer tried: glibc's own suggestion (`_SC_GETPW_R_SIZE_MAX`,
/// `_SC_GETGR_R_SIZE_MAX`) when it gives one, else this.
const FIRST: usize = 1024;

/// The largest buffer tried: a group with tens of thousands of members
/// needs a few MiB; past this the name stays numeric.
const LAST: usize = 16 << 20;

/// Calls `lookup(buf)` with growing buffers while it answers `ERANGE`.
/// `lookup` returns the `_r` function's result code, and the name when one
/// was found.
fn with_buffer(
    hint: libc::c_int,
    mut lookup: impl FnMut(&mut [u8]) -> (libc::c_int, Option<Vec<u8>>),
) -> Option<Vec<u8>> {
    // SAFETY: sysconf only reads its argument.
    let suggested = unsafe { libc::sysconf(hint) };
    let mut size = usize::try_from(suggested)
        .ok()
        .filter(|&n| n > 0)
        .unwrap_or(FIRST)
        .min(LAST);
    loop {
        let mut buf = vec![0u8; size];
        match lookup(&mut buf) {
            (libc::ERANGE, _) if size < LAST => size = size.saturating_mul(4).min(LAST),
            (0, name) => return name,
            _ => return None,
        }
    }
}

/// `name` as bytes, when the pointer is set.
///
/// # Safety
/// `p` is null or points to a NUL-terminated string that lives as long as
/// the buffer given to the lookup.
unsafe fn name_of(p: *const c_char) -> Option<Vec<u8>> {
    if p.is_null() {
        return None;
    }
    // SAFETY: the caller guarantees a NUL-terminated string.
    Some(unsafe { CStr::from_ptr(p) }.to_bytes().to_vec())
}

/// The user name of `uid` from NSS (`getpwuid_r`).
pub(crate) fn user_name(uid: u32) -> Option<Vec<u8>> {
    with_buffer(libc::_SC_GETPW_R_SIZE_MAX, |buf| {
        // SAFETY: an all-zero `passwd` is a valid value (null pointers,
        // zero IDs); getpwuid_r fills it.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer is valid for the call; `buf` is writable
        // for `buf.len()` bytes and the strings `pwd` points to live in it.
        let rc = unsafe {
            libc::getpwuid_r(
                uid,
                &mut pwd,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut found,
            )
        };
        // SAFETY: on success `pw_name` points into `buf`, still alive.
        let name = (rc == 0 && !found.is_null())
            .then(|| unsafe { name_of(pwd.pw_name) })
            .flatten();
        (rc, name)
    })
}

/// The group name of `gid` from NSS (`getgrgid_r`).
pub(crate) fn group_name(gid: u32) -> Option<Vec<u8>> {
    with_buffer(libc::_SC_GETGR_R_SIZE_MAX, |buf| {
        // SAFETY: an all-zero `group` is a valid value.
        let mut grp: libc::group = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::group = std::ptr::null_mut();
        // SAFETY: as in `user_name`.
        let rc = unsafe {
            libc::getgrgid_r(
                gid,
                &mut grp,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut found,
            )
        };
        // SAFETY: on success `gr_name` points into `buf`, still alive.
        let name = (rc == 0 && !found.is_null())
            .then(|| unsafe { name_of(grp.gr_name) })
            .flatten();
        (rc, name)
    })
}

/// The UID of the user called `name` from NSS (`getpwnam_r`).
pub(crate) fn uid_of(name: &[u8]) -> Option<u32> {
    let name = CString::new(name).ok()?;
    let mut uid = None;
    with_buffer(libc::_SC_GETPW_R_SIZE_MAX, |buf| {
        // SAFETY: an all-zero `passwd` is a valid value.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: `name` is NUL-terminated; the rest as in `user_name`.
        let rc = unsafe {
            libc::getpwnam_r(
                name.as_ptr(),
                &mut pwd,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut found,
            )
        };
        if rc == 0 && !found.is_null() {
            uid = Some(pwd.pw_uid);
        }
        (rc, None)
    });
    uid
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_root_through_nss() {
        assert_eq!(user_name(0).as_deref(), Some(&b"root"[..]));
        assert_eq!(group_name(0).as_deref(), Some(&b"root"[..]));
        assert_eq!(uid_of(b"root"), Some(0));
        assert_eq!(uid_of(b"no-such-user-procscope"), None);
        assert_eq!(uid_of(b"ro\0ot"), None);
        // UIDs nobody has (4294967294 is reserved as "no UID" by some
        // tools; this one no NSS module hands out).
        assert_eq!(user_name(4_000_000_123), None);
    }

    #[test]
    fn a_small_buffer_grows_on_erange() {
        let mut sizes = Vec::new();
        let got = with_buffer(-1, |buf| {
            sizes.push(buf.len());
            if buf.len() < 5000 {
                (libc::ERANGE, None)
            } else {
                (0, Some(b"x".to_vec()))
            }
        });
        assert_eq!(got.as_deref(), Some(&b"x"[..]));
        assert_eq!(sizes, vec![1024, 4096, 16384]);
        // Never past the last size.
        let mut n = 0;
        assert_eq!(
            with_buffer(-1, |_| {
                n += 1;
                (libc::ERANGE, None)
            }),
            None
        );
        assert_eq!(n, 8);
    }
}

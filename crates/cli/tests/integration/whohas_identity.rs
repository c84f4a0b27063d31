//! who-has matches files by identity (device, inode), resolved the way the
//! kernel resolves paths — not by the text of a link.

use crate::support::*;
use std::process::Command;

/// `sh -c 'exec 3<FILE; exec sleep 600'`: a process holding FILE as fd 3,
/// started through `prefix` (e.g. `unshare -m …`).
fn hold(prefix: &[&str], setup: &str, file: &str) -> Target {
    let mut c = Command::new(prefix.first().copied().unwrap_or("sh"));
    let script = format!("{setup} exec 3<'{file}' && echo ready && exec sleep 600");
    if prefix.is_empty() {
        c.args(["-c", &script]);
    } else {
        c.args(&prefix[1..]).args(["sh", "-c", &script]);
    }
    start(c)
}

/// A file at `DIR/f` held by a process here, and a different file at the
/// same path (a tmpfs over DIR) held by a process in its own mount
/// namespace: (dir, path, ours, theirs).
fn same_path_twice(content: &str) -> (tempfile::TempDir, String, Target, Target) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap().to_string();
    let file = format!("{d}/f");
    std::fs::write(&file, content).unwrap();
    let ours = hold(&[], "", &file);
    let theirs = hold(
        &["unshare", "-m", "--propagation", "private"],
        &format!("mount -t tmpfs t '{d}' && echo theirs > '{file}' &&"),
        &file,
    );
    (dir, file, ours, theirs)
}

/// The PIDs of the holders whose use is an fd, in a who-has document.
fn fd_holders(v: &serde_json::Value) -> Vec<u64> {
    v["holders"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["use"] == "fd")
        .map(|h| h["pid"].as_u64().unwrap())
        .collect()
}

/// Whether the who-has document lists `pid` holding it as `fd`.
fn holds(v: &serde_json::Value, pid: u32, fd: i32) -> bool {
    v["holders"]
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h["pid"].as_u64() == Some(pid.into()) && h["fd"] == fd)
}

#[test]
fn a_file_at_the_same_path_in_another_mount_namespace_is_not_this_file() {
    let (_dir, file, ours, theirs) = same_path_twice("ours");
    let r = run(&["who-has", "--json", &file]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let v = r.json();
    let pids = fd_holders(&v);
    assert!(pids.contains(&u64::from(ours.pid())), "{v:#}");
    assert!(!pids.contains(&u64::from(theirs.pid())), "{v:#}");
    // Matched by identity: the other namespace's file is not a candidate,
    // so nothing is "left out" either.
    let r = run(&["who-has", &file]);
    assert!(!r.stderr.contains("left out"), "{}", r.stderr);
}

#[test]
fn dot_dot_after_a_symlink_is_resolved_as_the_kernel_does() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real");
    std::fs::create_dir_all(real.join("sub")).unwrap();
    std::fs::write(real.join("f"), b"x").unwrap();
    let x = dir.path().join("x");
    std::fs::create_dir(&x).unwrap();
    std::os::unix::fs::symlink(real.join("sub"), x.join("l2")).unwrap();
    let t = hold(&[], "", real.join("f").to_str().unwrap());
    // x/l2/.. is real/, not x/: x/l2/../f is real/f.
    let q = x.join("l2/../f");
    let r = run(&["who-has", "--json", q.to_str().unwrap()]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let v = r.json();
    assert!(holds(&v, t.pid(), 3), "{v:#}");
}

#[test]
fn a_file_named_like_a_deleted_one_is_not_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let named = dir.path().join("looks (deleted)");
    std::fs::write(&named, b"x").unwrap();
    let t = hold(&[], "", named.to_str().unwrap());
    // Nothing is at .../looks: its link text "…/looks (deleted)" is a file
    // that exists, with that name.
    let r = run(&["who-has", dir.path().join("looks").to_str().unwrap()]);
    assert_eq!(r.status, 2, "{} {}", r.out(), r.stderr);
    assert!(
        r.stderr.contains("no such file or directory"),
        "{}",
        r.stderr
    );
    let r = run(&["who-has", "--deleted", "--json"]);
    let v = r.json();
    assert!(
        !v["holders"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["pid"].as_u64() == Some(t.pid().into())),
        "{v:#}"
    );
    // The file itself, by its real name, is found.
    let r = run(&["who-has", "--json", named.to_str().unwrap()]);
    assert_eq!(r.status, 0);
    assert!(r.json()["holders"][0]["pid"].as_u64() == Some(t.pid().into()));
}

#[test]
fn bad_ports_and_missing_paths_are_errors_not_empty_answers() {
    for what in [":99999", "tcp:abc", "udp:0", "/nonexistent/procscope-test"] {
        let r = run(&["who-has", what]);
        assert_eq!(r.status, 2, "{what}: {}", r.stderr);
        assert!(!r.stderr.is_empty(), "{what}: silent");
    }
}

#[test]
fn a_path_through_a_processs_root_is_that_namespaces_file() {
    let (_dir, file, host, ns) = same_path_twice("host");
    let through = format!("/proc/{}/root{file}", ns.pid());
    let v = run(&["who-has", "--json", &through]).json();
    let pids = fd_holders(&v);
    assert_eq!(pids, vec![u64::from(ns.pid())], "{v:#}");
    assert!(!pids.contains(&u64::from(host.pid())));
}

#[test]
fn another_name_of_the_same_inode_is_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    std::fs::write(&a, b"x").unwrap();
    std::fs::hard_link(&a, &b).unwrap();
    let t = hold(&[], "", a.to_str().unwrap());
    // Asked by its other name: the holder's link says .../a.
    let v = run(&["who-has", "--json", b.to_str().unwrap()]).json();
    assert!(holds(&v, t.pid(), 3), "{v:#}");
    // A bind mount of the directory: the holder's link names the mount.
    let bind = tempfile::tempdir().unwrap();
    nix::mount::mount(
        Some(dir.path()),
        bind.path(),
        None::<&str>,
        nix::mount::MsFlags::MS_BIND,
        None::<&str>,
    )
    .unwrap();
    let t2 = hold(&[], "", bind.path().join("a").to_str().unwrap());
    let v = run(&["who-has", "--json", a.to_str().unwrap()]).json();
    let _ = nix::mount::umount2(bind.path(), nix::mount::MntFlags::MNT_DETACH);
    let pids: Vec<u64> = v["holders"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["pid"].as_u64())
        .collect();
    assert!(pids.contains(&u64::from(t.pid())), "{v:#}");
    assert!(pids.contains(&u64::from(t2.pid())), "{v:#}");
}

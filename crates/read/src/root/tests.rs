//! Tests of the proc tree reader.
use super::io::procscope_pid;
use super::*;
use std::fs;

#[test]
fn pid_names() {
    assert_eq!(procscope_pid(b"123"), Some(123));
    assert_eq!(procscope_pid(b"self"), None);
    assert_eq!(procscope_pid(b"0"), None);
    assert_eq!(procscope_pid(b"99999999999"), None);
    assert_eq!(&itoa_buf(4194304)[..8], b"4194304\0");
    assert_eq!(&itoa_buf(-1)[..3], b"-1\0");
}

#[test]
fn fixture_tree() {
    let t = tempfile::tempdir().unwrap();
    fs::create_dir_all(t.path().join("42/task/42")).unwrap();
    fs::create_dir_all(t.path().join("42/task/43")).unwrap();
    fs::create_dir_all(t.path().join("7")).unwrap();
    fs::create_dir_all(t.path().join("sys")).unwrap();
    fs::write(t.path().join("42/stat"), b"42 (x) S 1").unwrap();
    fs::write(t.path().join("42/cmdline"), vec![b'a'; 10_000]).unwrap();
    let root = ProcRoot::open(t.path()).unwrap();
    assert_eq!(root.pids().unwrap(), vec![7, 42]);
    // A fixture is not live: its PIDs are never handed to syscalls.
    assert!(!root.is_live());
    assert!(ProcRoot::open("/proc").unwrap().is_live());
    // A tree is no mount: it hides nothing, whatever the host's /proc.
    fs::create_dir_all(t.path().join("self")).unwrap();
    fs::write(
        t.path().join("self/mountinfo"),
        format!(
            "1 0 0:1 / {} rw - proc proc rw,hidepid=invisible\n",
            t.path().display()
        ),
    )
    .unwrap();
    assert_eq!(root.hiding(), None);
    let d = root.process(42).unwrap();
    assert!(!d.is_live());
    assert!(matches!(
        d.read_memory(0x1000, &mut [0u8; 8]),
        Err(Failure::Unsupported { .. })
    ));
    assert!(matches!(d.fd_stat(0), Err(Failure::Unsupported { .. })));
    let p = root.process(42).unwrap();
    let mut buf = Vec::new();
    let r = p.read(c"stat", &mut buf, 1024).unwrap();
    assert_eq!((r.len, r.truncated), (10, false));
    assert_eq!(buf, b"42 (x) S 1");
    let r = p.read(c"cmdline", &mut buf, 5000).unwrap();
    assert_eq!((r.len, r.truncated), (5000, true));
    let r = p.read(c"cmdline", &mut buf, 10_000).unwrap();
    assert_eq!((r.len, r.truncated), (10_000, false));
    assert_eq!(p.read(c"environ", &mut buf, 10), Err(Failure::Gone));
    assert_eq!(p.tids().unwrap(), vec![42, 43]);
    assert_eq!(root.process(9).err(), Some(Failure::Gone));
    assert_eq!(root.process(7).unwrap().tids().err(), Some(Failure::Gone));
}

#[test]
fn live_self() {
    let root = ProcRoot::open("/proc").unwrap();
    let me = root.process(root.own_pid()).unwrap();
    let mut buf = Vec::new();
    me.read(c"stat", &mut buf, 4096).unwrap();
    assert!(buf.starts_with(format!("{} (", root.own_pid()).as_bytes()));
    assert!(!me.readlink(c"exe").unwrap().is_empty());
    assert!(me.tids().unwrap().contains(&root.own_pid()));
    assert!(is_memory_lock_file(b"task/3/environ"));
    assert!(!is_memory_lock_file(b"stat"));
}

/// Multi-record seq files return at most a page per read() and stop
/// early before a record that does not fit: reading must go on to EOF.
/// (This was a real bug: `maps`, `smaps` and `net/*` were cut after
/// their first ~4 KB.)
#[test]
fn multi_record_files_are_read_to_the_end() {
    let root = ProcRoot::open("/proc").unwrap();
    let me = root.process(root.own_pid()).unwrap();
    // Make sure smaps is well over a page.
    let keep: Vec<Vec<u8>> = (0..64).map(|i| vec![i as u8; 1 << 16]).collect();
    let mut buf = Vec::new();
    me.read(c"smaps", &mut buf, 64 << 20).unwrap();
    let direct = fs::read(format!("/proc/{}/smaps", root.own_pid())).unwrap();
    assert!(
        direct.len() > 16 * 1024,
        "smaps is only {} bytes",
        direct.len()
    );
    // Both reads list about the same mappings (threads of the test
    // runner may map or unmap between the two reads).
    let count = |b: &[u8]| {
        b.split(|&c| c == b'\n')
            .filter(|l| l.starts_with(b"Size:"))
            .count()
    };
    assert!(buf.len() > 16 * 1024, "read only {} bytes", buf.len());
    assert!(
        count(&buf) + 4 >= count(&direct),
        "{} vs {}",
        count(&buf),
        count(&direct)
    );
    assert!(buf.ends_with(b"\n"));
    drop(keep);
    assert!(is_single_record_file(b"task/3/fdinfo/7"));
    assert!(is_single_record_file(b"stat"));
    assert!(!is_single_record_file(b"maps"));
    assert!(!is_single_record_file(b"net/tcp"));
    assert!(!is_single_record_file(b"mountinfo"));
}

#[test]
fn memory_is_read_through_the_mem_file() {
    let value: [u8; 8] = *b"procscop";
    let addr = std::ptr::addr_of!(value) as u64;
    let root = ProcRoot::open("/proc").unwrap();
    let me = root.process(root.own_pid()).unwrap();
    let mut got = [0u8; 8];
    assert_eq!(me.read_memory(addr, &mut got).unwrap(), 8);
    assert_eq!(&got, b"procscop");
    // An unmapped address is an error, not a panic or a short read.
    assert!(me.read_memory(8, &mut got).is_err());
}

/// In a tree, no symlink on the way is followed: not to the live
/// /proc, not anywhere.
#[test]
fn a_tree_never_follows_a_symlinked_directory() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("7");
    std::fs::create_dir(&d).unwrap();
    std::fs::write(
        d.join("stat"),
        "7 (x) S 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0\n",
    )
    .unwrap();
    std::os::unix::fs::symlink("/proc/1/task", d.join("task")).unwrap();
    std::os::unix::fs::symlink("/proc/self/fd", d.join("fd")).unwrap();
    std::os::unix::fs::symlink("/proc/1", d.join("net")).unwrap();
    std::os::unix::fs::symlink("/proc/1", t.path().join("8")).unwrap();
    let root = ProcRoot::open(t.path()).unwrap();
    let p = root.process(7).unwrap();
    assert!(p.tids().is_err(), "{:?}", p.tids());
    assert!(p.task(1).is_err());
    assert!(p.fds().is_err());
    assert!(p.fd_links(|_, _| {}).is_err());
    let mut b = Vec::new();
    assert!(p.read(c"net/tcp", &mut b, 1 << 20).is_err());
    assert!(p.read(c"stat", &mut b, 1 << 20).is_ok());
    assert!(root.process(8).is_err(), "a symlinked PID directory");
    std::os::unix::fs::symlink("/proc/self/ns", d.join("ns")).unwrap();
    assert!(
        p.readlink(c"ns/net").is_err(),
        "{:?}",
        p.readlink(c"ns/net")
    );
    std::fs::create_dir(d.join("attr")).unwrap();
    std::os::unix::fs::symlink("target", d.join("attr/x")).unwrap();
    assert_eq!(p.readlink(c"attr/x"), Ok(b"target".to_vec()));
}

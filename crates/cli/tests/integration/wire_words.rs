//! The JSON of `hung` and `who-has` read back as a consumer would: into
//! the wire types, unknown fields denied, every value checked. Names and
//! paths with terminal escapes and invalid UTF-8 come back as the exact
//! bytes, never as terminal-escaped text.

use crate::golden::{Task, process, tree};
use crate::support::*;
use procscope_model::bytes::Bytes;
use procscope_render::wire::{hung, whohas};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// The document's body, after checking the envelope.
fn body<T: serde::de::DeserializeOwned>(r: &Run, kind: &str) -> T {
    let mut v = r.json();
    let m = v.as_object_mut().unwrap();
    assert_eq!(
        m.remove("procscope"),
        Some(serde_json::json!(procscope_render::json::VERSION))
    );
    assert_eq!(m.remove("kind"), Some(serde_json::json!(kind)));
    serde_json::from_value(v).unwrap_or_else(|e| panic!("{e}: {}", r.out()))
}

/// A process whose name holds ESC, in D reading a deleted FUSE file whose
/// name holds an OSC sequence, a newline and an invalid byte.
fn hostile(r: &Path) {
    process(
        r,
        21,
        1,
        "evil\x1b[31m",
        &[Task {
            tid: 21,
            name: "evil\x1b[31m",
            state: 'D',
            syscall: "0 0x3 0x7f00 0x1000 0x0 0x0 0x0 0x7ffd 0x7f00",
            wchan: "request_wait_answer",
            stack: &["request_wait_answer+0x1/0x2", "fuse_simple_request+0x3/0x4"],
        }],
        &[],
    );
    let link = std::ffi::OsStr::from_bytes(b"/golden/fuse/\x1b]0;pwned\x07\n\xff (deleted)");
    std::os::unix::fs::symlink(link, r.join("21/fd/3")).unwrap();
    std::fs::write(
        r.join("21/fdinfo/3"),
        "pos:\t0\nflags:\t0100000\nmnt_id:\t50\nino:\t2\n",
    )
    .unwrap();
}

#[test]
fn hung_json_reads_back_into_its_wire_type() {
    let t = tree();
    hostile(t.path());
    let root = t.path().to_str().unwrap();
    let r = run(&[
        "--proc-root",
        root,
        "hung",
        "--json",
        "--window",
        "100ms",
        "--samples",
        "2",
    ]);
    assert_eq!(r.status, 1, "{}", r.stderr);
    let h: hung::Hung = body(&r, "hung");
    assert_eq!(
        (
            h.window_ms,
            h.samples,
            h.samples_taken,
            h.candidates_at_first_sample,
            h.stuck
        ),
        (100, 2, 2, 5, 5)
    );
    let counts: Vec<(usize, &str, hung::Cause)> = h
        .groups
        .iter()
        .map(|g| (g.count, g.syscall.as_str(), g.cause_kind))
        .collect();
    assert_eq!(
        counts,
        [
            (2, "read", hung::Cause::Fuse),
            (1, "vfork", hung::Cause::Vfork),
            (1, "flock", hung::Cause::FileLock),
            (1, "read", hung::Cause::Fuse),
        ]
    );
    // The hostile reader: its file's path and its names are the bytes.
    let evil = &h.groups[3];
    assert_eq!(
        evil.tasks,
        [hung::Task {
            pid: 21,
            tid: 21,
            process: Bytes(b"evil\x1b[31m".to_vec()),
            comm: Bytes(b"evil\x1b[31m".to_vec()),
        }]
    );
    assert_eq!(
        evil.files,
        [hung::File {
            what: Bytes(b"/golden/fuse/\x1b]0;pwned\x07\n\xff".to_vec()),
            mount_point: Some(Bytes(b"/golden/fuse".to_vec())),
            fs_type: Some(Bytes(b"fuse.sshfs".to_vec())),
            lock_holders: vec![],
        }]
    );
    assert_eq!(
        evil.cause,
        "the FUSE filesystem at /golden/fuse (fuse.sshfs): its daemon is not answering"
    );
    // The lock: its holder by PID and name.
    let lock = &h.groups[2];
    assert_eq!(
        lock.files[0].lock_holders,
        [hung::LockHolder {
            pid: 9,
            comm: Some(Bytes(b"writer".to_vec())),
        }]
    );
    assert_eq!(
        lock.cause,
        "a file lock on /golden/lock.file held by 9 (writer)"
    );
    assert_eq!(lock.state.as_deref(), Some("D"));
    assert_eq!(
        lock.stack,
        Some(vec![
            Bytes(b"locks_lock_inode_wait".to_vec()),
            Bytes(b"__x64_sys_flock".to_vec())
        ])
    );
    // Nothing in the document is a terminal escape written out as text.
    let out = r.out();
    assert!(!out.contains("\\x1b") && !out.contains("\\e"), "{out}");
    assert!(out.contains(r#""evil\u001b[31m""#), "{out}");
}

#[test]
fn who_has_json_reads_back_into_its_wire_type() {
    let t = tree();
    hostile(t.path());
    let root = t.path().to_str().unwrap();
    let r = run(&["--proc-root", root, "who-has", "--json", "pipe:[100]"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let w: whohas::WhoHas = body(&r, "who-has");
    let holder = |pid, comm: &[u8], fd, mode: &str| whohas::Holder {
        pid,
        comm: Bytes(comm.to_vec()),
        user: Some(Bytes(b"root".to_vec())),
        uid: Some(0),
        what: whohas::Use::Fd,
        fd: Some(fd),
        mode: Some(mode.to_string()),
        link: Bytes(b"pipe:[100]".to_vec()),
        size: None,
    };
    assert_eq!(
        w,
        whohas::WhoHas {
            holders: vec![holder(7, b"victim", 0, "r"), holder(9, b"writer", 1, "w")],
            unreadable: vec![],
        }
    );
    // A file whose path holds an OSC sequence, a newline and an invalid
    // byte, held by a process whose name holds ESC: bytes (base64 when
    // not UTF-8).
    let r = run(&["--proc-root", root, "who-has", "--json", "--deleted"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let w: whohas::WhoHas = body(&r, "who-has");
    let links: Vec<(i32, Bytes, Bytes)> = w
        .holders
        .iter()
        .map(|h| (h.pid, h.comm.clone(), h.link.clone()))
        .collect();
    assert_eq!(
        links,
        [
            (
                7,
                Bytes(b"victim".to_vec()),
                Bytes(b"/golden/gone.dat (deleted)".to_vec())
            ),
            (
                21,
                Bytes(b"evil\x1b[31m".to_vec()),
                Bytes(b"/golden/fuse/\x1b]0;pwned\x07\n\xff (deleted)".to_vec())
            ),
        ]
    );
    assert!(r.out().contains(r#""base64""#), "{}", r.out());
    // Text: the same two rows, escaped.
    let r = run(&["--proc-root", root, "who-has", "--deleted"]);
    assert_terminal_safe(&r.out());
    assert_eq!(r.out().lines().count(), 3, "{}", r.out());
}

//! The JSON documents from the consumer's side: the real commands' output
//! deserialized into `procscope_render::wire` (unknown fields denied), and
//! serialized back to the same JSON (nothing the types do not hold). The
//! decoded names beside raw numbers are asserted exactly on known fds.

use crate::support::*;
use procscope_render::wire::common::{Bytes, OrError};
use procscope_render::wire::{cmdline, env, fds, ps, repro, show, stack, why};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// `out` as wire type `T`; and `T` written back is the same JSON.
fn typed<T: DeserializeOwned + Serialize>(what: &str, out: &[u8]) -> T {
    let text = String::from_utf8_lossy(out);
    let doc: T = serde_json::from_slice(out)
        .unwrap_or_else(|e| panic!("{what}: not its wire type ({e}): {text}"));
    let again = serde_json::to_value(&doc).unwrap();
    let orig: serde_json::Value = serde_json::from_slice(out).unwrap();
    assert_eq!(
        again, orig,
        "{what}: the wire type dropped or changed a member"
    );
    doc
}

/// Runs procscope and reads its document as `T` (exit status 2 writes
/// one too, when nothing asked for could be read).
fn doc<T: DeserializeOwned + Serialize>(args: &[&str]) -> T {
    doc_status(args, &[0, 1, 2])
}

/// [`doc`], with the exit status one of `want`.
fn doc_status<T: DeserializeOwned + Serialize>(args: &[&str], want: &[i32]) -> T {
    let r = run(args);
    assert!(
        want.contains(&r.status),
        "{args:?}: status {}: {}",
        r.status,
        r.stderr
    );
    typed(&args.join(" "), &r.stdout)
}

fn text(b: &Bytes) -> &str {
    match b {
        Bytes::Text(s) => s,
        Bytes::Base64(_) => panic!("not UTF-8: {b:?}"),
    }
}

fn the_process(d: &fds::Document) -> &fds::ProcessFds {
    match d.processes.as_slice() {
        [fds::Process::Read(p)] => p,
        other => panic!("one readable process expected: {other:?}"),
    }
}

fn file_named<'a>(p: &'a fds::ProcessFds, suffix: &str) -> &'a fds::Fd {
    p.fds
        .iter()
        .find(|f| match &f.detail {
            fds::Detail::File { path, .. } => text(path).ends_with(suffix),
            _ => false,
        })
        .unwrap_or_else(|| panic!("no fd on {suffix}"))
}

#[test]
fn fds_json_names_flags_masks_clocks_and_signals() {
    let dir = tempfile::tempdir().unwrap();
    let t = start_kit(&["fdzoo", dir.path().to_str().unwrap()]);
    let d: fds::Document = doc(&["fds", "--json", &t.pid_s()]);
    assert_eq!((d.procscope, d.kind.as_str()), (2, "fds"));
    let p = the_process(&d);
    assert_eq!(p.pid, t.pid() as i32);

    // open(O_WRONLY|O_APPEND|O_CREAT): the kernel keeps no O_CREAT and
    // adds O_LARGEFILE on 64-bit.
    let append = file_named(p, "/append.log");
    assert_eq!(append.flags, Some(0o102001));
    assert_eq!(
        append.flag_names.as_deref(),
        Some(&["O_WRONLY", "O_APPEND", "O_LARGEFILE"].map(String::from)[..])
    );
    let flock = file_named(p, "/flock.lck");
    assert_eq!(
        flock.flag_names.as_deref(),
        Some(&["O_RDWR", "O_LARGEFILE"].map(String::from)[..])
    );

    let only = |ty: fn(&fds::Detail) -> bool| -> Vec<&fds::Detail> {
        p.fds.iter().map(|f| &f.detail).filter(|d| ty(d)).collect()
    };
    // EPOLLIN on the eventfd, EPOLLIN|EPOLLET on the pipe; the kernel adds
    // EPOLLERR|EPOLLHUP to every watch.
    let [fds::Detail::Epoll { watches }] = only(|d| matches!(d, fds::Detail::Epoll { .. }))[..]
    else {
        panic!("one epoll set expected");
    };
    let mut got: Vec<(String, u64, Vec<String>)> = watches
        .iter()
        .map(|(_, ev, what, names)| {
            let what = text(what.as_ref().unwrap());
            let what = if what.starts_with("pipe:") {
                "pipe"
            } else {
                what
            };
            (what.to_string(), *ev, names.clone())
        })
        .collect();
    got.sort();
    let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        got,
        [
            (
                "anon_inode:[eventfd]".to_string(),
                0x19,
                names(&["EPOLLIN", "EPOLLERR", "EPOLLHUP"])
            ),
            (
                "pipe".to_string(),
                0x8000_0019,
                names(&["EPOLLIN", "EPOLLERR", "EPOLLHUP", "EPOLLET"])
            ),
        ]
    );

    let [
        fds::Detail::Timerfd {
            clockid,
            clock,
            interval_ns,
            ..
        },
    ] = only(|d| matches!(d, fds::Detail::Timerfd { .. }))[..]
    else {
        panic!("one timerfd expected");
    };
    assert_eq!((*clockid, clock.as_str()), (1, "CLOCK_MONOTONIC"));
    assert_eq!(*interval_ns, 5_000_000_000);

    let [fds::Detail::Signalfd { sigmask, signals }] =
        only(|d| matches!(d, fds::Detail::Signalfd { .. }))[..]
    else {
        panic!("one signalfd expected");
    };
    assert_eq!(*sigmask, (1 << (10 - 1)) | (1 << (15 - 1)));
    assert_eq!(signals, &names(&["SIGUSR1", "SIGTERM"]));

    let [fds::Detail::Inotify { watches }] = only(|d| matches!(d, fds::Detail::Inotify { .. }))[..]
    else {
        panic!("one inotify instance expected");
    };
    let [w] = &watches[..] else {
        panic!("one inotify watch expected")
    };
    assert_eq!(w.mask, 0x300);
    assert_eq!(w.mask_names, names(&["IN_CREATE", "IN_DELETE"]));
    assert!(
        matches!(&w.path, Some(OrError::Value(b)) if text(b).ends_with("/watched dir")),
        "{w:?}"
    );

    let [
        fds::Detail::Fanotify {
            watches,
            marks,
            init_flags,
            init_flag_names,
            event_flag_names,
            ..
        },
    ] = only(|d| matches!(d, fds::Detail::Fanotify { .. }))[..]
    else {
        panic!("one fanotify group expected");
    };
    assert_eq!(*init_flags, Some(0));
    assert_eq!(
        init_flag_names.as_deref(),
        Some(&names(&["FAN_CLASS_NOTIF"])[..])
    );
    assert_eq!(
        event_flag_names.as_deref(),
        Some(&names(&["O_RDONLY", "O_LARGEFILE"])[..])
    );
    let inode: Vec<_> = watches.iter().map(|w| w.mask_names.clone()).collect();
    assert_eq!(inode, [names(&["FAN_CLOSE_WRITE"])]);
    let mut by_kind: Vec<(&str, &[String], &[String])> = marks
        .iter()
        .map(|m| {
            (
                m.kind.as_str(),
                &m.mask_names[..],
                &m.ignored_mask_names[..],
            )
        })
        .collect();
    by_kind.sort();
    assert_eq!(
        by_kind,
        [
            ("filesystem", &names(&["FAN_MODIFY"])[..], &[][..]),
            ("mount", &names(&["FAN_OPEN"])[..], &[][..]),
        ]
    );
}

#[test]
fn every_document_of_a_live_process_is_its_wire_type() {
    let dir = tempfile::tempdir().unwrap();
    let zoo = start_kit(&["fdzoo", dir.path().to_str().unwrap()]);
    let z = zoo.pid_s();
    let sig = start_kit(&["signals"]);
    let s = sig.pid_s();

    let p: ps::Document = doc(&["ps", "--json", "-p", &format!("{z},{s}")]);
    assert_eq!(
        p.processes.iter().map(|r| r.pid).collect::<Vec<_>>(),
        [zoo.pid() as i32, sig.pid() as i32]
    );
    assert_eq!(p.processes[0].tty, Some(None), "no controlling terminal");
    let _: ps::Document = doc(&["ps", "--json", "--threads", "-p", &s]);
    let c: cmdline::Document = doc(&["cmdline", "--json", &z]);
    assert_eq!(c.processes[0].shape.as_deref(), Some("argv"));
    let e: env::Document = doc(&["env", "--json", &z]);
    assert!(matches!(e.processes[0].environ, OrError::Value(_)));
    let r: repro::Document = doc(&["repro", "--json", &z]);
    assert!(matches!(r.processes[0], repro::Process::Script(_)));
    let _: fds::Document = doc(&["fds", "--json", "--peers", "none", &z]);
    let _: stack::Document = doc(&["stack", "--json", &z]);
    let _: why::Document = doc(&["why", "--json", &z]);

    let d: show::Document = doc(&["show", "--json", "--all", &s]);
    let one = &d.processes[0];
    let id = one.identity.as_ref().unwrap();
    assert_eq!(id.tty, OrError::Value(None));
    // The text decodes the signal sets by name; so does the JSON.
    let sets = one.signals.as_ref().unwrap().process.ok().unwrap();
    assert_eq!(sets.pending, ["SIGRTMIN+1"]);
    assert_eq!(sets.blocked, ["SIGUSR2", "SIGRTMIN+1"]);
    for (cmd, kind) in [
        ("limits", "limits"),
        ("maps", "maps"),
        ("caps", "caps"),
        ("signals", "signals"),
        ("ns", "ns"),
        ("cgroup", "cgroup"),
        ("mounts", "mounts"),
    ] {
        let d: show::Document = doc(&[cmd, "--json", &s]);
        assert_eq!(d.kind, kind);
    }
    let caps: show::Document = doc(&["caps", "--json", &s]);
    let eff = caps.processes[0].security.as_ref().unwrap();
    // Root's effective set, by name, in capability order.
    assert_eq!(
        eff.effective
            .ok()
            .unwrap()
            .names
            .first()
            .map(String::as_str),
        Some("cap_chown")
    );
}

#[test]
fn calls_and_waits_are_their_wire_types() {
    let waits = start_kit(&["waits"]);
    let st: stack::Document = doc(&["stack", "--json", "--no-group", &waits.pid_s()]);
    let polled: Vec<&stack::Polled> = st.processes[0]
        .groups
        .iter()
        .filter_map(|g| match &g.syscall {
            OrError::Value(stack::Syscall::In(c)) if c.name.as_deref() == Some("poll") => {
                c.memory.as_ref()?.polled.as_ref()
            }
            _ => None,
        })
        .flatten()
        .collect();
    // Blocked in poll: asleep, by name as the text says.
    let poll = st.processes[0]
        .groups
        .iter()
        .find(|g| g.names.iter().any(|n| n == &Bytes::Text("t-poll".into())))
        .unwrap();
    assert_eq!(
        (
            poll.state.ok().map(String::as_str),
            poll.state_meaning.as_deref()
        ),
        (Some("S"), Some("sleeping"))
    );
    assert_eq!(
        polled
            .iter()
            .map(|p| (p.fd, p.event_names.as_str()))
            .collect::<Vec<_>>(),
        [(40, "POLLIN"), (41, "POLLIN|POLLPRI")]
    );
    let mp = start_kit(&["mutex-pipe"]);
    let w: why::Document = doc(&["why", "--json", &mp.pid_s()]);
    assert_eq!(w.processes[0].target, mp.pid() as i32);
}

#[test]
fn fixture_documents_are_their_wire_types() {
    let t = crate::fixtures::fixture();
    let root = t.path().to_str().unwrap();
    let p: ps::Document = doc(&["--proc-root", root, "ps", "--json"]);
    // PID 5's stat is garbage: its row holds the error, no stat members.
    let five = p.processes.iter().find(|r| r.pid == 5).unwrap();
    assert_eq!(
        five.stat.as_ref().map(|e| e.error.reason.as_str()),
        Some("malformed")
    );
    assert_eq!((five.comm.as_ref(), five.state.as_ref()), (None, None));
    // A comm that breaks naive parsing, and an empty last argument.
    let four = p.processes.iter().find(|r| r.pid == 4).unwrap();
    assert_eq!(four.comm, Some(Bytes::Text(") S 1 (x".into())));
    assert_eq!(
        four.cmdline,
        Some(OrError::Value(vec![
            Bytes::Text("sh".into()),
            Bytes::Text("-c".into()),
            Bytes::Text(String::new())
        ]))
    );
    for pid in ["1", "2", "3", "4", "8"] {
        let c: cmdline::Document = doc(&["--proc-root", root, "cmdline", "--json", pid]);
        assert_eq!(c.processes.len(), 1);
    }
    // No environ in the fixture: read as gone, so an error object.
    let e: env::Document = doc_status(&["--proc-root", root, "env", "--json", "1"], &[2]);
    assert_eq!(
        e.processes[0].environ.err().map(|e| e.reason.as_str()),
        Some("gone")
    );
    let r: repro::Document = doc_status(&["--proc-root", root, "repro", "--json", "1"], &[2]);
    assert!(matches!(&r.processes[0], repro::Process::NoScript(n) if n.pid == 1));
    let _: show::Document = doc(&["--proc-root", root, "show", "--json", "8"]);
}

#[test]
fn names_that_are_not_utf8_are_base64_and_decode_exactly() {
    // comm "a\xffb" (hex), as prctl(PR_SET_NAME) sets it.
    let t = start_kit(&["name", "61ff62"]);
    let p: ps::Document = doc(&["ps", "--json", "-p", &t.pid_s()]);
    let comm = p.processes[0].comm.as_ref().unwrap();
    assert!(matches!(comm, Bytes::Base64(_)), "{comm:?}");
    assert_eq!(comm.decode().unwrap(), b"a\xffb");
}

#[test]
fn unknown_members_are_refused() {
    let doc =
        br#"{"procscope":2,"kind":"cmdline","processes":[{"pid":1,"exe":"/x","surprise":1}]}"#;
    assert!(serde_json::from_slice::<cmdline::Document>(doc).is_err());
    let ok = br#"{"procscope":2,"kind":"cmdline","processes":[{"pid":1,"exe":"/x"}]}"#;
    let d: cmdline::Document = typed("cmdline", ok);
    assert_eq!(d.processes[0].exe, OrError::Value(Bytes::Text("/x".into())));
}

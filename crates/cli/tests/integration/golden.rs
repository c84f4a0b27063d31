//! Golden text output of `fds`, `stack`, `why`, `hung` and `who-has` on a
//! fixture tree: processes joined by a pipe, a file lock held by another,
//! a deleted file, a listening socket, tasks stuck in D on a FUSE mount and
//! a vfork parent. The exact bytes (stdout and stderr) are snapshots, so a
//! change in collection or in words shows up here.

use crate::support::*;
use std::fs;
use std::path::Path;

fn stat_line(pid: i32, comm: &str, state: char, ppid: i32, threads: i64) -> String {
    format!(
        "{pid} ({comm}) {state} {ppid} {pid} {pid} 0 -1 4194560 0 0 0 0 10 5 0 0 20 0 {threads} 0 500 10485760 100 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
    )
}

/// One thread: its state, system call line, wchan and kernel frames.
pub struct Task<'a> {
    pub tid: i32,
    pub name: &'a str,
    pub state: char,
    pub syscall: &'a str,
    pub wchan: &'a str,
    pub stack: &'a [&'a str],
}

/// One fd: its link and its fdinfo.
pub struct Fd<'a> {
    pub fd: i32,
    pub link: &'a str,
    pub info: &'a str,
}

const MOUNTS: &[u8] = b"1 0 8:1 / / rw - ext4 /dev/sda1 rw\n50 1 0:50 / /golden/fuse rw,nosuid - fuse.sshfs host: rw\n";

pub fn process(r: &Path, pid: i32, ppid: i32, comm: &str, tasks: &[Task<'_>], fds: &[Fd<'_>]) {
    let w = |p: &str, b: &[u8]| {
        let p = r.join(p);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, b).unwrap();
    };
    let d = format!("{pid}");
    let state = tasks.first().map_or('S', |t| t.state);
    let n = tasks.len() as i64;
    w(
        &format!("{d}/stat"),
        stat_line(pid, comm, state, ppid, n).as_bytes(),
    );
    w(
        &format!("{d}/status"),
        format!("Name:\t{comm}\nState:\t{state}\nTgid:\t{pid}\nPPid:\t{ppid}\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nThreads:\t{n}\n").as_bytes(),
    );
    w(&format!("{d}/comm"), format!("{comm}\n").as_bytes());
    w(&format!("{d}/cmdline"), format!("/bin/{comm}\0").as_bytes());
    w(&format!("{d}/limits"), b"Limit                     Soft Limit           Hard Limit           Units     \nMax open files            1024                 4096                 files     \n");
    w(&format!("{d}/mountinfo"), MOUNTS);
    // An ELF header for x86_64, 64-bit (system call names by number).
    let mut elf = vec![0u8; 64];
    elf[..7].copy_from_slice(b"\x7fELF\x02\x01\x01");
    elf[18] = 62;
    w(&format!("{d}/exe"), &elf);
    for (i, t) in tasks.iter().enumerate() {
        let td = format!("{d}/task/{}", t.tid);
        w(
            &format!("{td}/stat"),
            stat_line(t.tid, t.name, t.state, ppid, n).as_bytes(),
        );
        w(&format!("{td}/comm"), format!("{}\n", t.name).as_bytes());
        w(
            &format!("{td}/syscall"),
            format!("{}\n", t.syscall).as_bytes(),
        );
        w(&format!("{td}/wchan"), t.wchan.as_bytes());
        let stack: String = t.stack.iter().map(|f| format!("[<0>] {f}\n")).collect();
        w(&format!("{td}/stack"), stack.as_bytes());
        if i == 0 {
            w(
                &format!("{d}/syscall"),
                format!("{}\n", t.syscall).as_bytes(),
            );
            w(&format!("{d}/wchan"), t.wchan.as_bytes());
            w(&format!("{d}/stack"), stack.as_bytes());
        }
    }
    fs::create_dir_all(r.join(format!("{d}/fd"))).unwrap();
    fs::create_dir_all(r.join(format!("{d}/fdinfo"))).unwrap();
    for f in fds {
        std::os::unix::fs::symlink(f.link, r.join(format!("{d}/fd/{}", f.fd))).unwrap();
        w(&format!("{d}/fdinfo/{}", f.fd), f.info.as_bytes());
    }
}

/// The tree: 7 (victim) reads a pipe that 9 (writer) writes, and waits
/// for a lock 9 holds; 11 (fusereader) has two threads in D on a FUSE
/// file; 13 (vforker) is a vfork parent in D; 15 (dlocker) is in D
/// waiting for the lock 9 holds.
pub fn tree() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    root_only_users(r);
    let w = |p: &str, b: &[u8]| fs::write(r.join(p), b).unwrap();
    w("stat", b"cpu  1 2 3 4 5 6 7 0 0 0\nbtime 1700000000\nprocesses 9\nprocs_running 1\nprocs_blocked 3\n");
    w("uptime", b"1000.00 1900.00\n");
    w(
        "locks",
        b"1: FLOCK  ADVISORY  WRITE 9 08:01:42 0 EOF\n1: -> FLOCK  ADVISORY  WRITE 7 08:01:42 0 EOF\n1: -> FLOCK  ADVISORY  WRITE 15 08:01:42 0 EOF\n",
    );
    fs::create_dir_all(r.join("net")).unwrap();
    w(
        "net/unix",
        b"Num       RefCount Protocol Flags    Type St Inode Path\n",
    );
    w("net/tcp", b"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 300 1 0000000000000000 100 0 0 10 0\n");
    w("net/tcp6", b"  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n");
    w("net/udp", b"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n");
    w("net/udp6", b"  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n");
    process(
        r,
        1,
        0,
        "init",
        &[Task {
            tid: 1,
            name: "init",
            state: 'S',
            syscall: "232 0x4 0x7ffd 0x8 0xffffffffffffffff 0x0 0x0 0x7ffd 0x7f00",
            wchan: "ep_poll",
            stack: &["ep_poll+0x1/0x2", "do_epoll_wait+0x3/0x4"],
        }],
        &[],
    );
    process(
        r,
        7,
        1,
        "victim",
        &[
            Task {
                tid: 7,
                name: "victim",
                state: 'S',
                syscall: "0 0x0 0x7f00 0x1000 0x0 0x0 0x0 0x7ffd 0x7f00",
                wchan: "pipe_read",
                stack: &["pipe_read+0x10/0x20", "vfs_read+0x30/0x40"],
            },
            Task {
                tid: 8,
                name: "locker",
                state: 'S',
                syscall: "73 0x5 0x2 0x0 0x0 0x0 0x0 0x7ffd 0x7f00",
                wchan: "locks_lock_inode_wait",
                stack: &["locks_lock_inode_wait+0x1/0x2", "__x64_sys_flock+0x3/0x4"],
            },
        ],
        &[
            Fd {
                fd: 0,
                link: "pipe:[100]",
                info: "pos:\t0\nflags:\t00\nmnt_id:\t15\nino:\t100\n",
            },
            Fd {
                fd: 1,
                link: "pipe:[200]",
                info: "pos:\t0\nflags:\t01\nmnt_id:\t15\nino:\t200\n",
            },
            Fd {
                fd: 3,
                link: "/golden/victim.log",
                info: "pos:\t123\nflags:\t02102001\nmnt_id:\t1\nino:\t41\n",
            },
            Fd {
                fd: 4,
                link: "/golden/gone.dat (deleted)",
                info: "pos:\t0\nflags:\t0100002\nmnt_id:\t1\nino:\t43\n",
            },
            Fd {
                fd: 5,
                link: "/golden/lock.file",
                info: "pos:\t0\nflags:\t02\nmnt_id:\t1\nino:\t42\n",
            },
            Fd {
                fd: 6,
                link: "socket:[300]",
                info: "pos:\t0\nflags:\t02\nmnt_id:\t10\nino:\t300\n",
            },
            Fd {
                fd: 7,
                link: "anon_inode:[eventfd]",
                info: "pos:\t0\nflags:\t02004002\nmnt_id:\t16\nino:\t1057\neventfd-count:                5\neventfd-id: 3\n",
            },
            Fd {
                fd: 8,
                link: "anon_inode:[eventpoll]",
                info: "pos:\t0\nflags:\t02\nmnt_id:\t16\nino:\t1057\ntfd:        0 events:       19 data:                0  pos:0 ino:64 sdev:c\ntfd:        6 events:       19 data:                6  pos:0 ino:12c sdev:8\n",
            },
            Fd {
                fd: 9,
                link: "/golden/fuse/x",
                info: "pos:\t0\nflags:\t0100000\nmnt_id:\t50\nino:\t2\n",
            },
        ],
    );
    process(
        r,
        9,
        1,
        "writer",
        &[Task {
            tid: 9,
            name: "writer",
            state: 'S',
            syscall: "1 0x1 0x7f00 0x10000 0x0 0x0 0x0 0x7ffd 0x7f00",
            wchan: "pipe_write",
            stack: &["pipe_write+0x10/0x20", "vfs_write+0x30/0x40"],
        }],
        &[
            Fd {
                fd: 0,
                link: "pipe:[200]",
                info: "pos:\t0\nflags:\t00\nmnt_id:\t15\nino:\t200\n",
            },
            Fd {
                fd: 1,
                link: "pipe:[100]",
                info: "pos:\t0\nflags:\t01\nmnt_id:\t15\nino:\t100\n",
            },
            Fd {
                fd: 3,
                link: "/golden/lock.file",
                info: "pos:\t0\nflags:\t02\nmnt_id:\t1\nino:\t42\n",
            },
        ],
    );
    let fuse_stack: &[&str] = &[
        "request_wait_answer+0x1/0x2",
        "fuse_simple_request+0x3/0x4",
        "fuse_read_folio+0x5/0x6",
        "filemap_read+0x7/0x8",
    ];
    process(
        r,
        11,
        1,
        "fusereader",
        &[
            Task {
                tid: 11,
                name: "fusereader",
                state: 'D',
                syscall: "0 0x3 0x7f00 0x1000 0x0 0x0 0x0 0x7ffd 0x7f00",
                wchan: "request_wait_answer",
                stack: fuse_stack,
            },
            Task {
                tid: 12,
                name: "fr-worker",
                state: 'D',
                syscall: "0 0x3 0x7f00 0x1000 0x0 0x0 0x0 0x7ffd 0x7f00",
                wchan: "request_wait_answer",
                stack: fuse_stack,
            },
        ],
        &[Fd {
            fd: 3,
            link: "/golden/fuse/x",
            info: "pos:\t0\nflags:\t0100000\nmnt_id:\t50\nino:\t2\n",
        }],
    );
    process(
        r,
        13,
        1,
        "vforker",
        &[Task {
            tid: 13,
            name: "vforker",
            state: 'D',
            syscall: "58 0x0 0x0 0x0 0x0 0x0 0x0 0x7ffd 0x7f00",
            wchan: "wait_for_vfork_done",
            stack: &[
                "wait_for_vfork_done+0x1/0x2",
                "kernel_clone+0x3/0x4",
                "__x64_sys_vfork+0x5/0x6",
            ],
        }],
        &[Fd {
            fd: 0,
            link: "/dev/null",
            info: "pos:\t0\nflags:\t0100000\nmnt_id:\t1\nino:\t5\n",
        }],
    );
    // In D waiting for the lock 9 holds (a lock on NFS, say).
    process(
        r,
        15,
        1,
        "dlocker",
        &[Task {
            tid: 15,
            name: "dlocker",
            state: 'D',
            syscall: "73 0x3 0x2 0x0 0x0 0x0 0x0 0x7ffd 0x7f00",
            wchan: "locks_lock_inode_wait",
            stack: &["locks_lock_inode_wait+0x1/0x2", "__x64_sys_flock+0x3/0x4"],
        }],
        &[Fd {
            fd: 3,
            link: "/golden/lock.file",
            info: "pos:\t0\nflags:\t02\nmnt_id:\t1\nino:\t42\n",
        }],
    );
    t
}

/// stdout, then what was said on stderr, with the exit status: the whole
/// text a person sees.
fn seen(root: &Path, args: &[&str]) -> String {
    let mut a = vec!["--proc-root", root.to_str().unwrap(), "--timeout", "2s"];
    a.extend_from_slice(args);
    let r = run(&a);
    let err = r
        .stderr
        .replace(root.to_str().unwrap(), "<ROOT>")
        .replace(&std::process::id().to_string(), "<TESTPID>");
    format!(
        "$ procscope {}\n[exit {}]\n{}--- stderr\n{err}",
        args.join(" "),
        r.status,
        r.out()
    )
}

#[test]
fn fds_text_on_a_fixture() {
    let t = tree();
    for (name, args) in [
        ("golden_fds_victim", &["fds", "7"][..]),
        (
            "golden_fds_victim_no_peers",
            &["fds", "--peers", "none", "7"],
        ),
        (
            "golden_fds_victim_peers_all",
            &["fds", "--peers", "all", "7"],
        ),
        ("golden_fds_writer", &["fds", "9"]),
        ("golden_fds_all", &["fds", "--all"]),
    ] {
        insta::assert_snapshot!(name, seen(t.path(), args));
    }
}

#[test]
fn stack_text_on_a_fixture() {
    let t = tree();
    for (name, args) in [
        ("golden_stack_victim", &["stack", "7"][..]),
        ("golden_stack_fusereader", &["stack", "11"]),
        ("golden_stack_vforker", &["stack", "--no-group", "13"]),
        ("golden_stack_writer", &["stack", "9"]),
    ] {
        insta::assert_snapshot!(name, seen(t.path(), args));
    }
}

#[test]
fn why_text_on_a_fixture() {
    let t = tree();
    for (name, args) in [
        ("golden_why_victim", &["why", "7"][..]),
        ("golden_why_fusereader", &["why", "11"]),
        ("golden_why_vforker", &["why", "13"]),
    ] {
        insta::assert_snapshot!(name, seen(t.path(), args));
    }
}

/// `stack` and `why` with colour forced: the escape codes are part of the
/// text a terminal gets (made visible as `\e`).
#[test]
fn stack_and_why_in_colour_on_a_fixture() {
    let t = tree();
    for (name, args) in [
        (
            "golden_colour_stack_victim",
            &["--color", "always", "stack", "7"][..],
        ),
        (
            "golden_colour_stack_fusereader",
            &["--color", "always", "stack", "11"],
        ),
        (
            "golden_colour_stack_vforker",
            &["--color", "always", "stack", "--no-group", "13"],
        ),
        (
            "golden_colour_why_victim",
            &["--color", "always", "why", "7"],
        ),
        (
            "golden_colour_why_fusereader",
            &["--color", "always", "why", "11"],
        ),
        (
            "golden_colour_why_vforker",
            &["--color", "always", "why", "13"],
        ),
        (
            "golden_colour_why_dlocker",
            &["--color", "always", "why", "15"],
        ),
    ] {
        insta::assert_snapshot!(name, seen(t.path(), args).replace('\x1b', "\\e"));
    }
}

/// `hung` on the tree, the time taken (the only line that varies) left out.
fn hung_seen(root: &Path, colour: &str) -> String {
    let out = seen(
        root,
        &[
            "--color",
            colour,
            "hung",
            "--window",
            "100ms",
            "--samples",
            "2",
        ],
    );
    out.lines()
        .map(|l| match l.split_once("(in D at all ") {
            Some((head, _)) => format!("{head}(in D at all <SAMPLED>)\n"),
            None => format!("{l}\n"),
        })
        .collect::<String>()
        .replace('\x1b', "\\e")
}

#[test]
fn hung_text_on_a_fixture() {
    let t = tree();
    let out = hung_seen(t.path(), "never");
    let out = out.replacen("$ procscope --color never hung", "$ procscope hung", 1);
    insta::assert_snapshot!("golden_hung", out);
    insta::assert_snapshot!("golden_colour_hung", hung_seen(t.path(), "always"));
}

#[test]
fn who_has_text_on_a_fixture() {
    let t = tree();
    for (name, args) in [
        ("golden_whohas_pipe", &["who-has", "pipe:[100]"][..]),
        ("golden_whohas_port", &["who-has", ":8080"]),
        ("golden_whohas_deleted", &["who-has", "--deleted"]),
        (
            "golden_whohas_missing_path",
            &["who-has", "/golden/gone.dat"],
        ),
        ("golden_whohas_nobody", &["who-has", "socket:[999]"]),
    ] {
        insta::assert_snapshot!(name, seen(t.path(), args));
    }
}

/// The JSON of `fds`, `stack` and `why` on the same tree: the words moved
/// to render must give the same documents.
#[test]
fn json_of_fds_stack_and_why_on_a_fixture() {
    let t = tree();
    for (name, args) in [
        ("golden_json_fds_victim", &["fds", "--json", "7"][..]),
        ("golden_json_stack_victim", &["stack", "--json", "7"]),
        ("golden_json_why_victim", &["why", "--json", "7"]),
        ("golden_json_why_fusereader", &["why", "--json", "11"]),
    ] {
        insta::assert_snapshot!(name, seen(t.path(), args));
    }
}

/// `hung --json` and `who-has --json` on the tree (the measured time
/// zeroed).
#[test]
fn json_of_hung_and_who_has_on_a_fixture() {
    let t = tree();
    let root = t.path().to_str().unwrap();
    let mut v = run(&[
        "--proc-root",
        root,
        "hung",
        "--json",
        "--window",
        "100ms",
        "--samples",
        "2",
    ])
    .json();
    v["elapsed_ms"] = 0.into();
    insta::assert_snapshot!(
        "golden_json_hung",
        serde_json::to_string_pretty(&v).unwrap()
    );
    for (name, args) in [
        (
            "golden_json_whohas_pipe",
            &["who-has", "--json", "pipe:[100]"][..],
        ),
        (
            "golden_json_whohas_deleted",
            &["who-has", "--json", "--deleted"],
        ),
    ] {
        insta::assert_snapshot!(name, seen(t.path(), args));
    }
}

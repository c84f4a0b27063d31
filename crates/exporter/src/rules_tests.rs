use super::*;
use procscope_model::bytes::Bytes;
use procscope_model::collect::{Proc, StateCounts};

fn proc(comm: &str, exe: &str, cmdline: &[u8], cgroup: &str) -> Proc {
    Proc {
        pid: 42,
        start_ticks: 7,
        ppid: 1,
        pgrp: 42,
        tty_nr: 0,
        comm: Bytes(comm.as_bytes().to_vec()),
        state: 'S',
        kernel_thread: false,
        threads: 1,
        thread_states: StateCounts::default(),
        utime_ticks: 0,
        stime_ticks: 0,
        minflt: 0,
        majflt: 0,
        nice: 0,
        priority: 20,
        vsz_bytes: 0,
        rss_bytes: 0,
        swap_bytes: None,
        pss_bytes: None,
        uid: Some(1000),
        ctxsw_voluntary: None,
        ctxsw_involuntary: None,
        io: None,
        fds: None,
        fd_limit: None,
        exe: Some(Bytes(exe.as_bytes().to_vec())),
        cmdline: Some(Bytes(cmdline.to_vec())),
        cmdline_truncated: false,
        cgroup: Some(Bytes(cgroup.as_bytes().to_vec())),
        wchan: None,
        missing: Vec::new(),
    }
}

fn group(r: &Rules, p: &Proc, user: Option<&[u8]>) -> String {
    r.group_of(&Facts { proc: p, user })
}

const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

#[test]
fn default_groups_by_container_pod_unit_then_name() {
    let r = Rules::default();
    let docker = proc(
        "nginx",
        "/usr/sbin/nginx",
        b"nginx\0",
        &format!("/system.slice/docker-{ID}.scope"),
    );
    assert_eq!(group(&r, &docker, None), "docker:0123456789ab");
    let pod = proc(
        "app",
        "/app",
        b"app\0",
        &format!(
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234_5678.slice/cri-containerd-{ID}.scope"
        ),
    );
    assert_eq!(group(&r, &pod, None), "pod:1234-5678");
    let svc = proc(
        "sshd",
        "/usr/sbin/sshd",
        b"sshd\0",
        "/system.slice/ssh.service",
    );
    assert_eq!(group(&r, &svc, None), "ssh.service");
    // A login session's scope is not a service: its processes go by name.
    let shell = proc(
        "bash",
        "/bin/bash",
        b"bash\0",
        "/user.slice/user-1000.slice/session-3.scope",
    );
    assert_eq!(group(&r, &shell, None), "bash");
    let mut k = proc("kworker/0:1", "", b"", "/");
    k.kernel_thread = true;
    assert_eq!(group(&r, &k, None), "kernel");
}

#[test]
fn process_exporter_rules_first_match_wins() {
    let r = Rules::parse(
        r#"
process_names:
  - name: "java:{{.Matches.app}}"
    cmdline: ['-jar\s+(?P<app>[^ /]+)\.jar']
  - name: "{{.ExeBase}}-by-{{.Username}}"
    exe: [python3]
  - comm: [bash]
  - name: "svc:{{.Unit}}"
    unit: ['^ssh']
  - name: "pg"
    user: [postgres]
  - name: "ctr:{{.Container}}"
    container: true
max_groups: 10
"#,
    )
    .unwrap();
    assert_eq!(r.max_groups, 10);
    let java = proc(
        "java",
        "/usr/bin/java",
        b"java\0-Xmx1g\0-jar\0billing.jar\0",
        "/",
    );
    assert_eq!(group(&r, &java, None), "java:billing");
    let py = proc("python3", "/usr/bin/python3", b"python3\0x.py\0", "/");
    assert_eq!(group(&r, &py, Some(b"alice")), "python3-by-alice");
    // No name: the template defaults to the name.
    assert_eq!(
        group(&r, &proc("bash", "/bin/bash", b"bash\0", "/"), None),
        "bash"
    );
    assert_eq!(
        group(
            &r,
            &proc(
                "sshd",
                "/usr/sbin/sshd",
                b"sshd\0",
                "/system.slice/ssh.service"
            ),
            None
        ),
        "svc:ssh.service"
    );
    assert_eq!(
        group(
            &r,
            &proc("postgres", "/pg", b"postgres\0", "/"),
            Some(b"postgres")
        ),
        "pg"
    );
    // Anchored: postgres2 is not postgres.
    assert_eq!(
        group(&r, &proc("pgx", "/pg", b"pgx\0", "/"), Some(b"postgres2")),
        "pgx"
    );
    assert_eq!(
        group(
            &r,
            &proc("redis", "/r", b"redis\0", &format!("/docker/{ID}")),
            None
        ),
        "ctr:0123456789ab"
    );
    // No rule matches: the default grouping, never dropped.
    assert_eq!(
        group(&r, &proc("vim", "/usr/bin/vim", b"vim\0", "/"), None),
        "vim"
    );
}

/// Command lines reach a label only through a template, and then with
/// secrets masked.
#[test]
fn captures_from_command_lines_are_redacted() {
    let r = Rules::parse(
        r#"
process_names:
  - name: "{{.Matches.all}}"
    cmdline: ['^(?P<all>.*)$']
"#,
    )
    .unwrap();
    let p = proc(
        "app",
        "/app",
        b"app\0--password=hunter2\0--user\0bob\0",
        "/",
    );
    assert_eq!(
        group(&r, &p, None),
        "app --password=<redacted: 1-7 bytes> --user bob"
    );
}

#[test]
fn config_errors_name_the_rule() {
    let e = Rules::parse("process_names:\n  - name: x\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("rule 1") && e.contains("matches nothing"), "{e}");
    let e = Rules::parse("process_names:\n  - cmdline: ['(']\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("rule 1") && e.contains("cmdline"), "{e}");
    let e = Rules::parse("process_names:\n  - name: '{{.Nope}}'\n    comm: [a]\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains(".Nope"), "{e}");
    assert!(
        Rules::parse("procss_names: []\n").is_err(),
        "typos are refused"
    );
}

/// A process cannot take the names the default grouping gives itself, nor
/// merge with another by an invalid byte.
#[test]
fn process_names_cannot_pose_as_other_groups() {
    let r = Rules::default();
    let g = |comm: &[u8]| {
        let mut p = proc("x", "/x", b"x\0", "/");
        p.comm = Bytes(comm.to_vec());
        group(&r, &p, None)
    };
    assert_eq!(g(b"kernel"), "comm:kernel");
    assert_eq!(g(b"other"), "comm:other");
    assert_eq!(g(b"sshd.service"), "comm:sshd.service");
    assert_eq!(g(b"pod:x"), "comm:pod:x");
    assert_eq!(g(b"comm:x"), "comm:comm:x");
    assert_eq!(g(b"a\xffb"), "a\\xffb");
    assert_ne!(g(b"a\xffb"), g(b"a\xfeb"));
    assert_eq!(g(b"nginx"), "nginx");
}

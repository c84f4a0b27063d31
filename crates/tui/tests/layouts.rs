//! The layouts of `procscope top` on a fixture proc tree, drawn on
//! ratatui's TestBackend: the table, the tree, a narrow terminal, the
//! opened process's tabs, and a hostile name kept away from the terminal.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use procscope_model::bytes::Bytes;
use procscope_model::collect::{Collector, Want};
use procscope_read::{ProcRoot, Session};
use procscope_tui::app::{Action, App, Mode};
use procscope_tui::details::{self, Tab};
use procscope_tui::engine;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use std::fs;
use std::path::Path;
use std::sync::Arc;

fn write(p: &Path, b: &[u8]) {
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, b).unwrap();
}

/// One fixture process: stat, status, cmdline, environ, limits, cgroup,
/// fds and threads.
#[allow(clippy::too_many_arguments)]
fn process(
    root: &Path,
    pid: i32,
    ppid: i32,
    comm: &[u8],
    state: char,
    utime: u64,
    rss_kb: u64,
    cmdline: &[u8],
    cgroup: &str,
    threads: &[(i32, &str, char)],
) {
    let d = root.join(pid.to_string());
    let mut stat = format!("{pid} (").into_bytes();
    stat.extend_from_slice(comm);
    stat.extend_from_slice(
        format!(
            ") {state} {ppid} {pid} {pid} 0 -1 4194304 7 0 0 0 {utime} 10 0 0 20 0 {} 0 {} 4096000 {} 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n",
            threads.len().max(1),
            100 + pid,
            rss_kb / 4
        )
        .as_bytes(),
    );
    write(&d.join("stat"), &stat);
    let uid = if pid % 2 == 0 { 1000 } else { 0 };
    write(
        &d.join("status"),
        format!("Name:\tx\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\nVmRSS:\t{rss_kb} kB\nvoluntary_ctxt_switches:\t5\nnonvoluntary_ctxt_switches:\t1\n").as_bytes(),
    );
    write(&d.join("comm"), &[comm, b"\n"].concat());
    write(&d.join("cmdline"), cmdline);
    write(
        &d.join("environ"),
        b"HOME=/root\0PATH=/usr/bin\0DB_PASSWORD=hunter2\0",
    );
    write(&d.join("cgroup"), format!("0::{cgroup}\n").as_bytes());
    write(
        &d.join("limits"),
        b"Limit                     Soft Limit           Hard Limit           Units     \n\
Max cpu time              unlimited            unlimited            seconds   \n\
Max open files            1024                 4096                 files     \n\
Max processes             63459                63459                processes \n",
    );
    write(&d.join("wchan"), b"do_select");
    fs::create_dir_all(d.join("fd")).unwrap();
    for (fd, target) in [
        (0, "/dev/null"),
        (1, "/var/log/app.log"),
        (2, "/var/log/app.log"),
    ] {
        let _ = std::os::unix::fs::symlink(target, d.join("fd").join(fd.to_string()));
    }
    for (tid, name, st) in threads {
        let t = d.join("task").join(tid.to_string());
        write(
            &t.join("stat"),
            format!("{tid} ({name}) {st} {ppid} {pid} {pid} 0 -1 4194304 0 0 0 0 0 0 0 0 20 0 1 0 {} 0 0 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n", 100 + pid).as_bytes(),
        );
        write(&t.join("comm"), format!("{name}\n").as_bytes());
    }
}

/// A tree: init, a service with children, a container process, a stuck
/// one in D, and one whose name holds terminal escapes.
fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    write(
        &r.join("stat"),
        b"cpu  1000 0 500 10000 10 0 0 0 0 0\ncpu0 1000 0 500 10000 10 0 0 0 0 0\nctxt 5000\nbtime 1700000000\nprocesses 99\nprocs_running 1\nprocs_blocked 1\n",
    );
    write(&r.join("uptime"), b"1000.00 900.00\n");
    write(
        &r.join("meminfo"),
        b"MemTotal:       4000000 kB\nMemFree:        1000000 kB\nMemAvailable:   3000000 kB\nSwapTotal:      1000000 kB\nSwapFree:        750000 kB\n",
    );
    write(&r.join("loadavg"), b"1.50 0.75 0.25 2/120 999\n");
    fs::create_dir_all(r.join("self")).unwrap();
    process(
        r,
        1,
        0,
        b"systemd",
        'S',
        500,
        12000,
        b"/sbin/init\0",
        "/init.scope",
        &[(1, "systemd", 'S')],
    );
    process(
        r,
        200,
        1,
        b"nginx",
        'S',
        300,
        40000,
        b"nginx: master process /usr/sbin/nginx\0",
        "/system.slice/nginx.service",
        &[(200, "nginx", 'S')],
    );
    process(
        r,
        201,
        200,
        b"nginx",
        'S',
        900,
        30000,
        b"nginx: worker process\0",
        "/system.slice/nginx.service",
        &[(201, "nginx", 'S')],
    );
    process(
        r,
        202,
        200,
        b"nginx",
        'R',
        1200,
        30000,
        b"nginx: worker process\0",
        "/system.slice/nginx.service",
        &[(202, "nginx", 'R')],
    );
    process(
        r,
        300,
        1,
        b"worker",
        'S',
        50,
        80000,
        b"/app/worker\0--db\0postgres://u:secret@db/x\0",
        "/system.slice/docker-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope",
        &[
            (300, "worker", 'S'),
            (301, "worker-io", 'S'),
            (302, "worker-gc", 'S'),
        ],
    );
    // The worker's memory map and its threads' kernel stacks.
    write(
        &r.join("300/maps"),
        b"55d0c0a00000-55d0c0a21000 r-xp 00000000 08:01 1234                       /app/worker\n\
55d0c1000000-55d0c1400000 rw-p 00000000 00:00 0                          [heap]\n\
7f3a10000000-7f3a10200000 r-xp 00000000 08:01 5678                       /usr/lib/x86_64-linux-gnu/libc.so.6\n\
7ffd20000000-7ffd20021000 rw-p 00000000 00:00 0                          [stack]\n",
    );
    for tid in [300, 301, 302] {
        write(
            &r.join(format!("300/task/{tid}/stack")),
            b"[<0>] do_select+0x6b0/0x7c0\n[<0>] core_sys_select+0x1d1/0x3a0\n[<0>] do_pselect.constprop.0+0xe1/0x180\n[<0>] __x64_sys_pselect6+0x5c/0xa0\n[<0>] do_syscall_64+0x82/0x190\n[<0>] entry_SYSCALL_64_after_hwframe+0x76/0x7e\n",
        );
        write(&r.join(format!("300/task/{tid}/wchan")), b"do_select");
    }
    process(
        r,
        400,
        1,
        b"stuck",
        'D',
        10,
        5000,
        b"/usr/bin/stuck\0/mnt/fuse/file\0",
        "/user.slice/user-1000.slice/session-3.scope",
        &[(400, "stuck", 'D')],
    );
    process(
        r,
        500,
        1,
        b"evil\x1b[31m\xe2\x80\xae",
        'S',
        0,
        100,
        b"evil\x1b]52;c;AAAA\x07\0",
        "/user.slice",
        &[(500, "evil", 'S')],
    );
    dir
}

/// Two collections a second apart (the second with more CPU for the
/// workers), users named, the session's counters left out: the same
/// screen every run.
fn update(dir: &Path) -> engine::Update {
    let root = ProcRoot::open(dir).unwrap();
    let mut c = Collector::new(
        root,
        Session::default(),
        Want {
            wchan: true,
            ..Want::default()
        },
    );
    let mut a = c.collect().unwrap();
    // The second: the workers ran.
    for (pid, utime) in [(201, 950), (202, 1300)] {
        let p = dir.join(pid.to_string()).join("stat");
        let s = fs::read_to_string(&p).unwrap();
        let mut f: Vec<String> = s.split(' ').map(str::to_owned).collect();
        f[13] = utime.to_string();
        fs::write(&p, f.join(" ")).unwrap();
    }
    let mut b = c.collect().unwrap();
    for s in [&mut a, &mut b] {
        s.reads = Default::default();
        s.took_us = 0;
        s.users.clear();
        s.users.insert(0, Bytes(b"root".to_vec()));
        s.users.insert(1000, Bytes(b"alice".to_vec()));
    }
    b.boot_ms = a.boot_ms + 1000;
    b.unix_ms = a.unix_ms + 1000;
    if let Some(h) = &mut b.host {
        h.cpu.user += 60;
        h.cpu.idle += 140;
    }
    let prev = engine::update(None, Arc::new(a.clone()));
    let _ = prev;
    // The D process was in D the time before too: hung.
    engine::update(Some(&a), Arc::new(b))
}

fn screen(app: &mut App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| procscope_tui::draw::draw(f, app)).unwrap();
    let buf = t.backend().buffer().clone();
    let mut s = String::new();
    for y in 0..h {
        let mut line = String::new();
        for x in 0..w {
            line.push_str(buf[(x, y)].symbol());
        }
        s.push_str(line.trim_end());
        s.push('\n');
    }
    s
}

fn key(app: &mut App, c: KeyCode) -> Action {
    app.on_event(&Event::Key(KeyEvent::new(c, KeyModifiers::NONE)))
}

fn app_on_fixture() -> (tempfile::TempDir, App) {
    let dir = fixture();
    let u = update(dir.path());
    let mut app = App::new(true);
    app.on_update(u);
    (dir, app)
}

/// Raw control characters, C1 controls or bidi overrides on screen.
fn assert_terminal_safe(s: &str) {
    for c in s.chars() {
        let u = u32::from(c);
        let bad = (c.is_control() && c != '\n')
            || (0x80..=0x9f).contains(&u)
            || matches!(u, 0x061c | 0x200b..=0x200f | 0x2028..=0x202e | 0x2060..=0x2069 | 0xfeff);
        assert!(!bad, "raw {c:?} (U+{u:04X}) reached the screen:\n{s}");
    }
}

#[test]
fn table_sorted_by_cpu_with_stuck_row_marked() {
    let (_d, mut app) = app_on_fixture();
    let s = screen(&mut app, 140, 16);
    assert_terminal_safe(&s);
    // The busiest worker first; the stuck process marked.
    let first = s.lines().nth(4).unwrap();
    assert!(first.contains(" 202 "), "{s}");
    assert!(
        s.lines().any(|l| l.contains(" 400 ") && l.contains("D!")),
        "{s}"
    );
    insta::assert_snapshot!("table", s);
}

#[test]
fn tree_view_nests_children_under_parents() {
    let (_d, mut app) = app_on_fixture();
    key(&mut app, KeyCode::Char('N'));
    key(&mut app, KeyCode::Char('t'));
    let s = screen(&mut app, 140, 16);
    assert!(
        s.contains("└─ nginx: worker process") || s.contains("├─ nginx: worker process"),
        "{s}"
    );
    insta::assert_snapshot!("tree", s);
}

#[test]
fn narrow_terminal_keeps_the_essentials() {
    let (_d, mut app) = app_on_fixture();
    let s = screen(&mut app, 80, 24);
    assert_terminal_safe(&s);
    for col in ["PID", "USER", "%CPU", "RSS", "TIME+", "FDS", "COMMAND"] {
        assert!(
            s.lines().nth(3).unwrap().contains(col),
            "{col} missing:\n{s}"
        );
    }
    assert!(s.lines().all(|l| l.chars().count() <= 80));
    insta::assert_snapshot!("narrow", s);
    // Very narrow: the optional columns go before PID, state and command.
    let s = screen(&mut app, 30, 12);
    assert_terminal_safe(&s);
    let head = s
        .lines()
        .find(|l| l.contains("PID"))
        .unwrap_or_else(|| panic!("{s}"));
    assert!(head.contains("COMMAND") && head.contains('S'), "{s}");
    assert!(s.contains("nginx"), "{s}");
}

#[test]
fn the_filter_prompt_erases_and_says_what_is_wrong_in_one_line() {
    let (_d, mut app) = app_on_fixture();
    key(&mut app, KeyCode::Char('/'));
    for c in "nginx worker".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    let ctrl = |app: &mut App, c: char| {
        app.on_event(&Event::Key(KeyEvent::new(
            KeyCode::Char(c),
            KeyModifiers::CONTROL,
        )))
    };
    ctrl(&mut app, 'w');
    assert_eq!(app.editing.as_deref(), Some("nginx "));
    ctrl(&mut app, 'u');
    assert_eq!(app.editing.as_deref(), Some(""));
    for c in "(unclosed".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    key(&mut app, KeyCode::Enter);
    let status = app.status.clone().unwrap();
    assert!(status.starts_with("invalid pattern: "), "{status}");
    assert!(!status.contains('\\') && !status.contains('\n'), "{status}");
    assert!(status.contains("unclosed group"), "{status}");
}

#[test]
fn signalling_pid_1_warns_first() {
    let (_d, mut app) = app_on_fixture();
    key(&mut app, KeyCode::Char('N'));
    key(&mut app, KeyCode::Home);
    assert_eq!(app.current().unwrap().id.pid, 1);
    key(&mut app, KeyCode::Char('k'));
    key(&mut app, KeyCode::Enter);
    let s = screen(&mut app, 100, 24);
    assert!(s.contains("PID 1 is init"), "{s}");
    assert_eq!(key(&mut app, KeyCode::Char('n')), Action::None);
}

#[test]
fn filter_applies_on_enter_and_esc_clears() {
    let (_d, mut app) = app_on_fixture();
    key(&mut app, KeyCode::Char('/'));
    for c in "^ngin".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    assert_eq!(app.rows.len(), 7, "not applied before Enter");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.rows.len(), 3);
    assert!(app.rows.iter().all(|r| *r.match_text.0 == *b"nginx"));
    // The command line matches too (postgres is only in worker's argv).
    key(&mut app, KeyCode::Char('/'));
    for _ in 0..5 {
        key(&mut app, KeyCode::Backspace);
    }
    for c in "postgres".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    key(&mut app, KeyCode::Enter);
    assert_eq!(
        app.rows.iter().map(|r| r.id.pid).collect::<Vec<_>>(),
        vec![300]
    );
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.rows.len(), 7);
}

/// Opens PID 300 on `tab` and reads its details as the details thread
/// would.
fn opened(tab: Tab, reveal: bool) -> String {
    let (d, mut app) = app_on_fixture();
    key(&mut app, KeyCode::Char('N'));
    while app.current().map(|r| r.id.pid) != Some(300) {
        key(&mut app, KeyCode::Down);
    }
    let Action::Ask(mut job) = key(&mut app, KeyCode::Enter) else {
        panic!("Enter asks for the overview");
    };
    assert_eq!(job.tab, Tab::Overview);
    job.tab = tab;
    job.reveal = reveal;
    if let Mode::Detail {
        tab: t, reveal: r, ..
    } = &mut app.mode.0
    {
        *t = tab;
        *r = reveal;
    }
    let root = ProcRoot::open(d.path()).unwrap();
    let detail = details::read(&root, &Session::default(), &job);
    app.on_detail(detail);
    let s = screen(&mut app, 100, 20);
    assert_terminal_safe(&s);
    s
}

#[test]
fn env_tab_redacts_until_revealed() {
    let s = opened(Tab::Env, false);
    assert!(!s.contains("hunter2") && !s.contains("secret@"), "{s}");
    assert!(s.contains("DB_PASSWORD="), "{s}");
    insta::assert_snapshot!("tab_env", s);
    let s = opened(Tab::Env, true);
    assert!(s.contains("DB_PASSWORD=hunter2"), "{s}");
}

#[test]
fn limits_and_fds_tabs() {
    let s = opened(Tab::Limits, false);
    assert!(s.contains("1024"), "{s}");
    insta::assert_snapshot!("tab_limits", s);
    let s = opened(Tab::Fds, false);
    assert!(s.contains("/var/log/app.log"), "{s}");
    insta::assert_snapshot!("tab_fds", s);
}

#[test]
fn threads_tab_names_every_thread() {
    let s = opened(Tab::Threads, false);
    for n in ["worker-io", "worker-gc", "3 threads", "do_select"] {
        assert!(s.contains(n), "{n}:\n{s}");
    }
    insta::assert_snapshot!("tab_threads", s);
}

#[test]
fn overview_and_maps_tabs() {
    let s = opened(Tab::Overview, false);
    // The dossier of PID 300, its secret still hidden.
    assert!(s.contains("worker"), "{s}");
    assert!(!s.contains("secret@"), "{s}");
    insta::assert_snapshot!("tab_overview", s);
    let s = opened(Tab::Maps, false);
    for n in ["[heap]", "/app/worker", "libc.so.6", "[stack]"] {
        assert!(s.contains(n), "{n}:\n{s}");
    }
    insta::assert_snapshot!("tab_maps", s);
}

#[test]
fn a_click_on_a_column_title_sorts_by_it() {
    let (_d, mut app) = app_on_fixture();
    let s = screen(&mut app, 120, 24);
    let (head_y, line) = s
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains("PID") && l.contains("COMMAND"))
        .expect("a header line");
    let x = line.find("RSS").unwrap();
    let click = |app: &mut App, x: usize| {
        app.on_event(&Event::Mouse(ratatui::crossterm::event::MouseEvent {
            kind: ratatui::crossterm::event::MouseEventKind::Down(
                ratatui::crossterm::event::MouseButton::Left,
            ),
            column: u16::try_from(x).unwrap(),
            row: u16::try_from(head_y).unwrap(),
            modifiers: KeyModifiers::NONE,
        }))
    };
    click(&mut app, x);
    assert_eq!(app.sort.col, procscope_tui::rows::Col::Rss);
    assert!(!app.sort.inverted);
    let rss: Vec<u64> = app.rows.iter().map(|r| r.rss).collect();
    assert!(rss.windows(2).all(|w| w[0] >= w[1]), "{rss:?}");
    // Again: the other way round.
    screen(&mut app, 120, 24);
    click(&mut app, x);
    assert!(app.sort.inverted);
    let rss: Vec<u64> = app.rows.iter().map(|r| r.rss).collect();
    assert!(rss.windows(2).all(|w| w[0] <= w[1]), "{rss:?}");
    // A click on the title of the command sorts by it.
    screen(&mut app, 120, 24);
    click(&mut app, line.find("COMMAND").unwrap());
    assert_eq!(app.sort.col, procscope_tui::rows::Col::Command);
}

#[test]
fn help_and_signal_confirmation() {
    let (_d, mut app) = app_on_fixture();
    key(&mut app, KeyCode::Char('?'));
    let s = screen(&mut app, 100, 24);
    assert!(s.contains("copy the repro script"), "{s}");
    key(&mut app, KeyCode::Char('x'));
    assert_eq!(app.mode.0, Mode::Table);
    let pid = app.current().unwrap().id;
    key(&mut app, KeyCode::Char('k'));
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Enter);
    assert!(screen(&mut app, 100, 24).contains("Send SIGINT"));
    // Anything but y sends nothing; y sends the chosen signal.
    assert_eq!(key(&mut app, KeyCode::Char('n')), Action::None);
    key(&mut app, KeyCode::Char('k'));
    key(&mut app, KeyCode::Enter);
    assert_eq!(key(&mut app, KeyCode::Char('y')), Action::Kill(pid, 15));
}

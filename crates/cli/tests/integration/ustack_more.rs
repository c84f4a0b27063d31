//! `stack --user` on the C target (ustack/target.c) built or run in ways
//! that once went wrong: linked with lld, without `.eh_frame`, stopped by
//! SIGSTOP, and already traced by strace.

use crate::support::*;
use crate::ustack::{
    assert_untouched, c_target, c_target_with, functions, group_of, task_stat_state,
};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// rustup's `ld.lld` (the `gcc-ld` directory, for `gcc -B… -fuse-ld=lld`).
fn lld_dir() -> Option<PathBuf> {
    let out = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .ok()?;
    let root = String::from_utf8(out.stdout).ok()?;
    let d = PathBuf::from(root.trim()).join("lib/rustlib/x86_64-unknown-linux-gnu/bin/gcc-ld");
    d.join("ld.lld").exists().then_some(d)
}

/// Waits up to 10 s for `ok`.
fn until(what: &str, mut ok: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !ok() {
        assert!(t0.elapsed() < Duration::from_secs(10), "never: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Builds the C program `source` with `gcc FLAGS` in a new directory and
/// starts it (it prints `ready`); the directory lives as long as the
/// target.
fn c_program(source: &str, flags: &[&str]) -> (tempfile::TempDir, Target) {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("prog.c");
    std::fs::write(&src, source).unwrap();
    let exe = dir.path().join("prog");
    let out = Command::new("gcc")
        .args(flags)
        .arg("-o")
        .arg(&exe)
        .arg(&src)
        .output()
        .expect("gcc");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t = start(Command::new(&exe));
    (dir, t)
}

/// Waits until `pid`'s main thread sleeps in `pause`.
fn until_paused(pid: u32) {
    until("pause", || {
        std::fs::read_to_string(format!("/proc/{pid}/wchan")).is_ok_and(|w| w.contains("pause"))
    });
}

fn tracer_of(pid: u32, tid: u32) -> u32 {
    std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("TracerPid:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn ustack_of_an_lld_linked_program_walks_down_to_clone3() {
    let Some(dir) = lld_dir() else {
        eprintln!("skipped: no ld.lld (rustup's lib/rustlib/*/bin/gcc-ld) found");
        return;
    };
    let b = format!("-B{}", dir.display());
    let t = c_target_with(&[&b, "-fuse-ld=lld"], |exe| {
        let out = Command::new("readelf")
            .args(["-p", ".comment"])
            .arg(exe)
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("LLD"),
            "not linked by lld"
        );
    });
    let pid = t.pid().to_string();
    let r = run(&["stack", "-u", "--no-group", "--json", &pid]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let doc = r.json();
    let h = group_of(&doc, t.tid("holder"));
    let f = functions(h);
    let at = f
        .iter()
        .position(|x| x == "read_reply")
        .unwrap_or_else(|| panic!("{f:?}"));
    assert_eq!(
        f.get(at + 1).map(String::as_str),
        Some("fetch_reply"),
        "{f:?}"
    );
    assert_eq!(f.get(at + 2).map(String::as_str), Some("holder"), "{f:?}");
    assert_eq!(f.last().map(String::as_str), Some("clone3"), "{f:?}");
    assert_eq!(h["user"]["end"], "root");
    assert_untouched(t.pid());
}

#[test]
fn ustack_of_a_program_without_eh_frame_says_why_the_walk_ended() {
    let t = c_target_with(&[], |exe| {
        let out = Command::new("objcopy")
            .args([
                "--remove-section=.eh_frame",
                "--remove-section=.eh_frame_hdr",
            ])
            .arg(exe)
            .output()
            .expect("objcopy (binutils)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
    let pid = t.pid().to_string();
    let r = run(&["stack", "-u", "--no-group", "--json", &pid]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let doc = r.json();
    let h = group_of(&doc, t.tid("holder"));
    assert_eq!(h["user"]["end"], "no_unwind_info", "{}", h["user"]);
    let r = run(&["stack", "-u", &pid]);
    assert!(r.out().contains("has no unwind information"), "{}", r.out());
    assert_untouched(t.pid());
}

#[test]
fn ustack_of_a_stopped_process_says_it_was_already_stopped() {
    let t = c_target();
    let pid = t.pid().to_string();
    let waiter = t.tid("waiter");
    Command::new("kill").args(["-STOP", &pid]).status().unwrap();
    until("stopped", || task_stat_state(t.pid(), waiter) == Some('T'));
    let r = run(&["stack", "-u", "--no-group", "--json", &pid]);
    let text = run(&["stack", "-u", &pid]);
    Command::new("kill").args(["-CONT", &pid]).status().unwrap();
    assert_eq!(r.status, 0, "{}", r.stderr);
    let doc = r.json();
    let w = group_of(&doc, waiter);
    assert_eq!(w["user"]["how"], "stopped", "{}", w["user"]);
    assert!(
        functions(w).iter().any(|f| f == "db_lock"),
        "{:?}",
        functions(w)
    );
    let out = text.out();
    assert!(
        out.contains("already stopped (by a signal or a debugger)"),
        "{out}"
    );
    assert!(!out.contains("page fault"), "{out}");
    until("continued", || {
        task_stat_state(t.pid(), waiter) != Some('T')
    });
}

#[test]
fn ustack_of_a_process_under_strace_says_it_is_already_traced() {
    let t = c_target();
    let pid = t.pid().to_string();
    let beat = t.tid("beat");
    let mut s = Command::new("strace")
        .args(["-f", "-o", "/dev/null", "-p", &pid])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("strace (apt-get install strace)");
    until("traced", || tracer_of(t.pid(), beat) != 0);
    // Under strace the beat thread is on a CPU, in strace's stop at one of
    // its system calls, or (rarely) asleep in one: it is named as traced
    // in every case, from its `TracerPid`, without a seize being tried.
    let r = run(&["stack", "-u", "--no-group", "--json", &pid]);
    let text = run(&["stack", "-u", "--no-group", &pid]);
    let _ = Command::new("kill")
        .args(["-TERM", &s.id().to_string()])
        .status();
    let _ = s.wait();
    assert_eq!(r.status, 0, "{}", r.stderr);
    let doc = r.json();
    let b = group_of(&doc, beat);
    let said = b["user"].to_string();
    assert!(
        said.contains(&format!("already traced by PID {} (strace)", s.id())),
        "{said}"
    );
    assert!(!said.contains("denied"), "{said}");
    assert!(
        text.out()
            .contains(&format!("already traced by PID {} (strace)", s.id())),
        "{}",
        text.out()
    );
    until("strace gone", || tracer_of(t.pid(), beat) == 0);
    assert_untouched(t.pid());
}

/// Maps its argument executable (so that it is one of the process's
/// modules, as a library would be), says so, and sleeps.
const MAP_EXEC: &str = "import mmap, sys, time
f = open(sys.argv[1], 'rb')
m = mmap.mmap(f.fileno(), 0, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ | mmap.PROT_EXEC)
print('ready', flush=True)
time.sleep(600)
";

/// `stack -u` of a process that maps code from a FUSE filesystem whose
/// daemon stopped answering finishes within its deadline and names that
/// module: the mapped files are opened only in a helper, which is killed
/// at the deadline (procscope's own process never looks them up).
///
/// The test filesystem serves fixed bytes, not a library that could be
/// loaded: the target maps its file `ok` executable instead, which puts it
/// among the process's modules exactly as a library would be; then a
/// reader of `hang` freezes the filesystem (every later lookup is held).
#[test]
fn ustack_of_a_process_mapping_code_on_a_hung_fuse_mount_names_the_module_in_time() {
    let fuse = HungFuse::mount();
    let ok = fuse.dir.path().join("ok");
    let mut c = Command::new("/usr/bin/python3");
    c.args(["-c", MAP_EXEC]).arg(&ok);
    let t = start(c);
    let reader = start_kit(&["read-hang", fuse.hang_file().to_str().unwrap()]);
    assert!(
        wait_all_threads(reader.pid(), 'D', Duration::from_secs(5)),
        "reader not in D"
    );
    let pid = t.pid().to_string();
    let t0 = Instant::now();
    let r = run_with(
        &[
            "--timeout",
            "1s",
            "stack",
            "-u",
            "--no-group",
            "--json",
            &pid,
        ],
        &[],
        Duration::from_secs(20),
    );
    let took = t0.elapsed();
    // The daemon goes first: its death fails the held requests (the
    // reader's, and the killed helper's lookup), then the readers.
    drop(fuse);
    drop(reader);
    assert_eq!(r.status, 0, "{}", r.stderr);
    // The deadline is a budget per process: each step gets what is left
    // of it, at least a fifth (about twice the deadline in all).
    assert!(took < Duration::from_secs(4), "took {took:?}");
    let doc = r.json();
    let main = group_of(&doc, t.pid());
    let said = main["user"]["modules_unread"].to_string();
    assert_eq!(
        main["user"]["modules_unread"],
        serde_json::json!([format!("timed out opening {}", ok.display())]),
        "{said}"
    );
    // The stack itself was read: python's frames, named from the other
    // modules' copies.
    assert!(
        !main["user"]["frames"].as_array().unwrap().is_empty(),
        "{}",
        main["user"]
    );
}

/// A C program whose functions have one- or two-letter names (`h`, `St`:
/// the C++ demangler reads them as `unsigned char` and `std`), built `-O0`
/// (frame pointers), blocked in `pause` three functions deep: the names
/// are the program's own, and since a blocked thread's registers do not
/// include the frame pointer the `-O0` frames need, the walk says it was
/// cut rather than reaching the root.
#[test]
fn c_names_stay_c_and_a_walk_cut_for_want_of_the_frame_pointer_says_so() {
    let (_dir, t) = c_program(
        "#include <unistd.h>\n#include <stdio.h>\n#include <sys/syscall.h>\n\
         __attribute__((noinline)) void h(void) { puts(\"ready\"); fflush(stdout); for (;;) syscall(SYS_pause); }\n\
         __attribute__((noinline)) void St(void) { h(); }\n\
         int main(void) { St(); return 0; }\n",
        &["-O0", "-g"],
    );
    let pid = t.pid();
    until_paused(pid);
    let r = run(&["stack", "-u", "--json", &pid.to_string()]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let doc = r.json();
    let g = group_of(&doc, pid);
    let f = functions(g);
    assert!(f.contains(&"h".to_string()), "{f:?}");
    assert!(
        !f.iter().any(|n| n == "unsigned char" || n == "std"),
        "{f:?}"
    );
    assert_eq!(g["user"]["end"], "needs_frame_pointer", "{g:#}");
    let text = run(&["stack", "-u", &pid.to_string()]);
    assert!(text.out().contains("walk stopped"), "{}", text.out());
    let why = run(&["why", &pid.to_string()]);
    assert!(!why.out().contains("unsigned char"), "{}", why.out());
    drop(t);
}

/// A stripped library whose `.gnu_debuglink` names a debug file beside it,
/// or in `.debug/` beside it (where gdb looks): its frames get `file:line`
/// from that file. A file of the same name whose CRC differs is not used.
#[test]
fn a_gnu_debuglink_beside_the_library_or_in_dot_debug_gives_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("lib.c"),
        "#include <unistd.h>\n#include <stdio.h>\n\
         __attribute__((noinline)) void lib_wait(void) {\n\
         puts(\"ready\"); fflush(stdout);\n\
         for (;;) pause();\n}\n",
    )
    .unwrap();
    std::fs::write(
        d.join("use.c"),
        "void lib_wait(void);\nint main(void) { lib_wait(); return 0; }\n",
    )
    .unwrap();
    let sh = |cmd: &str| {
        let out = Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .current_dir(d)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{cmd}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    sh("gcc -O1 -g -fPIC -shared -o libx.so lib.c");
    // Three layouts: beside, in .debug/, and a stale file of the right name.
    for (sub, debug_at, stale) in [
        ("a", "a/libx.so.dbg", false),
        ("b", "b/.debug/libx.so.dbg", false),
        ("c", "c/libx.so.dbg", true),
    ] {
        sh(&format!(
            "mkdir -p {sub}/.debug && strip -g -o {sub}/libx.so libx.so"
        ));
        sh(&format!("objcopy --only-keep-debug libx.so {debug_at}"));
        // The link holds the file's base name and its CRC.
        sh(&format!(
            "objcopy --add-gnu-debuglink={debug_at} {sub}/libx.so"
        ));
        if stale {
            // Same name, other bytes: the CRC no longer matches.
            sh(&format!("printf x >> {debug_at}"));
        }
        let rpath = d.join(sub);
        sh(&format!(
            "gcc -O1 -o {sub}/use use.c -L {sub} -lx -Wl,-rpath,{}",
            rpath.display()
        ));
        let t = start(Command::new(d.join(sub).join("use")));
        let pid = t.pid();
        until("pause", || {
            std::fs::read_to_string(format!("/proc/{pid}/wchan")).is_ok_and(|w| w.contains("pause"))
        });
        let r = run(&["stack", "-u", "--json", &pid.to_string()]);
        assert_eq!(r.status, 0, "{}", r.stderr);
        let doc = r.json();
        let g = group_of(&doc, pid);
        let frames = g["user"]["frames"].as_array().cloned().unwrap_or_default();
        let f = frames
            .iter()
            .find(|f| f["function"] == "lib_wait")
            .unwrap_or_else(|| panic!("{sub}: no lib_wait in {g:#}"));
        if stale {
            assert!(
                f["file"].is_null(),
                "{sub}: a stale debug file was used: {f:#}"
            );
        } else {
            assert_eq!(
                f["file"].as_str().map(|p| p.ends_with("lib.c")),
                Some(true),
                "{sub}: {f:#}"
            );
            assert_eq!(f["line"], 5, "{sub}: {f:#}");
        }
        drop(t);
    }
}

/// A process whose main thread called `pthread_exit` (a zombie leader,
/// its threads running on): asked by its PID, the live thread's call is
/// named and its user frames read through that thread (the leader's
/// memory is gone).
#[test]
fn a_zombie_leaders_live_threads_are_unwound_by_the_pid() {
    let (_dir, t) = c_program(
        "#include <pthread.h>\n#include <stdio.h>\n#include <unistd.h>\n\
         __attribute__((noinline)) void napper(void) { for (;;) sleep(100); }\n\
         void *run(void *a) { (void)a; napper(); return 0; }\n\
         int main(void) { pthread_t t; pthread_create(&t, 0, run, 0);\n\
         puts(\"ready\"); fflush(stdout); pthread_exit(0); }\n",
        &["-O1", "-g", "-pthread"],
    );
    let pid = t.pid();
    until("the leader to exit", || {
        task_stat_state(pid, pid) == Some('Z')
    });
    let worker = crate::ustack::tids(pid)
        .into_iter()
        .find(|x| *x != pid)
        .expect("the thread");
    until("the nap", || task_stat_state(pid, worker) == Some('S'));
    let r = run(&["stack", "-u", "--json", &pid.to_string()]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let doc = r.json();
    let g = group_of(&doc, worker);
    assert!(functions(g).contains(&"napper".to_string()), "{g:#}");
    assert_eq!(g["syscall"]["name"], "clock_nanosleep", "{g:#}");
    drop(t);
}

/// A thread inside a signal handler: the walk goes on through the signal
/// frame (the registers the kernel saved in the `ucontext`) to where the
/// signal came and down to `main`, as gdb's "<signal handler called>"
/// does; it used to end at `__restore_rt`.
#[test]
fn a_walk_goes_through_a_signal_handlers_frame() {
    let (_dir, t) = c_program(
        "#include <signal.h>\n#include <stdio.h>\n#include <string.h>\n#include <unistd.h>\n\
         __attribute__((noinline)) void in_handler(void) { for (;;) pause(); }\n\
         void handler(int s) { (void)s; in_handler(); }\n\
         __attribute__((noinline)) void busy_wait(void) { puts(\"ready\"); fflush(stdout); for (;;) pause(); }\n\
         __attribute__((noinline)) void outer(void) { busy_wait(); }\n\
         int main(void) { struct sigaction sa; memset(&sa, 0, sizeof sa);\n\
         sa.sa_handler = handler; sigaction(SIGUSR1, &sa, 0); outer(); return 0; }\n",
        &["-O1", "-g"],
    );
    let pid = t.pid();
    until_paused(pid);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGUSR1,
    )
    .unwrap();
    let doc = {
        let mut last = serde_json::Value::Null;
        for _ in 0..50 {
            let r = run(&["stack", "-u", "--json", &pid.to_string()]);
            assert_eq!(r.status, 0, "{}", r.stderr);
            last = r.json();
            if functions(group_of(&last, pid)).contains(&"handler".to_string()) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        last
    };
    let g = group_of(&doc, pid);
    let f = functions(g);
    let pos = |name: &str| f.iter().position(|x| x == name);
    let (h, b, m) = (pos("handler"), pos("busy_wait"), pos("main"));
    assert!(h.is_some() && b.is_some() && m.is_some(), "{f:?}");
    assert!(h < b && b < m, "{f:?}");
    assert_eq!(g["user"]["end"], "root", "{g:#}");
    drop(t);
}

//! `stack --user` against many threads on CPUs (ustack_busy/busy.c, more
//! busy threads than cores): no thread is stopped for more than moments,
//! never two at a time, and a thread that goes to sleep
//! before it is interrupted is left alone (no EINTR in the program).

use crate::support::*;
use crate::ustack::{assert_untouched, tids};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const SOURCE: &str = include_str!("ustack_busy/busy.c");

/// The busy target, running at nice 19 (so that the watcher and procscope
/// get a CPU when they ask: what is measured is how long procscope keeps a
/// thread stopped, not how long the watcher waited for a CPU).
struct Busy {
    target: Target,
    eintr: PathBuf,
    _dir: tempfile::TempDir,
}

impl Busy {
    fn eintr(&self) -> u64 {
        std::fs::read_to_string(&self.eintr)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }
}

fn busy(spinners: u32, nappers: u32) -> Busy {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("busy.c");
    std::fs::write(&src, SOURCE).unwrap();
    let exe = dir.path().join("busy");
    let out = Command::new("gcc")
        .args(["-O2", "-g", "-pthread", "-o"])
        .arg(&exe)
        .arg(&src)
        .output()
        .expect("gcc (apt-get install gcc)");
    assert!(
        out.status.success(),
        "gcc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let eintr = dir.path().join("eintr");
    let mut c = Command::new("nice");
    c.args(["-n", "19"])
        .arg(&exe)
        .arg(spinners.to_string())
        .arg(nappers.to_string())
        .arg(&eintr);
    let target = start(c);
    // Every thread started (the main one and the workers).
    let want = (spinners + nappers + 1) as usize;
    let t0 = Instant::now();
    while tids(target.pid()).len() < want {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "threads never started"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    Busy {
        target,
        eintr,
        _dir: dir,
    }
}

fn state(stat: &Path) -> Option<u8> {
    let s = std::fs::read(stat).ok()?;
    let close = s.iter().rposition(|&c| c == b')')?;
    s.get(close + 2).copied()
}

/// What the watcher saw, as lower bounds that the watcher's own waits for
/// a CPU cannot inflate (on a loaded box it may sleep for tens of ms
/// between sweeps: a thread seen stopped once, before such a wait, would
/// otherwise count as stopped through it).
#[derive(Debug, Default)]
struct Seen {
    /// The longest time between the first and the last sweep that saw one
    /// thread in the same ptrace-stop (`t`): it was stopped at least that
    /// long.
    longest: Duration,
    /// The most threads seen stopped in two sweeps running: each was
    /// stopped from its first look to its second, and those intervals
    /// overlap (the sweeps visit threads in the same order), so they were
    /// stopped at the same moment. One sweep alone would count a thread
    /// let go early in it with the next one stopped late in it.
    most: usize,
    /// Stops seen.
    spans: usize,
}

/// Polls every task's state of `pid` until `stop`.
fn watch(pid: u32, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Seen> {
    std::thread::spawn(move || {
        let stats: Vec<PathBuf> = tids(pid)
            .into_iter()
            .map(|t| PathBuf::from(format!("/proc/{pid}/task/{t}/stat")))
            .collect();
        // First and last look that saw each thread in its current stop.
        let mut span: HashMap<usize, (Instant, Instant)> = HashMap::new();
        let mut before: Vec<usize> = Vec::new();
        let mut seen = Seen::default();
        while !stop.load(Ordering::Relaxed) {
            let mut now_t = Vec::new();
            for (i, p) in stats.iter().enumerate() {
                if state(p) == Some(b't') {
                    now_t.push(i);
                    let at = Instant::now();
                    span.entry(i).or_insert((at, at)).1 = at;
                } else if let Some((first, last)) = span.remove(&i) {
                    seen.longest = seen.longest.max(last - first);
                    seen.spans += 1;
                }
            }
            let both = now_t.iter().filter(|i| before.contains(i)).count();
            seen.most = seen.most.max(both);
            before = now_t;
            std::thread::sleep(Duration::from_micros(100));
        }
        for (first, last) in span.values() {
            seen.longest = seen.longest.max(*last - *first);
        }
        seen
    })
}

/// Whether this process has `CAP_SYS_NICE` (bit 23 of `CapEff`), which
/// procscope's helper (forked from it, same credentials) needs to run
/// real-time.
fn can_run_real_time() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .is_some_and(|c| c & (1 << 23) != 0)
}

#[test]
fn ustack_of_many_busy_threads_stops_each_briefly_and_about_one_at_a_time() {
    let b = busy(40, 0);
    let pid = b.target.pid_s();
    let stop = Arc::new(AtomicBool::new(false));
    let w = watch(b.target.pid(), stop.clone());
    std::thread::sleep(Duration::from_millis(50));
    let mut sampled = 0;
    for _ in 0..3 {
        let r = run(&["stack", "-u", "--json", &pid]);
        assert_eq!(r.status, 0, "{}", r.stderr);
        sampled += r.out().matches("\"how\":\"interrupted\"").count();
    }
    std::thread::sleep(Duration::from_millis(50));
    stop.store(true, Ordering::Relaxed);
    let seen = w.join().unwrap();
    eprintln!("busy threads: {seen:?}, {sampled} groups interrupted");
    // Not vacuous: some threads were stopped and sampled.
    assert!(sampled > 0, "no thread was sampled");
    // A thread stays stopped until the helper gets a CPU to see its stop
    // and let it go. Measured on this shared 2-core box at load average
    // 46–55 (the other engineers' builds): with the helper real-time
    // (CAP_SYS_NICE), no thread was ever seen stopped in two looks
    // (longest 0); with only nice -10 (which counts inside its autogroup
    // only), up to 20 ms. The old design (threads left seized with their
    // interrupt pending) under the same load: 8–92 ms, and 2–5 threads
    // stopped at once, in every one of 9 tries but one (8 ms, 1 at once).
    let longest_ms = if can_run_real_time() { 5 } else { 30 };
    assert!(
        seen.longest < Duration::from_millis(longest_ms),
        "a thread was stopped for at least {:?}",
        seen.longest
    );
    // The helper lets a thread go before it interrupts the next, and a
    // thread that did not stop in time is let go by the helper's exit
    // before the next helper starts: never two at once.
    assert!(seen.most <= 1, "{} threads stopped at once", seen.most);
    assert_untouched(b.target.pid());
}

#[test]
fn ustack_leaves_a_thread_that_went_to_sleep_uninterrupted_no_eintr() {
    let b = busy(0, 1);
    let pid = b.target.pid_s();
    std::thread::sleep(Duration::from_millis(100));
    let before = b.eintr();
    for _ in 0..30 {
        let r = run(&["stack", "-u", "--json", &pid]);
        assert_eq!(r.status, 0, "{}", r.stderr);
    }
    // The count is written every 20 ms.
    std::thread::sleep(Duration::from_millis(100));
    let got = b.eintr() - before;
    eprintln!("EINTR in 30 runs: {got}");
    // The window left (between the state read and the interrupt) is
    // microseconds against 8 ms cycles: a stray one is possible.
    assert!(
        got <= 2,
        "epoll_wait failed with EINTR {got} times in 30 runs"
    );
    assert_untouched(b.target.pid());
}

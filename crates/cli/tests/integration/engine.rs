//! The engine under the long-running frontends: a collector that runs for
//! days next to hung processes stays within its budget.

use crate::support::*;
use procscope_model::collect::{Collector, Part, Want};
use procscope_read::guard::Limits;
use procscope_read::{Failure, ProcRoot, Session};
use std::time::{Duration, Instant};

/// A process whose memory lock is held by a thread stuck on a hung FUSE
/// page (reading its cmdline blocks), and a fixture tree whose PID 7
/// `cmdline` is that FUSE file bind-mounted (a read that never answers).
struct Hung {
    fixture: tempfile::TempDir,
    target: Target,
    fuse: Option<HungFuse>,
}

impl Drop for Hung {
    fn drop(&mut self) {
        // The daemon first: until its connection is aborted, even the
        // unmount's path lookup waits for it.
        drop(self.fuse.take());
        let _ = nix::mount::umount2(
            &self.fixture.path().join("7/cmdline"),
            nix::mount::MntFlags::MNT_DETACH,
        );
    }
}

fn hung() -> Hung {
    let fuse = HungFuse::mount();
    let fixture = tempfile::tempdir().unwrap();
    let f = fixture.path();
    std::fs::write(f.join("stat"), "cpu  1 0 1 10 0 0 0 0\nbtime 1700000000\n").unwrap();
    std::fs::write(f.join("uptime"), "100.00 50.00\n").unwrap();
    for pid in [7, 8] {
        let d = f.join(pid.to_string());
        std::fs::create_dir_all(d.join("fd")).unwrap();
        std::fs::write(
            d.join("stat"),
            format!(
                "{pid} (p{pid}) S 1 {pid} {pid} 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 50 1000 10 0\n"
            ),
        )
        .unwrap();
        std::fs::write(d.join("status"), "Uid:\t0\t0\t0\t0\nVmRSS:\t4 kB\n").unwrap();
        std::fs::write(d.join("cmdline"), format!("p{pid}\0")).unwrap();
    }
    // Bind before anything reads the FUSE file: the daemon answers no
    // request at all once a read is pending, and a mount looks the
    // source up.
    nix::mount::mount(
        Some(&fuse.hang_file()),
        &f.join("7/cmdline"),
        None::<&str>,
        nix::mount::MsFlags::MS_BIND,
        None::<&str>,
    )
    .expect("bind-mount the hung FUSE file over 7/cmdline");
    let target = start_kit(&["mem-hang", fuse.hang_file().to_str().unwrap()]);
    let h = Hung {
        fixture,
        target,
        fuse: Some(fuse),
    };
    assert!(
        wait_all_threads(h.target.pid(), 'D', Duration::from_secs(5)),
        "mem-hang threads did not reach D state"
    );
    h
}

/// Threads, open fds and resident memory of this test process.
fn own_usage() -> (usize, usize, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |k: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(k))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap()
    };
    let fds = std::fs::read_dir("/proc/self/fd").unwrap().count();
    (field("Threads:") as usize, fds, field("VmRSS:"))
}

/// 10,000 collections of a fixture with a never-answering read and of a
/// live process whose memory lock is stuck: each target costs one stuck
/// thread, ever — not one per collection — and threads, fds and memory
/// stay flat.
#[test]
fn ten_thousand_collections_next_to_hung_reads_stay_within_budget() {
    let h = hung();
    let session = Session::new(Limits {
        timeout: Some(Duration::from_millis(100)),
        workers: 2,
        max_stuck: 4,
    });
    let want = Want {
        slow_age: Duration::ZERO,
        ..Want::default()
    };
    let mut fixture = Collector::new(
        ProcRoot::open(h.fixture.path()).unwrap(),
        session.clone(),
        want.clone(),
    );
    let me = std::process::id() as i32;
    let pid = h.target.pid() as i32;
    let mut live = Collector::new(
        ProcRoot::open("/proc").unwrap(),
        session.clone(),
        Want {
            only: Some(vec![pid, me]),
            ..want
        },
    );
    // Warm up: the first collections abandon one read per hung target.
    for _ in 0..3 {
        fixture.collect().unwrap();
        live.collect().unwrap();
    }
    let before = own_usage();
    let t0 = Instant::now();
    let mut slowest = Duration::ZERO;
    let stat7 = h.fixture.path().join("7/stat");
    for i in 0..5000 {
        // PID 7 keeps running (its CPU time grows), so its command line
        // is due again every time: the quarantine answers instead.
        std::fs::write(
            &stat7,
            format!(
                "7 (p7) S 1 7 7 0 -1 0 0 0 0 0 {} 1 0 0 20 0 1 0 50 1000 10 0\n",
                i + 10
            ),
        )
        .unwrap();
        let t = Instant::now();
        let f = fixture.collect().unwrap();
        let l = live.collect().unwrap();
        slowest = slowest.max(t.elapsed());
        if i % 1000 == 0 {
            // The hung ones are answered from the quarantine, with the
            // reason; the healthy ones are read.
            let p7 = &f.processes[0];
            assert!(
                matches!(p7.missing(Part::Cmdline), Some(Failure::TimedOut { .. })),
                "{p7:?}"
            );
            assert_eq!(f.processes[1].cmdline.as_ref().unwrap().0, b"p8\0");
            let target = l.processes.iter().find(|p| p.pid == pid).unwrap();
            assert_eq!(target.state, 'D');
            assert!(matches!(
                target.missing(Part::Cmdline),
                Some(Failure::TimedOut { .. })
            ));
            let own = l.processes.iter().find(|p| p.pid == me).unwrap();
            assert!(own.cmdline.is_some() && own.missing(Part::Cmdline).is_none());
        }
    }
    let after = own_usage();
    let st = session.stats();
    eprintln!(
        "10,000 collections in {:?} (slowest pair {slowest:?}); before {before:?}, after {after:?}; {st:?}",
        t0.elapsed()
    );
    // Exactly one read was ever abandoned per hung target; the one that
    // kept running was answered from the quarantine ever since.
    assert_eq!(st.timeouts, 2, "{st:?}");
    assert_eq!(st.stuck_now, 2, "{st:?}");
    assert!(st.quarantined >= 5000, "{st:?}");
    // No collection waits for the deadline once the targets are known.
    assert!(slowest < Duration::from_millis(100), "slowest {slowest:?}");
    // Threads are bounded by the budget, not by the collections: the
    // stuck ones (max_stuck at most), the parked workers (2) and this
    // test's own two; a worker may be mid-park when counted.
    assert!(st.threads <= st.max_stuck + 2, "{st:?}");
    assert!(
        after.0 <= 2 + st.max_stuck + 2,
        "threads grew: {before:?} → {after:?}"
    );
    assert!(after.1 <= before.1, "fds grew: {before:?} → {after:?}");
    assert!(
        after.2 <= before.2 + 4096,
        "RSS grew by more than 4 MiB: {before:?} → {after:?}"
    );
}

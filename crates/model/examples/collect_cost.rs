//! The cost of a collection, fresh and refreshed: CPU time of this
//! process per call (`CLOCK_PROCESS_CPUTIME_ID`: every thread), on the live host.
//!
//!     cargo run --release -p procscope-model --example collect_cost -- [ROUNDS]
//!
//! "fresh" makes a new `Collector` each time (what a one-shot command
//! would pay); "refresh" collects again with the same one (what `top` and
//! `serve` pay every interval on a host where little changed).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use procscope_model::collect::{Collector, Want};
use procscope_read::{ProcRoot, Session};
use std::time::Duration;

fn cpu() -> Duration {
    // Every thread of this process, the session's workers included.
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(9);
    let root = ProcRoot::open("/proc").unwrap();
    let session = Session::default();
    let mut fresh = Vec::new();
    let mut n = 0;
    for _ in 0..rounds {
        let t = cpu();
        let s = Collector::new(root.clone(), session.clone(), Want::default())
            .collect()
            .unwrap();
        fresh.push(cpu() - t);
        n = s.processes.len();
    }
    let mut c = Collector::new(root, session, Want::default());
    c.collect().unwrap();
    let mut refresh = Vec::new();
    for _ in 0..rounds {
        std::thread::sleep(Duration::from_millis(200));
        let t = cpu();
        c.collect().unwrap();
        refresh.push(cpu() - t);
    }
    let (f, r) = (median(fresh), median(refresh));
    println!(
        "processes {n}: fresh collection {:.1} ms CPU, refresh {:.1} ms CPU ({:.0}% of fresh), median of {rounds}",
        f.as_secs_f64() * 1e3,
        r.as_secs_f64() * 1e3,
        100.0 * r.as_secs_f64() / f.as_secs_f64().max(1e-9)
    );
}

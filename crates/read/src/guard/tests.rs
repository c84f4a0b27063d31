use super::*;
use std::sync::mpsc;
use std::time::Instant;

fn session(ms: u64, workers: usize, max_stuck: usize) -> Session {
    Session::new(Limits {
        timeout: Some(Duration::from_millis(ms)),
        workers,
        max_stuck,
    })
}

/// A job body that blocks until the returned sender is dropped (or 30 s).
fn gate() -> (mpsc::Sender<()>, Arc<Mutex<mpsc::Receiver<()>>>) {
    let (tx, rx) = mpsc::channel::<()>();
    (tx, Arc::new(Mutex::new(rx)))
}

fn wait(rx: &Mutex<mpsc::Receiver<()>>) {
    let _ = lock(rx).recv_timeout(Duration::from_secs(30));
}

/// Polls `cond` for up to 5 s.
fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(5) {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

#[test]
fn results_in_order_and_partials_kept() {
    let r = session(1000, 3, 4).run((0..500).collect(), |i: u32, ctx| {
        ctx.checkpoint(i * 2);
        ctx.guarded(|| Ok(i + 1)).unwrap()
    });
    assert_eq!(r.len(), 500);
    for (i, f) in r.iter().enumerate() {
        assert_eq!(f.partial, Some(i as u32 * 2));
        assert_eq!(f.rest, Ok(i as u32 + 1));
    }
}

#[test]
fn stuck_job_times_out_and_others_finish() {
    let (_hold, rx) = gate();
    let start = Instant::now();
    let s = session(200, 2, 4);
    let r = s.run((0..50).collect(), move |i: u32, ctx| {
        ctx.checkpoint(i);
        ctx.guarded(|| {
            if i == 3 {
                wait(&rx);
            }
            Ok(i)
        })
    });
    let took = start.elapsed();
    assert!(took < Duration::from_millis(1500), "took {took:?}");
    assert!(took >= Duration::from_millis(200), "took {took:?}");
    for (i, f) in r.iter().enumerate() {
        assert_eq!(f.partial, Some(i as u32));
        if i == 3 {
            assert_eq!(
                f.rest,
                Err(Failure::TimedOut {
                    after: Duration::from_millis(200)
                })
            );
        } else {
            assert_eq!(f.rest, Ok(Ok(i as u32)));
        }
    }
    let st = s.stats();
    assert_eq!((st.reads, st.timeouts, st.stuck_now), (50, 1, 1));
}

#[test]
fn stuck_cap_bounds_threads_and_refuses_the_rest() {
    let started = Arc::new(AtomicUsize::new(0));
    let s2 = Arc::clone(&started);
    let (_hold, rx) = gate();
    let s = session(100, 2, 3);
    let r = s.run((0..20).collect(), move |i: u32, ctx| {
        ctx.checkpoint(i);
        ctx.guarded(|| {
            s2.fetch_add(1, Ordering::SeqCst);
            wait(&rx);
            Ok(i)
        })
    });
    // Every job blocks: only max_stuck guarded reads were ever started.
    assert_eq!(started.load(Ordering::SeqCst), 3);
    let timed_out = r
        .iter()
        .filter(|f| matches!(f.rest, Err(Failure::TimedOut { .. })))
        .count();
    let skipped = r
        .iter()
        .filter(|f| matches!(f.rest, Ok(Err(Failure::Skipped { stuck: 3 }))))
        .count();
    assert_eq!((timed_out, skipped), (3, 17));
    assert!(r.iter().all(|f| f.partial.is_some()));
    let st = s.stats();
    assert_eq!((st.timeouts, st.skipped, st.stuck_now), (3, 17, 3));
}

/// The budget holds across runs: a session whose stuck reads spent it
/// starts no new thread in later runs, however many there are.
#[test]
fn budget_is_for_the_session_not_the_run() {
    let (_hold, rx) = gate();
    let s = session(50, 2, 2);
    let started = Arc::new(AtomicUsize::new(0));
    for round in 0..20u32 {
        let (rx, st) = (Arc::clone(&rx), Arc::clone(&started));
        let r = s.run(vec![round], move |i: u32, ctx: &Ctx<(), Outcome<u32>>| {
            ctx.guarded(|| {
                st.fetch_add(1, Ordering::SeqCst);
                wait(&rx);
                Ok(i)
            })
        });
        assert_eq!(r.len(), 1);
    }
    assert_eq!(started.load(Ordering::SeqCst), 2);
    let st = s.stats();
    assert_eq!((st.stuck_now, st.timeouts, st.skipped), (2, 2, 18));
    assert!(st.threads <= 2 + 2, "{st:?}");
}

/// A target with a read outstanding is answered at once and not read
/// again; when the read returns, it is read again and the thread is back
/// in the pool.
#[test]
fn quarantine_by_pid_and_start_time() {
    let (hold, rx) = gate();
    let s = session(50, 2, 4);
    let reads = Arc::new(AtomicUsize::new(0));
    let probe = |s: &Session, t: Target| {
        let (rx, reads) = (Arc::clone(&rx), Arc::clone(&reads));
        let took = Instant::now();
        let r = s.once(Some(t), move || {
            reads.fetch_add(1, Ordering::SeqCst);
            if t.pid == 7 {
                wait(&rx);
            }
            Ok(t.pid)
        });
        (r, took.elapsed())
    };
    let hung = Target {
        pid: 7,
        start: Some(100),
    };
    let (r, _) = probe(&s, hung);
    assert!(matches!(r, Err(Failure::TimedOut { .. })));
    assert_eq!(reads.load(Ordering::SeqCst), 1);
    for _ in 0..50 {
        let (r, took) = probe(&s, hung);
        assert!(matches!(r, Err(Failure::TimedOut { .. })));
        assert!(took < Duration::from_millis(40), "{took:?}");
    }
    // Not read again, and no new thread stuck.
    assert_eq!(reads.load(Ordering::SeqCst), 1);
    let st = s.stats();
    assert_eq!((st.stuck_now, st.quarantined), (1, 50));
    assert_eq!(st.quarantine, vec![hung]);
    assert!(s.is_quarantined(Target::pid(7)));
    // A new process that reuses PID 7 is not the hung one.
    let reused = Target {
        pid: 7,
        start: Some(200),
    };
    assert!(!s.is_quarantined(reused));
    assert_eq!(
        probe(&s, Target::pid(8)).0,
        Ok(8),
        "other targets are read normally"
    );
    // The stuck read returns: the budget and the target are free again.
    drop(hold);
    assert!(eventually(|| s.stats().stuck_now == 0), "{:?}", s.stats());
    assert!(!s.is_quarantined(hung));
}

/// A stuck memory-map read quarantines the target's memory-map reads
/// only: its exec-lock reads (`stack`, `syscall`) are still made.
#[test]
fn the_quarantine_is_per_lock() {
    use super::Lock;
    let (hold, rx) = gate();
    let s = session(50, 2, 4);
    let hung = Target {
        pid: 7,
        start: Some(100),
    };
    let read = |lock: Lock, block: bool| {
        let rx = Arc::clone(&rx);
        let mut r = s.run(vec![()], move |(), ctx: &Ctx<(), Outcome<u32>>| {
            ctx.target(hung);
            ctx.guarded_on(lock, || {
                if block {
                    wait(&rx);
                }
                Ok(1)
            })
        });
        r.pop().map(|f| f.rest.and_then(|x| x))
    };
    assert!(matches!(
        read(Lock::MemoryMap, true),
        Some(Err(Failure::TimedOut { .. }))
    ));
    // Answered at once from the quarantine, without reading.
    assert!(matches!(
        read(Lock::MemoryMap, false),
        Some(Err(Failure::TimedOut { .. }))
    ));
    assert_eq!(read(Lock::Exec, false), Some(Ok(1)));
    drop(hold);
    assert!(eventually(|| s.stats().stuck_now == 0), "{:?}", s.stats());
    assert_eq!(read(Lock::MemoryMap, false), Some(Ok(1)));
}

#[test]
fn pool_threads_are_reused_across_runs() {
    let s = session(1000, 2, 8);
    for _ in 0..200 {
        let r = s.run((0..10).collect(), |i: u32, ctx: &Ctx<(), Outcome<u32>>| {
            ctx.guarded(|| Ok(i))
        });
        assert_eq!(r.len(), 10);
    }
    // Workers park between runs; a run that starts before the last one's
    // workers parked may start one more, which ends when the pool is full.
    assert!(eventually(|| s.stats().threads <= 2), "{:?}", s.stats());
    assert_eq!(s.stats().reads, 2000);
}

/// Two sessions share nothing: one's stuck reads neither spend the
/// other's budget nor quarantine its targets.
#[test]
fn two_sessions_are_independent() {
    let (_hold, rx) = gate();
    let a = session(50, 2, 1);
    let b = session(50, 2, 1);
    let r = a.once(Some(Target::pid(7)), move || {
        wait(&rx);
        Ok(())
    });
    assert!(matches!(r, Err(Failure::TimedOut { .. })));
    assert_eq!(
        a.once(Some(Target::pid(8)), || Ok(1)),
        Err(Failure::Skipped { stuck: 1 })
    );
    assert_eq!(b.once(Some(Target::pid(7)), || Ok(2)), Ok(2));
    assert_eq!(b.stats().stuck_now, 0);
    assert_eq!(a.stats().stuck_now, 1);
}

#[test]
fn ordered_results_stream_before_the_run_ends() {
    // Item 0 is slow: nothing may be emitted before it, everything in order after.
    let mut seen = Vec::new();
    session(1000, 2, 4).run_ordered(
        (0..100).collect(),
        |i: u32, ctx| {
            if i == 0 {
                std::thread::sleep(Duration::from_millis(50));
            }
            ctx.checkpoint(i);
            i * 10
        },
        |idx, f: Finished<u32, u32>| {
            assert_eq!(f.partial, Some(idx as u32));
            seen.push((idx, f.rest.unwrap()));
        },
    );
    assert_eq!(
        seen,
        (0..100).map(|i| (i as usize, i * 10)).collect::<Vec<_>>()
    );
}

#[test]
fn unguarded_and_once() {
    let s = Session::new(Limits {
        timeout: None,
        workers: 1,
        max_stuck: 1,
    });
    let r = s.run(vec![1, 2], |i: i32, ctx: &Ctx<(), i32>| {
        ctx.guarded(|| Ok(i)).unwrap()
    });
    assert_eq!(
        r.iter()
            .map(|f| f.rest.clone().unwrap())
            .collect::<Vec<_>>(),
        vec![1, 2]
    );
    let s = Session::default();
    assert_eq!(s.once(None, || Ok(5)), Ok(5));
    let t = Instant::now();
    let r: Outcome<()> = s
        .with_timeout(Some(Duration::from_millis(100)))
        .once(None, || {
            std::thread::sleep(Duration::from_secs(5));
            Ok(())
        });
    assert!(matches!(r, Err(Failure::TimedOut { .. })));
    assert!(t.elapsed() < Duration::from_secs(2));
    assert!(s.run(Vec::<i32>::new(), |_, _: &Ctx<(), ()>| ()).is_empty());
}

/// A job that panics loses its own result, never a place in the budget:
/// the session still reads afterwards.
#[test]
fn a_panicking_job_costs_nothing_lasting() {
    let s = session(200, 2, 2);
    for _ in 0..5 {
        let r = s.run((0..4).collect(), |i: u32, ctx: &Ctx<(), Outcome<u32>>| {
            ctx.guarded(|| {
                if i % 2 == 0 {
                    std::panic::panic_any("boom");
                }
                Ok(i)
            })
        });
        assert_eq!(r.len(), 4);
        assert_eq!(r[1].rest, Ok(Ok(1)));
        assert!(r[0].rest.is_err());
    }
    assert_eq!(s.once(None, || Ok(7)), Ok(7));
    let st = s.stats();
    assert_eq!((st.stuck_now, st.skipped), (0, 0), "{st:?}");
}

/// A run next to another healthy one is not refused: only stuck reads
/// and the run's own workers count against its budget.
#[test]
fn concurrent_healthy_runs_are_not_refused() {
    let s = session(2000, 4, 4);
    let (tx, rx) = mpsc::channel::<()>();
    let rx = Arc::new(Mutex::new(rx));
    let s2 = s.clone();
    let slow = std::thread::spawn(move || {
        s2.run(
            (0..4).collect(),
            move |i: u32, ctx: &Ctx<(), Outcome<u32>>| {
                ctx.guarded(|| {
                    let _ = lock(&rx).recv_timeout(Duration::from_millis(500));
                    Ok(i)
                })
            },
        )
    });
    std::thread::sleep(Duration::from_millis(50));
    let r = s.run((0..4).collect(), |i: u32, ctx: &Ctx<(), Outcome<u32>>| {
        ctx.guarded(|| Ok(i))
    });
    assert!(r.iter().all(|f| matches!(f.rest, Ok(Ok(_)))), "{r:?}");
    drop(tx);
    assert!(
        slow.join()
            .unwrap()
            .iter()
            .all(|f| matches!(f.rest, Ok(Ok(_))))
    );
}

/// An unordered run hands out results as they come: a slow first job does
/// not hold back the others, and every result arrives once.
#[test]
fn unordered_results_do_not_wait_for_a_slow_job() {
    let s = session(2000, 2, 2);
    let mut order = Vec::new();
    s.run_unordered(
        (0..6u64).collect(),
        |i: u64, _ctx: &Ctx<(), u64>| {
            if i == 0 {
                std::thread::sleep(Duration::from_millis(300));
            }
            i
        },
        |i, f| order.push((i, f.rest)),
    );
    assert_eq!(order.len(), 6);
    assert_eq!(order.last().map(|(i, _)| *i), Some(0), "{order:?}");
    let mut got: Vec<u64> = order.into_iter().map(|(_, r)| r.unwrap()).collect();
    got.sort_unstable();
    assert_eq!(got, vec![0, 1, 2, 3, 4, 5]);
}

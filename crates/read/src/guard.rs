//! Deadline-guarded work on a small pool of worker threads.
//!
//! Reading `cmdline`, `environ`, `maps` or `smaps*` takes the target's
//! memory-map lock; when a thread of the target is stuck holding it (or a
//! writer is queued behind a stuck holder) the read blocks in the kernel and
//! cannot be cancelled. So such reads never run on the caller's thread:
//!
//! - [`run`] hands one job per item (usually per process) to worker threads.
//!   A job first delivers the part of its result that needs no risky read
//!   ([`Ctx::checkpoint`]), then performs risky reads inside
//!   [`Ctx::guarded`].
//! - The caller's thread only collects results. A worker that has been inside
//!   `guarded` for longer than the deadline is abandoned: its job is reported
//!   as [`Failure::TimedOut`] (with the checkpointed part kept), and a
//!   replacement worker takes the remaining jobs. At most one read per job is
//!   ever outstanding, and a timed-out job is not retried.
//! - Abandoned workers are capped ([`Options::max_stuck`]); past the cap the
//!   remaining jobs run on the caller's thread with risky reads refused
//!   ([`Failure::Skipped`]), so the number of stuck threads stays bounded.
//! - Nothing ever joins an abandoned worker. The memory-lock reads wait with
//!   `mmap_read_lock_killable()`, so process exit is not held up by them.
//!
//! With nothing hung, the cost is two uncontended mutex operations per
//! guarded read, and the pool makes listings faster by using every core.

use crate::failure::{Failure, Outcome};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How [`run`] behaves.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Deadline for one guarded read; `None` disables the guard (risky reads
    /// then run unchecked: only for measuring its cost).
    pub timeout: Option<Duration>,
    /// Worker threads to start (at least 1).
    pub workers: usize,
    /// At most this many threads may ever be stuck in one run (abandoned
    /// ones plus live ones that could still get stuck).
    pub max_stuck: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            timeout: Some(Duration::from_secs(1)),
            workers: default_workers(),
            max_stuck: 8,
        }
    }
}

/// One worker per core, at least 2 (so one stuck read never serialises the
/// rest behind a replacement spawn), at most 8.
pub fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(2, 8)
}

/// The result of one job.
#[derive(Debug)]
pub struct Finished<P, R> {
    /// What the job delivered with [`Ctx::checkpoint`], if anything.
    pub partial: Option<P>,
    /// The job's return value, or why there is none.
    pub rest: Outcome<R>,
}

enum Msg<P, R> {
    Partial(usize, P),
    Done(usize, R),
}

/// A worker's mailbox: what it is reading now, and the results it has
/// finished that the collector has not taken yet. Results are batched here
/// (one uncontended lock each) instead of sent one by one, and the collector
/// is woken once per [`BATCH`] results; the collector drains a stuck
/// worker's mailbox before abandoning it, so nothing it finished is lost.
struct Slot<P, R> {
    /// The job index and start time of the guarded read in progress.
    busy: Mutex<Option<(usize, Instant)>>,
    batch: Mutex<Vec<Msg<P, R>>>,
    abandoned: AtomicBool,
}

impl<P, R> Slot<P, R> {
    fn new() -> Self {
        Slot {
            busy: Mutex::new(None),
            batch: Mutex::new(Vec::new()),
            abandoned: AtomicBool::new(false),
        }
    }

    fn push(&self, m: Msg<P, R>) -> usize {
        let mut g = match self.batch.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        g.push(m);
        g.len()
    }

    fn drain(&self) -> Vec<Msg<P, R>> {
        let mut g = match self.batch.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        std::mem::take(&mut *g)
    }
}

/// Results a worker collects before waking the collector.
const BATCH: usize = 32;

#[derive(Clone, Copy)]
enum Mode {
    /// Risky reads run on this (worker) thread, watched by the collector.
    Watched,
    /// Guard disabled: risky reads run directly.
    Unwatched,
    /// On the caller's thread after the stuck cap: risky reads are refused.
    Refuse { stuck: usize },
}

/// Passed to each job: deliver partial results and run guarded reads.
pub struct Ctx<P, R> {
    idx: usize,
    out: Out<P, R>,
    mode: Mode,
}

/// Where a job's messages go: its worker's mailbox, or (on the caller's
/// thread) straight to a local list.
enum Out<P, R> {
    Slot(Arc<Slot<P, R>>),
    Local(std::cell::RefCell<Vec<Msg<P, R>>>),
}

impl<P, R> Ctx<P, R> {
    /// Delivers the part of the result that was read without risk, so that
    /// it survives if a later guarded read times out.
    pub fn checkpoint(&self, p: P) {
        match &self.out {
            Out::Slot(s) => {
                s.push(Msg::Partial(self.idx, p));
            }
            Out::Local(v) => v.borrow_mut().push(Msg::Partial(self.idx, p)),
        }
    }

    /// Runs `f`, a read that may block on the target's memory lock, under
    /// the deadline. If the deadline passes, the collector reports the job
    /// as timed out and this thread is abandoned (the call may return much
    /// later, or never).
    pub fn guarded<T>(&self, f: impl FnOnce() -> Outcome<T>) -> Outcome<T> {
        match (self.mode, &self.out) {
            (Mode::Refuse { stuck }, _) => Err(Failure::Skipped { stuck }),
            (Mode::Unwatched, _) | (Mode::Watched, Out::Local(_)) => f(),
            (Mode::Watched, Out::Slot(slot)) => {
                set_busy(&slot.busy, Some((self.idx, Instant::now())));
                let r = f();
                set_busy(&slot.busy, None);
                r
            }
        }
    }
}

fn set_busy(busy: &Mutex<Option<(usize, Instant)>>, v: Option<(usize, Instant)>) {
    match busy.lock() {
        Ok(mut g) => *g = v,
        Err(poisoned) => *poisoned.into_inner() = v,
    }
}

fn get_busy(busy: &Mutex<Option<(usize, Instant)>>) -> Option<(usize, Instant)> {
    match busy.lock() {
        Ok(g) => *g,
        Err(poisoned) => *poisoned.into_inner(),
    }
}

/// The items, handed out by an atomic index: no lock is shared between
/// workers (each item has its own, taken once).
struct Queue<I> {
    items: Vec<Mutex<Option<I>>>,
    next: AtomicUsize,
}

impl<I> Queue<I> {
    fn pop(&self) -> Option<(usize, I)> {
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            let cell = self.items.get(i)?;
            let item = match cell.lock() {
                Ok(mut g) => g.take(),
                Err(p) => p.into_inner().take(),
            };
            if let Some(item) = item {
                return Some((i, item));
            }
        }
    }
}

/// Runs `job` once per item on worker threads and returns the results in
/// the items' order. Returns only when every job finished, timed out, or was
/// run with risky reads refused: never later than about one deadline after
/// the last healthy job.
pub fn run<I, P, R, F>(items: Vec<I>, opts: Options, job: F) -> Vec<Finished<P, R>>
where
    I: Send + 'static,
    P: Send + 'static,
    R: Send + 'static,
    F: Fn(I, &Ctx<P, R>) -> R + Send + Sync + 'static,
{
    let mut out = Vec::with_capacity(items.len());
    run_ordered(items, opts, job, |_, f| out.push(f));
    out
}

/// Like [`run`], but hands each result to `sink` as soon as it and every
/// result before it are in, in the items' order, instead of collecting them:
/// memory then holds only the results that finished out of order (about one
/// per worker), so a listing can print rows while later ones are read.
pub fn run_ordered<I, P, R, F>(
    items: Vec<I>,
    opts: Options,
    job: F,
    mut sink: impl FnMut(usize, Finished<P, R>),
) where
    I: Send + 'static,
    P: Send + 'static,
    R: Send + 'static,
    F: Fn(I, &Ctx<P, R>) -> R + Send + Sync + 'static,
{
    let n = items.len();
    if n == 0 {
        return;
    }
    let mut state = Collect::<P, R> {
        partials: (0..n).map(|_| None).collect(),
        rests: (0..n).map(|_| None).collect(),
        next: 0,
        remaining: n,
    };
    let queue = Arc::new(Queue {
        items: items.into_iter().map(|i| Mutex::new(Some(i))).collect(),
        next: AtomicUsize::new(0),
    });
    let job = Arc::new(job);
    // Workers only ping the collector (every BATCH results, and when they
    // run out of work); results travel through their mailboxes.
    let (ping, rx) = mpsc::channel::<()>();
    let mode = if opts.timeout.is_some() {
        Mode::Watched
    } else {
        Mode::Unwatched
    };

    let spawn = |ping: Sender<()>| -> Option<Arc<Slot<P, R>>> {
        let slot = Arc::new(Slot::new());
        let (q, j, s) = (Arc::clone(&queue), Arc::clone(&job), Arc::clone(&slot));
        std::thread::Builder::new()
            .name("procscope-read".into())
            .stack_size(256 * 1024)
            .spawn(move || worker(q, j, s, ping, mode))
            .ok()
            .map(|_| slot)
    };

    let mut workers: Vec<Arc<Slot<P, R>>> =
        (0..opts.workers.max(1).min(n).min(opts.max_stuck.max(1)))
            .filter_map(|_| spawn(ping.clone()))
            .collect();
    let mut stuck = 0usize;
    let tick = opts.timeout.map_or(Duration::from_millis(100), |t| {
        (t / 4).clamp(Duration::from_millis(5), Duration::from_millis(50))
    });

    while state.remaining > 0 {
        if workers.is_empty() {
            // Past the stuck cap (or no thread could be started): finish the
            // rest here, refusing risky reads.
            while let Some((i, item)) = queue.pop() {
                let ctx = Ctx {
                    idx: i,
                    out: Out::Local(std::cell::RefCell::new(Vec::new())),
                    mode: Mode::Refuse { stuck },
                };
                let r = job(item, &ctx);
                if let Out::Local(v) = ctx.out {
                    for m in v.into_inner() {
                        state.accept(m, &mut sink);
                    }
                }
                state.finish(i, Ok(r), &mut sink);
            }
            break;
        }
        match rx.recv_timeout(tick) {
            Ok(()) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {}
        }
        for w in &workers {
            for m in w.drain() {
                state.accept(m, &mut sink);
            }
        }
        if let Some(timeout) = opts.timeout {
            let now = Instant::now();
            let mut k = 0;
            while k < workers.len() {
                let expired = workers
                    .get(k)
                    .and_then(|w| get_busy(&w.busy))
                    .filter(|(_, t)| now.duration_since(*t) >= timeout);
                let Some((i, _)) = expired else {
                    k += 1;
                    continue;
                };
                let w = workers.swap_remove(k);
                w.abandoned.store(true, Ordering::SeqCst);
                // Take in whatever the stuck worker finished or checkpointed.
                for m in w.drain() {
                    state.accept(m, &mut sink);
                }
                state.finish(i, Err(Failure::TimedOut { after: timeout }), &mut sink);
                stuck += 1;
                // Every live worker may get stuck too: keep the total that
                // can ever be stuck at `max_stuck`.
                if stuck + workers.len() < opts.max_stuck {
                    if let Some(s) = spawn(ping.clone()) {
                        workers.push(s);
                    }
                }
            }
        }
        if state.remaining > 0
            && !workers.is_empty()
            && workers.iter().all(|w| Arc::strong_count(w) == 1)
        {
            // Every worker has exited. Pair the Release of their last Arc
            // drop with an Acquire, take what they pushed before exiting,
            // and stop: anything still missing was lost with a panicked job.
            std::sync::atomic::fence(Ordering::Acquire);
            for w in &workers {
                for m in w.drain() {
                    state.accept(m, &mut sink);
                }
            }
            break;
        }
    }
    // Jobs still unfinished can only be left if a worker died (a job
    // panicked): report them as lost rather than waiting.
    for i in 0..n {
        state.finish(
            i,
            Err(Failure::Io {
                errno: 0,
                message: "worker thread failed".into(),
            }),
            &mut sink,
        );
    }
}

/// The collector's bookkeeping: results wait here until every earlier one
/// is in, then go to the sink in order.
struct Collect<P, R> {
    partials: Vec<Option<P>>,
    rests: Vec<Option<Outcome<R>>>,
    next: usize,
    remaining: usize,
}

impl<P, R> Collect<P, R> {
    fn accept(&mut self, m: Msg<P, R>, sink: &mut impl FnMut(usize, Finished<P, R>)) {
        match m {
            Msg::Partial(i, p) => {
                if i >= self.next {
                    if let Some(slot) = self.partials.get_mut(i) {
                        *slot = Some(p);
                    }
                }
            }
            Msg::Done(i, r) => self.finish(i, Ok(r), sink),
        }
    }

    /// Records job `i`'s outcome unless it already has one, then emits every
    /// result that is now in order.
    fn finish(&mut self, i: usize, rest: Outcome<R>, sink: &mut impl FnMut(usize, Finished<P, R>)) {
        if i < self.next {
            return;
        }
        let Some(slot) = self.rests.get_mut(i) else {
            return;
        };
        if slot.is_some() {
            return;
        }
        *slot = Some(rest);
        self.remaining = self.remaining.saturating_sub(1);
        while let Some(rest) = self.rests.get_mut(self.next).and_then(Option::take) {
            let partial = self.partials.get_mut(self.next).and_then(Option::take);
            sink(self.next, Finished { partial, rest });
            self.next += 1;
        }
    }
}

fn worker<I, P, R, F>(
    queue: Arc<Queue<I>>,
    job: Arc<F>,
    slot: Arc<Slot<P, R>>,
    ping: Sender<()>,
    mode: Mode,
) where
    F: Fn(I, &Ctx<P, R>) -> R,
{
    let ctx_slot = Arc::clone(&slot);
    while !slot.abandoned.load(Ordering::SeqCst) {
        let Some((i, item)) = queue.pop() else { break };
        let ctx = Ctx {
            idx: i,
            out: Out::Slot(Arc::clone(&ctx_slot)),
            mode,
        };
        let r = job(item, &ctx);
        drop(ctx);
        if slot.push(Msg::Done(i, r)) == BATCH && ping.send(()).is_err() {
            return;
        }
    }
    drop(ctx_slot);
    // Out of work: release our references first, so that the collector can
    // tell from the reference count that this worker is gone.
    drop(slot);
    let _ = ping.send(());
}

/// Runs one risky read `f` on a fresh thread and waits at most `timeout`.
/// For commands about a single process; listings use [`run`].
pub fn once<T, F>(timeout: Option<Duration>, f: F) -> Outcome<T>
where
    T: Send + 'static,
    F: FnOnce() -> Outcome<T> + Send + 'static,
{
    let mut r = run(
        vec![f],
        Options {
            timeout,
            workers: 1,
            max_stuck: 1,
        },
        |f: F, ctx: &Ctx<(), Outcome<T>>| ctx.guarded(|| Ok(f())).and_then(|x| x),
    );
    match r.pop() {
        Some(Finished { rest, .. }) => rest.and_then(|x| x),
        None => Err(Failure::Gone),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn opts(ms: u64, workers: usize, max_stuck: usize) -> Options {
        Options {
            timeout: Some(Duration::from_millis(ms)),
            workers,
            max_stuck,
        }
    }

    #[test]
    fn results_in_order_and_partials_kept() {
        let r = run((0..500).collect(), opts(1000, 3, 4), |i: u32, ctx| {
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
        // Item 3 blocks "forever" (until the test ends) inside guarded().
        let (_hold, release) = mpsc::channel::<()>();
        let release = Arc::new(Mutex::new(release));
        let start = Instant::now();
        let r = run((0..50).collect(), opts(200, 2, 4), move |i: u32, ctx| {
            ctx.checkpoint(i);
            ctx.guarded(|| {
                if i == 3 {
                    let _ = release.lock().unwrap().recv();
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
    }

    #[test]
    fn stuck_cap_bounds_threads_and_refuses_the_rest() {
        let started = Arc::new(AtomicUsize::new(0));
        let s2 = Arc::clone(&started);
        let (_hold, release) = mpsc::channel::<()>();
        let release = Arc::new(Mutex::new(release));
        let r = run((0..20).collect(), opts(100, 2, 3), move |i: u32, ctx| {
            ctx.checkpoint(i);
            ctx.guarded(|| {
                s2.fetch_add(1, Ordering::SeqCst);
                let _ = release
                    .lock()
                    .map(|r| r.recv_timeout(Duration::from_secs(30)));
                Ok(i)
            })
        });
        // Every job blocks: only max_stuck guarded reads were ever started.
        assert!(
            started.load(Ordering::SeqCst) <= 3,
            "{}",
            started.load(Ordering::SeqCst)
        );
        let timed_out = r
            .iter()
            .filter(|f| matches!(f.rest, Err(Failure::TimedOut { .. })))
            .count();
        let skipped = r
            .iter()
            .filter(|f| matches!(f.rest, Ok(Err(Failure::Skipped { .. }))))
            .count();
        assert_eq!(timed_out, 3);
        assert_eq!(skipped, 17);
        assert!(r.iter().all(|f| f.partial.is_some()));
    }

    #[test]
    fn ordered_results_stream_before_the_run_ends() {
        // Item 0 is slow: nothing may be emitted before it, everything in order after.
        let mut seen = Vec::new();
        run_ordered(
            (0..100).collect(),
            opts(1000, 2, 4),
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
        let r = run(
            vec![1, 2],
            Options {
                timeout: None,
                workers: 1,
                max_stuck: 1,
            },
            |i: i32, ctx: &Ctx<(), i32>| ctx.guarded(|| Ok(i)).unwrap(),
        );
        assert_eq!(
            r.iter()
                .map(|f| f.rest.clone().unwrap())
                .collect::<Vec<_>>(),
            vec![1, 2]
        );
        assert_eq!(once(Some(Duration::from_secs(1)), || Ok(5)), Ok(5));
        let t = Instant::now();
        let r: Outcome<()> = once(Some(Duration::from_millis(100)), || {
            std::thread::sleep(Duration::from_secs(5));
            Ok(())
        });
        assert!(matches!(r, Err(Failure::TimedOut { .. })));
        assert!(t.elapsed() < Duration::from_secs(2));
        assert!(
            run(
                Vec::<i32>::new(),
                Options::default(),
                |_, _: &Ctx<(), ()>| ()
            )
            .is_empty()
        );
    }
}

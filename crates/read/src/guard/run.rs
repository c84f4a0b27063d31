//! One run of jobs over the session's pool: hand out items, collect
//! results in order, abandon workers stuck past the deadline.

use super::{Lock, Session, Shared, Target, after, lock, pool};
use crate::failure::{Failure, Outcome};
use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// A target and the lock its read may wait for.
type Locked = (Target, Lock);

/// The guarded read a worker is in, and whether the collector gave up on
/// it. One lock holds both, so a read that returns just as the deadline
/// passes is either abandoned (and then released by the worker) or not,
/// never half of each.
#[derive(Default)]
struct Busy {
    /// The job index, start time and target of the read in progress.
    read: Option<(usize, Instant, Option<Locked>)>,
    /// Set when the collector abandoned this worker: the stuck read's id in
    /// the session's budget.
    abandoned: Option<u64>,
}

/// A worker's mailbox: what it is reading now, and the results it has
/// finished that the collector has not taken yet. Results are batched here
/// (one uncontended lock each) instead of sent one by one, and the collector
/// is woken once per [`BATCH`] results; the collector drains a stuck
/// worker's mailbox before abandoning it, so nothing it finished is lost.
struct Slot<P, R> {
    busy: Mutex<Busy>,
    batch: Mutex<Vec<Msg<P, R>>>,
}

impl<P, R> Slot<P, R> {
    fn new() -> Self {
        Slot {
            busy: Mutex::new(Busy::default()),
            batch: Mutex::new(Vec::new()),
        }
    }

    fn push(&self, m: Msg<P, R>) -> usize {
        let mut g = lock(&self.batch);
        g.push(m);
        g.len()
    }

    fn drain(&self) -> Vec<Msg<P, R>> {
        std::mem::take(&mut *lock(&self.batch))
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
    /// On the caller's thread, the stuck budget spent: risky reads are
    /// refused.
    Refuse,
}

/// Passed to each job: name its target, deliver partial results and run
/// guarded reads.
pub struct Ctx<P, R> {
    idx: usize,
    out: Out<P, R>,
    mode: Mode,
    shared: Arc<Shared>,
    timeout: Option<Duration>,
    target: Cell<Option<Target>>,
    /// What the guarded read under way may wait for.
    lock: Cell<Lock>,
}

/// Where a job's messages go: its worker's mailbox, or (on the caller's
/// thread) straight to a local list.
enum Out<P, R> {
    Slot(Arc<Slot<P, R>>),
    Local(RefCell<Vec<Msg<P, R>>>),
}

impl<P, R> Ctx<P, R> {
    /// Names the process this job reads, for the quarantine: later guarded
    /// reads of a target with an abandoned read outstanding are answered
    /// "timed out" at once, and a read abandoned here quarantines it.
    pub fn target(&self, t: Target) {
        self.target.set(Some(t));
    }

    /// [`Ctx::guarded`] for a read that waits for `lock` rather than the
    /// memory-map lock: quarantined apart from the target's other reads.
    pub fn guarded_on<T>(&self, lock: Lock, f: impl FnOnce() -> Outcome<T>) -> Outcome<T> {
        let before = self.lock.replace(lock);
        let r = self.guarded(f);
        self.lock.set(before);
        r
    }

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
        let l = self.lock.get();
        let target = self.target.get();
        if let (Some(t), Some(_)) = (target, self.timeout) {
            if self.shared.quarantined(&t, l) {
                self.shared.quarantined.fetch_add(1, Ordering::Relaxed);
                return Err(Failure::TimedOut {
                    after: after(self.timeout),
                });
            }
        }
        match (self.mode, &self.out) {
            (Mode::Refuse, _) => {
                self.shared.skipped.fetch_add(1, Ordering::Relaxed);
                Err(Failure::Skipped {
                    stuck: self.shared.stuck_now(),
                })
            }
            (Mode::Unwatched, _) | (Mode::Watched, Out::Local(_)) => {
                self.shared.reads.fetch_add(1, Ordering::Relaxed);
                f()
            }
            (Mode::Watched, Out::Slot(slot)) => {
                {
                    let mut busy = lock(&slot.busy);
                    if busy.abandoned.is_some() {
                        // This job already timed out and its result is
                        // discarded: a second read would be a thread
                        // nobody watches.
                        return Err(Failure::TimedOut {
                            after: after(self.timeout),
                        });
                    }
                    busy.read = Some((self.idx, Instant::now(), target.map(|t| (t, l))));
                }
                self.shared.reads.fetch_add(1, Ordering::Relaxed);
                // Cleared when the read returns — or unwinds: a read that
                // panicked must not look stuck forever.
                let _done = ReadDone {
                    slot,
                    shared: &self.shared,
                };
                f()
            }
        }
    }
}

/// Ends a guarded read: the worker is no longer busy, and if the
/// collector had abandoned it, the target may be read again and the budget
/// has room for one more.
struct ReadDone<'a, P, R> {
    slot: &'a Slot<P, R>,
    shared: &'a Shared,
}

impl<P, R> Drop for ReadDone<'_, P, R> {
    fn drop(&mut self) {
        let mut busy = lock(&self.slot.busy);
        busy.read = None;
        if let Some(id) = busy.abandoned {
            self.shared.release(id);
        }
    }
}

/// The items, handed out by an atomic index: no lock is shared between
/// workers (each item has its own, taken once).
struct Queue<I> {
    items: Vec<Mutex<Option<I>>>,
    next: AtomicUsize,
}

impl<I> Queue<I> {
    /// Whether items are left to hand out.
    fn has_more(&self) -> bool {
        self.next.load(Ordering::Relaxed) < self.items.len()
    }

    fn pop(&self) -> Option<(usize, I)> {
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            let cell = self.items.get(i)?;
            let item = lock(cell).take();
            if let Some(item) = item {
                return Some((i, item));
            }
        }
    }
}

/// See [`Session::run_ordered`] (`ordered`) and
/// [`Session::run_unordered`].
pub(super) fn run_ordered<I, P, R, F>(
    session: &Session,
    items: Vec<I>,
    job: F,
    ordered: bool,
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
    let shared = &session.shared;
    let timeout = session.timeout;
    let mut state = Collect::<P, R> {
        partials: (0..n).map(|_| None).collect(),
        rests: (0..n).map(|_| None).collect(),
        next: 0,
        remaining: n,
        emitted: if ordered { Vec::new() } else { vec![false; n] },
    };
    let queue = Arc::new(Queue {
        items: items.into_iter().map(|i| Mutex::new(Some(i))).collect(),
        next: AtomicUsize::new(0),
    });
    let job = Arc::new(job);
    // Workers only ping the collector (every BATCH results, and when they
    // run out of work); results travel through their mailboxes.
    let (ping, rx) = mpsc::channel::<()>();
    let mode = if timeout.is_some() {
        Mode::Watched
    } else {
        Mode::Unwatched
    };

    // Starts one worker on a place already reserved in the budget.
    let spawn = |ping: Sender<()>| -> Option<Arc<Slot<P, R>>> {
        let slot = Arc::new(Slot::new());
        let (q, j, s, sh) = (
            Arc::clone(&queue),
            Arc::clone(&job),
            Arc::clone(&slot),
            Arc::clone(shared),
        );
        let task: pool::Task = Box::new(move || worker(q, j, s, sh, ping, mode, timeout));
        pool::spawn(shared, task).then_some(slot)
    };

    let want = session.workers.min(n);
    let granted = shared.acquire(want, 0);
    let mut workers: Vec<Arc<Slot<P, R>>> =
        (0..granted).filter_map(|_| spawn(ping.clone())).collect();
    let tick = timeout.map_or(Duration::from_millis(100), |t| {
        (t / 4).clamp(Duration::from_millis(5), Duration::from_millis(50))
    });

    while state.remaining > 0 {
        if workers.is_empty() {
            // The stuck budget is spent (or no thread could be started):
            // finish the rest here, refusing risky reads.
            while let Some((i, item)) = queue.pop() {
                let ctx = Ctx {
                    idx: i,
                    out: Out::Local(RefCell::new(Vec::new())),
                    mode: if timeout.is_some() {
                        Mode::Refuse
                    } else {
                        Mode::Unwatched
                    },
                    shared: Arc::clone(shared),
                    timeout,
                    target: Cell::new(None),
                    lock: Cell::new(Lock::default()),
                };
                // A job that panics loses its own result, not the run.
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(item, &ctx)));
                if let Out::Local(v) = ctx.out {
                    for m in v.into_inner() {
                        state.accept(m, &mut sink);
                    }
                }
                let r = r.map_err(|_| Failure::Io {
                    errno: 0,
                    message: "the job failed (a bug: please report it)".into(),
                });
                state.finish(i, r, &mut sink);
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
        if let Some(timeout) = timeout {
            let now = Instant::now();
            let mut k = 0;
            while k < workers.len() {
                let expired = workers.get(k).and_then(|w| {
                    let mut busy = lock(&w.busy);
                    match busy.read {
                        Some((i, t0, target))
                            if busy.abandoned.is_none() && now.duration_since(t0) >= timeout =>
                        {
                            busy.abandoned = Some(shared.abandon(target));
                            Some(i)
                        }
                        _ => None,
                    }
                });
                let Some(i) = expired else {
                    k += 1;
                    continue;
                };
                let w = workers.swap_remove(k);
                // Take in whatever the stuck worker finished or checkpointed.
                for m in w.drain() {
                    state.accept(m, &mut sink);
                }
                state.finish(i, Err(Failure::TimedOut { after: timeout }), &mut sink);
                // A replacement, if the budget has room for one more thread
                // that may get stuck.
                if queue.has_more() && shared.acquire(1, workers.len()) == 1 {
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
    /// Unordered runs: which results went to the sink (empty: ordered).
    emitted: Vec<bool>,
}

impl<P, R> Collect<P, R> {
    fn accept(&mut self, m: Msg<P, R>, sink: &mut impl FnMut(usize, Finished<P, R>)) {
        match m {
            Msg::Partial(i, p) => {
                if self.emitted.get(i).is_some_and(|&e| !e)
                    || (self.emitted.is_empty() && i >= self.next)
                {
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
        if let Some(e) = self.emitted.get_mut(i) {
            // Unordered: each result goes to the sink as soon as it is in.
            if !*e {
                *e = true;
                self.remaining = self.remaining.saturating_sub(1);
                let partial = self.partials.get_mut(i).and_then(Option::take);
                sink(i, Finished { partial, rest });
            }
            return;
        }
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

/// Takes jobs until the queue is empty or the collector abandoned this
/// worker; then gives its budget place back (an abandoned worker's place
/// became a stuck read, released when that read returns).
fn worker<I, P, R, F>(
    queue: Arc<Queue<I>>,
    job: Arc<F>,
    slot: Arc<Slot<P, R>>,
    shared: Arc<Shared>,
    ping: Sender<()>,
    mode: Mode,
    timeout: Option<Duration>,
) where
    F: Fn(I, &Ctx<P, R>) -> R,
{
    loop {
        if lock(&slot.busy).abandoned.is_some() {
            break;
        }
        let Some((i, item)) = queue.pop() else {
            break;
        };
        let ctx = Ctx {
            idx: i,
            out: Out::Slot(Arc::clone(&slot)),
            mode,
            shared: Arc::clone(&shared),
            timeout,
            target: Cell::new(None),
            lock: Cell::new(Lock::default()),
        };
        // A job that panics loses its result (reported as failed when the
        // run ends); the worker goes on with the next item.
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(item, &ctx)));
        drop(ctx);
        let Ok(r) = r else { continue };
        if slot.push(Msg::Done(i, r)) == BATCH && ping.send(()).is_err() {
            // The collector is gone: nobody wants the rest.
            return;
        }
    }
    // Release our references first, so that the collector can tell from
    // the reference count that this worker is gone.
    drop(slot);
    drop(queue);
    drop(job);
    let _ = ping.send(());
}

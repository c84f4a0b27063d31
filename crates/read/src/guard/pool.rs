//! The session's worker threads: started on demand, parked between runs.

use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, Weak};

/// Work for a pooled thread.
pub(super) type Task = Box<dyn FnOnce() + Send + 'static>;

/// Parked threads, each waiting on its own channel. A thread parks only
/// while fewer than `max_idle` are parked; dropping the pool drops the
/// senders, which ends every parked thread.
pub(super) struct Pool {
    idle: Mutex<Vec<Sender<Task>>>,
    max_idle: usize,
}

impl Pool {
    pub(super) fn new(max_idle: usize) -> Self {
        Pool {
            idle: Mutex::new(Vec::new()),
            max_idle,
        }
    }

    fn park(&self) -> Option<mpsc::Receiver<Task>> {
        let mut idle = super::lock(&self.idle);
        if idle.len() >= self.max_idle {
            return None;
        }
        let (tx, rx) = mpsc::channel();
        idle.push(tx);
        Some(rx)
    }
}

/// Runs `task` on a parked thread of `shared`'s pool, or on a new one.
/// Returns false if no thread could be started.
pub(super) fn spawn(shared: &Arc<super::Shared>, task: Task) -> bool {
    let mut task = task;
    loop {
        let Some(tx) = super::lock(&shared.pool.idle).pop() else {
            break;
        };
        match tx.send(task) {
            Ok(()) => return true,
            // That thread has ended (its session handle went away while it
            // parked): try the next.
            Err(mpsc::SendError(t)) => task = t,
        }
    }
    let weak = Arc::downgrade(shared);
    shared
        .threads
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let started = std::thread::Builder::new()
        .name("procscope-read".into())
        .stack_size(256 * 1024)
        .spawn(move || pooled(weak, task))
        .is_ok();
    if !started {
        shared
            .threads
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
    started
}

/// A pooled thread: runs its task, then parks until the next one, and ends
/// when the pool is full or the session is gone.
fn pooled(shared: Weak<super::Shared>, first: Task) {
    let mut task = first;
    loop {
        // A task that panics must not take the pooled thread (and its
        // count) with it.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(task));
        let Some(s) = shared.upgrade() else { return };
        let Some(rx) = s.pool.park() else {
            s.threads.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            return;
        };
        // Hold no strong reference while parked, so that the session can
        // be dropped and its parked threads end.
        drop(s);
        match rx.recv() {
            Ok(t) => task = t,
            Err(_) => {
                if let Some(s) = shared.upgrade() {
                    s.threads.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                }
                return;
            }
        }
    }
}

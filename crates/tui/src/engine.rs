//! The threads that read /proc, so that the UI thread never does: one owns
//! the [`Collector`] and sends a snapshot (with rates) every interval; one
//! reads the details of the opened process. Both read through the engine's
//! [`Session`], so a stuck process costs them a deadline, never a freeze.

use crate::details::{self, Detail, Job};
use procscope_model::collect::rates::{self, Rates};
use procscope_model::collect::{Collector, Identity, Snapshot, Want};
use procscope_read::{ProcRoot, Session};
use std::collections::HashSet;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// One collection, ready to draw.
#[derive(Debug, Clone)]
pub struct Update {
    /// What the collector saw (shared with the collector thread, which
    /// keeps it for the next rates).
    pub snap: Arc<Snapshot>,
    /// Rates since the previous collection (empty on the first).
    pub rates: Rates,
    /// Processes with a task in `D` at this collection and the one before
    /// (stuck, not just waiting for a disk for a moment).
    pub hung: HashSet<Identity>,
}

/// What the background threads send to the UI loop.
#[derive(Debug)]
pub enum Event {
    /// A new collection.
    Update(Box<Update>),
    /// The collector could not list the proc root.
    CollectFailed(String),
    /// Details of the opened process.
    Detail(Box<Detail>),
    /// A terminal event (key, mouse, resize).
    Input(ratatui::crossterm::event::Event),
    /// The input thread could not read the terminal.
    InputFailed(String),
    /// A line for the status bar (a signal sent, or why not).
    Status(String),
}

/// Starts the collector thread: a first collection at once, then one every
/// `interval`. It stops when the UI loop is gone (the send fails).
pub fn start_collector(
    root: ProcRoot,
    session: Session,
    interval: Duration,
    tx: Sender<Event>,
) -> std::io::Result<()> {
    let want = Want {
        wchan: true,
        ..Want::default()
    };
    thread::Builder::new()
        .name("top-collect".into())
        .spawn(move || {
            let mut c = Collector::new(root, session, want);
            let mut prev: Option<Arc<Snapshot>> = None;
            let mut next = Instant::now();
            loop {
                let msg = match c.collect() {
                    Ok(snap) => {
                        let snap = Arc::new(snap);
                        let u = update(prev.as_deref(), Arc::clone(&snap));
                        prev = Some(snap);
                        Event::Update(Box::new(u))
                    }
                    Err(f) => Event::CollectFailed(f.to_string()),
                };
                if tx.send(msg).is_err() {
                    return;
                }
                next += interval;
                let now = Instant::now();
                if next > now {
                    thread::sleep(next - now);
                } else {
                    // A slow collection: start the next one a full interval
                    // from now rather than back to back.
                    next = now;
                }
            }
        })
        .map(|_| ())
}

/// Rates and hung processes of `snap` against the previous collection.
pub fn update(prev: Option<&Snapshot>, snap: Arc<Snapshot>) -> Update {
    let rates = prev.map(|p| rates::rates(p, &snap)).unwrap_or_default();
    let in_d =
        |p: &procscope_model::collect::Proc| p.state == 'D' || p.thread_states.disk_sleep > 0;
    let hung = match prev {
        Some(p) => snap
            .processes
            .iter()
            .filter(|q| in_d(q) && p.get(q.identity()).is_some_and(in_d))
            .map(|q| q.identity())
            .collect(),
        None => HashSet::new(),
    };
    Update { snap, rates, hung }
}

/// The details worker: takes the latest job (older ones still queued are
/// dropped: only what is on screen is read) and answers it.
pub struct Details {
    jobs: Arc<(Mutex<Option<Job>>, std::sync::Condvar)>,
}

impl Details {
    /// Starts the worker thread.
    pub fn start(root: ProcRoot, session: Session, tx: Sender<Event>) -> std::io::Result<Details> {
        let jobs: Arc<(Mutex<Option<Job>>, std::sync::Condvar)> = Arc::default();
        let j2 = Arc::clone(&jobs);
        thread::Builder::new()
            .name("top-details".into())
            .spawn(move || {
                loop {
                    let job = {
                        let (m, cv) = &*j2;
                        let mut g = match m.lock() {
                            Ok(g) => g,
                            Err(_) => return,
                        };
                        loop {
                            if let Some(j) = g.take() {
                                break j;
                            }
                            g = match cv.wait(g) {
                                Ok(g) => g,
                                Err(_) => return,
                            };
                        }
                    };
                    let d = details::read(&root, &session, &job);
                    if tx.send(Event::Detail(Box::new(d))).is_err() {
                        return;
                    }
                }
            })?;
        Ok(Details { jobs })
    }

    /// Asks for `job`, replacing a job not started yet.
    pub fn ask(&self, job: Job) {
        let (m, cv) = &*self.jobs;
        if let Ok(mut g) = m.lock() {
            *g = Some(job);
            cv.notify_one();
        }
    }
}

/// Starts the input thread: terminal events onto the UI loop's channel.
pub fn start_input(tx: Sender<Event>) -> std::io::Result<()> {
    thread::Builder::new()
        .name("top-input".into())
        .spawn(move || {
            loop {
                let msg = match ratatui::crossterm::event::read() {
                    Ok(e) => Event::Input(e),
                    Err(e) => Event::InputFailed(e.to_string()),
                };
                let failed = matches!(msg, Event::InputFailed(_));
                if tx.send(msg).is_err() || failed {
                    return;
                }
            }
        })
        .map(|_| ())
}

/// Waits for the next event, up to `limit` (so the loop can look at the
/// termination flag).
pub fn next(rx: &Receiver<Event>, limit: Duration) -> Option<Event> {
    rx.recv_timeout(limit).ok()
}

/// A channel for the loop.
pub fn channel() -> (Sender<Event>, Receiver<Event>) {
    mpsc::channel()
}

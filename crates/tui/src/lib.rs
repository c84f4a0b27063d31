//! `procscope top`: a live process table (htop's columns plus where each
//! process sleeps, its container or unit and its fds against the limit)
//! whose opened process shows the `show` dossier, the `why` verdict,
//! threads with their stacks, decoded fds, environment, limits and maps.
//!
//! It never freezes on a stuck process: the UI thread never reads /proc.
//! A collector thread ([`engine::start_collector`]) owns the model's
//! `Collector` and sends a snapshot with rates every interval; a details
//! thread ([`engine::Details`]) reads only the opened process's visible
//! tab; both read through the engine's `Session`, under its deadline and
//! quarantine. The UI loop ([`run`]) waits on one channel for collections,
//! details and terminal input, and draws only when something changed.

pub mod app;
pub mod details;
pub mod draw;
pub mod engine;
pub mod rows;
pub mod signal;
mod term;

use app::{Action, App};
use engine::Event;
use procscope_read::{ProcRoot, Session};
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How `top` runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The proc root to read.
    pub root: ProcRoot,
    /// The read session (its deadline is `--timeout`).
    pub session: Session,
    /// Time between collections.
    pub interval: Duration,
    /// No colours.
    pub no_color: bool,
}

/// Runs the view until `q`, F10, Ctrl-C, SIGTERM, SIGINT or SIGHUP; the
/// terminal is restored on every way out, a panic included.
pub fn run(o: Options) -> std::io::Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
    }
    let mut terminal = term::enter()?;
    let r = event_loop(&mut terminal, o, &stop);
    term::leave(&mut terminal);
    r
}

fn event_loop(terminal: &mut term::Term, o: Options, stop: &AtomicBool) -> std::io::Result<()> {
    let (tx, rx) = engine::channel();
    // The collector has a session of its own (same deadline): a details
    // read stuck on the opened process never eats the collector's budget.
    let collect = Session::new(procscope_read::guard::Limits {
        timeout: o.session.timeout(),
        ..procscope_read::guard::Limits::default()
    });
    engine::start_collector(o.root.clone(), collect, o.interval, tx.clone())?;
    let details = engine::Details::start(o.root.clone(), o.session, tx.clone())?;
    engine::start_input(tx.clone())?;
    let mut app = App::new(o.no_color);
    let mut dirty = true;
    while !stop.load(Ordering::Relaxed) {
        if dirty {
            terminal.draw(|f| draw::draw(f, &mut app))?;
            dirty = false;
        }
        // Wake at least every 200 ms to look at the signal flag.
        let Some(ev) = engine::next(&rx, Duration::from_millis(200)) else {
            continue;
        };
        dirty = true;
        match ev {
            Event::Update(u) => {
                if let Some(job) = app.on_update(*u) {
                    details.ask(job);
                }
            }
            Event::CollectFailed(e) => app.error = Some(e),
            Event::Status(m) => app.status = Some(m),
            Event::Detail(d) => {
                if let Some(script) = app.on_detail(*d) {
                    osc52(terminal, &script)?;
                }
            }
            Event::InputFailed(e) => {
                return Err(std::io::Error::other(format!("reading the terminal: {e}")));
            }
            Event::Input(e) => {
                if matches!(e, ratatui::crossterm::event::Event::Key(_)) {
                    app.status = None;
                }
                match app.on_event(&e) {
                    Action::None => {}
                    Action::Quit => return Ok(()),
                    Action::Ask(job) => details.ask(job),
                    Action::Kill(id, sig) => {
                        let name = app::SIGNALS
                            .iter()
                            .find(|(_, n)| *n == sig)
                            .map_or("the signal", |(name, _)| *name);
                        signal::send(o.root.clone(), id, sig, name, tx.clone());
                    }
                }
            }
        }
    }
    Ok(())
}

/// Puts `text` on the terminal's clipboard (OSC 52; xterm, tmux with
/// `set-clipboard on`, kitty, iTerm2, WezTerm, foot…).
fn osc52(terminal: &mut term::Term, text: &str) -> std::io::Result<()> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
    let out = terminal.backend_mut();
    write!(out, "\x1b]52;c;{b64}\x07")?;
    out.flush()
}

//! Entering and leaving the full-screen terminal: raw mode, the alternate
//! screen and mouse capture on, and all of it undone on exit, on a signal
//! and on a panic (a panic hook restores the terminal before the message
//! is printed, so the message is readable and the shell usable).

use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::{cursor, event, execute, terminal};
use std::io::{Stdout, stdout};

/// The terminal type used.
pub type Term = Terminal<CrosstermBackend<Stdout>>;

/// Undoes what [`enter`] did; safe to call twice.
fn restore() {
    let _ = terminal::disable_raw_mode();
    let _ = execute!(
        stdout(),
        event::DisableMouseCapture,
        terminal::LeaveAlternateScreen,
        cursor::Show
    );
}

/// Switches the terminal to the full-screen view.
pub fn enter() -> std::io::Result<Term> {
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        prev(info);
    }));
    terminal::enable_raw_mode()?;
    if let Err(e) = execute!(
        stdout(),
        terminal::EnterAlternateScreen,
        event::EnableMouseCapture,
        cursor::Hide
    ) {
        restore();
        return Err(e);
    }
    Terminal::new(CrosstermBackend::new(stdout())).inspect_err(|_| restore())
}

/// Restores the terminal.
pub fn leave(t: &mut Term) {
    let _ = t.show_cursor();
    restore();
}

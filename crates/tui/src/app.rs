//! The state of the view and what keys and clicks do to it. No I/O: the
//! loop in `lib.rs` carries out the [`Action`]s (ask the details thread,
//! send a signal, copy to the clipboard), so tests drive this directly.

use crate::details::{Detail, Job, Tab};
use crate::engine::Update;
use crate::rows::{self, Col, Row, Sort};
use procscope_model::collect::Identity;
use ratatui::crossterm::event::{
    Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use std::sync::Arc;

/// Signals offered by `k`, most used first.
pub const SIGNALS: [(&str, i32); 9] = [
    ("SIGTERM", 15),
    ("SIGINT", 2),
    ("SIGHUP", 1),
    ("SIGKILL", 9),
    ("SIGQUIT", 3),
    ("SIGSTOP", 19),
    ("SIGCONT", 18),
    ("SIGUSR1", 10),
    ("SIGUSR2", 12),
];

/// What is on screen.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// The process table.
    Table,
    /// An opened process.
    Detail {
        /// The process.
        id: Identity,
        /// Its tab.
        tab: Tab,
        /// First line shown.
        scroll: usize,
        /// Secrets shown.
        reveal: bool,
    },
    /// The keys.
    Help,
    /// Choosing a signal for the selected process.
    Signal {
        /// Index into [`SIGNALS`].
        choice: usize,
    },
    /// "Send it? y/N".
    Confirm {
        /// Index into [`SIGNALS`].
        choice: usize,
    },
}

/// What the loop must do after an input.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Nothing but redraw.
    None,
    /// Restore the terminal and exit.
    Quit,
    /// Read details.
    Ask(Job),
    /// Send signal `sig` to `id`.
    Kill(Identity, i32),
}

/// The view's state.
#[derive(Debug, Default)]
pub struct App {
    /// Row texts kept across refreshes (see [`rows::TextCache`]).
    pub texts: rows::TextCache,
    /// The last collection.
    pub update: Option<Arc<Update>>,
    /// The rows shown, in order.
    pub rows: Vec<Row>,
    /// The selected process (followed across refreshes).
    pub selected: Option<Identity>,
    /// Index of the selected row.
    pub cursor: usize,
    /// First row shown.
    pub offset: usize,
    /// Rows that fit on screen (set when drawing).
    pub page: usize,
    /// Top line of the table's first row on screen (set when drawing).
    pub table_top: u16,
    /// Where each column's header is on screen: first and last cell
    /// (set when drawing), for sorting by a click on it.
    pub header: Vec<(u16, u16, Col)>,
    /// Ordering.
    pub sort: Sort,
    /// Tree view.
    pub tree: bool,
    /// The applied filter: its text and regex.
    pub filter: Option<(String, regex::bytes::Regex)>,
    /// The filter being typed.
    pub editing: Option<String>,
    /// What is on screen.
    pub mode: ModeCell,
    /// The last details received for the opened process.
    pub detail: Option<Detail>,
    /// A message for the status line.
    pub status: Option<String>,
    /// The collector's last failure.
    pub error: Option<String>,
    /// A copy of the repro script is waiting for the details thread.
    pub copy_pending: bool,
    /// No colours (`NO_COLOR`).
    pub no_color: bool,
}

/// [`Mode`] with a default.
#[derive(Debug, Clone, PartialEq)]
pub struct ModeCell(pub Mode);

impl Default for ModeCell {
    fn default() -> Self {
        ModeCell(Mode::Table)
    }
}

impl App {
    /// A new view.
    pub fn new(no_color: bool) -> App {
        App {
            no_color,
            ..App::default()
        }
    }

    /// A new collection arrived. Returns the details to read again (the
    /// opened tab is live).
    pub fn on_update(&mut self, u: Update) -> Option<Job> {
        self.update = Some(Arc::new(u));
        self.error = None;
        self.relayout();
        self.job(false)
    }

    /// Rebuilds the rows (after a collection, a sort or a filter change),
    /// keeping the selected process selected.
    pub fn relayout(&mut self) {
        let Some(u) = &self.update else {
            return;
        };
        let rows = rows::filter(
            rows::build(u, &mut self.texts),
            self.filter.as_ref().map(|(_, r)| r),
        );
        self.rows = rows::arrange(rows, self.sort, self.tree);
        let found = self
            .selected
            .and_then(|s| self.rows.iter().position(|r| r.id == s));
        match found {
            Some(i) => self.cursor = i,
            None => {
                self.cursor = self.cursor.min(self.rows.len().saturating_sub(1));
                self.selected = self.rows.get(self.cursor).map(|r| r.id);
            }
        }
        self.scroll_into_view();
    }

    fn scroll_into_view(&mut self) {
        let page = self.page.max(1);
        if self.cursor < self.offset {
            self.offset = self.cursor;
        } else if self.cursor >= self.offset.saturating_add(page) {
            self.offset = self.cursor.saturating_add(1).saturating_sub(page);
        }
    }

    fn select(&mut self, i: usize) {
        if self.rows.is_empty() {
            return;
        }
        self.cursor = i.min(self.rows.len().saturating_sub(1));
        self.selected = self.rows.get(self.cursor).map(|r| r.id);
        self.scroll_into_view();
    }

    fn move_by(&mut self, d: isize) {
        let i = self.cursor.saturating_add_signed(d);
        self.select(i);
    }

    /// The row under the cursor.
    pub fn current(&self) -> Option<&Row> {
        self.rows.get(self.cursor)
    }

    /// The process a signal or a copy is for: the opened one, else the
    /// selected one.
    pub fn target(&self) -> Option<Identity> {
        match self.mode.0 {
            Mode::Detail { id, .. } => Some(id),
            _ => self.current().map(|r| r.id),
        }
    }

    /// The details the screen shows, to read (again).
    fn job(&self, repro: bool) -> Option<Job> {
        match self.mode.0 {
            Mode::Detail {
                id, tab, reveal, ..
            } => Some(Job {
                id,
                tab,
                reveal,
                repro,
            }),
            _ => None,
        }
    }

    /// Details arrived. Returns the repro script to copy, when one was
    /// asked for.
    pub fn on_detail(&mut self, d: Detail) -> Option<String> {
        let mut copy = None;
        if d.job.repro && self.copy_pending {
            self.copy_pending = false;
            match &d.repro {
                Some(Ok(s)) => {
                    self.status = Some(format!(
                        "copied the repro script of PID {} ({} bytes{}) to the clipboard (OSC 52)",
                        d.job.id.pid,
                        s.len(),
                        if d.job.reveal {
                            ""
                        } else {
                            ", secrets redacted"
                        }
                    ));
                    copy = Some(s.clone());
                }
                Some(Err(e)) => self.status = Some(format!("no repro script: {e}")),
                None => {}
            }
        }
        let shown = matches!(self.mode.0, Mode::Detail { id, tab, .. } if id == d.job.id && tab == d.job.tab);
        if shown {
            self.detail = Some(d);
        }
        copy
    }

    /// Handles a terminal event.
    pub fn on_event(&mut self, e: &Event) -> Action {
        match e {
            Event::Key(k) if k.kind != KeyEventKind::Release => self.on_key(*k),
            Event::Mouse(m) => self.on_mouse(*m),
            _ => Action::None,
        }
    }

    fn on_mouse(&mut self, m: MouseEvent) -> Action {
        let detail = matches!(self.mode.0, Mode::Detail { .. });
        match m.kind {
            MouseEventKind::ScrollDown if detail => self.scroll_detail(3),
            MouseEventKind::ScrollUp if detail => self.scroll_detail(-3),
            MouseEventKind::ScrollDown => self.move_by(3),
            MouseEventKind::ScrollUp => self.move_by(-3),
            // A click on a column's title sorts by it (again: the other
            // way round), as in htop.
            MouseEventKind::Down(MouseButton::Left)
                if self.mode.0 == Mode::Table && m.row.saturating_add(1) == self.table_top =>
            {
                let hit = self
                    .header
                    .iter()
                    .find(|(a, b, _)| (*a..=*b).contains(&m.column))
                    .map(|(_, _, c)| *c);
                if let Some(c) = hit {
                    self.set_sort(c);
                }
            }
            MouseEventKind::Down(MouseButton::Left)
                if self.mode.0 == Mode::Table && m.row >= self.table_top =>
            {
                let i = usize::from(m.row - self.table_top).saturating_add(self.offset);
                if i < self.rows.len() {
                    self.select(i);
                }
            }
            _ => {}
        }
        Action::None
    }

    fn scroll_detail(&mut self, d: isize) {
        if let Mode::Detail { scroll, .. } = &mut self.mode.0 {
            let max = self
                .detail
                .as_ref()
                .map_or(0, |x| x.lines.len().saturating_sub(1));
            *scroll = scroll.saturating_add_signed(d).min(max);
        }
    }

    fn on_key(&mut self, k: KeyEvent) -> Action {
        if k.modifiers.contains(KeyModifiers::CONTROL) && k.code == KeyCode::Char('c') {
            return Action::Quit;
        }
        if let Some(text) = &mut self.editing {
            match k.code {
                KeyCode::Enter => {
                    let t = text.clone();
                    self.editing = None;
                    self.apply_filter(&t);
                }
                KeyCode::Esc => {
                    self.editing = None;
                    self.filter = None;
                    self.relayout();
                }
                KeyCode::Backspace => {
                    text.pop();
                }
                // Readline's line and word erase, as in htop's prompts.
                KeyCode::Char('u') if k.modifiers.contains(KeyModifiers::CONTROL) => text.clear(),
                KeyCode::Char('w') if k.modifiers.contains(KeyModifiers::CONTROL) => {
                    let keep = text.trim_end().rfind(' ').map_or(0, |i| i + 1);
                    text.truncate(keep);
                }
                KeyCode::Char(_) if k.modifiers.contains(KeyModifiers::CONTROL) => {}
                KeyCode::Char(c) => text.push(c),
                _ => {}
            }
            return Action::None;
        }
        match self.mode.0.clone() {
            Mode::Help => {
                self.mode.0 = Mode::Table;
                Action::None
            }
            Mode::Signal { choice } => {
                match k.code {
                    KeyCode::Up => {
                        self.mode.0 = Mode::Signal {
                            choice: choice.saturating_sub(1),
                        }
                    }
                    KeyCode::Down => {
                        self.mode.0 = Mode::Signal {
                            choice: (choice + 1).min(SIGNALS.len() - 1),
                        }
                    }
                    KeyCode::Enter => self.mode.0 = Mode::Confirm { choice },
                    _ => self.mode.0 = Mode::Table,
                }
                Action::None
            }
            Mode::Confirm { choice } => {
                self.mode.0 = Mode::Table;
                match (k.code, self.target(), SIGNALS.get(choice)) {
                    (KeyCode::Char('y' | 'Y'), Some(id), Some((name, sig))) => {
                        self.status = Some(format!("sending {name} to PID {}", id.pid));
                        Action::Kill(id, *sig)
                    }
                    _ => {
                        self.status = Some("no signal sent".into());
                        Action::None
                    }
                }
            }
            Mode::Detail { .. } => self.detail_key(k),
            Mode::Table => self.table_key(k),
        }
    }

    fn apply_filter(&mut self, text: &str) {
        if text.is_empty() {
            self.filter = None;
        } else {
            match procscope_model::select::compile(text, false, false) {
                Ok(re) => self.filter = Some((text.to_owned(), re)),
                Err(e) => {
                    // The regex crate's message spans lines (the pattern,
                    // a caret, the error): the status bar has one.
                    let msg = e.to_string();
                    let last = msg
                        .lines()
                        .rev()
                        .find(|l| !l.trim().is_empty())
                        .unwrap_or("");
                    self.status = Some(format!(
                        "invalid pattern: {}",
                        procscope_render::escape::escape(last.trim().as_bytes())
                    ));
                }
            }
        }
        self.relayout();
        self.select(0);
    }

    fn set_sort(&mut self, col: Col) {
        if self.sort.col == col {
            self.sort.inverted = !self.sort.inverted;
        } else {
            self.sort = Sort {
                col,
                inverted: false,
            };
        }
        self.relayout();
    }

    fn cycle_sort(&mut self, d: isize) {
        let n = Col::ALL.len();
        let i = Col::ALL
            .iter()
            .position(|c| *c == self.sort.col)
            .unwrap_or(0);
        let j = (i as isize + d).rem_euclid(n as isize) as usize;
        if let Some(c) = Col::ALL.get(j) {
            self.sort = Sort {
                col: *c,
                inverted: false,
            };
        }
        self.relayout();
    }

    /// Keys common to the table and the opened process.
    fn common_key(&mut self, k: KeyEvent) -> Option<Action> {
        Some(match k.code {
            KeyCode::Char('q') | KeyCode::F(10) => Action::Quit,
            KeyCode::Char('?') | KeyCode::F(1) => {
                self.mode.0 = Mode::Help;
                Action::None
            }
            KeyCode::Char('k') | KeyCode::F(9) if self.target().is_some() => {
                self.mode.0 = Mode::Signal { choice: 0 };
                Action::None
            }
            KeyCode::Char('c') => match self.target() {
                Some(id) => {
                    self.copy_pending = true;
                    self.status = Some(format!("reading the repro script of PID {}…", id.pid));
                    let reveal = matches!(self.mode.0, Mode::Detail { reveal: true, .. });
                    let tab = match self.mode.0 {
                        Mode::Detail { tab, .. } => tab,
                        _ => Tab::Overview,
                    };
                    Action::Ask(Job {
                        id,
                        tab,
                        reveal,
                        repro: true,
                    })
                }
                None => Action::None,
            },
            _ => return None,
        })
    }

    fn table_key(&mut self, k: KeyEvent) -> Action {
        let page = self.page.max(1) as isize;
        match k.code {
            KeyCode::Up => self.move_by(-1),
            KeyCode::Down => self.move_by(1),
            KeyCode::PageUp => self.move_by(-page),
            KeyCode::PageDown => self.move_by(page),
            KeyCode::Home => self.select(0),
            KeyCode::End => self.select(usize::MAX),
            KeyCode::Char('<') | KeyCode::Char(',') => self.cycle_sort(-1),
            KeyCode::Char('>') | KeyCode::Char('.') | KeyCode::F(6) => self.cycle_sort(1),
            KeyCode::Char('P') => self.set_sort(Col::Cpu),
            KeyCode::Char('M') => self.set_sort(Col::Mem),
            KeyCode::Char('T') => self.set_sort(Col::Time),
            KeyCode::Char('N') => self.set_sort(Col::Pid),
            KeyCode::Char('I') => {
                self.sort.inverted = !self.sort.inverted;
                self.relayout();
            }
            KeyCode::Char('t') | KeyCode::F(5) => {
                self.tree = !self.tree;
                self.relayout();
            }
            KeyCode::Char('/') | KeyCode::F(3) | KeyCode::F(4) => {
                self.editing = Some(
                    self.filter
                        .as_ref()
                        .map(|f| f.0.clone())
                        .unwrap_or_default(),
                );
            }
            KeyCode::Esc => {
                self.filter = None;
                self.relayout();
            }
            KeyCode::Enter => {
                if let Some(r) = self.current() {
                    self.mode.0 = Mode::Detail {
                        id: r.id,
                        tab: Tab::Overview,
                        scroll: 0,
                        reveal: false,
                    };
                    self.detail = None;
                    return self.job(false).map_or(Action::None, Action::Ask);
                }
            }
            _ => return self.common_key(k).unwrap_or(Action::None),
        }
        Action::None
    }

    fn detail_key(&mut self, k: KeyEvent) -> Action {
        let Mode::Detail {
            id,
            tab,
            scroll,
            reveal,
        } = self.mode.0.clone()
        else {
            return Action::None;
        };
        let i = Tab::ALL.iter().position(|t| *t == tab).unwrap_or(0);
        let n = Tab::ALL.len();
        let to = |t: usize| Tab::ALL.get(t % n).copied().unwrap_or(Tab::Overview);
        let new_tab = match k.code {
            KeyCode::Tab | KeyCode::Right => Some(to(i + 1)),
            KeyCode::BackTab | KeyCode::Left => Some(to(i + n - 1)),
            KeyCode::Char(c @ '1'..='6') => Some(to(c as usize - '1' as usize)),
            _ => None,
        };
        if let Some(t) = new_tab {
            self.mode.0 = Mode::Detail {
                id,
                tab: t,
                scroll: 0,
                reveal,
            };
            self.detail = None;
            return self.job(false).map_or(Action::None, Action::Ask);
        }
        let page = self.page.max(1) as isize;
        match k.code {
            KeyCode::Esc | KeyCode::Backspace => {
                self.mode.0 = Mode::Table;
                self.detail = None;
            }
            KeyCode::Up => self.scroll_detail(-1),
            KeyCode::Down => self.scroll_detail(1),
            KeyCode::PageUp => self.scroll_detail(-page),
            KeyCode::PageDown => self.scroll_detail(page),
            KeyCode::Home => self.scroll_detail(-(scroll as isize)),
            KeyCode::Char('r') => {
                self.mode.0 = Mode::Detail {
                    id,
                    tab,
                    scroll,
                    reveal: !reveal,
                };
                return self.job(false).map_or(Action::None, Action::Ask);
            }
            _ => return self.common_key(k).unwrap_or(Action::None),
        }
        Action::None
    }
}

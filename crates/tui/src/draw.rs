//! Drawing: the header (CPU, memory and load, tasks by state), the table
//! (only the rows on screen are turned into cells), the opened process's
//! tabs, the status line and the dialogs. Every text drawn comes from
//! [`crate::rows`] or [`crate::details`], escaped there.

use crate::app::{App, Mode, SIGNALS};
use crate::details::{Emph, Tab};
use crate::rows::Col;
use procscope_model::collect::StateCounts;
use procscope_render::units;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Row as TRow, Table, Tabs};

/// Styles, or none of them under `NO_COLOR` (reverse video and bold
/// still mark the selection and what stands out).
struct Theme {
    color: bool,
}

impl Theme {
    fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }
    fn warn(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }
    fn head(&self) -> Style {
        if self.color {
            Style::new().fg(Color::Black).bg(Color::Green)
        } else {
            Style::new().add_modifier(Modifier::REVERSED)
        }
    }
    fn selected(&self) -> Style {
        if self.color {
            Style::new().fg(Color::Black).bg(Color::Cyan)
        } else {
            Style::new().add_modifier(Modifier::REVERSED)
        }
    }
}

/// Draws the whole screen.
pub fn draw(f: &mut Frame, app: &mut App) {
    let theme = Theme {
        color: !app.no_color,
    };
    let [head, body, status] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(f.area());
    header(f, app, &theme, head);
    match app.mode.0.clone() {
        Mode::Detail { tab, scroll, .. } => detail(f, app, &theme, body, tab, scroll),
        _ => table(f, app, &theme, body),
    }
    status_line(f, app, &theme, status);
    match app.mode.0 {
        Mode::Help => help(f, body),
        Mode::Signal { choice } => signal_menu(f, app, &theme, body, choice),
        Mode::Confirm { choice } => confirm(f, app, body, choice),
        _ => {}
    }
}

/// `[||||||      42.0%]` in `width` cells.
fn bar(label: &str, frac: f64, text: &str, width: u16) -> String {
    let inner = usize::from(width.saturating_sub(label.len() as u16 + 3));
    let frac = frac.clamp(0.0, 1.0);
    let fill = ((inner as f64) * frac).round() as usize;
    let pad = inner.saturating_sub(fill).saturating_sub(text.len());
    let bars: String = "|".repeat(fill.min(inner.saturating_sub(text.len())));
    let gap = " ".repeat(pad.max(inner.saturating_sub(bars.len() + text.len())));
    format!("{label} [{bars}{gap}{text}]")
}

fn header(f: &mut Frame, app: &App, t: &Theme, area: Rect) {
    let Some(u) = &app.update else {
        let msg = app.error.clone().unwrap_or_else(|| "collecting…".into());
        f.render_widget(Paragraph::new(msg), area);
        return;
    };
    let half = area.width / 2;
    let host = u.snap.host;
    let cpu = u.rates.host.map(|h| 1.0 - h.idle);
    let cpu_line = bar(
        "CPU",
        cpu.unwrap_or(0.0),
        &cpu.map_or_else(|| "-".into(), |c| format!("{:.1}%", c * 100.0)),
        half.saturating_sub(1),
    );
    let (mem_line, swp_line) = match host {
        Some(h) => {
            let used = h.mem_total.saturating_sub(h.mem_available);
            let sused = h.swap_total.saturating_sub(h.swap_free);
            (
                bar(
                    "Mem",
                    used as f64 / h.mem_total.max(1) as f64,
                    &format!("{}/{}", units::size(used), units::size(h.mem_total)),
                    half.saturating_sub(1),
                ),
                bar(
                    "Swp",
                    sused as f64 / h.swap_total.max(1) as f64,
                    &format!("{}/{}", units::size(sused), units::size(h.swap_total)),
                    half.saturating_sub(1),
                ),
            )
        }
        None => (String::new(), String::new()),
    };
    let mut states = StateCounts::default();
    let mut threads = 0u64;
    for p in &u.snap.processes {
        states.merge(&p.thread_states);
        threads += u64::from(p.threads);
    }
    let load = host.map_or([0; 3], |h| h.load_centis);
    let l = |c: u64| format!("{}.{:02}", c / 100, c % 100);
    let hung = u.hung.len();
    let stuck = u.snap.reads.stuck_now;
    let mut right1 = vec![Span::raw(format!(
        "Tasks {}, {threads} thr; {} R",
        u.snap.processes.len(),
        states.running
    ))];
    let standout = |n: u64, what: &str| {
        let s = format!(", {n} {what}");
        if n > 0 {
            Span::styled(s, t.warn())
        } else {
            Span::raw(s)
        }
    };
    right1.push(standout(u64::from(states.disk_sleep), "D"));
    right1.push(standout(hung as u64, "hung"));
    right1.push(Span::raw(format!(", {} Z", states.zombie)));
    let mut right2 = vec![
        Span::raw(format!(
            "Load {} {} {}  ",
            l(load[0]),
            l(load[1]),
            l(load[2])
        )),
        Span::raw(format!(
            "collect {}.{}ms, timeouts {}",
            u.snap.took_us / 1000,
            (u.snap.took_us % 1000) / 100,
            u.snap.reads.timeouts
        )),
    ];
    if stuck > 0 {
        right2.push(Span::styled(format!(", stuck reads {stuck}"), t.warn()));
    }
    let [left, right] =
        Layout::horizontal([Constraint::Length(half), Constraint::Min(1)]).areas(area);
    f.render_widget(
        Paragraph::new(vec![
            Line::raw(cpu_line),
            Line::raw(mem_line),
            Line::raw(swp_line),
        ]),
        left,
    );
    f.render_widget(
        Paragraph::new(vec![Line::from(right1), Line::from(right2)]),
        right,
    );
}

fn fit(s: &str, w: u16, right: bool) -> String {
    let w = usize::from(w);
    let cut = procscope_render::escape::truncate(s, w);
    let pad = w.saturating_sub(procscope_render::escape::width(&cut));
    if right {
        format!("{}{cut}", " ".repeat(pad))
    } else {
        format!("{cut}{}", " ".repeat(pad))
    }
}

fn table(f: &mut Frame, app: &mut App, t: &Theme, area: Rect) {
    let cols = Col::fitting(area.width);
    let fixed: u16 = cols
        .iter()
        .filter(|c| **c != Col::Command)
        .map(|c| c.width().saturating_add(1))
        .sum();
    let cmd_w = area.width.saturating_sub(fixed).max(1);
    let width = |c: Col| if c == Col::Command { cmd_w } else { c.width() };
    let header = TRow::new(cols.iter().map(|c| {
        let mut title = c.title().to_string();
        if *c == app.sort.col {
            title = format!(
                "{title}{}",
                if app.sort.inverted == c.descending() {
                    "▲"
                } else {
                    "▼"
                }
            );
        }
        fit(&title, width(*c), c.right())
    }))
    .style(t.head());
    app.page = usize::from(area.height.saturating_sub(1));
    app.table_top = area.y.saturating_add(1);
    app.header.clear();
    let mut x = area.x;
    for c in &cols {
        let w = width(*c);
        app.header
            .push((x, x.saturating_add(w.saturating_sub(1)), *c));
        x = x.saturating_add(w).saturating_add(1);
    }
    // Keep the cursor on screen after a resize, and no blank rows below
    // the last process when the rows would fit.
    let page = app.page.max(1);
    if app.cursor >= app.offset.saturating_add(page) {
        app.offset = app.cursor.saturating_add(1).saturating_sub(page);
    }
    app.offset = app
        .offset
        .min(app.rows.len().saturating_sub(page))
        .min(app.cursor);
    let visible = app.rows.iter().enumerate().skip(app.offset).take(app.page);
    let rows: Vec<TRow> = visible
        .map(|(i, r)| {
            let cells = cols.iter().map(|c| {
                let text = fit(&r.cell(*c), width(*c), c.right());
                let stand = match c {
                    Col::State => r.state == 'D' || r.hung || r.timed_out,
                    Col::Wchan => r.timed_out,
                    Col::Fds => r.fds_near_limit(),
                    _ => false,
                };
                if stand && i != app.cursor {
                    Span::styled(text, t.warn())
                } else {
                    Span::raw(text)
                }
            });
            let row = TRow::new(cells);
            if i == app.cursor {
                row.style(t.selected())
            } else if r.hung || r.timed_out {
                row.style(t.fg(Color::Red))
            } else {
                row
            }
        })
        .collect();
    let widths: Vec<Constraint> = cols.iter().map(|c| Constraint::Length(width(*c))).collect();
    f.render_widget(
        Table::new(rows, widths).header(header).column_spacing(1),
        area,
    );
}

fn detail(f: &mut Frame, app: &mut App, t: &Theme, area: Rect, tab: Tab, scroll: usize) {
    let [tabs_area, title_area, text_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(1),
    ])
    .areas(area);
    let titles: Vec<String> = Tab::ALL
        .iter()
        .enumerate()
        .map(|(i, x)| format!("{} {}", i + 1, x.title()))
        .collect();
    let selected = Tab::ALL.iter().position(|x| *x == tab).unwrap_or(0);
    f.render_widget(
        Tabs::new(titles)
            .select(selected)
            .highlight_style(t.head())
            .divider("|"),
        tabs_area,
    );
    let title = match (&app.mode.0, app.current()) {
        // The name, not the command line: the env tab keeps secrets in
        // the command line hidden until revealed.
        (Mode::Detail { id, .. }, Some(r)) if r.id == *id => format!(
            "PID {} ({}) {}  (Esc back, Tab next, r reveal, c copy repro, k signal)",
            r.id.pid,
            procscope_render::escape::escape(&r.match_text.0),
            r.state
        ),
        (Mode::Detail { id, .. }, _) => format!("PID {} (gone)", id.pid),
        _ => String::new(),
    };
    f.render_widget(
        Paragraph::new(fit(&title, title_area.width, false))
            .style(Style::new().add_modifier(Modifier::BOLD)),
        title_area,
    );
    app.page = usize::from(text_area.height);
    let lines: Vec<Line> = match &app.detail {
        None => vec![Line::raw("reading…")],
        Some(d) => d
            .lines
            .iter()
            .skip(scroll)
            .take(usize::from(text_area.height))
            .map(|l| {
                let style = match l.emph {
                    Emph::Plain => Style::new(),
                    Emph::Head => Style::new().add_modifier(Modifier::BOLD),
                    Emph::Dim => t.fg(Color::DarkGray),
                    Emph::Warn => t.warn(),
                };
                Line::styled(fit(&l.text, text_area.width, false), style)
            })
            .collect(),
    };
    f.render_widget(Paragraph::new(lines), text_area);
}

fn status_line(f: &mut Frame, app: &App, t: &Theme, area: Rect) {
    let text = if let Some(e) = &app.editing {
        format!("Filter (regex, as ps; Enter applies, Esc clears): {e}_")
    } else if let Some(s) = &app.status {
        s.clone()
    } else {
        let filt = app
            .filter
            .as_ref()
            .map_or_else(String::new, |(s, _)| format!("filter: {s}  "));
        let sort = format!(
            "sort: {}{}",
            app.sort.col.title(),
            if app.sort.inverted { " (inverted)" } else { "" }
        );
        format!(
            "{filt}{sort}  {} shown   ?:help /:filter Enter:open t:tree k:kill c:copy q:quit",
            app.rows.len()
        )
    };
    let style = if app.error.is_some() {
        t.warn()
    } else {
        t.head()
    };
    let text = match &app.error {
        Some(e) => format!("collection failed: {e}"),
        None => text,
    };
    f.render_widget(
        Paragraph::new(fit(&text, area.width, false)).style(style),
        area,
    );
}

/// A centred box of `w`×`h` within `area`.
fn centred(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

/// The keys, for `?`.
pub const KEYS: &[(&str, &str)] = &[
    (
        "Up/Down PgUp/PgDn",
        "move; mouse: click selects, a click on a title sorts, wheel scrolls",
    ),
    (
        "Enter",
        "open the process (tabs: overview, threads, fds, env, limits, maps)",
    ),
    ("Tab 1-6", "switch tabs when open; Esc back"),
    ("r", "reveal/hide secrets in env and command line"),
    (
        "/",
        "filter by regex (name or command line); Enter applies, Esc clears",
    ),
    (
        "F6 < >",
        "sort column; P cpu, M mem, T time, N pid, I invert",
    ),
    ("t", "tree view"),
    ("k F9", "send a signal (asks first)"),
    ("c", "copy the repro script (OSC 52 clipboard)"),
    ("q F10", "quit"),
];

fn help(f: &mut Frame, area: Rect) {
    let r = centred(area, 78, KEYS.len() as u16 + 2);
    let lines: Vec<Line> = KEYS
        .iter()
        .map(|(k, v)| Line::raw(format!("{k:<18} {v}")))
        .collect();
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).block(
            Block::new()
                .borders(Borders::ALL)
                .title(" Keys (any key closes) "),
        ),
        r,
    );
}

fn signal_menu(f: &mut Frame, app: &App, t: &Theme, area: Rect, choice: usize) {
    let r = centred(area, 30, SIGNALS.len() as u16 + 2);
    let pid = app.target().map_or(0, |id| id.pid);
    let lines: Vec<Line> = SIGNALS
        .iter()
        .enumerate()
        .map(|(i, (n, s))| {
            let l = format!("{s:>2} {n}");
            if i == choice {
                Line::styled(l, t.selected())
            } else {
                Line::raw(l)
            }
        })
        .collect();
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).block(
            Block::new()
                .borders(Borders::ALL)
                .title(format!(" Signal to {pid} ")),
        ),
        r,
    );
}

fn confirm(f: &mut Frame, app: &App, area: Rect, choice: usize) {
    let r = centred(area, 60, 3);
    let pid = app.target().map_or(0, |id| id.pid);
    let cmd = app
        .rows
        .iter()
        .find(|r| r.id.pid == pid)
        .map_or_else(String::new, |r| r.command.to_string());
    let name = SIGNALS.get(choice).map_or("?", |s| s.0);
    // PID 1 ignores what it has no handler for, but what it handles can
    // reboot or halt the host (systemd: SIGINT, SIGTERM re-execute...).
    let warn = if pid == 1 {
        "PID 1 is init: this can reboot or halt the host. "
    } else {
        ""
    };
    let r = if pid == 1 { centred(area, 60, 4) } else { r };
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(fit_lines(
            &format!("{warn}Send {name} to {pid} {cmd}? y/N"),
            58,
            usize::from(r.height.saturating_sub(2)),
        ))
        .block(Block::new().borders(Borders::ALL)),
        r,
    );
}

/// `text` cut into at most `lines` lines of `width` cells (the last one
/// ended with `…` when more was cut).
fn fit_lines(text: &str, width: u16, lines: usize) -> Vec<Line<'static>> {
    let mut out: Vec<Line<'static>> = Vec::new();
    let mut rest: &str = text;
    let w = usize::from(width.max(1));
    while !rest.is_empty() && out.len() < lines.max(1) {
        let last = out.len() + 1 == lines.max(1);
        let cut = rest.char_indices().nth(w).map_or(rest.len(), |(i, _)| i);
        let (head, tail) = rest.split_at(cut);
        if last || tail.is_empty() {
            out.push(Line::raw(fit(rest, width, false)));
            break;
        }
        out.push(Line::raw(head.to_string()));
        rest = tail;
    }
    out
}

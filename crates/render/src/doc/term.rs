//! The terminal backend: a document printed with ANSI styles, or without.

use super::{Doc, Style, to_lines};
use std::io::{self, Write};

/// The ANSI style a terminal shows for `style`: the colours procscope's
/// text output has always used (bold headings, yellow warnings, dim hints,
/// red for stuck tasks). Keys and plain text have none.
pub fn terminal_style(style: Style) -> anstyle::Style {
    use anstyle::{AnsiColor, Style as A};
    let fg = |c: AnsiColor| A::new().fg_color(Some(c.into()));
    match style {
        Style::Plain | Style::Key => A::new(),
        Style::Heading | Style::Strong => A::new().bold(),
        Style::Dim => A::new().dimmed(),
        Style::Warn => fg(AnsiColor::Yellow),
        Style::Alert => fg(AnsiColor::Yellow).bold(),
        Style::Bad => fg(AnsiColor::Red),
        Style::Critical => fg(AnsiColor::Red).bold(),
        Style::Good => fg(AnsiColor::Green),
        Style::Paused => fg(AnsiColor::Magenta),
    }
}

/// Prints `doc` laid out in `width` columns (see [`to_lines`]), each line
/// ended by a newline. With `colour`, a styled span is wrapped in its ANSI
/// codes ([`terminal_style`]) and a reset; without, only text is written.
/// The caller decides `colour` from `--color`, `NO_COLOR` and whether the
/// output is a terminal.
pub fn write<W: Write + ?Sized>(
    doc: &Doc,
    out: &mut W,
    width: Option<usize>,
    colour: bool,
) -> io::Result<()> {
    for line in to_lines(doc, width) {
        for span in &line.spans {
            let style = terminal_style(span.style);
            if colour && style != anstyle::Style::new() && !span.text.is_empty() {
                write!(
                    out,
                    "{}{}{}",
                    style.render(),
                    span.text,
                    style.render_reset()
                )?;
            } else {
                out.write_all(span.text.as_bytes())?;
            }
        }
        out.write_all(b"\n")?;
    }
    Ok(())
}

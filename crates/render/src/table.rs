//! Aligned text columns, sized to the content and the terminal.

use anstyle::Style;
use std::io::{self, Write};

/// Horizontal alignment of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Text.
    Left,
    /// Numbers.
    Right,
}

/// One cell: already escaped text and its style.
#[derive(Debug, Clone, Default)]
pub struct Cell {
    /// Escaped text (never raw bytes from /proc).
    pub text: String,
    /// Colour and emphasis; dropped when colour is off.
    pub style: Style,
}

impl Cell {
    /// A plain cell.
    pub fn plain(text: impl Into<String>) -> Self {
        Cell {
            text: text.into(),
            style: Style::new(),
        }
    }

    /// A styled cell.
    pub fn styled(text: impl Into<String>, style: Style) -> Self {
        Cell {
            text: text.into(),
            style,
        }
    }
}

/// A table: a header per column and rows of cells.
#[derive(Debug, Clone, Default)]
pub struct Table {
    headers: Vec<(String, Align)>,
    rows: Vec<Vec<Cell>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new(headers: Vec<(String, Align)>) -> Self {
        Table {
            headers,
            rows: Vec::new(),
        }
    }

    /// Appends a row (missing cells print empty, extra cells are ignored).
    pub fn push(&mut self, row: Vec<Cell>) {
        self.rows.push(row);
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Writes the table. The last column takes what is left of `max_width`
    /// and is cut with `…` (no limit when `None`). Columns are separated by
    /// one space; trailing spaces are not written.
    pub fn write(
        &self,
        out: &mut dyn Write,
        max_width: Option<usize>,
        header: bool,
    ) -> io::Result<()> {
        let layout = Layout::new(
            self.headers.clone(),
            self.rows.iter().map(Vec::as_slice),
            max_width,
        );
        if header {
            layout.write_header(out)?;
        }
        for row in &self.rows {
            layout.write_row(out, row)?;
        }
        Ok(())
    }
}

/// Column widths decided up front, so that rows can be written one at a
/// time as they are produced (a streamed listing holds no table in memory).
#[derive(Debug, Clone)]
pub struct Layout {
    headers: Vec<(String, Align)>,
    widths: Vec<usize>,
    last_max: Option<usize>,
}

impl Layout {
    /// Sizes each column to its header and the widest cell in `rows`. Rows
    /// may omit trailing cells (the last column of a streamed listing is
    /// not known yet: it is left-aligned and cut to what is left of
    /// `max_width`, so its width does not matter).
    pub fn new<'a>(
        headers: Vec<(String, Align)>,
        rows: impl Iterator<Item = &'a [Cell]>,
        max_width: Option<usize>,
    ) -> Layout {
        let mut l = Layout::measuring(headers);
        for row in rows {
            l.measure(row);
        }
        l.finish(max_width)
    }

    /// Starts a layout sized to the headers; feed it rows with
    /// [`Layout::measure`] (one at a time, so they need not all be held),
    /// then call [`Layout::finish`].
    pub fn measuring(headers: Vec<(String, Align)>) -> Layout {
        let widths = headers
            .iter()
            .map(|(h, _)| crate::escape::width(h))
            .collect();
        Layout {
            headers,
            widths,
            last_max: None,
        }
    }

    /// Widens columns to fit `row`.
    pub fn measure(&mut self, row: &[Cell]) {
        for (w, c) in self.widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(crate::escape::width(&c.text));
        }
    }

    /// Fixes the last column's room from `max_width`.
    pub fn finish(mut self, max_width: Option<usize>) -> Layout {
        let n = self.headers.len();
        let fixed: usize = self
            .widths
            .iter()
            .take(n.saturating_sub(1))
            .map(|w| w + 1)
            .sum();
        self.last_max = max_width.map(|m| m.saturating_sub(fixed).max(8));
        self
    }

    /// Writes the header line, in bold.
    pub fn write_header(&self, out: &mut dyn Write) -> io::Result<()> {
        let bold = Style::new().bold();
        let cells: Vec<Cell> = self
            .headers
            .iter()
            .map(|(h, _)| Cell::styled(h.clone(), bold))
            .collect();
        self.write_row(out, &cells)
    }

    /// Writes one row.
    pub fn write_row(&self, out: &mut dyn Write, row: &[Cell]) -> io::Result<()> {
        let n = self.headers.len();
        let empty = Cell::default();
        let mut line = String::with_capacity(128);
        for (i, ((_, align), w)) in self.headers.iter().zip(&self.widths).enumerate() {
            let cell = row.get(i).unwrap_or(&empty);
            let is_last = i + 1 == n;
            let text = match (is_last, self.last_max) {
                (true, Some(m)) => crate::escape::truncate(&cell.text, m),
                _ => std::borrow::Cow::Borrowed(cell.text.as_str()),
            };
            let pad = w.saturating_sub(crate::escape::width(&text));
            if i > 0 {
                line.push(' ');
            }
            if *align == Align::Right {
                line.extend(std::iter::repeat_n(' ', pad));
            }
            // An empty cell gets no style codes, so trailing padding trims.
            if cell.style == Style::new() || text.is_empty() {
                line.push_str(&text);
            } else {
                use std::fmt::Write as _;
                let _ = write!(
                    line,
                    "{}{}{}",
                    cell.style.render(),
                    text,
                    cell.style.render_reset()
                );
            }
            if *align == Align::Left && !is_last {
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        let trimmed = line.trim_end_matches(' ');
        out.write_all(trimmed.as_bytes())?;
        out.write_all(b"\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strip_ansi(s: &str) -> String {
        let mut out = String::new();
        let mut it = s.chars();
        while let Some(c) = it.next() {
            if c == '\x1b' {
                for d in it.by_ref() {
                    if d == 'm' {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn aligns_and_truncates() {
        let mut t = Table::new(vec![
            ("PID".into(), Align::Right),
            ("NAME".into(), Align::Left),
            ("CMD".into(), Align::Left),
        ]);
        t.push(vec![
            Cell::plain("1"),
            Cell::plain("init"),
            Cell::plain("/sbin/init splash"),
        ]);
        t.push(vec![
            Cell::plain("12345"),
            Cell::plain("x"),
            Cell::plain("a"),
        ]);
        let mut out = Vec::new();
        t.write(&mut out, Some(20), true).unwrap();
        let s = strip_ansi(&String::from_utf8(out).unwrap());
        assert_eq!(s, "  PID NAME CMD\n    1 init /sbin/in…\n12345 x    a\n");
        let mut out = Vec::new();
        t.write(&mut out, None, false).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "    1 init /sbin/init splash\n12345 x    a\n"
        );
    }
}

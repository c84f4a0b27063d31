//! Tables of a document: columns with an alignment and an optional
//! maximum width, rows of one-span cells, laid out to a width.

use super::{Align, Span, Style};
use crate::escape::{truncate, width};
use std::borrow::Cow;

/// One column: its header, alignment and widest allowed cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The header (shown in the heading style).
    pub header: String,
    /// Where cells sit in the column.
    pub align: Align,
    /// Cells (and the header) wider than this are cut with `…`.
    pub max_width: Option<usize>,
}

impl Column {
    /// A left-aligned column (text).
    pub fn left(header: impl Into<String>) -> Column {
        Column::new(header, Align::Left)
    }

    /// A right-aligned column (numbers).
    pub fn right(header: impl Into<String>) -> Column {
        Column::new(header, Align::Right)
    }

    /// A column with no maximum width.
    pub fn new(header: impl Into<String>, align: Align) -> Column {
        Column {
            header: header.into(),
            align,
            max_width: None,
        }
    }

    /// This column with cells cut at `max` columns.
    #[must_use]
    pub fn max(mut self, max: usize) -> Column {
        self.max_width = Some(max);
        self
    }
}

/// A table: columns and rows of cells. Columns are sized to their widest
/// cell and separated by one space; the last column takes what is left of
/// the width and is cut with `…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// The columns.
    pub columns: Vec<Column>,
    /// The rows; a missing cell shows empty, an extra one is ignored.
    pub rows: Vec<Vec<Span>>,
    /// Whether the header line is shown.
    pub header: bool,
}

impl Table {
    /// A table with these columns and a header line.
    pub fn new(columns: Vec<Column>) -> Table {
        Table {
            columns,
            rows: Vec::new(),
            header: true,
        }
    }

    /// Adds a row.
    pub fn push(&mut self, row: Vec<Span>) {
        self.rows.push(row);
    }

    /// Lays the table out in `room` columns (no limit when `None`): one
    /// line of spans per row, the header first.
    pub(super) fn lines(&self, room: Option<usize>) -> Vec<Vec<Span>> {
        let header: Vec<Span> = self
            .columns
            .iter()
            .map(|c| Span::styled(c.header.clone(), Style::Heading))
            .collect();
        // Cells cut to their column's maximum first: that is the width
        // they are measured at.
        let cut = |i: usize, s: &str| -> usize {
            match self.columns.get(i).and_then(|c| c.max_width) {
                Some(m) => width(&truncate(s, m)),
                None => width(s),
            }
        };
        let mut widths: Vec<usize> = header
            .iter()
            .enumerate()
            .map(|(i, h)| cut(i, &h.text))
            .collect();
        for row in &self.rows {
            for (i, (w, c)) in widths.iter_mut().zip(row).enumerate() {
                *w = (*w).max(cut(i, &c.text));
            }
        }
        let n = self.columns.len();
        let fixed: usize = widths.iter().take(n.saturating_sub(1)).map(|w| w + 1).sum();
        // The last column keeps at least 8 columns even on a narrow
        // terminal: a few characters of a path beat none.
        let last_max = room.map(|m| m.saturating_sub(fixed).max(8));
        let mut out = Vec::with_capacity(self.rows.len() + 1);
        if self.header {
            out.push(self.row(&header, &widths, last_max));
        }
        for row in &self.rows {
            out.push(self.row(row, &widths, last_max));
        }
        out
    }

    fn row(&self, row: &[Span], widths: &[usize], last_max: Option<usize>) -> Vec<Span> {
        let n = self.columns.len();
        let mut spans: Vec<Span> = Vec::with_capacity(n * 2);
        let mut pad_text = String::new();
        for (i, (col, w)) in self.columns.iter().zip(widths).enumerate() {
            let cell = row.get(i);
            let text = cell.map_or("", |c| c.text.as_str());
            let is_last = i + 1 == n;
            let mut text = match col.max_width {
                Some(m) => truncate(text, m),
                None => Cow::Borrowed(text),
            };
            if let (true, Some(m)) = (is_last, last_max) {
                text = Cow::Owned(truncate(&text, m).into_owned());
            }
            let pad = w.saturating_sub(width(&text));
            if i > 0 {
                pad_text.push(' ');
            }
            if col.align == Align::Right {
                pad_text.extend(std::iter::repeat_n(' ', pad));
            }
            // Padding is plain text between the cells; an empty cell adds
            // nothing, so trailing padding can be trimmed.
            if !text.is_empty() {
                let style = cell.map_or(Style::Plain, |c| c.style);
                if !pad_text.is_empty() {
                    spans.push(Span::plain(std::mem::take(&mut pad_text)));
                }
                spans.push(Span::styled(text.into_owned(), style));
            }
            if col.align == Align::Left && !is_last {
                pad_text.extend(std::iter::repeat_n(' ', pad));
            }
        }
        trim_end(&mut spans);
        spans
    }
}

/// Drops trailing spaces of plain spans at the end of a row (padding, and
/// a plain cell's own trailing spaces, as a terminal shows neither). A
/// styled span keeps its text whole: the style may show the spaces.
fn trim_end(spans: &mut Vec<Span>) {
    while let Some(last) = spans.last_mut() {
        if last.style != Style::Plain {
            return;
        }
        let kept = last.text.trim_end_matches(' ').len();
        if kept > 0 {
            last.text.truncate(kept);
            return;
        }
        spans.pop();
    }
}

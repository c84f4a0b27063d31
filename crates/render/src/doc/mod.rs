//! A styled document: what a renderer builds once and every frontend draws.
//!
//! A renderer (the `show` dossier, `why`, `stack`) turns model values into a
//! [`Doc`]: a list of [`Block`]s — headings, paragraphs, key/value
//! [`Field`]s with aligned keys, [`Table`]s, blank lines — whose text is
//! [`Line`]s of [`Span`]s, each with a semantic [`Style`] (what the text
//! *is*: a heading, a key, a warning) rather than a colour.
//!
//! Backends:
//!
//! - [`write()`] prints it to a terminal (or a pipe), mapping styles to the
//!   ANSI colours procscope has always used ([`terminal_style`]), or to
//!   nothing when colour is off;
//! - [`to_lines`] lays it out into plain lines of `(text, style)` spans at a
//!   width, for a frontend that draws them itself (a ratatui view maps each
//!   [`Span`] to its own span type) and for tests.
//!
//! Every span's text has already been escaped by the renderer
//! ([`crate::escape`]): a document never holds raw bytes from /proc, so any
//! backend may print it as it is.
//!
//! ```
//! use procscope_render::doc::{self, Doc, Line, Style};
//! let mut d = Doc::new();
//! d.heading("Limits");
//! d.field(2, 8, "open", Line::styled("4/4 — near the limit", Style::Warn));
//! let mut out = Vec::new();
//! doc::write(&d, &mut out, None, false).unwrap();
//! assert_eq!(String::from_utf8(out).unwrap(), "Limits\n  open     4/4 — near the limit\n");
//! ```

mod layout;
mod table;
mod term;
#[cfg(test)]
mod tests;

pub use crate::table::Align;
pub use layout::to_lines;
pub use table::{Column, Table};
pub use term::{terminal_style, write};

/// What a piece of text is. Frontends choose how each looks; the terminal
/// writer uses [`terminal_style`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Style {
    /// Ordinary text.
    #[default]
    Plain,
    /// A title, a section heading or a column header.
    Heading,
    /// Emphasis inside a line (a count, the state of a group).
    Strong,
    /// The key of a key/value line.
    Key,
    /// Secondary text: hints, lists of thread IDs, explanations.
    Dim,
    /// A value that could not be read, or one near a limit.
    Warn,
    /// A finding that needs someone to act (a deadlock).
    Alert,
    /// Something wrong.
    Bad,
    /// Something badly wrong (a task stuck in uninterruptible sleep).
    Critical,
    /// Something working (a task running).
    Good,
    /// Something paused on purpose (stopped or traced).
    Paused,
}

/// Text with one style. The text is already escaped and holds no newline.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Span {
    /// Escaped, printable text.
    pub text: String,
    /// What the text is.
    pub style: Style,
}

impl Span {
    /// A span of plain text.
    pub fn plain(text: impl Into<String>) -> Span {
        Span::styled(text, Style::Plain)
    }

    /// A span in `style`.
    pub fn styled(text: impl Into<String>, style: Style) -> Span {
        Span {
            text: text.into(),
            style,
        }
    }

    /// Display width in terminal columns (wide characters count 2).
    pub fn width(&self) -> usize {
        crate::escape::width(&self.text)
    }
}

/// One line of spans.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Line {
    /// The spans, left to right.
    pub spans: Vec<Span>,
}

impl Line {
    /// An empty line.
    pub fn new() -> Line {
        Line::default()
    }

    /// A line of plain text.
    pub fn plain(text: impl Into<String>) -> Line {
        Line::styled(text, Style::Plain)
    }

    /// A line of text in one style.
    pub fn styled(text: impl Into<String>, style: Style) -> Line {
        Line {
            spans: vec![Span::styled(text, style)],
        }
    }

    /// This line with a span added at its end.
    #[must_use]
    pub fn with(mut self, text: impl Into<String>, style: Style) -> Line {
        self.push(text, style);
        self
    }

    /// Adds a span at the end.
    pub fn push(&mut self, text: impl Into<String>, style: Style) {
        self.spans.push(Span::styled(text, style));
    }

    /// True when the line shows nothing.
    pub fn is_empty(&self) -> bool {
        self.spans.iter().all(|s| s.text.is_empty())
    }

    /// Display width in terminal columns.
    pub fn width(&self) -> usize {
        self.spans.iter().map(Span::width).sum()
    }

    /// The text without styles.
    pub fn text(&self) -> String {
        self.spans.iter().map(|s| s.text.as_str()).collect()
    }
}

impl From<String> for Line {
    fn from(text: String) -> Line {
        Line::plain(text)
    }
}

impl From<&str> for Line {
    fn from(text: &str) -> Line {
        Line::plain(text)
    }
}

impl From<Span> for Line {
    fn from(span: Span) -> Line {
        Line { spans: vec![span] }
    }
}

/// A key/value line: `key` padded to its block's key width, then the value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Field {
    /// The key (escaped text; may be empty for a continuation line).
    pub key: String,
    /// The value; an empty value prints the key alone.
    pub value: Line,
}

/// One block of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Block {
    /// A title or section heading, at the left margin.
    Heading(Line),
    /// Lines of text, each indented by `indent` columns.
    Paragraph {
        /// Columns before each line.
        indent: usize,
        /// The lines.
        lines: Vec<Line>,
    },
    /// Key/value lines whose values start in one column.
    Fields {
        /// Columns before each key.
        indent: usize,
        /// Keys are padded to this width (a longer key pushes its value
        /// right rather than being cut).
        key_width: usize,
        /// The lines.
        fields: Vec<Field>,
    },
    /// A table, indented by `indent` columns and cut to what is left of
    /// the width.
    Table {
        /// Columns before each row.
        indent: usize,
        /// The table.
        table: Table,
    },
    /// An empty line.
    Blank,
}

/// A document: blocks, top to bottom.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Doc {
    /// The blocks, in order.
    pub blocks: Vec<Block>,
}

impl Doc {
    /// An empty document.
    pub fn new() -> Doc {
        Doc::default()
    }

    /// True when there are no blocks.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// Adds a block.
    pub fn push(&mut self, block: Block) {
        self.blocks.push(block);
    }

    /// Adds a heading in the heading style.
    pub fn heading(&mut self, text: impl Into<String>) {
        self.heading_line(Line::styled(text, Style::Heading));
    }

    /// Adds a heading whose spans carry their own styles.
    pub fn heading_line(&mut self, line: Line) {
        self.blocks.push(Block::Heading(line));
    }

    /// Adds a line of text at `indent`, to the paragraph just before it
    /// when that has the same indent.
    pub fn line(&mut self, indent: usize, line: impl Into<Line>) {
        let line = line.into();
        if let Some(Block::Paragraph { indent: i, lines }) = self.blocks.last_mut() {
            if *i == indent {
                lines.push(line);
                return;
            }
        }
        self.blocks.push(Block::Paragraph {
            indent,
            lines: vec![line],
        });
    }

    /// Adds a key/value line, to the fields block just before it when that
    /// has the same indent and key width.
    pub fn field(
        &mut self,
        indent: usize,
        key_width: usize,
        key: impl Into<String>,
        value: impl Into<Line>,
    ) {
        let field = Field {
            key: key.into(),
            value: value.into(),
        };
        if let Some(Block::Fields {
            indent: i,
            key_width: w,
            fields,
        }) = self.blocks.last_mut()
        {
            if *i == indent && *w == key_width {
                fields.push(field);
                return;
            }
        }
        self.blocks.push(Block::Fields {
            indent,
            key_width,
            fields: vec![field],
        });
    }

    /// Adds a table at `indent`.
    pub fn table(&mut self, indent: usize, table: Table) {
        self.blocks.push(Block::Table { indent, table });
    }

    /// Adds an empty line.
    pub fn blank(&mut self) {
        self.blocks.push(Block::Blank);
    }

    /// Adds every block of `other`, in order.
    pub fn append(&mut self, other: Doc) {
        self.blocks.extend(other.blocks);
    }
}

//! A document laid out into lines of spans at a width.

use super::{Block, Doc, Line, Span, Style};

/// Lays `doc` out in `width` columns (no limit when `None`, as for a pipe):
/// one [`Line`] per line of output, with indentation and padding as plain
/// spans. Only table rows are cut to the width (their last column, with
/// `…`); other lines are left whole for the frontend to wrap or scroll.
///
/// This is what [`super::write()`] prints; a frontend that draws the
/// document itself (a TUI) maps each line's spans to its own.
pub fn to_lines(doc: &Doc, width: Option<usize>) -> Vec<Line> {
    let mut out = Vec::new();
    for block in &doc.blocks {
        match block {
            Block::Heading(line) => out.push(line.clone()),
            Block::Paragraph { indent, lines } => {
                for l in lines {
                    out.push(indented(*indent, l.spans.iter().cloned()));
                }
            }
            Block::Fields {
                indent,
                key_width,
                fields,
            } => {
                for f in fields {
                    let mut spans = Vec::with_capacity(f.value.spans.len() + 2);
                    if !f.key.is_empty() {
                        spans.push(Span::styled(f.key.clone(), Style::Key));
                    }
                    // A key alone (a label for the table under it) is not
                    // padded: nothing follows it on the line.
                    if !f.value.is_empty() {
                        let pad = key_width.saturating_sub(crate::escape::width(&f.key));
                        spans.push(Span::plain(" ".repeat(pad + 1)));
                        spans.extend(f.value.spans.iter().cloned());
                    }
                    out.push(indented(*indent, spans));
                }
            }
            Block::Table { indent, table } => {
                let room = width.map(|w| w.saturating_sub(*indent));
                for row in table.lines(room) {
                    out.push(indented(*indent, row));
                }
            }
            Block::Blank => out.push(Line::new()),
        }
    }
    out
}

/// A line of `spans` after `indent` spaces.
fn indented(indent: usize, spans: impl IntoIterator<Item = Span>) -> Line {
    let mut line = Line::new();
    if indent > 0 {
        line.spans.push(Span::plain(" ".repeat(indent)));
    }
    line.spans
        .extend(spans.into_iter().filter(|s| !s.text.is_empty()));
    line
}

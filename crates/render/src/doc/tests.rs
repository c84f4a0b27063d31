//! The document, its layout and the terminal writer.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::*;

fn printed(d: &Doc, width: Option<usize>, colour: bool) -> String {
    let mut out = Vec::new();
    write(d, &mut out, width, colour).unwrap();
    String::from_utf8(out).unwrap()
}

fn processes() -> Table {
    let mut t = Table::new(vec![
        Column::right("PID"),
        Column::left("NAME"),
        Column::left("COMMAND"),
    ]);
    t.push(vec![
        Span::plain("1"),
        Span::plain("init"),
        Span::plain("/sbin/init splash"),
    ]);
    t.push(vec![
        Span::plain("12345"),
        Span::styled("x", Style::Warn),
        Span::plain("a"),
    ]);
    t
}

#[test]
fn tables_align_numbers_right_and_text_left() {
    let mut d = Doc::new();
    d.table(0, processes());
    assert_eq!(
        printed(&d, None, false),
        "  PID NAME COMMAND\n    1 init /sbin/init splash\n12345 x    a\n"
    );
}

#[test]
fn the_last_column_is_cut_at_the_width_after_the_indent() {
    let mut d = Doc::new();
    d.table(4, processes());
    // 24 columns, 4 of indent: 20 for the table, 11 taken by PID and NAME.
    assert_eq!(
        printed(&d, Some(24), false),
        "      PID NAME COMMAND\n        1 init /sbin/in…\n    12345 x    a\n"
    );
    // The last column keeps 8 columns however narrow the terminal.
    assert_eq!(to_lines(&d, Some(10))[1].text(), "        1 init /sbin/i…");
}

#[test]
fn a_column_maximum_cuts_its_cells_and_sizes_the_column() {
    let mut t = Table::new(vec![Column::left("NAME").max(6), Column::right("N")]);
    t.push(vec![Span::plain("a-very-long-name"), Span::plain("7")]);
    t.push(vec![Span::plain("ab"), Span::plain("10")]);
    let mut d = Doc::new();
    d.table(0, t);
    assert_eq!(
        printed(&d, None, false),
        "NAME    N\na-ver…  7\nab     10\n"
    );
}

#[test]
fn colour_wraps_styled_spans_only() {
    let mut d = Doc::new();
    d.heading("Files");
    d.field(2, 6, "open", Line::styled("4/4", Style::Warn));
    d.field(2, 6, "cwd", "/srv");
    d.table(2, processes());
    d.line(0, Line::styled("→ hint", Style::Dim));
    assert_eq!(
        printed(&d, None, true),
        concat!(
            "\x1b[1mFiles\x1b[0m\n",
            "  open   \x1b[33m4/4\x1b[0m\n",
            "  cwd    /srv\n",
            "    \x1b[1mPID\x1b[0m \x1b[1mNAME\x1b[0m \x1b[1mCOMMAND\x1b[0m\n",
            "      1 init /sbin/init splash\n",
            "  12345 \x1b[33mx\x1b[0m    a\n",
            "\x1b[2m→ hint\x1b[0m\n"
        )
    );
    assert_eq!(
        printed(&d, None, false),
        "Files\n  open   4/4\n  cwd    /srv\n    PID NAME COMMAND\n      1 init /sbin/init splash\n  12345 x    a\n→ hint\n"
    );
}

#[test]
fn every_style_has_todays_terminal_colour() {
    let codes: Vec<String> = [
        Style::Plain,
        Style::Key,
        Style::Heading,
        Style::Strong,
        Style::Dim,
        Style::Warn,
        Style::Alert,
        Style::Bad,
        Style::Critical,
        Style::Good,
        Style::Paused,
    ]
    .iter()
    .map(|s| terminal_style(*s).render().to_string())
    .collect();
    assert_eq!(
        codes,
        [
            "",
            "",
            "\x1b[1m",
            "\x1b[1m",
            "\x1b[2m",
            "\x1b[33m",
            "\x1b[1m\x1b[33m",
            "\x1b[31m",
            "\x1b[1m\x1b[31m",
            "\x1b[32m",
            "\x1b[35m"
        ]
    );
}

#[test]
fn keys_align_and_a_long_key_pushes_its_value() {
    let mut d = Doc::new();
    d.field(2, 8, "state", "S (sleeping)");
    d.field(2, 8, "", "continued");
    d.field(2, 8, "largest", "");
    d.field(2, 8, "kernel stack", "? (denied)");
    assert_eq!(
        printed(&d, Some(10), false),
        "  state    S (sleeping)\n           continued\n  largest\n  kernel stack ? (denied)\n"
    );
    // One block: consecutive fields with the same indent and key width.
    assert_eq!(d.blocks.len(), 1);
}

#[test]
fn wide_characters_count_two_columns() {
    let mut t = Table::new(vec![Column::left("NAME"), Column::right("TID")]);
    t.push(vec![Span::plain("日本語"), Span::plain("7")]);
    t.push(vec![Span::plain("ab"), Span::plain("12")]);
    let mut d = Doc::new();
    d.table(0, t);
    d.field(0, 6, "名前", "x");
    assert_eq!(
        printed(&d, None, false),
        "NAME   TID\n日本語   7\nab      12\n名前   x\n"
    );
    // Cut by display width: a wide character that would not fit whole is
    // left out.
    let mut t = Table::new(vec![Column::left("A"), Column::left("NAME")]);
    t.push(vec![Span::plain("x"), Span::plain("漢字漢字漢字")]);
    let mut d = Doc::new();
    d.table(0, t);
    assert_eq!(printed(&d, Some(10), false), "A NAME\nx 漢字漢…\n");
}

#[test]
fn trailing_padding_is_trimmed_but_a_styled_cell_keeps_its_text() {
    let mut t = Table::new(vec![Column::left("A"), Column::left("B"), Column::left("")]);
    t.push(vec![Span::plain("x"), Span::plain("y"), Span::plain("")]);
    t.push(vec![
        Span::plain("long"),
        Span::plain("z "),
        Span::plain(""),
    ]);
    t.push(vec![
        Span::plain("q"),
        Span::styled("w ", Style::Warn),
        Span::plain(""),
    ]);
    let mut d = Doc::new();
    d.table(0, t);
    assert_eq!(
        printed(&d, None, false),
        "A    B\nx    y\nlong z\nq    w \n"
    );
    let lines = to_lines(&d, None);
    assert_eq!(
        lines[3].spans,
        vec![
            Span::plain("q"),
            Span::plain("    "),
            Span::styled("w ", Style::Warn)
        ]
    );
}

#[test]
fn lines_are_spans_with_indent_and_padding_plain() {
    let mut d = Doc::new();
    d.heading_line(Line::styled("PID 7", Style::Heading).with(": 2 threads", Style::Plain));
    d.line(
        2,
        Line::styled("1 × S", Style::Strong)
            .with("  ", Style::Plain)
            .with("[7 a]", Style::Dim),
    );
    d.field(6, 7, "wchan", "pipe_read");
    d.blank();
    let lines = to_lines(&d, Some(80));
    let plain: Vec<Vec<(String, Style)>> = lines
        .iter()
        .map(|l| l.spans.iter().map(|s| (s.text.clone(), s.style)).collect())
        .collect();
    let s = |t: &str, st| (t.to_string(), st);
    assert_eq!(
        plain,
        vec![
            vec![s("PID 7", Style::Heading), s(": 2 threads", Style::Plain)],
            vec![
                s("  ", Style::Plain),
                s("1 × S", Style::Strong),
                s("  ", Style::Plain),
                s("[7 a]", Style::Dim)
            ],
            vec![
                s("      ", Style::Plain),
                s("wchan", Style::Key),
                s("   ", Style::Plain),
                s("pipe_read", Style::Plain)
            ],
            vec![],
        ]
    );
}

#[test]
fn paragraphs_and_fields_merge_only_with_their_like() {
    let mut d = Doc::new();
    d.line(2, "a");
    d.line(2, "b");
    d.line(4, "c");
    d.field(2, 4, "k", "v");
    d.field(2, 5, "k", "v");
    assert_eq!(d.blocks.len(), 4);
    assert_eq!(
        printed(&d, None, false),
        "  a\n  b\n    c\n  k    v\n  k     v\n"
    );
}

mod props {
    use super::*;
    use proptest::prelude::*;

    fn table(cells: &[(String, String)], first_max: usize) -> Table {
        let mut t = Table::new(vec![Column::right("K").max(first_max), Column::left("V")]);
        for (k, v) in cells {
            t.push(vec![
                Span::plain(k.clone()),
                Span::styled(v.clone(), Style::Warn),
            ]);
        }
        t
    }

    proptest! {
        /// Any printable text at any width: laid out without panicking,
        /// and no row wider than the width once the fixed columns and the
        /// last column's 8 columns fit in it.
        #[test]
        fn rows_fit_the_width(
            cells in proptest::collection::vec(("\\PC{0,12}", "\\PC{0,40}"), 0..6),
            first_max in 1usize..10,
            indent in 0usize..6,
            width in 0usize..80,
        ) {
            let mut d = Doc::new();
            d.table(indent, table(&cells, first_max));
            d.field(indent, 5, "κλειδί", Line::plain("x"));
            let lines = to_lines(&d, Some(width));
            prop_assert_eq!(lines.len(), cells.len() + 2);
            if width >= indent + first_max + 1 + 8 {
                for l in lines.iter().take(cells.len() + 1) {
                    prop_assert!(l.width() <= width, "{:?} wider than {}", l.text(), width);
                }
            }
            // Colour adds codes around styled text and nothing else.
            let mut plain = Vec::new();
            write(&d, &mut plain, Some(width), false).unwrap();
            let joined: String = lines.iter().map(|l| l.text() + "\n").collect();
            prop_assert_eq!(String::from_utf8(plain).unwrap(), joined);
        }

        /// Without a width nothing is cut: every cell's text is in its row.
        #[test]
        fn nothing_is_cut_without_a_width(
            cells in proptest::collection::vec(("[a-z日本]{0,8}", "[a-z漢字 ]{0,30}"), 0..6),
        ) {
            let mut d = Doc::new();
            d.table(2, table(&cells, 100));
            let lines = to_lines(&d, None);
            for ((k, v), l) in cells.iter().zip(lines.iter().skip(1)) {
                let text = l.text();
                prop_assert!(text.contains(k.as_str()), "{:?} lacks {:?}", text, k);
                prop_assert!(text.contains(v.as_str()), "{:?} lacks {:?}", text, v);
            }
        }
    }
}

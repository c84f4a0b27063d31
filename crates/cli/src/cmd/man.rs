//! `procscope man`: the manual pages, generated from the CLI definition.
//!
//! One page per command, each built from clap_mangen's sections (title,
//! name, synopsis, description, options) and ours, taken from the
//! command's `--help` epilogue: its prose joins DESCRIPTION, its "Exit
//! status:" sentence becomes EXIT STATUS and its "Examples:" block
//! EXAMPLES (clap_mangen would put the whole epilogue under "EXTRA").

use crate::cli::{Cli, ManArgs};
use crate::output::Exit;
use clap::CommandFactory;
use roff::{Roff, bold, roman};
use std::io::Write;

/// Extra help for `procscope man --help`.
pub const AFTER_HELP: &str = "\
Examples:
  procscope man | man -l -             read every page in one stream
  procscope man --out /usr/local/share/man/man1 && mandb
  man -l procscope-ps.1                one page, after --out .";

/// What every command's exit status means, unless its help says otherwise.
const EXIT_STATUS: &str = "0 success, 1 nothing matched, 2 usage or fatal error.";

/// Runs `procscope man`.
pub fn run(a: &ManArgs) -> anyhow::Result<Exit> {
    let pages = pages()?;
    match &a.out {
        None => {
            let mut out = std::io::stdout().lock();
            for (_, page) in &pages {
                out.write_all(page)?;
            }
            out.flush()?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
            // Every page is written before anything is printed: a closed
            // standard output must not leave the directory half done.
            let mut written = Vec::new();
            for (file, page) in &pages {
                let path = dir.join(file);
                std::fs::write(&path, page)
                    .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
                written.push(path);
            }
            let mut out = std::io::stdout().lock();
            for path in written {
                writeln!(out, "{}", path.display())?;
            }
            out.flush()?;
        }
    }
    Ok(Exit::Success)
}

/// Every page: (file name, roff), procscope(1) first.
fn pages() -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let subs: Vec<clap::Command> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .cloned()
        .collect();
    let sub_pages: Vec<String> = subs
        .iter()
        .map(|s| format!("procscope-{}", s.get_name()))
        .collect();
    let mut out = vec![(
        "procscope.1".to_string(),
        page(&cmd, "procscope", &sub_pages)?,
    )];
    for s in subs {
        let name = format!("procscope-{}", s.get_name());
        let p = page(&s.clone().name(name.clone()), &name, &[])?;
        out.push((format!("{name}.1"), p));
    }
    Ok(out)
}

/// The roff apostrophe preamble, which every rendered part starts with:
/// kept once, at the top of the page.
const PREAMBLE: &str = ".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n";

/// Renders one part without its own preamble.
fn part(f: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> std::io::Result<Vec<u8>> {
    let mut b = Vec::new();
    f(&mut b)?;
    Ok(b.strip_prefix(PREAMBLE.as_bytes())
        .map_or(b.clone(), <[u8]>::to_vec))
}

/// The help epilogue of a command, in parts.
#[derive(Debug, Default, PartialEq, Eq)]
struct Epilogue {
    /// (command, what it does) pairs; the second may be empty.
    examples: Vec<(String, String)>,
    /// Paragraphs of prose, each one string.
    prose: Vec<String>,
    /// The "Exit status:" sentence, without those words.
    exit_status: Option<String>,
}

/// Splits an epilogue into examples, prose and the exit status sentence.
fn epilogue(text: &str) -> Epilogue {
    let mut e = Epilogue::default();
    for para in text.split("\n\n") {
        let mut lines = para.lines().peekable();
        if lines.peek().is_some_and(|l| l.trim_end() == "Examples:") {
            lines.next();
            for l in lines {
                let l = l.trim();
                if l.is_empty() {
                    continue;
                }
                // The command ends at the first run of two spaces.
                match l.split_once("  ") {
                    Some((c, d)) => e.examples.push((c.trim().into(), d.trim().into())),
                    None => e.examples.push((l.into(), String::new())),
                }
            }
            continue;
        }
        let mut prose: Vec<&str> = Vec::new();
        let mut in_exit = false;
        for l in lines {
            if let Some(rest) = l.strip_prefix("Exit status:") {
                in_exit = !rest.trim_end().ends_with('.');
                e.exit_status = Some(rest.trim().into());
            } else if in_exit {
                in_exit = !l.trim_end().ends_with('.');
                if let Some(s) = &mut e.exit_status {
                    s.push(' ');
                    s.push_str(l.trim());
                }
            } else {
                prose.push(l.trim());
            }
        }
        if !prose.is_empty() {
            e.prose.push(prose.join(" "));
        }
    }
    e
}

/// One complete page for `cmd`, named `name`; `see_also` are other pages.
fn page(cmd: &clap::Command, name: &str, see_also: &[String]) -> std::io::Result<Vec<u8>> {
    let man = clap_mangen::Man::new(cmd.clone())
        .source(format!("procscope {}", env!("CARGO_PKG_VERSION")))
        .manual("procscope manual");
    let extra = cmd
        .get_after_long_help()
        .or_else(|| cmd.get_after_help())
        .map(|s| epilogue(&s.to_string()))
        .unwrap_or_default();
    let mut p = PREAMBLE.as_bytes().to_vec();
    p.extend(part(|b| man.render_title(b))?);
    p.extend(part(|b| man.render_name_section(b))?);
    p.extend(part(|b| man.render_synopsis_section(b))?);
    p.extend(part(|b| man.render_description_section(b))?);
    let mut r = Roff::new();
    for para in &extra.prose {
        r.control("PP", []).text([roman(para.as_str())]);
    }
    p.extend(part(|b| r.to_writer(b))?);
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        p.extend(part(|b| man.render_options_section(b))?);
    }
    if cmd.get_subcommands().next().is_some() {
        p.extend(part(|b| man.render_subcommands_section(b))?);
    }
    let mut r = Roff::new();
    r.control("SH", ["EXIT STATUS"])
        .text([roman(extra.exit_status.as_deref().unwrap_or(EXIT_STATUS))]);
    if !extra.examples.is_empty() {
        r.control("SH", ["EXAMPLES"]);
        for (c, d) in &extra.examples {
            if d.is_empty() {
                r.control("PP", []).text([bold(c.as_str())]);
            } else {
                r.control("TP", [])
                    .text([bold(c.as_str())])
                    .text([roman(d.as_str())]);
            }
        }
    }
    p.extend(part(|b| r.to_writer(b))?);
    if cmd.get_version().is_some() && name == "procscope" {
        p.extend(part(|b| man.render_version_section(b))?);
    }
    let mut r = Roff::new();
    // Page names are not hyphenated across lines.
    r.control("SH", ["SEE ALSO"]).control("nh", []);
    let refs: Vec<String> = if see_also.is_empty() {
        vec!["procscope".to_string()]
    } else {
        see_also.to_vec()
    };
    let n = refs.len();
    for (i, s) in refs.iter().enumerate() {
        let sep = if i + 1 < n { "," } else { "" };
        r.control("BR", [s.as_str(), &format!("(1){sep}")]);
    }
    r.control("hy", []);
    p.extend(part(|b| r.to_writer(b))?);
    Ok(ascii(&p))
}

/// The page with every character beyond ASCII as a groff escape
/// (`\[u2026]`): it then reads the same without a UTF-8 preprocessor
/// (`groff` without `-k`, mandoc, old troffs).
fn ascii(page: &[u8]) -> Vec<u8> {
    let mut out = String::with_capacity(page.len());
    for c in String::from_utf8_lossy(page).chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            out.push_str(&format!("\\[u{:04X}]", u32::from(c)));
        }
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epilogues_split_into_examples_prose_and_exit_status() {
        let e = epilogue(
            "Examples:\n  procscope ps nginx   by name\n  kill $(procscope ps --pids x)\n\n\
             Some prose that\nwraps.\nExit status: 0 found,\n1 not.\nMore prose.",
        );
        assert_eq!(
            e.examples,
            [
                ("procscope ps nginx".to_string(), "by name".to_string()),
                ("kill $(procscope ps --pids x)".to_string(), String::new())
            ]
        );
        assert_eq!(e.prose, ["Some prose that wraps. More prose."]);
        assert_eq!(e.exit_status.as_deref(), Some("0 found, 1 not."));
    }

    #[test]
    fn every_page_has_examples_not_extra() {
        for (file, p) in pages().unwrap() {
            let p = String::from_utf8(p).unwrap();
            assert_eq!(p.matches(".TH ").count(), 1, "{file}");
            assert_eq!(p.matches(".ds Aq").count(), 2, "{file}: one preamble");
            assert!(!p.contains(".SH EXTRA"), "{file}");
            assert!(p.contains(".SH \"EXIT STATUS\""), "{file}");
            assert!(p.is_ascii(), "{file}");
        }
    }
}
